// Package benchtext holds the inputs of the module's benchmarks: a word
// problem and a 2 KB worked answer to it, and varied real text from
// RouteLLM's GSM8K file.
//
// Judging one text again and again lets the CPU learn its branches, so a
// benchmark on Answer2KB alone gives a floor; Runs of real text, taken in
// turn, give the figure to expect. Only the standard library and
// internal/routellm are imported, so that the scoring package's own tests
// can use it (internal/bench imports scoring).
package benchtext

import (
	"encoding/csv"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/baarcore/baar/internal/routellm"
)

// Question is a GSM8K word problem; Answer2KB is a worked answer to it,
// 2,047 bytes: steps with calculator annotations and plain arithmetic, a
// hedge, and a final answer.
const Question = "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?"

// Answer2KB: see Question.
var Answer2KB = func() string {
	var b strings.Builder
	steps := []string{
		"Janet's ducks lay 16 eggs per day, and she eats 3 for breakfast, so 16 - 3 = <<16-3=13>>13 eggs remain.\n",
		"She bakes muffins with 4, so she has 13 - 4 = 9 eggs left to sell.\n",
		"Each egg sells for $2, so she makes 9 × $2 = $18 every day at the market.\n",
		"Over a week that is 18 * 7 = 126 dollars, roughly $1,250 over ten weeks.\n",
	}
	for b.Len() < 2048-16 {
		for _, s := range steps {
			b.WriteString(s)
		}
	}
	return b.String()[:2048-10] + "\n#### 18\n"
}()

// cheapAnswers is the GSM8K file's column of Mixtral-8x7B's answers.
const cheapAnswers = "mistralai/Mixtral-8x7B-Instruct-v0.1_response"

// GSM8K returns the questions of RouteLLM's GSM8K file (see routellm.Dir)
// and Mixtral-8x7B's answers to them, in the file's order.
func GSM8K() (questions, answers []string, err error) {
	dir, err := routellm.Dir()
	if err != nil {
		return nil, nil, err
	}
	f, err := routellm.Open(filepath.Join(dir, routellm.GSM8K))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", routellm.GSM8K, err)
	}
	col := -1
	for i, h := range rows[0] {
		if h == cheapAnswers {
			col = i
		}
	}
	if col < 0 || len(rows) < 2 {
		return nil, nil, fmt.Errorf("%s: no rows with a %q column", routellm.GSM8K, cheapAnswers)
	}
	for _, r := range rows[1:] {
		questions = append(questions, r[0])
		answers = append(answers, r[col])
	}
	return questions, answers, nil
}

// Runs returns n texts of size bytes: text k is texts[k*stride], the texts
// after it and a line break after each, run together and cut at size
// (texts wrap around). It returns nil when texts hold no byte.
func Runs(texts []string, n, stride, size int) []string {
	if len(strings.Join(texts, "")) == 0 {
		return nil
	}
	out := make([]string, n)
	for k := range out {
		var b strings.Builder
		for j := k * stride; b.Len() < size; j++ {
			b.WriteString(texts[j%len(texts)])
			b.WriteByte('\n')
		}
		out[k] = b.String()[:size]
	}
	return out
}
