package baartest

import (
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Responder decides the answer to a request. It must be deterministic if the
// test needs determinism, and safe for concurrent use: the server calls it
// from many goroutines.
type Responder func(req *ChatRequest) Reply

// DefaultResponder is the [Responder] used when none is configured. Its answers
// depend only on the request:
//
//   - Tools: when the request offers tools (or functions), tool_choice is not
//     "none" and the conversation holds no tool or function result yet, it
//     calls one tool: the forced one, else the first offered. Its arguments
//     are a JSON object filling the schema's required properties (strings
//     with the last user message's arithmetic expression, or the message
//     itself when it has none; numbers with 1, booleans with true), or
//     {"__arg1": …} when the schema declares no properties. With
//     tool_choice "required" or a forced function it always calls the tool.
//     Otherwise it answers in text, quoting the last tool result, and ends
//     with the result ("17 * 24 = 408. The answer is 408.") when the tool
//     result states a true equation or the question holds arithmetic.
//   - ReAct: when the prompt carries langchaingo's ReAct format ("Action:" and
//     "Action Input:"), it answers with an Action using the first tool named in
//     "should be one of [ … ]" and, as Action Input, the question's
//     arithmetic expression (else the question); once an "Observation:"
//     follows the instructions it answers "Final Answer: …" (or "AI: …" for
//     the conversational agent's format), quoting the last observation and
//     ending with the result as above when there is one.
//   - Echo: a prompt that asks to reply with a quoted text ("Reply with 'OK'
//     and nothing else", `Say "hello"`) gets that text alone.
//   - Arithmetic: a last user message holding simple arithmetic (numbers
//     joined by + - * / × ÷, e.g. "What is 7 * 8?") gets it computed:
//     "Simulated answer from <model>: 7 * 8 = 56. The answer is 56."
//   - Otherwise it answers "Simulated answer from <model>: …" with filler
//     text whose length grows with the prompt's size and with markers of
//     complexity ("step by step", "explain", "prove", code…), from about 12
//     to 600 tokens.
//
// Its answers are right; [Mistakes] make a share of them wrong. The server
// then applies stop sequences and the output cap (see [Reply]).
func DefaultResponder(req *ChatRequest) Reply {
	h := req.hash()
	if r, ok := toolReply(req, h); ok {
		return r
	}
	if r, ok := reactReply(req, h); ok {
		return r
	}
	if m := echoInstruction.FindStringSubmatch(lastUserText(req)); m != nil {
		return Reply{Content: m[1]}
	}
	if expr, v, ok := findArithmetic(lastUserText(req)); ok {
		return Reply{Content: answerPrefix(req.Model) + expr + " = " + v + ". The answer is " + v + "."}
	}
	return Reply{Content: plainAnswer(req, h)}
}

// toolInput is what the simulator passes to a tool for a question: the
// question's arithmetic expression when it has one ("17 * 24"), else the
// question itself, on one line.
func toolInput(question string) string {
	if expr, _, ok := findArithmetic(question); ok {
		return expr
	}
	return clip(question, 200)
}

// computed is the end of an answer that has a result: the true equation a
// tool's output (or observation) states, else the question's computed
// arithmetic, followed by "The answer is <value>."; ok is false when there
// is neither.
func computed(toolOutput, question string) (string, bool) {
	expr, v, ok := trueEquation(toolOutput)
	if !ok {
		expr, v, ok = findArithmetic(question)
	}
	if !ok {
		return "", false
	}
	return expr + " = " + v + ". The answer is " + v + ".", true
}

// echoInstruction matches prompts such as "Reply with 'OK' and nothing else"
// or `Say "hello"`: the simulator answers with the quoted text alone, as a
// real model would (langchaingo's llmtest conformance suite relies on it).
var echoInstruction = regexp.MustCompile(`(?i)\b(?:reply|respond|answer|say)\s+(?:only\s+)?(?:with\s+)?(?:only\s+)?['"]([^'"\n]{1,40})['"]`)

func answerPrefix(model string) string { return "Simulated answer from " + model + ": " }

// lastUserText is the last user message's text, trimmed.
func lastUserText(req *ChatRequest) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			return strings.TrimSpace(req.Messages[i].Content)
		}
	}
	return ""
}

// clip returns s on one line, at most n bytes, cut at a rune boundary.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Tools.

