//go:build unix

package budget

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
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

func TestFileDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.journal")
	f := openFile(t, path, 10*Dollar, Limits{})
	r1, err := f.Reserve(ctx, 2*Dollar)
	require.NoError(t, err)
	require.NoError(t, f.Commit(ctx, r1, Dollar))
	orphan, err := f.Reserve(ctx, 3*Dollar)
	require.NoError(t, err)
	require.NoError(t, f.Close()) // the process "dies" holding orphan
	_, err = f.Reserve(ctx, 1)
	assert.ErrorIs(t, err, ErrUnavailable, "closed")
	assert.NoError(t, f.Close(), "idempotent")

	g := openFile(t, path, 10*Dollar, Limits{})
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: Dollar, Reserved: 3 * Dollar}, stateOf(t, g, ctx))
	list, err := g.Unsettled(ctx)
	require.NoError(t, err)
	assert.Equal(t, []Reservation{orphan}, list)
	// Reconcile with the provider's bill.
	require.NoError(t, g.Commit(ctx, orphan, 2*Dollar))
	r3, err := g.Reserve(ctx, Dollar)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), r3.ID, "IDs continue")
	require.NoError(t, g.Close())

	h := openFile(t, path, 5*Dollar, Limits{}) // the limit is the opener's
	assert.Equal(t, State{Limit: 5 * Dollar, Spent: 3 * Dollar, Reserved: Dollar}, stateOf(t, h, ctx))
}

// TestFileCrashLease checks that a dead holder's reservation is charged as
// spent when its lease expires, in every process sharing the journal.
func TestFileCrashLease(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock(time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC))
	p := Limits{Lease: time.Minute, Now: clk.Now}
	path := filepath.Join(t.TempDir(), "b.journal")
	dead := openFile(t, path, 10*Dollar, p)
	_, err := dead.Reserve(ctx, 4*Dollar)
	require.NoError(t, err)
	require.NoError(t, dead.Close())

	live := openFile(t, path, 10*Dollar, p)
	clk.Add(2 * time.Minute)
	_, err = live.Reserve(ctx, 7*Dollar)
	require.ErrorIs(t, err, ErrExceeded, "the orphan still counts")
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 4 * Dollar}, stateOf(t, live, ctx))
	again := openFile(t, path, 10*Dollar, p)
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 4 * Dollar}, stateOf(t, again, ctx), "the expiry is journaled")
}

func TestFileTornTail(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.journal")
	f := openFile(t, path, 10*Dollar, Limits{})
	r, err := f.Reserve(ctx, 3*Dollar)
	require.NoError(t, err)
	require.NoError(t, f.Commit(ctx, r, 3*Dollar))
	require.NoError(t, f.Close())
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	restoreLock := saveLock(t, path) // the journal and its lock, as a crash would leave them

	next := record(entry{kind: entReserve, id: 2, amount: 5 * Dollar, key: "x"})
	for name, tail := range map[string][]byte{
		"half a header":  next[:5],
		"half a payload": next[:len(next)-2],
		"bad checksum":   append(append([]byte{}, next[:len(next)-1]...), next[len(next)-1]^1),
		"zeros":          make([]byte, 4096),
		"huge length":    {0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5},
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, append(append([]byte{}, good...), tail...), 0o644))
			restoreLock()
			f := openFile(t, path, 10*Dollar, Limits{})
			assert.Equal(t, State{Limit: 10 * Dollar, Spent: 3 * Dollar}, stateOf(t, f, ctx))
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, good, data, "the torn record is cut off")
			r, err := f.Reserve(ctx, Dollar)
			require.NoError(t, err)
			assert.Equal(t, uint64(2), r.ID)
			require.NoError(t, f.Close())
			g := openFile(t, path, 10*Dollar, Limits{})
			assert.Equal(t, State{Limit: 10 * Dollar, Spent: 3 * Dollar, Reserved: Dollar}, stateOf(t, g, ctx))
		})
	}

	// A torn record appended by another process while this one is open.
	t.Run("live", func(t *testing.T) {
		require.NoError(t, os.WriteFile(path, good, 0o644))
		restoreLock()
		f := openFile(t, path, 10*Dollar, Limits{})
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = w.Write(next[:len(next)-3])
		require.NoError(t, err)
		require.NoError(t, w.Close())
		assert.Equal(t, State{Limit: 10 * Dollar, Spent: 3 * Dollar}, stateOf(t, f, ctx))
		_, err = f.Reserve(ctx, Dollar)
		require.NoError(t, err)
		g := openFile(t, path, 10*Dollar, Limits{})
		assert.Equal(t, State{Limit: 10 * Dollar, Spent: 3 * Dollar, Reserved: Dollar}, stateOf(t, g, ctx))
	})
}

