package baartest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tmc/langchaingo/llms"
)

// Model is a fake [llms.Model] for unit tests and benchmarks: no HTTP, cheap
// (a few allocations per call), goroutine-safe, and reporting OpenAI-style
// usage in GenerationInfo ("PromptTokens", "CompletionTokens",
// "TotalTokens", "PromptCachedTokens", "ReasoningTokens",
// "CompletionReasoningTokens", "ThinkingTokens", all int), counted as
// [ApproxTokens] counts them.
//
// Its zero value answers "Simulated answer from fake-model: …" with a sentence
// chosen by a hash of the messages. Set the fields before the first call and
// do not change them while calls run; a Model must not be copied after first
// use.
type Model struct {
	// Name is the model name in answers; default "fake-model". A call's
	// llms.WithModel overrides it.
	Name string
	// Responder, when set, answers through the same pipeline as [Server]
	// (tool calls, ReAct, stop sequences, output cap); use
	// [DefaultResponder] for the simulator's agent-aware answers. When nil a
	// much cheaper built-in answer is used.
	Responder Responder
	// FullOutput reports completion tokens equal to the call's MaxTokens (or
	// DefaultMaxTokens when unset), the worst case a budget must reserve. The
	// content itself is not padded.
	FullOutput bool
	// DefaultMaxTokens is FullOutput's count when a call sets no MaxTokens;
	// 0 means 256.
	DefaultMaxTokens int
	// Err, when set, is returned by every call (after counting it).
	Err error
	// ErrFunc, when set, is called with the call's 1-based number and options;
	// a non-nil result is returned as the call's error. It must be safe for
	// concurrent use.
	ErrFunc func(call int64, opts *llms.CallOptions) error
	// UsageMode says how usage is reported (default [UsageHonest];
	// [UsageMissing] returns a nil GenerationInfo).
	UsageMode UsageMode
	// CachedFraction is the share of prompt tokens reported as
	// PromptCachedTokens, clamped to [0, 1].
	CachedFraction float64
	// ReasoningTokens are reported as reasoning tokens (part of the completion
	// tokens, within MaxTokens).
	ReasoningTokens int
	// Latency delays every call; a cancelled context ends the wait with
	// ctx.Err().
	Latency time.Duration
	// StreamChunkSize is the bytes per streamed chunk when the call sets a
	// StreamingFunc; 0 means [DefaultChunkSize].
	StreamChunkSize int
	// Mistakes make a seeded share of the answers wrong in checkable ways
	// (see [Mistakes]). With a Rate above 0 and no Responder, the model
	// answers with [DefaultResponder].
	Mistakes Mistakes

	calls         atomic.Int64
	lastMaxTokens atomic.Int64
	samples       sampleCounter
}

var _ llms.Model = (*Model)(nil)

const (
	defaultModelName  = "fake-model"
	defaultFullOutput = 256
)

// Calls is the number of calls made so far, failed ones included.
func (m *Model) Calls() int64 { return m.calls.Load() }

// LastMaxTokens is the MaxTokens of the most recent call's options (0 when
// unset).
func (m *Model) LastMaxTokens() int { return int(m.lastMaxTokens.Load()) }

