package baartest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ChatRequest is one chat-completions request as a [Responder] sees it: the
// OpenAI wire format reduced to what decides an answer. The server fills it
// from the JSON body; [Model] fills it from langchaingo's messages and call
// options. Responders must not modify it, nor keep it after they return.
type ChatRequest struct {
	// Model is the requested model name.
	Model string
	// Messages is the conversation, oldest first.
	Messages []Message
	// MaxTokens is the request's output cap: max_completion_tokens, else
	// max_tokens; 0 means unset.
	MaxTokens int
	// Stop holds the stop sequences.
	Stop []string
	// Stream is true for a streamed (SSE) request; IncludeUsage is true when
	// stream_options.include_usage is set.
	Stream       bool
	IncludeUsage bool
	// N is the number of choices requested (at least 1).
	N int
	// Tools are the functions offered through "tools"; Functions are the ones
	// offered through the deprecated "functions" field. langchaingo's openai
	// client sends both kinds of langchaingo options as Tools.
	Tools     []Function
	Functions []Function
	// ToolChoice is "", "auto", "none" or "required" (from tool_choice or the
	// deprecated function_call); ForcedTool names the function the request
	// forces, if any.
	ToolChoice string
	ForcedTool string
	// PromptTokens is the simulator's count of the request's input tokens
	// (see [ApproxTokens]).
	PromptTokens int
}

// Message is one message of a [ChatRequest].
type Message struct {
	// Role is "system", "developer", "user", "assistant", "tool" or "function".
	Role string
	// Content is the message's text: its text parts joined by newlines.
	Content string
	// NonTextParts counts the image, audio and other non-text parts.
	NonTextParts int
	// Name is the author name (function results carry the function's name).
	Name string
	// ToolCalls are the tool calls an assistant message made.
	ToolCalls []ToolCall
	// FunctionCall is the legacy function call an assistant message made.
	FunctionCall *FunctionCall
	// ToolCallID is the call a tool message answers.
	ToolCallID string
}

// Function is a function offered to the model.
type Function struct {
	Name        string
	Description string
	// Parameters is the function's JSON schema, as sent (may be empty).
	Parameters json.RawMessage
}

// ToolCall is a call of a tool by the model.
type ToolCall struct {
	// ID identifies the call; the server generates one when it is empty.
	ID        string
	Name      string
	Arguments string
}

// FunctionCall is a legacy ("functions" API) function call.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Reply is what a [Responder] answers. Exactly one of Content, ToolCalls or
// FunctionCall is normally set; ToolCalls wins over FunctionCall, which wins
// over Content.
//
// FunctionCall is the legacy ("functions") answer; [DefaultResponder] uses it
// only for requests that offer "functions", which langchaingo's openai client
// never sends. Note that this client dereferences a nil pointer (and panics)
// when a STREAMED answer carries a function_call: answer it with ToolCalls.
//
// The server (and [Model]) then behave like the API: Content is cut at the
// first stop sequence and truncated to the request's MaxTokens (finish reason
// "length"), and usage is computed from what is actually returned.
type Reply struct {
	Content      string
	ToolCalls    []ToolCall
	FunctionCall *FunctionCall
	// ReasoningTokens, when > 0, is the number of hidden reasoning tokens to
	// report (added to the completion tokens, within MaxTokens). When 0 the
	// simulator derives them for reasoning models (o1, o3, o4, gpt-5…).
	ReasoningTokens int
}

// ApproxTokens is the simulator's token count of a text: its length in bytes
// divided by 4, rounded up. It is deterministic and cheap, and close to real
// BPE counts for English.
//
// A request's prompt tokens are 3, plus for each message 4 + ApproxTokens of
// its content and name + 85 per non-text part + ApproxTokens of each tool
// call's name and arguments, plus for each offered function 8 + ApproxTokens
// of its name, description and JSON schema. Completion tokens are
// ApproxTokens of the returned content (or of the tool calls' names and
// arguments), plus reasoning tokens.
func ApproxTokens(s string) int { return (len(s) + 3) / 4 }

const (
	tokensPerRequest  = 3
	tokensPerMessage  = 4
	tokensPerNonText  = 85
	tokensPerFunction = 8
)