// TestFileCorrupt checks that damage before the last record, or a file that
// is not a journal, fails closed rather than starting again from $0.
func TestFileCorrupt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "b.journal")
	f := openFile(t, path, 10*Dollar, Limits{})
	for range 3 {
		r, err := f.Reserve(ctx, Dollar)
		require.NoError(t, err)
		require.NoError(t, f.Commit(ctx, r, Dollar))
	}
	require.NoError(t, f.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	bad := append([]byte{}, data...)
	bad[journalHeader+recordHeader] ^= 0x40 // the first record's payload
	require.NoError(t, os.WriteFile(path, bad, 0o644))
	_, err = OpenFile(path, 10*Dollar, Limits{})
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "corrupt")
	data2, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, bad, data2, "a corrupt journal is left as is")

	other := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(other, []byte("hello, world"), 0o644))
	_, err = OpenFile(other, 10*Dollar, Limits{})
	assert.ErrorIs(t, err, ErrUnavailable)

	// Corruption appearing under an open ledger: it fails closed, then
	// resumes when the journal is repaired.
	require.NoError(t, os.WriteFile(path, data, 0o644))
	g := openFile(t, path, 10*Dollar, Limits{})
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 3 * Dollar}, stateOf(t, g, ctx))
	tail := append(record(entry{kind: entCancel, id: 1}), record(entry{kind: entCancel, id: 2})...)
	tail[recordHeader] ^= 0x40
	require.NoError(t, os.WriteFile(path, append(append([]byte{}, data...), tail...), 0o644))
	_, err = g.Reserve(ctx, Dollar)
	assert.ErrorIs(t, err, ErrUnavailable)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	_, err = g.Reserve(ctx, Dollar)
	assert.NoError(t, err)

	_, err = OpenFile(filepath.Join(dir, "missing", "b.journal"), Dollar, Limits{})
	assert.ErrorIs(t, err, ErrUnavailable)
	_, err = OpenFile(path, -1, Limits{})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = OpenFile(path, 1, Limits{Lease: -1})
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestFileCompaction shares a journal between two Files with a tiny
// compaction threshold: the journal stays small and both keep the same
// state through the renames.
func TestFileCompaction(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.journal")
	clk := newFakeClock(time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC))
	p := Limits{KeyLimit: 100 * Dollar, Lease: time.Minute, Now: clk.Now}
	a := openFile(t, path, 1000*Dollar, p)
	b := openFile(t, path, 1000*Dollar, p)
	a.compactSize, b.compactSize = 512, 512
	var open []Reservation
	var spent Amount
	for i := range 300 {
		l := a
		if i%3 == 0 {
			l = b
		}
		r, err := l.Reserve(ContextWithKey(ctx, []string{"u1", "u2", "u3"}[i%3]), Amount(i+1)*MicroDollar)
		require.NoError(t, err)
		if i%10 == 0 {
			open = append(open, r)
			continue
		}
		require.NoError(t, l.Commit(ctx, r, Amount(i)*MicroDollar))
		spent += Amount(i) * MicroDollar
	}
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Less(t, fi.Size(), int64(4096), "compacted")
	var reserved Amount
	for _, r := range open {
		reserved += r.Amount
	}
	want := State{Limit: 1000 * Dollar, Spent: spent, Reserved: reserved}
	assert.Equal(t, want, stateOf(t, a, ctx))
	assert.Equal(t, want, stateOf(t, b, ctx))
	c := openFile(t, path, 1000*Dollar, p)
	assert.Equal(t, want, stateOf(t, c, ctx))
	list, err := c.Unsettled(ctx)
	require.NoError(t, err)
	assert.Equal(t, open, list)
	u1 := stateOf(t, c, ContextWithKey(ctx, "u1"))
	assert.Equal(t, Amount(100*Dollar), u1.Limit)
	assert.NotZero(t, u1.Spent)

	// Expired holds survive compaction for a day, then are forgotten.
	clk.Add(2 * time.Minute)
	_, err = a.Reserve(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, State{Limit: 1000 * Dollar, Spent: spent + reserved, Reserved: 0}, stateOf(t, b, ctx))
	require.NoError(t, b.Commit(ctx, open[0], 0))
	clk.Add(25 * time.Hour)
	for range 20 {
		r, err := b.Reserve(ctx, 0)
		require.NoError(t, err)
		require.NoError(t, a.Cancel(ctx, r))
	}
	list, err = c.Unsettled(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.Equal(t, State{Limit: 1000 * Dollar, Spent: spent + reserved - open[0].Amount}, stateOf(t, c, ctx))
}

