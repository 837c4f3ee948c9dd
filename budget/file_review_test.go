//go:build unix

package budget

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// holdLock takes the journal's lock as another process would, until release.
func holdLock(t *testing.T, path string) (release func()) {
	t.Helper()
	other, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(other.Fd()), syscall.LOCK_EX))
	return func() {
		_ = syscall.Flock(int(other.Fd()), syscall.LOCK_UN)
		_ = other.Close()
	}
}

// A process stuck holding the lock (stopped, hung on NFS) does not hang
// callers with a deadline: Reserve and State fail closed when their context
// ends, reserving nothing; a Commit waits (it must land) and lands once the
// lock is free.
func TestFileWaitForTheLockEndsWithTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.journal")
	f := openFile(t, path, 10*Dollar, Limits{})
	bg := context.Background()
	held, err := f.Reserve(bg, Dollar)
	require.NoError(t, err)

	release := holdLock(t, path)
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	errs := make(chan error, 3)
	for range 2 { // a leader and a follower in the queue
		go func() { _, err := f.Reserve(ctx, Dollar); errs <- err }()
	}
	go func() { _, err := f.State(ctx); errs <- err }()
	committed := make(chan error, 1)
	go func() { committed <- f.Commit(bg, held, Cent) }()
	for range 3 {
		select {
		case err := <-errs:
			require.ErrorIs(t, err, ErrUnavailable)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		case <-time.After(3 * time.Second):
			t.Fatal("a caller with a 100 ms deadline is still waiting for the lock after 3 s")
		}
	}
	select {
	case err := <-committed:
		t.Fatalf("the commit ran while another process held the lock: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	require.NoError(t, <-committed)
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: Cent}, stateOf(t, f, bg), "the abandoned reservations were never made")
}

// A journal removed under a running ledger fails closed: starting again from
// $0 would forget what was spent.
func TestFileJournalRemovedFailsClosed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.journal")
	f := openFile(t, path, 10*Dollar, Limits{})
	r, err := f.Reserve(ctx, 9*Dollar)
	require.NoError(t, err)
	require.NoError(t, f.Commit(ctx, r, 9*Dollar))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
	_, err = f.Reserve(ctx, 5*Dollar)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "is gone")
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "no empty journal was created in its place")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 9 * Dollar}, stateOf(t, f, ctx), "restored, it resumes")
}

// A torn last record is cut off even when its payload (a budget key, caller
// data) spells a valid record; real corruption is still found: a damaged
// payload with records after it, and a damaged length field.
func TestFileTornTailVersusCorruption(t *testing.T) {
	ctx := context.Background()
	pol := Limits{KeyLimit: Dollar}
	key := "user-" + string(record(entry{kind: entCancel, id: 1})) + "-x"
	write := func(t *testing.T) (string, []byte) {
		path := filepath.Join(t.TempDir(), "b.journal")
		f := openFile(t, path, 10*Dollar, pol)
		r, err := f.Reserve(ctx, Cent)
		require.NoError(t, err)
		require.NoError(t, f.Commit(ctx, r, Cent))
		restoreLock := saveLock(t, path)
		_, err = f.Reserve(ContextWithKey(ctx, key), Cent)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		restoreLock() // the last record, torn below, was never acknowledged
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		return path, data
	}

	t.Run("torn tail holding a record-like key", func(t *testing.T) {
		path, data := write(t)
		require.NoError(t, os.WriteFile(path, data[:len(data)-1], 0o644))
		g, err := OpenFile(path, 10*Dollar, pol)
		require.NoError(t, err, "a torn last record is cut off, not taken for corruption")
		defer g.Close()
		assert.Equal(t, Cent, stateOf(t, g, ctx).Spent)
	})

	// Offsets of the records (after the magic).
	recs := func(data []byte) []int {
		var offs []int
		for p := journalHeader; p < len(data); {
			offs = append(offs, p)
			p += recordHeader + int(binary.LittleEndian.Uint32(data[p:]))
		}
		return offs
	}
	t.Run("damaged length field", func(t *testing.T) {
		path, data := write(t)
		offs := recs(data)
		require.GreaterOrEqual(t, len(offs), 3)
		bad := append([]byte{}, data...)
		binary.LittleEndian.PutUint32(bad[offs[1]:], 1<<20) // points past the end
		require.NoError(t, os.WriteFile(path, bad, 0o644))
		_, err := OpenFile(path, 10*Dollar, pol)
		require.ErrorIs(t, err, ErrUnavailable)
		assert.Contains(t, err.Error(), "corrupt")
	})
	t.Run("damaged payload with records after it", func(t *testing.T) {
		path, data := write(t)
		offs := recs(data)
		bad := append([]byte{}, data...)
		bad[offs[1]+recordHeader] ^= 0x40
		require.NoError(t, os.WriteFile(path, bad, 0o644))
		_, err := OpenFile(path, 10*Dollar, pol)
		require.ErrorIs(t, err, ErrUnavailable)
	})
}
