package baartest_test

// These tests drive the simulator the way langchaingo v0.1.14's agents do,
// with the same prompts, stop words, messages and output parsing (copied from
// agents/mrkl.go, mrkl_prompt.go, conversational.go, prompts/ and
// openai_functions_agent.go). They do not import the agents package, which
// would add about 27 modules to go.mod.

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/baartest"
)

type fakeTool struct {
	name, description string
	inputs            []string
	answer            string
}

func (f *fakeTool) call(input string) string {
	f.inputs = append(f.inputs, input)
	return f.answer
}

// agentStopWords are the stop words of the OneShot and Conversational agents.
var agentStopWords = llms.WithStopWords([]string{"\nObservation:", "\n\tObservation:"})

// mrklPrompt renders agents/mrkl_prompt.go's default template.
func mrklPrompt(tools []*fakeTool, input, scratchpad string) string {
	var names, descs strings.Builder
	for i, t := range tools {
		if i > 0 {
			names.WriteString(", ")
		}
		names.WriteString(t.name)
		fmt.Fprintf(&descs, "- %s: %s\n", t.name, t.description)
	}
	prefix := "Answer the following questions as best you can. You have access to the following tools:\n\n" + descs.String()
	instructions := `Use the following format:

Question: the input question you must answer
Thought: you should always think about what to do
Action: the action to take, should be one of [ ` + names.String() + ` ]
Action Input: the input to the action
Observation: the result of the action
... (this Thought/Action/Action Input/Observation can repeat N times)
Thought: I now know the final answer
Final Answer: the final answer to the original input question`
	suffix := "Begin!\n\nQuestion: " + input + "\n" + scratchpad
	return strings.Join([]string{prefix, instructions, suffix}, "\n\n")
}

// runMRKL is the OneShotZeroAgent's loop (executor with 5 iterations).
func runMRKL(t *testing.T, llm llms.Model, tools []*fakeTool, input string) (string, int) {
	t.Helper()
	scratchpad := ""
	for i := 1; i <= 5; i++ {
		output, err := llms.GenerateFromSinglePrompt(context.Background(), llm, mrklPrompt(tools, input, scratchpad), agentStopWords)
		require.NoError(t, err)
		if strings.Contains(output, "Final Answer:") {
			splits := strings.Split(output, "Final Answer:")
			return strings.TrimSpace(splits[len(splits)-1]), i
		}
		m := regexp.MustCompile(`(?i)Action:\s*(.+?)\s*Action\s+Input:\s*(?s)(.+)`).FindStringSubmatch(output)
		require.Len(t, m, 3, "unparsable agent output: %q", output)
		var tool *fakeTool
		for _, tl := range tools {
			if tl.name == strings.TrimSpace(m[1]) {
				tool = tl
			}
		}
		require.NotNil(t, tool, "unknown tool %q", m[1])
		observation := tool.call(strings.TrimSpace(m[2]))
		scratchpad += "\n" + output + "\nObservation: " + observation + "\n"
	}
	t.Fatal("the agent did not finish in 5 iterations")
	return "", 0
}

func TestReActOneShotAgent(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	llm := newClient(t, srv)
	calc := &fakeTool{name: "calculator", description: "Useful for arithmetic.", answer: "42"}
	search := &fakeTool{name: "search", description: "Searches the web.", answer: "nothing"}
	answer, steps := runMRKL(t, llm, []*fakeTool{calc, search}, "What is 6 times 7?")
	assert.Equal(t, 2, steps)
	assert.Equal(t, []string{"What is 6 times 7?"}, calc.inputs, "the first tool was called once with the question")
	assert.Empty(t, search.inputs)
	assert.True(t, strings.HasPrefix(answer, "Simulated answer from gpt-4o-mini: based on the observation \"42\""), answer)
	assert.EqualValues(t, 2, srv.Requests())

	// The fake Model plays the same agent with the default responder.
	calc.inputs = nil
	model := &baartest.Model{Responder: baartest.DefaultResponder}
	answer, steps = runMRKL(t, model, []*fakeTool{calc, search}, "What is 6 times 7?")
	assert.Equal(t, 2, steps)
	assert.Equal(t, []string{"What is 6 times 7?"}, calc.inputs)
	assert.Contains(t, answer, `"42"`)
}

