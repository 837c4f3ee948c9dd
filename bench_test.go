package baar_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
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