func toolReply(req *ChatRequest, h uint64) (Reply, bool) {
	tools, legacy := req.Tools, false
	if len(tools) == 0 {
		tools, legacy = req.Functions, true
	}
	if len(tools) == 0 || req.ToolChoice == "none" {
		return Reply{}, false
	}
	var lastResult string
	hasResult := false
	for _, m := range req.Messages {
		if m.Role == "tool" || m.Role == "function" {
			hasResult, lastResult = true, m.Content
		}
	}
	if hasResult && req.ToolChoice != "required" {
		content := answerPrefix(req.Model) + "according to the tool, " + quote(lastResult) + ". "
		if eq, ok := computed(lastResult, lastUserText(req)); ok {
			return Reply{Content: content + eq}, true
		}
		return Reply{Content: content + sentence(h)}, true
	}
	fn := tools[0]
	if req.ForcedTool != "" {
		for _, f := range tools {
			if f.Name == req.ForcedTool {
				fn = f
				break
			}
		}
	}
	args := toolArguments(fn.Parameters, toolInput(lastUserText(req)))
	if legacy {
		return Reply{FunctionCall: &FunctionCall{Name: fn.Name, Arguments: args}}, true
	}
	return Reply{ToolCalls: []ToolCall{{ID: callID(h, 0), Name: fn.Name, Arguments: args}}}, true
}

func callID(h uint64, i int) string {
	return "call_" + strconv.FormatUint(h, 36) + strconv.Itoa(i)
}

func quote(s string) string { return strconv.Quote(clip(s, 80)) }

