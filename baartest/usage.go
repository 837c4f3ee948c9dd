package baartest

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// UsageMode says how truthfully token usage is reported.
type UsageMode int

// Usage modes.
const (
	// UsageHonest reports the simulator's true counts (the default).
	UsageHonest UsageMode = iota
	// UsageMissing reports no usage at all: the non-streaming response has no
	// "usage" field and a stream has no usage chunk; [Model] returns a nil
	// GenerationInfo.
	UsageMissing
	// UsageInflated multiplies every reported count by [InflationFactor], so
	// completion tokens exceed the request's max tokens.
	UsageInflated
	// UsageNegative reports every count negated.
	UsageNegative
	// UsageAbsurd reports [AbsurdTokens] prompt and completion tokens.
	UsageAbsurd
)

// InflationFactor is the multiplier of [UsageInflated].
const InflationFactor = 10

// AbsurdTokens is the prompt and completion token count of [UsageAbsurd]:
// the largest integer both an int and a float64 hold exactly, 2^53−1 where
// int has 64 bits and 2^31−1 where it has 32.
const AbsurdTokens = min(1<<53-1, math.MaxInt)

// String returns the mode's name.
func (m UsageMode) String() string {
	switch m {
	case UsageHonest:
		return "honest"
	case UsageMissing:
		return "missing"
	case UsageInflated:
		return "inflated"
	case UsageNegative:
		return "negative"
	case UsageAbsurd:
		return "absurd"
	}
	return "UsageMode(" + strconv.Itoa(int(m)) + ")"
}

// usage is one response's token usage (for all its choices).
type usage struct {
	Prompt, Completion, Cached, Reasoning int
}

func (u usage) total() int { return u.Prompt + u.Completion }

// report applies a usage mode; ok is false when usage must be omitted.
func (m UsageMode) report(u usage) (r usage, ok bool) {
	switch m {
	case UsageMissing:
		return usage{}, false
	case UsageInflated:
		return usage{u.Prompt * InflationFactor, u.Completion * InflationFactor, u.Cached * InflationFactor, u.Reasoning * InflationFactor}, true
	case UsageNegative:
		return usage{-u.Prompt, -u.Completion, -u.Cached, -u.Reasoning}, true
	case UsageAbsurd:
		return usage{AbsurdTokens, AbsurdTokens, 0, 0}, true
	}
	return u, true
}

// shaping is the per-source configuration that turns a Reply into an answer.
type shaping struct {
	maxOutput      bool    // always return exactly MaxTokens output tokens
	cachedFraction float64 // share of prompt tokens reported as cached
	reasoningRatio float64 // reasoning tokens per visible token for reasoning models
}

// answer is a Reply after stop sequences, output cap and usage accounting.
type answer struct {
	Content      string
	ToolCalls    []ToolCall
	FunctionCall *FunctionCall
	Finish       string // stop, length, tool_calls, function_call
	// Usage per choice except Prompt and Cached, which are per request.
	Usage usage
}

// shape applies the request's stop sequences and output cap to r and
// computes its usage. cut makes a text answer a cut-off one
// ([MistakeTruncated]): what comes before its final answer (else its first
// half), padded with filler to the output cap when there is one, with the
// finish reason "length".
func (s shaping) shape(req *ChatRequest, r Reply, seed uint64, cut bool) answer {
	a := answer{Finish: "stop"}
	visible := 0
	switch {
	case len(r.ToolCalls) > 0:
		a.ToolCalls = make([]ToolCall, len(r.ToolCalls))
		for i, tc := range r.ToolCalls {
			if tc.ID == "" {
				tc.ID = callID(seed, i)
			}
			a.ToolCalls[i] = tc
			visible += ApproxTokens(tc.Name) + ApproxTokens(tc.Arguments)
		}
		a.Finish = "tool_calls"
	case r.FunctionCall != nil:
		fc := *r.FunctionCall
		a.FunctionCall = &fc
		visible = ApproxTokens(fc.Name) + ApproxTokens(fc.Arguments)
		a.Finish = "function_call"
	default:
		a.Content = cutAtStop(r.Content, req.Stop)
		if cut {
			a.Content = beforeAnswer(a.Content)
			if req.MaxTokens <= 0 {
				a.Finish = "length"
			}
		}
		visible = ApproxTokens(a.Content)
	}

	reasoning := r.ReasoningTokens
	if reasoning <= 0 {
		reasoning = 0
		if s.reasoningRatio > 0 && IsReasoningModel(req.Model) {
			reasoning = int(math.Ceil(float64(visible) * s.reasoningRatio))
		}
	}

	if m := req.MaxTokens; m > 0 {
		text := a.ToolCalls == nil && a.FunctionCall == nil
		switch {
		case !text:
			// A call's arguments are not cut; reasoning yields first.
			visible = min(visible, m)
			reasoning = min(reasoning, m-visible)
		case s.maxOutput || cut || visible+reasoning > m:
			share := 0.0
			if visible+reasoning > 0 {
				share = float64(reasoning) / float64(visible+reasoning)
			}
			reasoning = int(float64(m) * share)
			visible = m - reasoning
			if s.maxOutput || cut {
				a.Content = fitTokens(a.Content, visible, seed)
			} else {
				a.Content = truncateTokens(a.Content, visible)
			}
			visible = ApproxTokens(a.Content)
			a.Finish = "length"
		}
	}
	a.Usage = usage{
		Prompt:     req.PromptTokens,
		Completion: visible + reasoning,
		Reasoning:  reasoning,
		Cached:     int(float64(req.PromptTokens) * s.cachedFraction),
	}
	return a
}

// beforeAnswer is the part of an answer before its final answer, or its
// first half when it marks none.
func beforeAnswer(content string) string {
	if i := answerMarker(content); i > 0 {
		return content[:i]
	}
	return truncateTokens(content, ApproxTokens(content)/2)
}

// IsReasoningModel reports whether a model name looks like an OpenAI
// reasoning model (o1, o3, o4…, gpt-5…), for which the simulator reports
// reasoning tokens.
func IsReasoningModel(model string) bool {
	m := strings.ToLower(model)
	if strings.HasPrefix(m, "gpt-5") {
		return true
	}
	if len(m) >= 2 && m[0] == 'o' && m[1] >= '1' && m[1] <= '9' {
		return len(m) == 2 || m[2] == '-'
	}
	return false
}

// cutAtStop cuts s before the earliest stop sequence.
func cutAtStop(s string, stop []string) string {
	cut := len(s)
	for _, w := range stop {
		if w == "" {
			continue
		}
		if i := strings.Index(s[:cut], w); i >= 0 {
			cut = i
		}
	}
	return s[:cut]
}

// truncateTokens cuts s to at most n tokens, at a rune boundary.
func truncateTokens(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if ApproxTokens(s) <= n {
		return s
	}
	cut := 4 * n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// fitTokens returns s truncated or padded with filler words to exactly n
// tokens.
func fitTokens(s string, n int, seed uint64) string {
	if n <= 0 {
		return ""
	}
	s = truncateTokens(s, n)
	if len(s) > 4*(n-1) {
		return s
	}
	var b strings.Builder
	b.Grow(4*n + 16)
	b.WriteString(s)
	rng := splitmix(seed ^ 0x5bd1e995)
	for b.Len() <= 4*(n-1) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocabulary[rng.next()%uint64(len(vocabulary))])
	}
	out := b.String()
	if len(out) > 4*n {
		out = out[:4*n] // the cut falls in ASCII filler
	}
	return out
}
