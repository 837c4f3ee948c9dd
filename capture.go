package baar

import (
	"github.com/tmc/langchaingo/llms"
	"go.opentelemetry.io/otel/attribute"
)

// captureInput puts the request's messages on the attempt's span as
// gen_ai.input.messages, when content capture is on and the span records.
func (t *telemetry) captureInput(s attemptSpan, msgs []llms.MessageContent) {
	if t == nil || !t.captureContent || s.span == nil || !s.span.IsRecording() {
		return
	}
	s.span.SetAttributes(attribute.KeyValue{Key: keyInputMessages, Value: inputMessages(msgs)})
}

// captureOutput puts the response's choices on the attempt's span as
// gen_ai.output.messages, when content capture is on and the span records.
func (t *telemetry) captureOutput(s attemptSpan, resp *llms.ContentResponse) {
	if t == nil || !t.captureContent || resp == nil || s.span == nil || !s.span.IsRecording() {
		return
	}
	s.span.SetAttributes(attribute.KeyValue{Key: keyOutputMessages, Value: outputMessages(resp)})
}

// inputMessages converts messages to the structured form of
// gen_ai.input.messages (the v1.41.0 input-messages schema). Binary parts are
// described by their MIME type only: their bytes are not copied into spans.
func inputMessages(msgs []llms.MessageContent) attribute.Value {
	out := make([]attribute.Value, 0, len(msgs))
	for _, m := range msgs {
		parts := make([]attribute.Value, 0, len(m.Parts))
		for _, p := range m.Parts {
			if v, ok := partValue(p); ok {
				parts = append(parts, v)
			}
		}
		out = append(out, attribute.MapValue(
			attribute.String(fieldRole, roleName(m.Role)),
			attribute.Slice(fieldParts, parts...),
		))
	}
	return attribute.SliceValue(out...)
}

func partValue(p llms.ContentPart) (attribute.Value, bool) {
	switch p := p.(type) {
	case llms.TextContent:
		return textPart(p.Text), true
	case *llms.TextContent:
		if p != nil {
			return textPart(p.Text), true
		}
	case llms.ImageURLContent:
		return uriPart(p.URL), true
	case *llms.ImageURLContent:
		if p != nil {
			return uriPart(p.URL), true
		}
	case llms.BinaryContent:
		return blobPart(p.MIMEType), true
	case *llms.BinaryContent:
		if p != nil {
			return blobPart(p.MIMEType), true
		}
	case llms.ToolCall:
		return toolCallPart(p), true
	case *llms.ToolCall:
		if p != nil {
			return toolCallPart(*p), true
		}
	case llms.ToolCallResponse:
		return toolResponsePart(p), true
	case *llms.ToolCallResponse:
		if p != nil {
			return toolResponsePart(*p), true
		}
	}
	return attribute.Value{}, false
}

func textPart(s string) attribute.Value {
	return attribute.MapValue(attribute.String(fieldType, partText), attribute.String(fieldContent, s))
}

func uriPart(uri string) attribute.Value {
	return attribute.MapValue(attribute.String(fieldType, partURI), attribute.String(fieldModality, modalityImage),
		attribute.String(fieldURI, uri))
}

func blobPart(mime string) attribute.Value {
	return attribute.MapValue(attribute.String(fieldType, partBlob), attribute.String(fieldMimeType, mime))
}

func toolCallPart(tc llms.ToolCall) attribute.Value {
	kvs := []attribute.KeyValue{attribute.String(fieldType, partToolCall), attribute.String(fieldID, tc.ID)}
	if tc.FunctionCall != nil {
		kvs = append(kvs, attribute.String(fieldName, tc.FunctionCall.Name),
			attribute.String(fieldArguments, tc.FunctionCall.Arguments))
	}
	return attribute.MapValue(kvs...)
}

func toolResponsePart(r llms.ToolCallResponse) attribute.Value {
	return attribute.MapValue(attribute.String(fieldType, partToolResponse), attribute.String(fieldID, r.ToolCallID),
		attribute.String(fieldResult, r.Content))
}

// roleName maps langchaingo's roles to the conventions' (system, user,
// assistant, tool).
func roleName(r llms.ChatMessageType) string {
	switch r {
	case llms.ChatMessageTypeSystem:
		return "system"
	case llms.ChatMessageTypeAI:
		return "assistant"
	case llms.ChatMessageTypeTool, llms.ChatMessageTypeFunction:
		return "tool"
	}
	return "user"
}

// outputMessages converts the response's choices to the structured form of
// gen_ai.output.messages (one message per choice).
func outputMessages(resp *llms.ContentResponse) attribute.Value {
	out := make([]attribute.Value, 0, len(resp.Choices))
	for _, c := range resp.Choices {
		if c == nil {
			continue
		}
		parts := make([]attribute.Value, 0, 1+len(c.ToolCalls))
		if c.Content != "" {
			parts = append(parts, textPart(c.Content))
		}
		for _, tc := range c.ToolCalls {
			parts = append(parts, toolCallPart(tc))
		}
		if len(c.ToolCalls) == 0 && c.FuncCall != nil {
			parts = append(parts, toolCallPart(llms.ToolCall{FunctionCall: c.FuncCall}))
		}
		out = append(out, attribute.MapValue(
			attribute.String(fieldRole, "assistant"),
			attribute.Slice(fieldParts, parts...),
			attribute.String(fieldFinishReason, c.StopReason),
		))
	}
	return attribute.SliceValue(out...)
}