// conversationalPrompt renders the Conversational agent's default template
// (agents/prompts/conversational_*.txt).
func conversationalPrompt(tools []*fakeTool, input, scratchpad string) string {
	var names, descs strings.Builder
	for i, t := range tools {
		if i > 0 {
			names.WriteString(", ")
		}
		names.WriteString(t.name)
		fmt.Fprintf(&descs, "- %s: %s\n", t.name, t.description)
	}
	prefix := "Assistant is designed to be able to assist with a wide range of tasks.\n\nTOOLS:\n------\n\nAssistant has access to the following tools:\n\n" + descs.String()
	instructions := `To use a tool, please use the following format:

Thought: Do I need to use a tool? Yes
Action: the action to take, should be one of [` + names.String() + `]
Action Input: the input to the action
Observation: the result of the action

When you have a response to say to the Human, or if you do not need to use a tool, you MUST use the format:

Thought: Do I need to use a tool? No
AI: [your response here]`
	suffix := "Begin!\n\nPrevious conversation history:\n\n\nNew input: " + input + "\n\nThought:" + scratchpad
	return strings.Join([]string{prefix, instructions, suffix}, "\n\n")
}

func TestReActConversationalAgent(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	llm := newClient(t, srv)
	lookup := &fakeTool{name: "lookup", description: "Looks things up.", answer: "Paris"}
	tools := []*fakeTool{lookup}
	scratchpad := ""
	var final string
	for i := 0; i < 5 && final == ""; i++ {
		output, err := llm.Call(context.Background(), conversationalPrompt(tools, "Capital of France?", scratchpad), agentStopWords)
		require.NoError(t, err)
		if strings.Contains(output, "AI:") {
			splits := strings.Split(output, "AI:")
			final = splits[len(splits)-1]
			break
		}
		m := regexp.MustCompile(`Action: (.*?)[\n]*(?s)Action Input: (.*)`).FindStringSubmatch(output)
		require.Len(t, m, 3, "unparsable agent output: %q", output)
		require.Equal(t, "lookup", strings.TrimSpace(m[1]))
		scratchpad += output + "\nObservation: " + lookup.call(strings.TrimSpace(m[2])) + "\nThought:"
	}
	assert.Equal(t, []string{"Capital of France?"}, lookup.inputs)
	assert.Contains(t, final, `based on the observation "Paris"`)
}

func TestOpenAIFunctionsAgentFlow(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	for _, llm := range []llms.Model{newClient(t, srv), &baartest.Model{Responder: baartest.DefaultResponder}} {
		calc := &fakeTool{name: "calculator", description: "Useful for arithmetic.", answer: "4"}
		// OpenAIFunctionsAgent.functions().
		functions := []llms.FunctionDefinition{{
			Name:        calc.name,
			Description: calc.description,
			Parameters: map[string]any{
				"properties": map[string]any{"__arg1": map[string]string{"title": "__arg1", "type": "string"}},
				"required":   []string{"__arg1"},
				"type":       "object",
			},
		}}
		msgs := []llms.MessageContent{
			llms.TextParts(llms.ChatMessageTypeSystem, "You are a helpful AI assistant."),
			llms.TextParts(llms.ChatMessageTypeHuman, "What is 2+2?"),
		}
		var output string
		for i := 0; i < 5 && output == ""; i++ {
			resp, err := llm.GenerateContent(context.Background(), msgs, llms.WithFunctions(functions), llms.WithStreamingFunc(nil))
			require.NoError(t, err)
			choice := resp.Choices[0]
			if len(choice.ToolCalls) == 0 {
				output = choice.Content
				break
			}
			// OpenAIFunctionsAgent.ParseOutput and constructScratchPad.
			tc := choice.ToolCalls[0]
			var args map[string]any
			require.NoError(t, json.Unmarshal([]byte(tc.FunctionCall.Arguments), &args))
			input, _ := args["__arg1"].(string)
			observation := calc.call(input)
			msgs = append(msgs,
				llms.MessageContent{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{
					llms.ToolCall{ID: tc.ID, Type: "function", FunctionCall: tc.FunctionCall},
				}},
				llms.MessageContent{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
					llms.ToolCallResponse{ToolCallID: tc.ID, Content: observation},
				}},
			)
		}
		assert.Equal(t, []string{"2+2"}, calc.inputs, "the question's arithmetic: %T", llm)
		assert.Contains(t, output, `according to the tool, "4"`, "%T", llm)
	}
}
