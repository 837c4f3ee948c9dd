package redisledger_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/redisledger"
)

// BenchmarkLedgers measures reserve+commit pairs from 64 goroutines on each
// store side by side: the in-memory ledgers, the File ledger (fsync per
// group commit) and the Redis ledger (one script per operation, on the
// Redis of BAAR_REDIS_ADDR). b.N is the total number of pairs; pairs/s is
// reported.
func BenchmarkLedgers(b *testing.B) {
	const goroutines = 64
	ctx := context.Background()
	policy := budget.Limits{KeyLimit: budget.MaxAmount / 2}
	stores := []struct {
		name string
		open func(b *testing.B) budget.Ledger
	}{
		{"memory", func(b *testing.B) budget.Ledger {
			m, err := budget.NewMemory(budget.MaxAmount)
			if err != nil {
				b.Fatal(err)
			}
			return m
		}},
		{"scoped", func(b *testing.B) budget.Ledger {
			s, err := budget.NewScoped(budget.MaxAmount, policy)
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"file", func(b *testing.B) budget.Ledger {
			f, err := budget.OpenFile(filepath.Join(b.TempDir(), "budget.journal"), budget.MaxAmount, policy)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { f.Close() })
			return f
		}},
		{"redis", func(b *testing.B) budget.Ledger {
			c := redisClient(b)
			l, err := redisledger.New(c, budgetName(b, c), redisledger.MaxLimit, budget.Limits{KeyLimit: redisledger.MaxLimit / 2})
			if err != nil {
				b.Fatal(err)
			}
			return l
		}},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			l := s.open(b)
			kctx := budget.ContextWithKey(ctx, "user-1")
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range goroutines {
				n := b.N / goroutines
				if w < b.N%goroutines {
					n++
				}
				wg.Go(func() {
					for range n {
						r, err := l.Reserve(kctx, budget.Cent)
						if err != nil {
							b.Error(err)
							return
						}
						if err := l.Commit(ctx, r, budget.Cent/2); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
			st, err := l.State(ctx)
			if err != nil || st.Reserved != 0 || st.Spent != budget.Amount(b.N)*budget.Cent/2 {
				b.Fatalf("state %+v (%v) after %d pairs", st, err, b.N)
			}
		})
	}
}