// countPromptTokens fills r.PromptTokens.
func (r *ChatRequest) countPromptTokens() {
	n := tokensPerRequest
	for i := range r.Messages {
		m := &r.Messages[i]
		n += tokensPerMessage + ApproxTokens(m.Content) + ApproxTokens(m.Name) + tokensPerNonText*m.NonTextParts
		for _, tc := range m.ToolCalls {
			n += ApproxTokens(tc.Name) + ApproxTokens(tc.Arguments)
		}
		if m.FunctionCall != nil {
			n += ApproxTokens(m.FunctionCall.Name) + ApproxTokens(m.FunctionCall.Arguments)
		}
	}
	for _, fs := range [2][]Function{r.Tools, r.Functions} {
		for _, f := range fs {
			n += tokensPerFunction + ApproxTokens(f.Name) + ApproxTokens(f.Description) + ApproxTokens(string(f.Parameters))
		}
	}
	r.PromptTokens = n
}

// hash is a 64-bit FNV-1a hash of the parts of the request that decide the
// answer (the output cap is left out, so a capped answer is a prefix of the
// uncapped one).
func (r *ChatRequest) hash() uint64 {
	h := newFNV()
	h.add(r.Model)
	for i := range r.Messages {
		m := &r.Messages[i]
		h.add(m.Role)
		h.add(m.Content)
		h.add(m.Name)
		h.add(m.ToolCallID)
		for _, tc := range m.ToolCalls {
			h.add(tc.Name)
			h.add(tc.Arguments)
		}
	}
	for _, f := range r.Tools {
		h.add(f.Name)
	}
	for _, f := range r.Functions {
		h.add(f.Name)
	}
	return uint64(h)
}

type fnv64 uint64

func newFNV() fnv64 { return 14695981039346656037 }

func (h *fnv64) add(s string) {
	x := uint64(*h)
	for i := 0; i < len(s); i++ {
		x ^= uint64(s[i])
		x *= 1099511628211
	}
	x ^= 0xff // separator
	x *= 1099511628211
	*h = fnv64(x)
}

// Wire format (what the openai client sends).

