package baartest

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Mistakes make a simulated model answer wrongly, in ways a verifier can
// check, on a seeded share of its answers, so that tests and examples can
// show a cascade escalating offline. The zero value makes no mistake.
//
// Each answer is one sample: a request for n choices (llms.WithN, "n" on
// the wire) makes n samples, and so does the same request sent n times. A
// sample is wrong with probability Rate, drawn from the seed, the request
// (model and conversation) and the sample's number among the samples of the
// same request so far. So the same seed gives the same wrong answers for the
// same sequence of requests, and the samples of one request disagree as real
// sampled answers do. (When identical requests run concurrently, which of
// them gets which sample is up to the scheduler; the set of answers is the
// same.)
//
// A wrong sample makes one of Kinds, drawn among those that apply to its
// answer; an answer to which none applies stays right.
type Mistakes struct {
	// Rate is the probability that an answer is wrong, in [0, 1]; NaN or
	// less than 0 means 0.
	Rate float64
	// Seed selects which answers are wrong.
	Seed uint64
	// Kinds are the mistakes to make; empty means all of them.
	Kinds []Mistake
}

// Mistake is a kind of checkable wrong answer.
type Mistake int

// Mistakes a simulated model makes.
const (
	// MistakeArithmetic states a false result: in an answer holding a true
	// equation ("7 * 8 = 56. The answer is 56."), the result is replaced
	// everywhere by a wrong one ("7 * 8 = 54. The answer is 54."), different
	// from sample to sample.
	MistakeArithmetic Mistake = iota + 1
	// MistakeNoAnswer replaces an answer that marks its final answer ("The
	// answer is 56.", "#### 56", a ReAct "Final Answer: …") with a hedge
	// that gives none and holds no number.
	MistakeNoAnswer
	// MistakeTruncated cuts a text answer off: it rambles until the
	// request's output cap (half its length without one) and ends with the
	// finish reason "length", before its final answer.
	MistakeTruncated
	// MistakeUnknownTool makes a tool call (or a ReAct "Action:") name a tool
	// that was not offered: the offered name with "_v2", "_tool", "_api" or
	// "2" appended (drawn per sample, so wrong samples disagree).
	MistakeUnknownTool
)

var allMistakes = []Mistake{MistakeArithmetic, MistakeNoAnswer, MistakeTruncated, MistakeUnknownTool}

// String returns the mistake's name.
func (k Mistake) String() string {
	switch k {
	case MistakeArithmetic:
		return "arithmetic"
	case MistakeNoAnswer:
		return "no-answer"
	case MistakeTruncated:
		return "truncated"
	case MistakeUnknownTool:
		return "unknown-tool"
	}
	return "Mistake(" + strconv.Itoa(int(k)) + ")"
}

// hedge is what an answer with MistakeNoAnswer says instead: no final
// answer, no number.
const hedge = "I would need to work through this more carefully before giving a figure."

func (m *Mistakes) active() bool { return m.Rate > 0 }

// draw returns the mistake sample makes for a request of hash h, or 0 for a
// right answer, and a random number for the mistake's details.
func (m *Mistakes) draw(h, sample uint64) (wrong bool, rnd uint64) {
	if !m.active() {
		return false, 0
	}
	rng := splitmix(m.Seed ^ h*0x9e3779b97f4a7c15 ^ (sample+1)*0xc2b2ae3d27d4eb4f)
	u := float64(rng.next()>>11) / (1 << 53)
	return u < m.Rate, rng.next()
}

// apply returns the reply of one sample: r itself, or r made wrong; cut
// reports a MistakeTruncated (the shaping cuts the answer).
func (m *Mistakes) apply(req *ChatRequest, r Reply, h, sample uint64) (out Reply, cut bool, made Mistake) {
	wrong, rnd := m.draw(h, sample)
	if !wrong {
		return r, false, 0
	}
	kinds := m.Kinds
	if len(kinds) == 0 {
		kinds = allMistakes
	}
	applicable := make([]Mistake, 0, len(kinds))
	for _, k := range kinds {
		if mistakeApplies(k, &r) {
			applicable = append(applicable, k)
		}
	}
	if len(applicable) == 0 {
		return r, false, 0
	}
	k := applicable[rnd%uint64(len(applicable))]
	rnd /= uint64(len(applicable))
	switch k {
	case MistakeArithmetic:
		r.Content = falseResult(r.Content, rnd)
	case MistakeNoAnswer:
		r.Content = withoutAnswer(r.Content)
	case MistakeTruncated:
		cut = true
	case MistakeUnknownTool:
		r = unknownTool(r, toolSuffixes[rnd%uint64(len(toolSuffixes))])
	}
	return r, cut, k
}

