package redisledger_test

import (
	"path/filepath"
	"testing"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/ledgertest"
	"github.com/baarcore/baar/budget/redisledger"
)

// BenchmarkLedgers measures reserve+commit pairs from 64 goroutines on each
// store side by side: the in-memory ledgers, the File ledger (fsync per
// group commit) and the Redis ledger (one script per operation, on the
// Redis of BAAR_REDIS_ADDR). b.N is the total number of pairs; pairs/s is
// reported.
func BenchmarkLedgers(b *testing.B) {
	const goroutines = 64
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
		b.Run(s.name, func(b *testing.B) { ledgertest.BenchmarkPairs(b, s.open(b), goroutines) })
	}
}

// BenchmarkRateLimits measures reserve+commit pairs from 64 goroutines with
// one limit per key (its main budget) and with three (its main budget, $X
// per minute and per day: budget.Limits.KeyRates), in memory (Scoped) and
// in Redis: the cost of the rate limits.
func BenchmarkRateLimits(b *testing.B) {
	const goroutines = 64
	big := redisledger.MaxLimit / 4
	for _, limits := range []struct {
		name string
		p    budget.Limits
	}{
		{"limits=1", budget.Limits{KeyLimit: big}},
		{"limits=3", budget.Limits{KeyLimit: big, KeyRates: []budget.Rate{{Limit: big, Period: budget.Minutely}, {Limit: big, Period: budget.Daily}}}},
	} {
		b.Run("scoped/"+limits.name, func(b *testing.B) {
			s, err := budget.NewScoped(redisledger.MaxLimit, limits.p)
			if err != nil {
				b.Fatal(err)
			}
			ledgertest.BenchmarkPairs(b, s, goroutines)
		})
		b.Run("redis/"+limits.name, func(b *testing.B) {
			c := redisClient(b)
			l, err := redisledger.New(c, budgetName(b, c), redisledger.MaxLimit, limits.p)
			if err != nil {
				b.Fatal(err)
			}
			ledgertest.BenchmarkPairs(b, l, goroutines)
		})
	}
}
