package scoring

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/baarcore/baar/internal/benchtext"
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
	questions, _, err := benchtext.GSM8K()
	if err != nil {
		b.Fatal(err)
	}
	var reqs []Request
	for _, p := range benchtext.Runs(questions, 64, 7, 2048) {
		reqs = append(reqs, Request{Messages: []Message{{Role: RoleSystem, Text: "You are a senior engineer."}, {Role: RoleHuman, Text: p}}})
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

func BenchmarkDefaultVerifier2KB(b *testing.B) {
	v := DefaultVerifier()
	ctx := context.Background()
	r := Request{Messages: []Message{{Role: RoleHuman, Text: benchtext.Question}}}
	a := []Answer{{Text: benchtext.Answer2KB, FinishReason: "stop"}}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchtext.Answer2KB)))
	for b.Loop() {
		if _, err := v.Verify(ctx, r, a); err != nil {
			b.Fatal(err)
		}
	}
}

// realAnswers2KB are 64 requests and 2 KB answers of real model text: each
// answer is consecutive answers of Mixtral-8x7B from RouteLLM's GSM8K file
// run together (benchtext.Runs), each request the first of their questions.
// Varied text keeps a benchmark honest: verifying the same answer again and
// again lets the CPU learn its branches (about twice as fast as on answers
// it has not seen).
func realAnswers2KB(b testing.TB) ([]Request, []Answer) {
	questions, answers, err := benchtext.GSM8K()
	if err != nil {
		b.Fatal(err)
	}
	const n, stride = 64, 5
	var reqs []Request
	var out []Answer
	for k, text := range benchtext.Runs(answers, n, stride, 2048) {
		reqs = append(reqs, Request{Messages: []Message{{Role: RoleHuman, Text: questions[(k*stride)%len(questions)]}}})
		out = append(out, Answer{Text: text, FinishReason: "stop"})
	}
	return reqs, out
}

// BenchmarkDefaultVerifierRealAnswer is the verifier on real answers as
// they are (RouteLLM's GSM8K answers of Mixtral-8x7B, 256 of them in turn);
// B/answer is their mean size.
func BenchmarkDefaultVerifierRealAnswer(b *testing.B) {
	questions, answers, err := benchtext.GSM8K()
	if err != nil {
		b.Fatal(err)
	}
	const n = 256
	v := DefaultVerifier()
	ctx := context.Background()
	reqs, as := make([]Request, n), make([]Answer, n)
	size := 0
	for i := range n {
		reqs[i] = Request{Messages: []Message{{Role: RoleHuman, Text: questions[i]}}}
		as[i] = Answer{Text: answers[i], FinishReason: "stop"}
		size += len(answers[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(ctx, reqs[i%n], as[i%n:i%n+1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(size)/n, "B/answer")
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
	a := []Answer{{Text: benchtext.Answer2KB}, {Text: benchtext.Answer2KB}, {Text: "The answer is 17."}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, r, a); err != nil {
			b.Fatal(err)
		}
	}
}
