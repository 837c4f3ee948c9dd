//go:build unix

package budget_test

import (
	"path/filepath"
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
		return ledgertest.Alternate(openFile(t, path, limit, p), openFile(t, path, limit, p))
	})
}

// TestFileSharedAlerts commits from 1,000 goroutines through two Files on
// one journal: each threshold is reported once in all.
func TestFileSharedAlerts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "budget.journal")
	p := budget.Limits{KeyLimit: 5 * budget.Dollar}
	ledgertest.Alerts(t, []budget.Ledger{openFile(t, path, 10*budget.Dollar, p), openFile(t, path, 10*budget.Dollar, p)}, 1000)
}
