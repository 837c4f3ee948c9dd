package baar

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/scoring"
)

func TestScoringRequest(t *testing.T) {
	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "You are terse."),
		{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{
			llms.TextPart("look at"), llms.ImageURLPart("https://example.com/a.png"),
			llms.WithCacheControl(llms.TextPart("cached part"), &llms.CacheControl{Type: "ephemeral"}),
		}},
		{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.ToolCall{ID: "1", Type: "function",
			FunctionCall: &llms.FunctionCall{Name: "calc", Arguments: `{"x":1}`}}}},
		{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: "1", Name: "calc", Content: "2"}}},
	}
	opts := llms.CallOptions{
		Tools:     []llms.Tool{{Type: "function", Function: &llms.FunctionDefinition{Name: "calc"}}},
		Functions: []llms.FunctionDefinition{{Name: "search"}},
	}
	req, err := scoringRequest(msgs, &opts)
	require.NoError(t, err)
	require.Len(t, req.Messages, 4)
	assert.Equal(t, scoring.Message{Role: scoring.RoleSystem, Text: "You are terse."}, req.Messages[0])
	assert.Equal(t, "look at\ncached part", req.Messages[1].Text)
	assert.Equal(t, `calc({"x":1})`, req.Messages[2].Text)
	assert.Equal(t, "2", req.Messages[3].Text)
	assert.Equal(t, scoring.RoleTool, req.Messages[3].Role)
	assert.Equal(t, []string{"calc", "search"}, req.Tools)
	assert.Equal(t, 2, req.ToolCalls)
	assert.Equal(t, 1, req.Attachments)
}

func TestScoringRequestRejectsBadInput(t *testing.T) {
	bad := "\xff\xfe broken"
	cases := map[string][]llms.MessageContent{
		"no messages":       nil,
		"empty messages":    {{Role: llms.ChatMessageTypeHuman}},
		"invalid utf-8":     {llms.TextParts(llms.ChatMessageTypeHuman, bad)},
		"invalid utf-8 (2)": {llms.TextParts(llms.ChatMessageTypeHuman, "ok", bad)},
		"nil part":          {{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{nil}}},
		"invalid tool result": {{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
			llms.ToolCallResponse{Content: bad}}}},
	}
	for name, msgs := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := scoringRequest(msgs, &llms.CallOptions{})
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidRequest), "%v", err)
		})
	}
	_, err := scoringRequest([]llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "hi")},
		&llms.CallOptions{Tools: []llms.Tool{{Type: "function"}}})
	assert.ErrorIs(t, err, ErrInvalidRequest)
}
