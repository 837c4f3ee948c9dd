package scoring

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"strings"
	"testing"
)

// prompt2KB is a realistic 2 KB prompt: prose, numbers, a list and code.
var prompt2KB = func() string {
	var b strings.Builder
	parts := []string{
		"Our service processes 1,250 orders per hour at peak, and each order touches 3 tables. ",
		"Explain why the p99 latency rose from 120 ms to 480 ms after the last deploy, and propose a fix.\n",
		"- the cache hit rate fell from 92% to 61%\n- connection pool size is 20\n",
		"```go\nfunc load(ctx context.Context, id int) (*Order, error) {\n\treturn db.Get(ctx, id)\n}\n```\n",
	}
	for b.Len() < 2048 {
		for _, p := range parts {
			b.WriteString(p)
		}
	}
	return b.String()[:2048]
}()

func BenchmarkDefault2KB(b *testing.B) {
	s := Default()
	ctx := context.Background()
	r := Request{Messages: []Message{{Role: RoleSystem, Text: "You are a senior engineer."}, {Role: RoleHuman, Text: prompt2KB}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Score(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDefaultRealPrompts2KB is the scorer on 64 different 2 KB
// prompts of real text (GSM8K questions run together), one after another:
// scoring one prompt again and again lets the CPU learn its branches.
func BenchmarkDefaultRealPrompts2KB(b *testing.B) {
	rows, _ := gsm8kAnswers(b)
	var reqs []Request
	for i := 0; len(reqs) < 64; i++ {
		var t strings.Builder
		for j := i * 7; t.Len() < 2048; j++ {
			t.WriteString(rows[j%len(rows)][0])
			t.WriteString("\n")
		}
		reqs = append(reqs, Request{Messages: []Message{{Role: RoleSystem, Text: "You are a senior engineer."}, {Role: RoleHuman, Text: t.String()[:2048]}}})
	}
	s := Default()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Score(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// answer2KB is a realistic 2 KB worked answer: steps with calculator
// annotations and plain arithmetic, a hedge, a final answer.
var answer2KB = func() string {
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
	s := b.String()[:2048-10]
	return s + "\n#### 18\n"
}()

func BenchmarkDefaultVerifier2KB(b *testing.B) {
	v := DefaultVerifier()
	ctx := context.Background()
	r := Request{Messages: []Message{{Role: RoleHuman, Text: "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?"}}}
	a := []Answer{{Text: answer2KB, FinishReason: "stop"}}
	b.ReportAllocs()
	b.SetBytes(int64(len(answer2KB)))
	for b.Loop() {
		if _, err := v.Verify(ctx, r, a); err != nil {
			b.Fatal(err)
		}
	}
}

// realAnswers2KB are 64 requests and 2 KB answers of real model text: each
// answer is consecutive answers of Mixtral-8x7B from RouteLLM's GSM8K file
// (the module's copy) run together and cut at 2 KB, each request the first
// of their questions. Varied text keeps a benchmark honest: verifying the
// same answer again and again lets the CPU learn its branches (about twice
// as fast as on answers it has not seen).
func realAnswers2KB(b testing.TB) ([]Request, []Answer) {
	rows, col := gsm8kAnswers(b)
	var reqs []Request
	var answers []Answer
	for i := 0; len(answers) < 64; i++ {
		var t strings.Builder
		for j := i * 5; t.Len() < 2048; j++ {
			t.WriteString(rows[j%len(rows)][col])
			t.WriteString("\n")
		}
		reqs = append(reqs, Request{Messages: []Message{{Role: RoleHuman, Text: rows[(i*5)%len(rows)][0]}}})
		answers = append(answers, Answer{Text: t.String()[:2048], FinishReason: "stop"})
	}
	return reqs, answers
}

// gsm8kAnswers are the rows of RouteLLM's GSM8K file (the module's copy),
// the prompt first, and the column of Mixtral-8x7B's answers.
func gsm8kAnswers(b testing.TB) (rows [][]string, col int) {
	f, err := os.Open("../testdata/routellm/gsm8k_responses.csv.gz")
	if err != nil {
		b.Fatalf("the module's copy of RouteLLM's data: %v", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	rows, err = csv.NewReader(z).ReadAll()
	if err != nil || len(rows) < 2 {
		b.Fatalf("gsm8k_responses: %v", err)
	}
	col = -1
	for i, h := range rows[0] {
		if h == "mistralai/Mixtral-8x7B-Instruct-v0.1_response" {
			col = i
		}
	}
	if col < 0 {
		b.Fatalf("gsm8k_responses: no Mixtral answers in %q", rows[0])
	}
	return rows[1:], col
}

// BenchmarkDefaultVerifierRealAnswer is the verifier on real answers as
// they are (RouteLLM's GSM8K answers of Mixtral-8x7B, 256 of them in turn);
// B/answer is their mean size.
func BenchmarkDefaultVerifierRealAnswer(b *testing.B) {
	rows, col := gsm8kAnswers(b)
	rows = rows[:256]
	v := DefaultVerifier()
	ctx := context.Background()
	reqs, answers := make([]Request, len(rows)), make([]Answer, len(rows))
	size := 0
	for i, r := range rows {
		reqs[i] = Request{Messages: []Message{{Role: RoleHuman, Text: r[0]}}}
		answers[i] = Answer{Text: r[col], FinishReason: "stop"}
		size += len(r[col])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(ctx, reqs[i%len(reqs)], answers[i%len(answers):i%len(answers)+1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(size)/float64(len(rows)), "B/answer")
}

// BenchmarkDefaultVerifierRealAnswers2KB is the verifier on 2 KB of real
// answers, a different one each time (see realAnswers2KB): the figure to
// quote for what a verification costs.
func BenchmarkDefaultVerifierRealAnswers2KB(b *testing.B) {
	reqs, answers := realAnswers2KB(b)
	v := DefaultVerifier()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(2048)
	i := 0
	for b.Loop() {
		if _, err := v.Verify(ctx, reqs[i%len(reqs)], answers[i%len(answers):i%len(answers)+1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDefaultVerifierEquations is the verifier's worst case in kind:
// an answer of nothing but distinct equations (about 150 in 2 KB), each
// checked and followed through the derivation. Its cost grows linearly
// with the answer (the scans keep sets, not lists).
func BenchmarkDefaultVerifierEquations(b *testing.B) {
	for _, size := range []int{2 << 10, 16 << 10} {
		var sb strings.Builder
		for i := 0; sb.Len() < size; i++ {
			fmt.Fprintf(&sb, "%d + %d = %d\n", i*7, i*3+1, i*10+1)
		}
		text := sb.String()[:size]
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			v := DefaultVerifier()
			r := Request{Messages: []Message{{Role: RoleHuman, Text: "What is 5 + 7?"}}}
			a := []Answer{{Text: text}}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := v.Verify(context.Background(), r, a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAgreement3(b *testing.B) {
	v := Agreement(3)
	ctx := context.Background()
	r := Request{Messages: []Message{{Role: RoleHuman, Text: "q"}}}
	a := []Answer{{Text: answer2KB}, {Text: answer2KB}, {Text: "The answer is 17."}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, r, a); err != nil {
			b.Fatal(err)
		}
	}
}
