package pgledger_test

import (
	"testing"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/ledgertest"
	"github.com/baarcore/baar/budget/pgledger"
)

// BenchmarkLedgers measures reserve+commit pairs from 64 goroutines on the
// PostgreSQL ledger (of BAAR_POSTGRES_DSN), with and without the
// settlements table, like the BenchmarkLedgers of budget/redisledger for the
// other stores. b.N is the total number of pairs; pairs/s is reported.
// Every pair is durable when it returns (as the server's synchronous_commit
// makes it).
func BenchmarkLedgers(b *testing.B) {
	for _, s := range []struct {
		name string
		opts []pgledger.Option
	}{
		{"postgres", nil},
		{"postgres-nosettlements", []pgledger.Option{pgledger.WithoutSettlements()}},
	} {
		b.Run(s.name, func(b *testing.B) {
			pool := testPool(b)
			l := newLedger(b, pool, freshSchema(b, pool), "bench", budget.MaxAmount, budget.Limits{KeyLimit: budget.MaxAmount / 2}, s.opts...)
			ledgertest.BenchmarkPairs(b, l, 64)
		})
	}
}