// TestFileStorm hammers two Files sharing a journal from 16 goroutines.
func TestFileStorm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.journal")
	p := Limits{KeyLimit: 10 * Dollar}
	a := openFile(t, path, 50*Dollar, p)
	b := openFile(t, path, 50*Dollar, p)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			l := []*File{a, b}[g%2]
			kctx := ContextWithKey(ctx, []string{"u1", "u2"}[g%2])
			for range 100 {
				r, err := l.Reserve(kctx, Dollar/10)
				if errors.Is(err, ErrExceeded) {
					continue
				}
				if !assert.NoError(t, err) {
					return
				}
				assert.NoError(t, l.Commit(ctx, r, Dollar/10))
			}
		})
	}
	wg.Wait()
	// u1 and u2 may each spend $10; the global cap is $50.
	assert.Equal(t, State{Limit: 50 * Dollar, Spent: 20 * Dollar}, stateOf(t, a, ctx))
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: 10 * Dollar}, stateOf(t, b, ContextWithKey(ctx, "u1")))
	assert.Equal(t, stateOf(t, a, context.Background()), stateOf(t, b, context.Background()))
}

// A file that exists but is empty, as touch or mktemp leave it, is a new
// journal, not a corrupt one.
func TestFileOpensAnEmptyFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.journal")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	f := openFile(t, path, 10*Dollar, Limits{})
	r, err := f.Reserve(ctx, Dollar)
	require.NoError(t, err)
	require.NoError(t, f.Commit(ctx, r, Dollar))
	require.NoError(t, f.Close())
	g := openFile(t, path, 10*Dollar, Limits{})
	assert.Equal(t, State{Limit: 10 * Dollar, Spent: Dollar}, stateOf(t, g, ctx))
}

// The journal and its lock are readable by their owner only (budget data,
// like the telemetry log), and compaction keeps the journal's mode.
func TestFileJournalIsPrivate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.journal")
	f := openFile(t, path, 10*Dollar, Limits{})
	for _, p := range []string{path, path + ".lock"} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), p)
	}
	require.NoError(t, os.Chmod(path, 0o640)) // the operator shares it with a group
	f.compactSize = 1
	r, err := f.Reserve(ctx, Dollar)
	require.NoError(t, err)
	require.NoError(t, f.Commit(ctx, r, Dollar))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "compaction keeps the journal's mode")
}

// A journal in a directory that does not exist is reported by the
// journal's directory, not by the path of its lock file.
func TestFileMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := OpenFile(filepath.Join(dir, "b.journal"), Dollar, Limits{})
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "directory "+dir+" ")
	assert.NotContains(t, err.Error(), ".lock")
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