// toolArguments builds arguments matching a JSON schema's required properties.
func toolArguments(schema json.RawMessage, input string) string {
	var s struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if len(schema) == 0 || json.Unmarshal(schema, &s) != nil || len(s.Properties) == 0 {
		b, _ := json.Marshal(map[string]string{"__arg1": input})
		return string(b)
	}
	args := make(map[string]any, len(s.Required))
	required := append([]string(nil), s.Required...)
	sort.Strings(required)
	for _, name := range required {
		var typ string
		switch t := s.Properties[name].Type.(type) {
		case string:
			typ = t
		case []any: // e.g. ["string", "null"]
			if len(t) > 0 {
				typ, _ = t[0].(string)
			}
		}
		switch typ {
		case "integer", "number":
			args[name] = 1
		case "boolean":
			args[name] = true
		case "array":
			args[name] = []any{}
		case "object":
			args[name] = map[string]any{}
		case "null":
			args[name] = nil
		default:
			args[name] = input
		}
	}
	b, err := json.Marshal(args)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// ReAct.

func reactReply(req *ChatRequest, h uint64) (Reply, bool) {
	var all strings.Builder
	for _, m := range req.Messages {
		if m.Role == "system" || m.Role == "user" || m.Role == "developer" {
			all.WriteString(m.Content)
			all.WriteByte('\n')
		}
	}
	text := all.String()
	if !strings.Contains(text, "Action:") || !strings.Contains(text, "Action Input:") {
		return Reply{}, false
	}
	conversational := strings.Contains(text, "Do I need to use a tool?")
	region := text
	if i := strings.LastIndex(text, "Begin!"); i >= 0 {
		region = text[i:]
	}
	observations := strings.Count(region, "Observation:") - strings.Count(region, "Observation: the result of the action")
	tool := firstReActTool(text)
	if observations > 0 || tool == "" {
		obs := ""
		if i := strings.LastIndex(region, "Observation:"); i >= 0 && observations > 0 {
			obs = "based on the observation " + quote(region[i+len("Observation:"):]) + ", "
		}
		answer := answerPrefix(req.Model) + obs + sentence(h)
		if observations > 0 {
			if eq, ok := computed(region[strings.LastIndex(region, "Observation:"):], reactQuestion(region, req)); ok {
				answer = answerPrefix(req.Model) + obs + eq
			}
		}
		if conversational {
			return Reply{Content: "Thought: Do I need to use a tool? No\nAI: " + answer}, true
		}
		return Reply{Content: "Thought: I now know the final answer\nFinal Answer: " + answer}, true
	}
	question := toolInput(reactQuestion(region, req))
	if conversational {
		return Reply{Content: "Thought: Do I need to use a tool? Yes\nAction: " + tool + "\nAction Input: " + question}, true
	}
	return Reply{Content: "Thought: I should use " + tool + " to answer this.\nAction: " + tool + "\nAction Input: " + question}, true
}

// firstReActTool reads the first tool name of "should be one of [a, b]", else
// of the "- name: description" list.
func firstReActTool(text string) string {
	const marker = "should be one of ["
	if i := strings.Index(text, marker); i >= 0 {
		rest := text[i+len(marker):]
		if j := strings.IndexByte(rest, ']'); j >= 0 {
			first, _, _ := strings.Cut(rest[:j], ",")
			if first = strings.TrimSpace(first); first != "" {
				return first
			}
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "- "); ok {
			if name, _, ok := strings.Cut(rest, ":"); ok && name != "" && !strings.ContainsAny(name, " \t") {
				return name
			}
		}
	}
	return ""
}

func reactQuestion(region string, req *ChatRequest) string {
	for _, marker := range []string{"Question:", "New input:"} {
		if i := strings.LastIndex(region, marker); i >= 0 {
			if q := clip(region[i+len(marker):], 200); q != "" {
				return q
			}
		}
	}
	u := lastUserText(req)
	if i := strings.LastIndexByte(u, '\n'); i >= 0 {
		u = u[i+1:]
	}
	if q := clip(u, 200); q != "" {
		return q
	}
	return "the question"
}

// Plain answers.

// complexityMarkers raise the length of a plain answer.
var complexityMarkers = []string{
	"step by step", "explain", "why", "prove", "derive", "analy", "compare",
	"design", "implement", "code", "```", "algorithm", "calculate", "optimi",
	"reason", "evaluate",
}

// plainTarget is the natural length, in tokens, of a plain answer.
func plainTarget(req *ChatRequest) int {
	var text strings.Builder
	for _, m := range req.Messages {
		if m.Role == "user" || m.Role == "system" || m.Role == "developer" {
			text.WriteString(strings.ToLower(m.Content))
			text.WriteByte('\n')
		}
	}
	s := text.String()
	markers := 0
	for _, mk := range complexityMarkers {
		if strings.Contains(s, mk) {
			markers++
		}
	}
	n := 12 + req.PromptTokens/4 + 40*markers
	if n > 600 {
		n = 600
	}
	return n
}

func plainAnswer(req *ChatRequest, h uint64) string {
	target := plainTarget(req)
	var b strings.Builder
	b.Grow(4*target + 128)
	b.WriteString(answerPrefix(req.Model))
	rng := splitmix(h)
	// Whole sentences while they fit the target (at least one).
	for first := true; ; first = false {
		s := sentences[rng.next()%uint64(len(sentences))]
		if !first {
			if (b.Len()+1+len(s)+3)/4 > target {
				break
			}
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	return b.String()
}

// sentences make up plain answers.
var sentences = [...]string{
	"The result depends on the context, and a simple approach works well in practice.",
	"Several factors matter here; the first is cost and the second is latency.",
	"Given these constraints, the value is reasonable and the edge cases should be tested.",
	"This example illustrates the idea: estimate first, then check the result carefully.",
	"The data shows a clear pattern over time, so the conclusion is stable.",
	"A careful step by step check confirms that the solution meets the requirements.",
	"Overall the answer is yes, with a few caveats worth keeping in mind.",
	"The short answer is no; the longer one depends on the budget available.",
	"In most cases the default settings are a good starting point.",
	"It helps to measure before optimizing, since intuition is often wrong.",
	"Each option has trade-offs between accuracy, speed and cost.",
	"The key insight is that small inputs rarely need the largest model.",
	"A second pass over the details shows no contradiction with the first result.",
	"Historical records agree on the main facts, although the dates vary slightly.",
	"The calculation gives a figure close to the estimate made at the start.",
	"Further reading on the topic covers the exceptions in more depth.",
}

// sentence returns a deterministic sentence.
func sentence(h uint64) string {
	rng := splitmix(h ^ 0x9e3779b97f4a7c15)
	return sentences[rng.next()%uint64(len(sentences))]
}

type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

var vocabulary = [...]string{
	"the", "model", "answer", "considers", "several", "factors", "first",
	"second", "result", "depends", "on", "context", "which", "suggests",
	"a", "simple", "approach", "works", "well", "in", "practice", "because",
	"data", "shows", "clear", "pattern", "over", "time", "therefore", "we",
	"can", "conclude", "that", "value", "is", "reasonable", "given", "these",
	"constraints", "however", "edge", "cases", "remain", "and", "should",
	"be", "checked", "carefully", "with", "tests", "overall", "solution",
	"meets", "requirements", "cost", "latency", "budget", "estimate", "step",
	"next", "this", "example", "illustrates", "idea",
}
