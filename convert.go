package baar

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/scoring"
)

// scoringRequest validates a call's messages and converts them, with the
// call's tools, into the langchaingo-free request a scorer reads. Text is not
// copied when a message has a single text part.
func scoringRequest(msgs []llms.MessageContent, opts *llms.CallOptions) (scoring.Request, error) {
	if len(msgs) == 0 {
		return scoring.Request{}, invalidRequest("no messages")
	}
	req := scoring.Request{Messages: make([]scoring.Message, len(msgs))}
	parts := 0
	for i, m := range msgs {
		parts += len(m.Parts)
		text, toolCalls, attachments, err := messageText(i, m)
		if err != nil {
			return scoring.Request{}, err
		}
		req.Messages[i] = scoring.Message{Role: scoring.Role(m.Role), Text: text}
		req.ToolCalls += toolCalls
		req.Attachments += attachments
	}
	if parts == 0 {
		return scoring.Request{}, invalidRequest("every message is empty")
	}
	if n := len(opts.Tools) + len(opts.Functions); n > 0 {
		req.Tools = make([]string, 0, n)
		for i, t := range opts.Tools {
			if t.Function == nil {
				return scoring.Request{}, invalidRequest("tool %d has no function definition", i)
			}
			req.Tools = append(req.Tools, t.Function.Name)
		}
		for _, f := range opts.Functions {
			req.Tools = append(req.Tools, f.Name)
		}
	}
	req.JSONMode = opts.JSONMode || strings.EqualFold(opts.ResponseMIMEType, "application/json")
	return req, nil
}

// toolSchemas maps the offered tools' names to their parameters' JSON
// schemas, for a verifier checking tool calls. A schema that does not
// marshal is left out (no schema known).
func toolSchemas(opts *llms.CallOptions) map[string]string {
	if len(opts.Tools)+len(opts.Functions) == 0 {
		return nil
	}
	m := make(map[string]string, len(opts.Tools)+len(opts.Functions))
	add := func(name string, params any) {
		switch p := params.(type) {
		case nil:
		case string:
			m[name] = p
		case json.RawMessage:
			m[name] = string(p)
		case []byte:
			m[name] = string(p)
		default:
			if b, err := json.Marshal(p); err == nil {
				m[name] = string(b)
			}
		}
	}
	for _, t := range opts.Tools {
		if t.Function != nil {
			add(t.Function.Name, t.Function.Parameters)
		}
	}
	for _, f := range opts.Functions {
		add(f.Name, f.Parameters)
	}
	return m
}

func messageText(i int, m llms.MessageContent) (text string, toolCalls, attachments int, err error) {
	if len(m.Parts) == 1 {
		if t, ok := m.Parts[0].(llms.TextContent); ok {
			if !utf8.ValidString(t.Text) {
				return "", 0, 0, invalidRequest("message %d: text is not valid UTF-8", i)
			}
			return t.Text, 0, 0, nil
		}
	}
	var b strings.Builder
	add := func(s string) {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	for j, p := range m.Parts {
		if c, ok := p.(llms.CachedContent); ok {
			p = c.ContentPart
		}
		switch p := p.(type) {
		case llms.TextContent:
			if !utf8.ValidString(p.Text) {
				return "", 0, 0, invalidRequest("message %d part %d: text is not valid UTF-8", i, j)
			}
			add(p.Text)
		case llms.ToolCall:
			toolCalls++
			if p.FunctionCall != nil {
				if !utf8.ValidString(p.FunctionCall.Name) || !utf8.ValidString(p.FunctionCall.Arguments) {
					return "", 0, 0, invalidRequest("message %d part %d: tool call is not valid UTF-8", i, j)
				}
				add(p.FunctionCall.Name + "(" + p.FunctionCall.Arguments + ")")
			}
		case llms.ToolCallResponse:
			toolCalls++
			if !utf8.ValidString(p.Content) {
				return "", 0, 0, invalidRequest("message %d part %d: tool result is not valid UTF-8", i, j)
			}
			add(p.Content)
		case llms.ImageURLContent, llms.BinaryContent:
			attachments++
		case nil:
			return "", 0, 0, invalidRequest("message %d part %d is nil", i, j)
		default:
			return "", 0, 0, invalidRequest("message %d part %d: unsupported part type %T", i, j, p)
		}
	}
	return b.String(), toolCalls, attachments, nil
}