type wireRequest struct {
	Model               string          `json:"model"`
	Messages            []wireMessage   `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	N            *int            `json:"n"`
	Tools        []wireTool      `json:"tools"`
	Functions    []wireFunction  `json:"functions"`
	ToolChoice   json.RawMessage `json:"tool_choice"`
	FunctionCall json.RawMessage `json:"function_call"`
}

type wireMessage struct {
	Role         string          `json:"role"`
	Content      json.RawMessage `json:"content"`
	Name         string          `json:"name"`
	ToolCalls    []wireToolCall  `json:"tool_calls"`
	FunctionCall *FunctionCall   `json:"function_call"`
	ToolCallID   string          `json:"tool_call_id"`
}

type wireTool struct {
	Type     string       `json:"type"`
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

type wireToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type wirePart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// requestError is a client error: the server answers 400 with its message.
type requestError struct {
	msg   string
	param string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(param, format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...), param: param}
}

// parseChatRequest decodes an OpenAI chat-completions body.
func parseChatRequest(body []byte) (*ChatRequest, error) {
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return nil, badRequest("", "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)")
	}
	if w.Model == "" {
		return nil, badRequest("model", "you must provide a model parameter")
	}
	if len(w.Messages) == 0 {
		return nil, badRequest("messages", "[] is too short - 'messages'")
	}
	req := &ChatRequest{Model: w.Model, Stream: w.Stream, N: 1}
	if w.StreamOptions != nil {
		if !w.Stream {
			return nil, badRequest("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		}
		req.IncludeUsage = w.StreamOptions.IncludeUsage
	}
	switch {
	case w.MaxCompletionTokens != nil:
		req.MaxTokens = *w.MaxCompletionTokens
		if req.MaxTokens < 1 {
			return nil, badRequest("max_completion_tokens", "Invalid 'max_completion_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", req.MaxTokens)
		}
	case w.MaxTokens != nil:
		req.MaxTokens = *w.MaxTokens
		if req.MaxTokens < 1 {
			return nil, badRequest("max_tokens", "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", req.MaxTokens)
		}
	}
	if w.N != nil {
		if *w.N < 1 || *w.N > 128 {
			return nil, badRequest("n", "Invalid 'n': expected a value between 1 and 128, but got %d instead.", *w.N)
		}
		req.N = *w.N
	}
	stop, err := parseStop(w.Stop)
	if err != nil {
		return nil, err
	}
	req.Stop = stop

	req.Messages = make([]Message, len(w.Messages))
	for i, wm := range w.Messages {
		m, err := parseMessage(i, wm)
		if err != nil {
			return nil, err
		}
		req.Messages[i] = m
	}
	for i, t := range w.Tools {
		if t.Type != "function" {
			return nil, badRequest(fmt.Sprintf("tools[%d].type", i), "Invalid value: '%s'. Supported values are: 'function'.", t.Type)
		}
		if t.Function.Name == "" {
			return nil, badRequest(fmt.Sprintf("tools[%d].function.name", i), "Missing required parameter: 'tools[%d].function.name'.", i)
		}
		req.Tools = append(req.Tools, Function(t.Function))
	}
	for i, f := range w.Functions {
		if f.Name == "" {
			return nil, badRequest(fmt.Sprintf("functions[%d].name", i), "Missing required parameter: 'functions[%d].name'.", i)
		}
		req.Functions = append(req.Functions, Function(f))
	}
	if err := req.parseToolChoice(w.ToolChoice, "tool_choice"); err != nil {
		return nil, err
	}
	if req.ToolChoice == "" && req.ForcedTool == "" {
		if err := req.parseToolChoice(w.FunctionCall, "function_call"); err != nil {
			return nil, err
		}
	}
	req.countPromptTokens()
	return req, nil
}

func parseStop(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, badRequest("stop", "Invalid type for 'stop': expected a string or an array of strings.")
	}
	if len(many) > 4 {
		return nil, badRequest("stop", "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length %d instead.", len(many))
	}
	return many, nil
}

func parseMessage(i int, wm wireMessage) (Message, error) {
	switch wm.Role {
	case "system", "developer", "user", "assistant", "tool", "function":
	default:
		return Message{}, badRequest(fmt.Sprintf("messages[%d].role", i), "Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", wm.Role)
	}
	m := Message{Role: wm.Role, Name: wm.Name, ToolCallID: wm.ToolCallID, FunctionCall: wm.FunctionCall}
	content := bytes.TrimSpace(wm.Content)
	switch {
	case len(content) == 0 || string(content) == "null":
	case content[0] == '"':
		if err := json.Unmarshal(content, &m.Content); err != nil {
			return Message{}, badRequest(fmt.Sprintf("messages[%d].content", i), "Invalid 'messages[%d].content': expected a string or an array of parts.", i)
		}
	case content[0] == '[':
		var parts []wirePart
		if err := json.Unmarshal(content, &parts); err != nil {
			return Message{}, badRequest(fmt.Sprintf("messages[%d].content", i), "Invalid 'messages[%d].content': expected a string or an array of parts.", i)
		}
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "text" {
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(p.Text)
				continue
			}
			m.NonTextParts++
		}
		m.Content = b.String()
	default:
		return Message{}, badRequest(fmt.Sprintf("messages[%d].content", i), "Invalid 'messages[%d].content': expected a string or an array of parts.", i)
	}
	if wm.Role == "tool" && wm.ToolCallID == "" {
		return Message{}, badRequest(fmt.Sprintf("messages[%d].tool_call_id", i), "Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'.")
	}
	for _, tc := range wm.ToolCalls {
		m.ToolCalls = append(m.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	return m, nil
}

// parseToolChoice reads tool_choice ("none", "auto", "required" or
// {"type":"function","function":{"name":…}}) or the legacy function_call
// ("none", "auto" or {"name":…}).
func (r *ChatRequest) parseToolChoice(raw json.RawMessage, param string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch s {
		case "none", "auto", "required":
			r.ToolChoice = s
			return nil
		}
		return badRequest(param, "Invalid value for '%s': '%s'.", param, s)
	}
	var obj struct {
		Name     string `json:"name"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return badRequest(param, "Invalid type for '%s'.", param)
	}
	name := obj.Function.Name
	if name == "" {
		name = obj.Name
	}
	if name == "" {
		return badRequest(param, "Missing required parameter: '%s.function.name'.", param)
	}
	r.ToolChoice = "required"
	r.ForcedTool = name
	return nil
}