// isText reports whether r answers in text.
func (r *Reply) isText() bool { return len(r.ToolCalls) == 0 && r.FunctionCall == nil }

func mistakeApplies(k Mistake, r *Reply) bool {
	switch k {
	case MistakeArithmetic:
		_, _, ok := trueEquation(r.Content)
		return r.isText() && ok
	case MistakeNoAnswer:
		return r.isText() && answerMarker(r.Content) >= 0
	case MistakeTruncated:
		return r.isText() && strings.TrimSpace(r.Content) != ""
	case MistakeUnknownTool:
		return !r.isText() || reactAction.MatchString(r.Content)
	}
	return false
}

// falseResult replaces the result of the last true equation of content,
// wherever it stands as a number, by a wrong one.
func falseResult(content string, rnd uint64) string {
	_, value, _ := trueEquation(content)
	v, _ := strconv.ParseFloat(value, 64)
	// An error of 1 to 10, up or down (never below 0 for a positive result).
	d := float64(1 + rnd%10)
	if (rnd/10)%2 == 1 && v-d >= 0 {
		d = -d
	}
	wrong := formatValue(v + d)
	re := regexp.MustCompile(`(^|[^\d.])` + regexp.QuoteMeta(value) + `([^\d]|$)`)
	for {
		// Adjacent occurrences share a separator: repeat until none is left.
		next := re.ReplaceAllString(content, "${1}"+wrong+"${2}")
		if next == content {
			return content
		}
		content = next
	}
}

// answerMarkers mark a final answer in the simulator's answers.
var answerMarkers = []string{"Final Answer:", "The answer is", "####", "AI:"}

// answerMarker returns the offset of the first final-answer marker of
// content, or -1.
func answerMarker(content string) int {
	at := -1
	for _, mk := range answerMarkers {
		if i := strings.Index(content, mk); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	return at
}

// withoutAnswer replaces the answer of content, and the work before it
// (which holds its figures), by the hedge. A ReAct "Final Answer:" or "AI:"
// and the simulator's "Simulated answer from <model>: " stay in place.
func withoutAnswer(content string) string {
	i := answerMarker(content)
	for _, keep := range []string{"Final Answer:", "AI:"} {
		if strings.HasPrefix(content[i:], keep) {
			return content[:i+len(keep)] + " " + hedge
		}
	}
	if strings.HasPrefix(content, "Simulated answer from ") {
		if j := strings.Index(content, ": "); j >= 0 && j < i {
			return content[:j+2] + hedge
		}
	}
	return hedge
}

// reactAction is a ReAct "Action: tool" line.
var reactAction = regexp.MustCompile(`(?m)^Action:[ \t]*(\S+)`)

// toolSuffixes make the names of tools that were not offered.
var toolSuffixes = [...]string{"_v2", "_tool", "_api", "2"}

// unknownTool renames the tool r calls by appending suffix.
func unknownTool(r Reply, suffix string) Reply {
	switch {
	case len(r.ToolCalls) > 0:
		tcs := append([]ToolCall(nil), r.ToolCalls...)
		tcs[0].Name += suffix
		r.ToolCalls = tcs
	case r.FunctionCall != nil:
		fc := *r.FunctionCall
		fc.Name += suffix
		r.FunctionCall = &fc
	default:
		loc := reactAction.FindStringSubmatchIndex(r.Content)
		r.Content = r.Content[:loc[3]] + suffix + r.Content[loc[3]:]
	}
	return r
}

// sampleCounter numbers the samples of each request: the n-th answer to
// the same request (model and conversation) is sample n. It remembers the
// last 65,536 distinct requests; older ones start again at 0.
type sampleCounter struct {
	mu   sync.Mutex
	seen map[uint64]uint64
}

const maxCountedRequests = 1 << 16

// next returns the number of the first of n samples of request h.
func (c *sampleCounter) next(h uint64, n int) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil || len(c.seen) >= maxCountedRequests {
		c.seen = make(map[uint64]uint64)
	}
	first := c.seen[h]
	c.seen[h] = first + uint64(n)
	return first
}
