//go:build unix

package budget

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spend9 opens a $10 budget at path, spends $9 and returns the ledger and
// the journal's length before its first record.
func spend9(t *testing.T, path string) (*File, int64) {
	t.Helper()
	f := openFile(t, path, 10*Dollar, Limits{})
	fi, err := os.Stat(path)
	require.NoError(t, err)
	r, err := f.Reserve(context.Background(), 9*Dollar)
	require.NoError(t, err)
	require.NoError(t, f.Commit(context.Background(), r, 9*Dollar))
	return f, fi.Size()
}

// requireLost checks that err is the refusal of a journal that lost spend,
// naming the way out.
func requireLost(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, errLost)
	assert.Contains(t, err.Error(), "budget.RecreateFile")
}

// A journal cut back to its header under a running ledger that
// acknowledged $9 of $10 does not start again from $0 (it used to report $0
// spent and grant $5): the ledger, and a process opening the path, fail
// closed until the journal is restored.
func TestFileJournalCutBackFailsClosed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.journal")
	f, header := spend9(t, path)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, header))

	_, err = f.Reserve(ctx, 5*Dollar)
	requireLost(t, err)
	_, err = f.State(ctx)
	requireLost(t, err)
	_, err = OpenFile(path, 10*Dollar, Limits{})
	requireLost(t, err) // a new process: the lock file's mark
	require.NoError(t, os.Truncate(path, 0))
	_, err = f.Reserve(ctx, 5*Dollar)
	requireLost(t, err)

	require.NoError(t, os.WriteFile(path, data, 0o600))
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 9 * Dollar}, stateOf(t, f, ctx), "restored, it resumes")
	_, err = f.Reserve(ctx, 5*Dollar)
	assert.ErrorIs(t, err, ErrExceeded)
}

// A journal removed under a running ledger, then created afresh by another
// process, or replaced by another budget's journal, is not adopted (the
// first ledger used to adopt the fresh journal at $0). RecreateFile starts
// the budget again deliberately, and every ledger follows.
func TestFileJournalReplacedFailsClosed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "b.journal")
	f, _ := spend9(t, path)
	require.NoError(t, os.Remove(path))
	_, err := OpenFile(path, 10*Dollar, Limits{})
	requireLost(t, err) // it used to create a fresh journal
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist)

	other := filepath.Join(dir, "other.journal")
	g, _ := spend9(t, other)
	require.NoError(t, g.Close())
	foreign, err := os.ReadFile(other)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, foreign, 0o600))
	_, err = f.Reserve(ctx, Dollar)
	requireLost(t, err)
	assert.Contains(t, err.Error(), "replaced by another journal")
	_, err = OpenFile(path, 10*Dollar, Limits{})
	requireLost(t, err)

	require.NoError(t, RecreateFile(path))
	old, err := os.ReadFile(path + ".old")
	require.NoError(t, err)
	assert.Equal(t, foreign, old, "the replaced journal is kept aside")
	assert.Equal(t, State{Limit: 10 * Dollar}, stateOf(t, f, ctx), "the running ledger adopts the re-created budget")
	_, err = f.Reserve(ctx, 5*Dollar)
	require.NoError(t, err)
	h := openFile(t, path, 10*Dollar, Limits{})
	assert.Equal(t, State{Limit: 10 * Dollar, Reserved: 5 * Dollar}, stateOf(t, h, ctx))
}

// A journal cut back and written again in place by a process that did not
// know it (same inode, same header, other records, longer than what the
// ledger read) is not taken for the continuation of the one the ledger
// read, nor its unaligned records for a torn tail to cut off.
func TestFileJournalRewrittenInPlaceFailsClosed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "b.journal")
	f, header := spend9(t, path)
	data, err := os.ReadFile(path)
	require.NoError(t, err)

	other := filepath.Join(dir, "other.journal")
	g := openFile(t, other, 10*Dollar, Limits{})
	for i := range 5 {
		r, err := g.Reserve(ctx, Amount(i+1)*Cent)
		require.NoError(t, err)
		require.NoError(t, g.Commit(ctx, r, Cent))
	}
	rewritten, err := os.ReadFile(other)
	require.NoError(t, err)
	rewritten = append(append([]byte{}, data[:header]...), rewritten[header:]...)
	require.Greater(t, len(rewritten), len(data))
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0) // in place
	require.NoError(t, err)
	_, err = w.Write(rewritten)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	_, err = f.Reserve(ctx, 5*Dollar)
	requireLost(t, err)
	_, err = f.State(ctx)
	requireLost(t, err) // it stays failed: the journal does not hold what it read
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, rewritten, got, "nothing was cut off")

	require.NoError(t, os.WriteFile(path, data, 0o600))
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 9 * Dollar}, stateOf(t, f, ctx), "restored, it resumes")
}

