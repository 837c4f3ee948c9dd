//go:build unix

package budget_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/ledgertest"
)

func TestScopedConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T, limit budget.Amount, p budget.Limits) budget.Ledger {
		s, err := budget.NewScoped(limit, p)
		require.NoError(t, err)
		return s
	})
}

func openFile(t *testing.T, path string, limit budget.Amount, p budget.Limits) *budget.File {
	t.Helper()
	f, err := budget.OpenFile(path, limit, p)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestFileConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T, limit budget.Amount, p budget.Limits) budget.Ledger {
		return openFile(t, filepath.Join(t.TempDir(), "budget.journal"), limit, p)
	})
}

// TestFileSharedConformance runs the conformance tests on two Files sharing
// one journal (two open file descriptions, like two processes), alternating
// operations, so that each must read what the other appended.
func TestFileSharedConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T, limit budget.Amount, p budget.Limits) budget.Ledger {
		path := filepath.Join(t.TempDir(), "budget.journal")
		return &alternating{ls: [2]*budget.File{openFile(t, path, limit, p), openFile(t, path, limit, p)}}
	})
}

// alternating sends each operation to the next of two Files sharing a path.
type alternating struct {
	mu sync.Mutex
	n  int
	ls [2]*budget.File
}

func (a *alternating) next() *budget.File {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return a.ls[a.n%2]
}

func (a *alternating) Reserve(ctx context.Context, x budget.Amount) (budget.Reservation, error) {
	return a.next().Reserve(ctx, x)
}

func (a *alternating) Commit(ctx context.Context, r budget.Reservation, x budget.Amount) error {
	return a.next().Commit(ctx, r, x)
}

func (a *alternating) Cancel(ctx context.Context, r budget.Reservation) error {
	return a.next().Cancel(ctx, r)
}

func (a *alternating) State(ctx context.Context) (budget.State, error) { return a.next().State(ctx) }

func (a *alternating) Unsettled(ctx context.Context) ([]budget.Reservation, error) {
	return a.next().Unsettled(ctx)
}
