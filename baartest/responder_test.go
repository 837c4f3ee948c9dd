package baartest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/baartest"
)

func user(text string) baartest.Message { return baartest.Message{Role: "user", Content: text} }

func TestDefaultResponderToolArguments(t *testing.T) {
	schema := `{"type":"object","properties":{
		"q":{"type":"string"},"n":{"type":"integer"},"x":{"type":"number"},"b":{"type":"boolean"},
		"l":{"type":"array"},"o":{"type":"object"},"z":{"type":"null"},"s":{"type":["string","null"]},"opt":{"type":"string"}},
		"required":["q","n","x","b","l","o","z","s"]}`
	req := &baartest.ChatRequest{Model: "m", N: 1,
		Messages: []baartest.Message{user("first\nline two")},
		Tools:    []baartest.Function{{Name: "f", Parameters: json.RawMessage(schema)}},
	}
	r := baartest.DefaultResponder(req)
	require.Len(t, r.ToolCalls, 1)
	assert.JSONEq(t, `{"q":"first","n":1,"x":1,"b":true,"l":[],"o":{},"z":null,"s":"first"}`, r.ToolCalls[0].Arguments)

	// No declared properties: the langchaingo functions-agent convention.
	req.Tools = []baartest.Function{{Name: "f"}}
	assert.JSONEq(t, `{"__arg1":"first"}`, baartest.DefaultResponder(req).ToolCalls[0].Arguments)
	// Properties but none required: an empty object.
	req.Tools = []baartest.Function{{Name: "f", Parameters: json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}}}`)}}
	assert.JSONEq(t, `{}`, baartest.DefaultResponder(req).ToolCalls[0].Arguments)

	// Legacy functions get a function call; "required" keeps calling.
	req.Tools, req.Functions = nil, []baartest.Function{{Name: "g"}}
	r = baartest.DefaultResponder(req)
	require.NotNil(t, r.FunctionCall)
	assert.Equal(t, "g", r.FunctionCall.Name)
	req.Messages = append(req.Messages, baartest.Message{Role: "function", Name: "g", Content: "done"})
	assert.Nil(t, baartest.DefaultResponder(req).FunctionCall)
	req.ToolChoice = "required"
	assert.NotNil(t, baartest.DefaultResponder(req).FunctionCall)
}

func TestDefaultResponderReActFallbacks(t *testing.T) {
	// A custom ReAct prompt without "should be one of [...]" nor "Begin!".
	prompt := "Tools:\n- lookup: finds facts\n\nAnswer with Action: and Action Input: lines.\n" +
		"Observation: the result of the action\nWhat is the tallest mountain?"
	req := &baartest.ChatRequest{Model: "m", N: 1, Messages: []baartest.Message{user(prompt)}}
	r := baartest.DefaultResponder(req)
	assert.Equal(t, "Thought: I should use lookup to answer this.\nAction: lookup\nAction Input: What is the tallest mountain?", r.Content)

	req.Messages[0].Content += "\nAction: lookup\nAction Input: tallest mountain\nObservation: Everest\n"
	r = baartest.DefaultResponder(req)
	assert.True(t, strings.HasPrefix(r.Content, "Thought: I now know the final answer\nFinal Answer: Simulated answer from m: based on the observation \"Everest\""), r.Content)

	// No tool named at all: answer directly.
	req.Messages[0].Content = "Use Action: and Action Input: if needed. Question: hi"
	assert.True(t, strings.HasPrefix(baartest.DefaultResponder(req).Content, "Thought: I now know the final answer\nFinal Answer: "))
}

func TestDefaultResponderIsDeterministic(t *testing.T) {
	a := &baartest.ChatRequest{Model: "m", N: 1, Messages: []baartest.Message{user("same")}}
	b := &baartest.ChatRequest{Model: "m", N: 1, Messages: []baartest.Message{user("same")}}
	assert.Equal(t, baartest.DefaultResponder(a), baartest.DefaultResponder(b))
	b.Model = "other"
	assert.NotEqual(t, baartest.DefaultResponder(a).Content, baartest.DefaultResponder(b).Content)
}

func TestFailureAndUsageModeNames(t *testing.T) {
	assert.Equal(t, "rate_limit", baartest.FailRateLimit.String())
	assert.Equal(t, "truncate", baartest.FailTruncate.String())
	assert.Equal(t, "Failure(99)", baartest.Failure(99).String())
	assert.Equal(t, "absurd", baartest.UsageAbsurd.String())
	assert.Equal(t, "UsageMode(-1)", baartest.UsageMode(-1).String())
}