// Call implements [llms.Model].
func (m *Model) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// GenerateContent implements [llms.Model].
func (m *Model) GenerateContent(ctx context.Context, messages []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	n := m.calls.Add(1)
	var o llms.CallOptions
	for _, opt := range options {
		if opt != nil {
			opt(&o)
		}
	}
	m.lastMaxTokens.Store(int64(o.MaxTokens))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.Latency > 0 {
		t := time.NewTimer(m.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	if m.Err != nil {
		return nil, m.Err
	}
	if m.ErrFunc != nil {
		oc := o
		if err := m.ErrFunc(n, &oc); err != nil {
			return nil, err
		}
	}
	name := o.Model
	if name == "" {
		name = m.Name
	}
	if name == "" {
		name = defaultModelName
	}
	// maxTokens is the output cap: the call's, or FullOutput's default.
	maxTokens := max(o.MaxTokens, 0)
	if m.FullOutput && maxTokens == 0 {
		maxTokens = m.DefaultMaxTokens
		if maxTokens <= 0 {
			maxTokens = defaultFullOutput
		}
	}

	// choices is the number of choices (llms.WithN); each carries the whole
	// response's usage, as langchaingo's openai client reports it.
	choices := max(o.N, 1)
	chs := make([]*llms.ContentChoice, choices)
	var u usage
	if responder := m.Responder; responder != nil || m.Mistakes.active() {
		if responder == nil {
			responder = DefaultResponder
		}
		req, err := requestFromLLM(name, messages, &o)
		if err != nil {
			return nil, err
		}
		seed := req.hash()
		reply := responder(req)
		req.MaxTokens = maxTokens
		if reply.ReasoningTokens <= 0 {
			reply.ReasoningTokens = m.ReasoningTokens
		}
		as := answers(req, reply, seed, shaping{}, &m.Mistakes, &m.samples)
		for i := range as {
			chs[i] = as[i].choice()
		}
		u = responseUsage(as)
	} else {
		prompt, h := fastPrompt(name, messages, &o)
		content := cutAtStop(answerPrefix(name)+sentences[h%uint64(len(sentences))], o.StopWords)
		finish := "stop"
		if maxTokens > 0 && ApproxTokens(content) > maxTokens {
			content, finish = truncateTokens(content, maxTokens), "length"
		}
		visible := ApproxTokens(content)
		reasoning := max(m.ReasoningTokens, 0)
		if maxTokens > 0 {
			reasoning = min(reasoning, maxTokens-visible)
		}
		for i := range chs {
			chs[i] = &llms.ContentChoice{Content: content, StopReason: finish}
		}
		u = usage{Prompt: prompt, Completion: choices * (visible + reasoning), Reasoning: choices * reasoning}
	}
	if m.FullOutput {
		u.Reasoning = min(u.Reasoning, choices*maxTokens)
		u.Completion = choices * maxTokens
		for _, ch := range chs {
			if ch.StopReason == "stop" {
				ch.StopReason = "length"
			}
		}
	}
	u.Cached = int(float64(u.Prompt) * clamp01(m.CachedFraction))

	if o.StreamingFunc != nil || o.StreamingReasoningFunc != nil {
		for _, ch := range chs {
			if err := m.stream(ctx, ch, &o); err != nil {
				return nil, err
			}
		}
	}
	for _, ch := range chs {
		ch.GenerationInfo = generationInfo(m.UsageMode, u)
	}
	return &llms.ContentResponse{Choices: chs}, nil
}

// choice converts an answer into langchaingo's form.
func (a *answer) choice() *llms.ContentChoice {
	ch := &llms.ContentChoice{Content: a.Content, StopReason: a.Finish}
	for _, tc := range a.ToolCalls {
		ch.ToolCalls = append(ch.ToolCalls, llms.ToolCall{ID: tc.ID, Type: "function", FunctionCall: &llms.FunctionCall{Name: tc.Name, Arguments: tc.Arguments}})
	}
	if len(ch.ToolCalls) > 0 {
		ch.FuncCall = ch.ToolCalls[0].FunctionCall
	} else if a.FunctionCall != nil {
		ch.FuncCall = &llms.FunctionCall{Name: a.FunctionCall.Name, Arguments: a.FunctionCall.Arguments}
	}
	return ch
}

// stream feeds the answer to the call's streaming funcs, like the openai
// client: an error from a func stops the stream and is returned wrapped.
func (m *Model) stream(ctx context.Context, ch *llms.ContentChoice, o *llms.CallOptions) error {
	size := m.StreamChunkSize
	if size <= 0 {
		size = DefaultChunkSize
	}
	send := func(chunk []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if o.StreamingFunc != nil {
			if err := o.StreamingFunc(ctx, chunk); err != nil {
				return fmt.Errorf("streaming func returned an error: %w", err)
			}
		}
		if o.StreamingReasoningFunc != nil {
			if err := o.StreamingReasoningFunc(ctx, nil, chunk); err != nil {
				return fmt.Errorf("streaming reasoning func returned an error: %w", err)
			}
		}
		return nil
	}
	if len(ch.ToolCalls) > 0 {
		b, err := json.Marshal(ch.ToolCalls)
		if err != nil {
			return err
		}
		return send(b)
	}
	s := ch.Content
	for len(s) > 0 {
		n := min(size, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		if err := send([]byte(s[:n])); err != nil {
			return err
		}
		s = s[n:]
	}
	return nil
}

func generationInfo(mode UsageMode, u usage) map[string]any {
	r, ok := mode.report(u)
	if !ok {
		return nil
	}
	return map[string]any{
		"PromptTokens":              r.Prompt,
		"CompletionTokens":          r.Completion,
		"TotalTokens":               r.total(),
		"PromptCachedTokens":        r.Cached,
		"ReasoningTokens":           r.Reasoning,
		"CompletionReasoningTokens": r.Reasoning,
		"ThinkingTokens":            r.Reasoning,
	}
}

// fastPrompt counts a call's prompt tokens as the server counts what the
// openai client sends, and hashes its text, without allocating.
func fastPrompt(name string, messages []llms.MessageContent, o *llms.CallOptions) (int, uint64) {
	h := newFNV()
	h.add(name)
	n := tokensPerRequest
	for i := range messages {
		mc := &messages[i]
		n += tokensPerMessage
		h.add(string(mc.Role))
		textLen, texts := 0, 0
		for _, p := range mc.Parts {
			if c, ok := p.(llms.CachedContent); ok {
				p = c.ContentPart
			}
			switch p := p.(type) {
			case llms.TextContent:
				if texts > 0 {
					textLen++ // the "\n" joining text parts
				}
				texts++
				textLen += len(p.Text)
				h.add(p.Text)
			case llms.ToolCall:
				if p.FunctionCall != nil {
					n += ApproxTokens(p.FunctionCall.Name) + ApproxTokens(p.FunctionCall.Arguments)
					h.add(p.FunctionCall.Name)
					h.add(p.FunctionCall.Arguments)
				}
			case llms.ToolCallResponse:
				textLen += len(p.Content)
				h.add(p.Content)
				if mc.Role == llms.ChatMessageTypeFunction {
					n += ApproxTokens(p.Name)
				}
			case nil:
			default: // images, binary data
				n += tokensPerNonText
			}
		}
		n += (textLen + 3) / 4
	}
	for i := range o.Functions {
		n += functionTokens(&o.Functions[i])
	}
	for _, t := range o.Tools {
		if t.Function != nil {
			n += functionTokens(t.Function)
		}
	}
	return n, uint64(h)
}

func functionTokens(f *llms.FunctionDefinition) int {
	n := tokensPerFunction + ApproxTokens(f.Name) + ApproxTokens(f.Description)
	if f.Parameters != nil {
		if b, err := json.Marshal(f.Parameters); err == nil {
			n += ApproxTokens(string(b))
		}
	}
	return n
}

// requestFromLLM converts a langchaingo call into the request the openai
// client would send.
func requestFromLLM(name string, messages []llms.MessageContent, o *llms.CallOptions) (*ChatRequest, error) {
	req := &ChatRequest{
		Model:     name,
		MaxTokens: max(o.MaxTokens, 0),
		Stop:      o.StopWords,
		Stream:    o.StreamingFunc != nil || o.StreamingReasoningFunc != nil,
		N:         max(o.N, 1),
		Messages:  make([]Message, 0, len(messages)),
	}
	req.IncludeUsage = req.Stream
	for _, mc := range messages {
		var msg Message
		switch mc.Role {
		case llms.ChatMessageTypeSystem:
			msg.Role = "system"
		case llms.ChatMessageTypeAI:
			msg.Role = "assistant"
		case llms.ChatMessageTypeHuman, llms.ChatMessageTypeGeneric:
			msg.Role = "user"
		case llms.ChatMessageTypeTool:
			msg.Role = "tool"
		case llms.ChatMessageTypeFunction:
			msg.Role = "function"
		default:
			return nil, fmt.Errorf("baartest: role %q not supported", mc.Role)
		}
		var text []byte
		for _, p := range mc.Parts {
			if c, ok := p.(llms.CachedContent); ok {
				p = c.ContentPart
			}
			switch p := p.(type) {
			case llms.TextContent:
				if len(text) > 0 {
					text = append(text, '\n')
				}
				text = append(text, p.Text...)
			case llms.ToolCall:
				tc := ToolCall{ID: p.ID}
				if p.FunctionCall != nil {
					tc.Name, tc.Arguments = p.FunctionCall.Name, p.FunctionCall.Arguments
				}
				msg.ToolCalls = append(msg.ToolCalls, tc)
			case llms.ToolCallResponse:
				text = append(text, p.Content...)
				msg.ToolCallID = p.ToolCallID
				if msg.Role == "function" {
					msg.Name = p.Name
				}
			case nil:
			default:
				msg.NonTextParts++
			}
		}
		msg.Content = string(text)
		req.Messages = append(req.Messages, msg)
	}
	// Like the openai client: functions are sent as tools, before the tools.
	for _, f := range o.Functions {
		fn, err := functionFromLLM(&f)
		if err != nil {
			return nil, err
		}
		req.Tools = append(req.Tools, fn)
	}
	for _, t := range o.Tools {
		if t.Type != "function" || t.Function == nil {
			return nil, fmt.Errorf("baartest: tool type %q not supported", t.Type)
		}
		fn, err := functionFromLLM(t.Function)
		if err != nil {
			return nil, err
		}
		req.Tools = append(req.Tools, fn)
	}
	if err := req.toolChoiceFromLLM(o); err != nil {
		return nil, err
	}
	req.countPromptTokens()
	return req, nil
}

func functionFromLLM(f *llms.FunctionDefinition) (Function, error) {
	fn := Function{Name: f.Name, Description: f.Description}
	if f.Parameters != nil {
		b, err := json.Marshal(f.Parameters)
		if err != nil {
			return Function{}, fmt.Errorf("baartest: parameters of %q: %w", f.Name, err)
		}
		fn.Parameters = b
	}
	return fn, nil
}

func (r *ChatRequest) toolChoiceFromLLM(o *llms.CallOptions) error {
	switch c := o.ToolChoice.(type) {
	case nil:
	case string:
		if c != "" {
			b, _ := json.Marshal(c)
			return r.parseToolChoice(b, "tool_choice")
		}
	case llms.ToolChoice:
		if c.Function != nil {
			r.ToolChoice, r.ForcedTool = "required", c.Function.Name
		}
	case *llms.ToolChoice:
		if c != nil && c.Function != nil {
			r.ToolChoice, r.ForcedTool = "required", c.Function.Name
		}
	default:
		b, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("baartest: tool choice: %w", err)
		}
		if err := r.parseToolChoice(b, "tool_choice"); err != nil {
			return err
		}
	}
	if r.ToolChoice == "" && r.ForcedTool == "" && o.FunctionCallBehavior != "" {
		b, _ := json.Marshal(string(o.FunctionCallBehavior))
		return r.parseToolChoice(b, "function_call")
	}
	return nil
}
