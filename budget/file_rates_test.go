//go:build unix

package budget

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFileRatesAndMarksPersist checks that rate windows, the rate
// generations of open holds and alert marks survive in the journal, as
// entries and through a compaction's snapshot: another File reading it
// enforces the same minute and does not fire a mark again.
func TestFileRatesAndMarksPersist(t *testing.T) {
	for _, compact := range []int64{1, DefaultCompactSize} {
		now := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
		p := Limits{KeyLimit: 120 * Cent, KeyRates: []Rate{{Limit: Dollar, Period: Minutely}}, Now: func() time.Time { return now }}
		path := filepath.Join(t.TempDir(), "budget.journal")
		a, err := OpenFile(path, 10*Dollar, p)
		require.NoError(t, err)
		defer a.Close()
		a.compactSize = compact
		require.NoError(t, a.SetAlerts([]float64{0.5}))
		ctx := ContextWithKey(context.Background(), "k")
		r, err := a.Reserve(ctx, 60*Cent)
		require.NoError(t, err)
		open, err := a.Reserve(ctx, 10*Cent) // held across the reopen
		require.NoError(t, err)
		cs, err := a.CommitWithAlerts(ctx, r, 60*Cent)
		require.NoError(t, err)
		require.Len(t, cs, 1, "compact %d", compact)
		assert.Equal(t, "k", cs[0].Key)

		b, err := OpenFile(path, 10*Dollar, p)
		require.NoError(t, err)
		defer b.Close()
		b.compactSize = compact
		require.NoError(t, b.SetAlerts([]float64{0.5}))
		_, err = b.Reserve(ctx, 40*Cent)
		var ex *ExceededError
		require.ErrorAs(t, err, &ex, "compact %d: the minute's 70¢ are in the journal", compact)
		assert.Equal(t, Minutely, ex.Period)
		r2, err := b.Reserve(ctx, 30*Cent)
		require.NoError(t, err)
		cs, err = b.CommitWithAlerts(ctx, r2, 30*Cent)
		require.NoError(t, err)
		assert.Empty(t, cs, "compact %d: the mark is in the journal", compact)
		// The open hold settles into its minute from the other File.
		require.NoError(t, b.Commit(ctx, open, 0))
		_, err = a.Reserve(ctx, 10*Cent)
		require.NoError(t, err, "compact %d: the hold's 10¢ were released", compact)
	}
}