// A journal of format 1 (no identity, no numbering) is read, and rewritten
// in format 2 at once.
func TestFileReadsFormat1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.journal")
	v1 := []byte(journalMagicV1)
	for _, es := range [][]entry{
		{{kind: entReserve, id: 1, amount: 3 * Dollar, expiry: 1 << 62}},
		{{kind: entCommit, id: 1, amount: 2 * Dollar}, {kind: entReserve, id: 2, amount: Dollar, expiry: 1 << 62}},
	} {
		var payload []byte
		for i := range es {
			payload = appendEntry(payload, &es[i])
		}
		v1 = binary.LittleEndian.AppendUint32(v1, uint32(len(payload)))
		v1 = binary.LittleEndian.AppendUint32(v1, crc32.Checksum(payload, crcTable))
		v1 = append(v1, payload...)
	}
	require.NoError(t, os.WriteFile(path, v1, 0o600))
	f := openFile(t, path, 10*Dollar, Limits{})
	want := State{Limit: 10 * Dollar, Spent: 2 * Dollar, Reserved: Dollar}
	assert.Equal(t, want, stateOf(t, f, ctx))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, journalMagic, string(data[:len(journalMagic)]), "rewritten in format 2")
	r, err := f.Reserve(ctx, Dollar)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), r.ID)
	g := openFile(t, path, 10*Dollar, Limits{})
	want.Reserved += Dollar
	assert.Equal(t, want, stateOf(t, g, ctx))
}

// A reservation of the budget's life before RecreateFile never settles one
// of the new life: the re-created journal numbers its reservations from a
// random base, as a Redis budget's epoch does. (They used to start again
// at 1: a commit in flight across the re-creation settled the new
// reservation of the same number, amount and window, and the new call's
// own bill was then lost.)
func TestFileRecreatedDoesNotReuseIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.journal")
	f := openFile(t, path, 10*Dollar, Limits{})
	old, err := f.Reserve(ctx, Dollar)
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
	requireLost(t, f.Commit(ctx, old, 30*Cent))

	require.NoError(t, RecreateFile(path))
	r, err := f.Reserve(ctx, Dollar)
	require.NoError(t, err)
	assert.NotEqual(t, old.ID, r.ID)
	assert.NoError(t, f.Commit(ctx, old, 30*Cent), "a reservation of the lost journal: nothing to settle")
	assert.Equal(t, State{Limit: 10 * Dollar, Reserved: Dollar}, stateOf(t, f, ctx))
	require.NoError(t, f.Commit(ctx, r, 60*Cent))
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 60 * Cent}, stateOf(t, f, ctx))

	// The numbering survives a compaction and a reopening.
	f.compactSize = 0
	r2, err := f.Reserve(ctx, Cent)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	g := openFile(t, path, 10*Dollar, Limits{})
	r3, err := g.Reserve(ctx, Cent)
	require.NoError(t, err)
	assert.Equal(t, r.ID+1, r2.ID)
	assert.Equal(t, r2.ID+1, r3.ID)
}

// A journal cut back in place (same file) to more records than an idle
// ledger read, but fewer than the others acknowledged, fails closed in the
// idle ledger too: it holds the journal to the lock file's mark, not only
// to its own. (It used to resume from the shorter journal, forgetting the
// spend the others acknowledged and issuing their reservation IDs again:
// found by budget/sim, file-lossy.)
func TestFileIdleLedgerHoldsToOthersMark(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.journal")
	busy := openFile(t, path, 10*Dollar, Limits{})
	idle := openFile(t, path, 10*Dollar, Limits{})
	stateOf(t, idle, ctx)
	var cut int64
	for i := range 3 {
		r, err := busy.Reserve(ctx, Dollar)
		require.NoError(t, err)
		require.NoError(t, busy.Commit(ctx, r, Dollar))
		if i == 0 {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			cut = fi.Size()
		}
	}
	require.NoError(t, os.Truncate(path, cut)) // $1 of the $3 spent is left
	_, err := idle.Reserve(ctx, Dollar)
	requireLost(t, err)
	assert.Contains(t, err.Error(), "seen by the processes sharing it")
	_, err = busy.State(ctx)
	requireLost(t, err)
}
