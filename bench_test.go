package baar_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/internal/benchtext"
	"github.com/baarcore/baar/scoring"
)

// prompt2KB is a 2 KB English prompt of the kind an agent sends.
var prompt2KB = func() string {
	const s = "Read the following notes about the quarterly report carefully and answer the question at the end. " +
		"Revenue grew 12% to $4.2M while costs rose 7%; the sales team hired 3 people and churn fell from 5.1% to 4.3%. "
	var b strings.Builder
	for b.Len() < 2048-60 {
		b.WriteString(s)
	}
	b.WriteString("Question: what was the growth in revenue?")
	return b.String()[:2048]
}()

// BenchmarkDirect and BenchmarkRouter call the same fake model with the same
// 2 KB prompt, without and with the Router in front: the difference is the
// Router's overhead (scoring, token bound, reservation, usage, settlement).
//
//	go test -run '^$' -bench 'Direct|Router' -benchmem .
func BenchmarkDirect(b *testing.B) {
	model := &baartest.Model{Name: "gpt-4o-mini"}
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, prompt2KB)}
	ctx := context.Background()
	opt := llms.WithMaxTokens(256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := model.GenerateContent(ctx, msgs, opt); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRouter is a Router over one fake model with a budget that never runs out.
func benchRouter(b *testing.B) *baar.Router {
	model := &baartest.Model{Name: "gpt-4o-mini"}
	r, err := baar.New(
		baar.Tier{Model: model, Name: "gpt-4o-mini"},
		baar.Tier{Model: model, Name: "gpt-4o"},
		baar.WithBudget(1e9), baar.WithMaxOutputTokens(256))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkRouter(b *testing.B) {
	r := benchRouter(b)
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, prompt2KB)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.GenerateContent(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRealPrompts is BenchmarkDirect and BenchmarkRouter on 64
// different 2 KB prompts of real text (GSM8K questions run together), in
// turn: repeating one prompt lets the CPU learn the branches of the text the
// Router's scorer reads, a floor rather than a typical figure.
//
//	go test -run '^$' -bench RealPrompts -benchmem .
func BenchmarkRealPrompts(b *testing.B) {
	questions, _, err := benchtext.GSM8K()
	if err != nil {
		b.Fatal(err)
	}
	var prompts [][]llms.MessageContent
	for _, p := range benchtext.Runs(questions, 64, 7, 2048) {
		prompts = append(prompts, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, p)})
	}
	ctx := context.Background()
	direct := &baartest.Model{Name: "gpt-4o-mini"}
	opt := llms.WithMaxTokens(256)
	r := benchRouter(b)
	for _, tc := range []struct {
		name string
		call func(msgs []llms.MessageContent) error
	}{
		{"direct", func(msgs []llms.MessageContent) error { _, err := direct.GenerateContent(ctx, msgs, opt); return err }},
		{"router", func(msgs []llms.MessageContent) error { _, err := r.GenerateContent(ctx, msgs); return err }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := tc.call(prompts[i%len(prompts)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkRouterParallel measures the Router under contention (all cores).
func BenchmarkRouterParallel(b *testing.B) {
	r := benchRouter(b)
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, prompt2KB)}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := r.GenerateContent(ctx, msgs); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkOverhead compares a direct model call with the same call through
// the Router for 200-byte, 2 KB and 200 KB prompts, side by side.
//
//	go test -run '^$' -bench Overhead -benchmem .
func BenchmarkOverhead(b *testing.B) {
	base := prompt2KB
	for _, size := range []struct {
		name string
		n    int
	}{{"200B", 200}, {"2KB", 2 << 10}, {"200KB", 200 << 10}} {
		prompt := strings.Repeat(base, size.n/len(base)+1)[:size.n]
		msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, prompt)}
		ctx := context.Background()
		b.Run(size.name+"/direct", func(b *testing.B) {
			model := &baartest.Model{Name: "gpt-4o-mini"}
			opt := llms.WithMaxTokens(256)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := model.GenerateContent(ctx, msgs, opt); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/router", func(b *testing.B) {
			r := benchRouter(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.GenerateContent(ctx, msgs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRouterGuarded is BenchmarkRouter with a prompt whose sentences
// the scorer's guard sets aside ("You are a careful assistant." in the user
// message): the request is scored twice, with and without them.
func BenchmarkRouterGuarded(b *testing.B) {
	r := benchRouter(b)
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman,
		strings.Repeat("You are a careful assistant. ", 8)+prompt2KB[:2048-8*29])}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.GenerateContent(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
}

// fixedAnswer answers every call with the same text and honest usage.
type fixedAnswer struct{ text string }

func (m fixedAnswer) GenerateContent(context.Context, []llms.MessageContent, ...llms.CallOption) (*llms.ContentResponse, error) {
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: m.text, StopReason: "stop",
		GenerationInfo: map[string]any{"PromptTokens": 500, "CompletionTokens": 500, "TotalTokens": 1000}}}}, nil
}

func (m fixedAnswer) Call(ctx context.Context, p string, o ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, p, o...)
}

// BenchmarkCascade compares, in one run, a routed call and a cascaded call
// whose cheap 2 KB answer the default verifier judges and accepts, over the
// same fake model: the difference is what a cascade adds to a call it does
// not escalate. "cascade-trivial" is the same cascade with a verifier that
// does nothing: what the cascade itself adds besides its verifier.
// "verifier-alone" runs the verifier in a loop of its own, with its tables
// hot in the cache; between model calls they are colder, so inside a call
// it takes somewhat longer.
//
//	go test -run '^$' -bench 'Cascade' -benchmem .
func BenchmarkCascade(b *testing.B) {
	model := fixedAnswer{text: benchtext.Answer2KB}
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, benchtext.Question)}
	b.Run("verifier-alone", func(b *testing.B) {
		v := scoring.DefaultVerifier()
		req := scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: benchtext.Question}}}
		a := []scoring.Answer{{Text: benchtext.Answer2KB, FinishReason: "stop"}}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, req, a); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, tc := range []struct {
		name string
		opts []baar.Option
	}{
		{"route", nil},
		// Never escalated, whatever the doubt: the cost of sampling and
		// verifying alone.
		{"cascade-not-escalated", []baar.Option{baar.WithCascade(scoring.DefaultVerifier()), baar.WithEscalationThreshold(1)}},
		// The cascade's own work: a verifier that does nothing.
		{"cascade-trivial", []baar.Option{baar.WithCascade(scoring.VerifierFunc(func(context.Context, scoring.Request, []scoring.Answer) (float64, error) {
			return 0, nil
		})), baar.WithEscalationThreshold(1)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			hook := func(_ context.Context, rep *baar.CallReport) {
				if rep.Escalated {
					b.Fatal("escalated")
				}
			}
			r, err := baar.New(baar.Tier{Model: model, Name: "gpt-4o-mini"}, baar.Tier{Model: model, Name: "gpt-4o"},
				append([]baar.Option{baar.WithBudget(1e9), baar.WithMaxOutputTokens(1024), baar.WithReportFunc(hook),
					baar.WithScorer(scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) { return 0, nil }))}, tc.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.GenerateContent(ctx, msgs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
