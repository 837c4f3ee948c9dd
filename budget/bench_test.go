package budget

import (
	"context"
	"strconv"
	"sync"
	"testing"
)

// BenchmarkMemoryReserveCommit measures reserve+commit pairs on one Memory
// from 1, 2, 64 and 1024 goroutines; b.N is the total number of pairs.
func BenchmarkMemoryReserveCommit(b *testing.B) {
	for _, g := range []int{1, 2, 64, 1024} {
		b.Run("goroutines="+strconv.Itoa(g), func(b *testing.B) {
			ctx := context.Background()
			m, err := NewMemory(MaxAmount)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range g {
				n := b.N / g
				if w < b.N%g {
					n++
				}
				wg.Go(func() {
					for range n {
						r, err := m.Reserve(ctx, Cent)
						if err != nil {
							b.Error(err)
							return
						}
						if err := m.Commit(ctx, r, Cent/2); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
			s, _ := m.State(ctx)
			if s.Reserved != 0 || s.Spent != Amount(b.N)*Cent/2 {
				b.Fatalf("state %+v after %d pairs", s, b.N)
			}
		})
	}
}

var benchUsage = Usage{InputTokens: 12_345, CacheReadTokens: 4_096, CacheWriteTokens: 1_024, OutputTokens: 789, ReasoningTokens: 256}

// BenchmarkPriceCost measures Price.Cost, which compiles the price on every
// call, on a price with a long-context tier and cache rates.
func BenchmarkPriceCost(b *testing.B) {
	p := testSonnet
	var sink Amount
	for b.Loop() {
		c, err := p.Cost(benchUsage)
		if err != nil {
			b.Fatal(err)
		}
		sink += c
	}
	_ = sink
}

// BenchmarkRatesCost measures Rates.Cost: a compiled price.
func BenchmarkRatesCost(b *testing.B) {
	r, err := testSonnet.Compile()
	if err != nil {
		b.Fatal(err)
	}
	var sink Amount
	for b.Loop() {
		c, err := r.Cost(benchUsage)
		if err != nil {
			b.Fatal(err)
		}
		sink += c
	}
	_ = sink
}

// BenchmarkLookup measures a table lookup through a provider prefix.
func BenchmarkLookup(b *testing.B) {
	for b.Loop() {
		if _, ok := Lookup("anthropic/claude-sonnet-4-5"); !ok {
			b.Fatal("not found")
		}
	}
}
