package ledgertest

import (
	"context"
	"sync"
	"testing"

	"github.com/baarcore/baar/budget"
)

// BenchmarkPairs measures reserve+commit pairs on l from goroutines
// goroutines, with the key "user-1": b.N is the total number of pairs, and
// pairs/s is reported. It checks at the end that every pair was settled and
// counted. l's limits must hold b.N cents.
func BenchmarkPairs(b *testing.B, l budget.Ledger, goroutines int) {
	ctx := context.Background()
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
}
