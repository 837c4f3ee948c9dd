package scoring

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
)

// agreeSimilarity is the Similarity at or above which two long answers
// without a final answer count as the same answer: at least half of their
// word bigrams, together, are shared — rewordings and reformatting of one
// solution pass, different solutions do not.
const agreeSimilarity = 0.5

// Agreement returns a self-consistency verifier: the router samples k
// answers of the cheap model for the same request (the verifier implements
// Sampler), Verify groups them by their normalized final answer (see
// FinalAnswer and Majority), and the doubt is 1 − the share of the largest
// group. Two of three agreeing give a doubt of 1/3; all agreeing, 0. When
// it accepts, the router returns the answer Majority picks. k below 2 is
// taken as 2 (one answer cannot disagree with itself). Its Name is
// "agreement-k", as in "agreement-3".
func Agreement(k int) Verifier {
	return agreement{k: max(k, 2)}
}

type agreement struct{ k int }

var (
	_ Sampler = agreement{}
	_ Named   = agreement{}
)

// Samples returns k.
func (a agreement) Samples() int { return a.k }

// Name returns "agreement-k".
func (a agreement) Name() string { return "agreement-" + strconv.Itoa(a.k) }

// Verify returns 1 − the majority share of answers. It needs at least two
// answers (an *AnswerCountError otherwise); fewer than k are judged as
// given, each missing sample counting as a disagreeing one.
func (a agreement) Verify(ctx context.Context, req Request, answers []Answer) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(answers) < 2 {
		return 0, &AnswerCountError{Want: a.k, Got: len(answers)}
	}
	_, share := Majority(req, answers)
	share = share * float64(len(answers)) / float64(max(len(answers), a.k))
	return 1 - share, nil
}

// Majority returns the index of the answer to keep among answers sampled
// for the same request, and the share of answers that agree with it. Answers
// agree when their tool calls are the same (names, and arguments as parsed
// JSON), or else their normalized final answers are equal (FinalAnswer), or
// else, for answers with no marked final answer (prose, code), their
// Similarity is at least 0.5. Empty answers and answers cut off (finish reason "length" or
// "max_tokens") do not vote. The kept answer is the first of the largest
// group; with no voting answer, Majority returns (0, 0).
func Majority(req Request, answers []Answer) (index int, share float64) {
	if len(answers) == 0 {
		return 0, 0
	}
	keys := make([]string, len(answers))
	votes := make([]bool, len(answers))
	for i := range answers {
		keys[i], votes[i] = answerKey(&answers[i])
	}
	best, bestN := 0, 0
	group := make([]int, len(answers)) // index of each answer's group representative
	size := make([]int, len(answers))
	for i := range answers {
		group[i] = -1
		if !votes[i] {
			continue
		}
		group[i] = i
		for j := 0; j < i; j++ {
			if group[j] != j {
				continue
			}
			if keys[i] == keys[j] && (keys[i] != "" || Similarity(answers[i].Text, answers[j].Text) >= agreeSimilarity) {
				group[i] = j
				break
			}
		}
		r := group[i]
		size[r]++
		if size[r] > bestN || size[r] == bestN && r < best {
			best, bestN = r, size[r]
		}
	}
	return best, float64(bestN) / float64(len(answers))
}

// answerKey is what answers are grouped by: "tool:" and the canonical calls,
// "ans:" and the normalized final answer, or "" for a long answer compared by
// similarity; and whether the answer votes at all.
func answerKey(a *Answer) (string, bool) {
	if truncated(a.FinishReason) {
		return "", false
	}
	if len(a.ToolCalls) > 0 {
		var b strings.Builder
		b.WriteString("tool:")
		for _, c := range a.ToolCalls {
			b.WriteString(c.Name)
			b.WriteByte('(')
			b.WriteString(canonicalJSON(c.Arguments))
			b.WriteByte(')')
		}
		return b.String(), true
	}
	if strings.TrimSpace(a.Text) == "" {
		return "", false
	}
	if tool, input, ok := reactAction(a.Text); ok {
		// A ReAct step agrees on its action, not on a number in it.
		return "act:" + tool + "(" + strings.Join(strings.Fields(input), " ") + ")", true
	}
	if f, ok := shortAnswer(a.Text); ok {
		return "ans:" + f, true
	}
	return "", true
}

// shortAnswer returns the normalized final answer of text when it has one
// that can be compared exactly: an explicitly marked answer, or a number on
// the last line of an answer with no code fence. Other answers (prose,
// code) compare by Similarity.
func shortAnswer(text string) (string, bool) {
	fa := extractFinal(text)
	switch fa.kind {
	case markExplicit:
	case markLastNumber:
		if strings.Contains(text, "```") || strings.IndexByte(strings.TrimRight(text[fa.pos:], " \t\r\n"), '\n') >= 0 {
			return "", false
		}
	default:
		return "", false
	}
	n := NormalizeAnswer(fa.raw)
	return n, n != ""
}

// canonicalJSON re-encodes JSON text with sorted keys and no blanks, or
// returns the trimmed text when it does not parse.
func canonicalJSON(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return strings.TrimSpace(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return strings.TrimSpace(s)
	}
	return string(b)
}

// truncated reports whether a finish reason says the answer was cut off by
// the output limit: "length" (OpenAI, Ollama), "max_tokens" (Anthropic),
// "MAX_TOKENS" (Gemini), "max_output_tokens", in any case.
func truncated(reason string) bool {
	r := strings.ToLower(strings.TrimSpace(reason))
	return r == "length" || r == "max_tokens" || r == "max_output_tokens" || r == "model_length"
}
