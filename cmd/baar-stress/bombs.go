package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
)

// Sizes of the token bombs.
const (
	bombPromptBytes = 8 << 20
	bombMessages    = 5_000
	bombSchemaBytes = 1 << 20
)

// bombWords is the vocabulary of generated text: ordinary English words, so
// the text tokenizes like prose rather than like one repeated token.
var bombWords = strings.Fields(`the of and to in is was for on that with as by at from this be are or an it
not which have but has were had its their they more one also been new other can after all first would there two
when into time may about only over some could these most such years made than many between where during through
under market system process model value budget review policy history research report design network service
energy water account figure period region council village station science growth surface signal pattern`)

// proseBytes returns about n bytes of deterministic pseudo-random prose.
func proseBytes(n int, seed uint64) string {
	var b strings.Builder
	b.Grow(n + 16)
	x := seed | 1
	words := 0
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b.WriteString(bombWords[x%uint64(len(bombWords))])
		words++
		if words%17 == 0 {
			b.WriteString(". ")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// hugeSchema is a JSON schema of at least n bytes: an object with many
// described string properties.
func hugeSchema(n int) (map[string]any, int) {
	props := map[string]any{}
	size := 0
	for i := 0; size < n; i++ {
		desc := proseBytes(200, uint64(i)+7)
		props[fmt.Sprintf("field_%05d", i)] = map[string]any{"type": "string", "description": desc}
		size += len(desc) + 60
	}
	schema := map[string]any{"type": "object", "properties": props, "required": []string{"field_00000"}}
	b, _ := json.Marshal(schema)
	return schema, len(b)
}

// bomb sends one oversized or malformed request through a Router over the
// openai client and the simulator, and checks that it ends quickly with a
// normal answer or a clear error, that a refusal sent nothing, and that the
// spend stayed under the cap.
func bomb(build func(e *env) ([]llms.MessageContent, []llms.CallOption, string)) func(ctx context.Context, e *env, o *outcome) {
	return func(ctx context.Context, e *env, o *outcome) {
		srv := baartest.NewServer()
		defer srv.Close()
		g, err := e.httpRig(srv, e.c.budgetUSD)
		if err != nil {
			o.failf("New: %v", err)
			return
		}
		msgs, opts, what := build(e)
		cctx, cancel := context.WithTimeout(ctx, 4*e.c.quick)
		defer cancel()
		start := time.Now()
		resp, err := g.router.GenerateContent(cctx, msgs, opts...)
		took := time.Since(start)
		if took > e.c.quick {
			o.failf("took %v (limit %v)", took.Round(time.Millisecond), e.c.quick)
		}
		switch {
		case err == nil:
			if resp == nil || len(resp.Choices) == 0 {
				o.failf("no error and no answer")
			} else {
				c := resp.Choices[0]
				kind := "text"
				if len(c.ToolCalls) > 0 {
					kind = "tool call " + c.ToolCalls[0].FunctionCall.Name
				}
				o.notef("%s: answered (%s) in %v", what, kind, took.Round(time.Millisecond))
			}
		case errors.Is(err, baar.ErrBudgetExceeded), errors.Is(err, baar.ErrInvalidRequest):
			if n := srv.Requests(); n != 0 {
				o.failf("refused locally but the provider received %d requests", n)
			}
			o.notef("%s: refused in %v, 0 requests: %s", what, took.Round(time.Millisecond), clip(err.Error(), 140))
		default:
			// A provider error is acceptable if it is clear; a timeout is not.
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				o.failf("%s: no answer or error before the deadline: %v", what, err)
			} else {
				o.notef("%s: provider error in %v: %s", what, took.Round(time.Millisecond), clip(err.Error(), 140))
			}
		}
		st := g.ledger.verify(o, false)
		verifyAccounting(o, g.calls.tally(), srv.Requests(), st)
		o.spend(st.Spent.USD(), g.capUSD)
	}
}

func bombPrompt(e *env) ([]llms.MessageContent, []llms.CallOption, string) {
	p := proseBytes(bombPromptBytes, e.c.seed)
	return []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, p)}, nil, fmt.Sprintf("%.1f MB prompt", float64(len(p))/(1<<20))
}

func bombHistory(e *env) ([]llms.MessageContent, []llms.CallOption, string) {
	msgs := make([]llms.MessageContent, 0, bombMessages)
	msgs = append(msgs, llms.TextParts(llms.ChatMessageTypeSystem, "You are a helpful assistant."))
	for i := 1; i < bombMessages; i++ {
		role := llms.ChatMessageTypeHuman
		if i%2 == 0 {
			role = llms.ChatMessageTypeAI
		}
		msgs = append(msgs, llms.TextParts(role, fmt.Sprintf("Turn %d: %s", i, proseBytes(40, uint64(i)))))
	}
	return msgs, nil, fmt.Sprintf("%d messages", len(msgs))
}

func bombSchema(e *env) ([]llms.MessageContent, []llms.CallOption, string) {
	schema, size := hugeSchema(bombSchemaBytes)
	tool := llms.Tool{Type: "function", Function: &llms.FunctionDefinition{
		Name: "file_report", Description: "Files a report with every field filled in.", Parameters: schema}}
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "File the quarterly report.")}
	return msgs, []llms.CallOption{llms.WithTools([]llms.Tool{tool})}, fmt.Sprintf("%.1f MB tool schema", float64(size)/(1<<20))
}

// utf8Check also requires the invalid UTF-8 to be refused as an invalid
// request, not sent.
func utf8Check(ctx context.Context, e *env, o *outcome) {
	srv := baartest.NewServer()
	defer srv.Close()
	g, err := e.httpRig(srv, e.c.budgetUSD)
	if err != nil {
		o.failf("New: %v", err)
		return
	}
	inputs := map[string][]llms.MessageContent{
		"text":   {llms.TextParts(llms.ChatMessageTypeHuman, "What is the capital of \xff\xfe France?\xc3\x28")},
		"system": {llms.TextParts(llms.ChatMessageTypeSystem, "be \xed\xa0\x80 brief"), llms.TextParts(llms.ChatMessageTypeHuman, "hi")},
		"tool result": {llms.TextParts(llms.ChatMessageTypeHuman, "hi"), {Role: llms.ChatMessageTypeTool,
			Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: "c1", Name: "lookup", Content: "\x80\x81"}}}},
	}
	for _, name := range []string{"text", "system", "tool result"} {
		start := time.Now()
		_, err := g.router.GenerateContent(ctx, inputs[name])
		took := time.Since(start)
		switch {
		case err == nil:
			o.failf("%s: invalid UTF-8 was accepted", name)
		case !errors.Is(err, baar.ErrInvalidRequest):
			o.failf("%s: want ErrInvalidRequest, got %v", name, err)
		case took > e.c.quick:
			o.failf("%s: took %v", name, took)
		}
	}
	if n := srv.Requests(); n != 0 {
		o.failf("the provider received %d requests", n)
	}
	o.notef("%d inputs (text, system, tool result) refused as ErrInvalidRequest, 0 requests", len(inputs))
	st := g.ledger.verify(o, false)
	verifyAccounting(o, g.calls.tally(), srv.Requests(), st)
	o.spend(st.Spent.USD(), g.capUSD)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
