package budget

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baarcore/baar/budget/internal/faultfs"
)

// DefaultCompactSize is the journal size above which a File compacts it.
const DefaultCompactSize = 4 << 20

// File is a [Ledger] kept in a journal file, so that a budget outlives its
// process and is shared by every process that opens the same path. It
// enforces a [Limits] like [Scoped].
//
// # Durability
//
// Every change is appended to the journal and fsynced before the operation
// returns. Concurrent operations share one write and one fsync (group
// commit): the first caller writes the record for everyone queued behind it.
// When the journal grows beyond DefaultCompactSize it is compacted: a
// snapshot of the state is written to a temporary file, fsynced and renamed
// over the journal, atomically.
//
// Each record carries its length and a CRC-32C checksum. A damaged last
// record (the process died in the middle of writing it) is ignored and cut
// off; it was never acknowledged. A damaged record followed by valid ones is
// corruption: the ledger then fails closed with an error matching
// [ErrUnavailable] and never starts again from $0.
//
// A File never resumes from less spend than it acknowledged: a journal
// removed, emptied, cut back, replaced by another (each journal has an
// identity) or rewritten in place makes it fail closed, as it does a
// process opening the path afterwards (the lock file keeps the mark of what
// was seen), until the journal is restored or the budget is re-created
// deliberately with [RecreateFile].
//
// # Sharing
//
// Several processes (and several File values in one process) may open the
// same path at once and share the budget safely: each operation (each group
// commit) takes an exclusive flock on path+".lock", first reads the records
// the others appended since, then decides and appends. The lock is advisory:
// only baar ledgers respect it. The lock file is never removed.
//
// # Crashes and reconciliation
//
// A reservation outstanding when its process died stays in the journal and
// counts against the budget: as reserved until its lease ([Limits.Lease])
// expires, then as spent at its full amount — the provider may have billed
// it. To reconcile it with the provider's bill, list it with
// [File.Unsettled] and settle it with Commit (at the billed amount) or
// Cancel (nothing was billed), from any process; this corrects the charge
// even after the lease expired, for a day.
//
// File is safe for concurrent use. A caller leads its own operation; the
// operations queued meanwhile are run, one group commit per batch, by a
// goroutine that lives until the queue is empty, so no caller waits on
// another's behalf: a Reserve or State whose context ends while another
// process holds the lock gives up, reserving nothing, with an error matching
// [ErrUnavailable] (Commit and Cancel wait: they must land). Call Close when
// done.
type File struct {
	path  string
	limit Amount
	pol   Limits

	mu      sync.Mutex // guards queue, leading and closed
	queue   []*fileOp
	spare   []*fileOp
	leading bool
	closed  bool

	io          sync.Mutex // held by the leader while it runs a batch, and by Close
	lock        *os.File   // path+".lock", flocked around each batch
	jf          *os.File   // the journal, as last opened
	off         int64      // bytes of jf applied to bk
	bk          *book
	hdr         header // the journal's identity, as last read
	ch          chain  // the last record of jf applied to bk
	mark        mark   // what this File holds the journal to (see admit)
	tail        tail   // the last record of jf applied to bk, as read
	stale       bool   // bk may differ from the journal: reload it
	compactSize int64
	buf         []byte
	ents        []entry
	al          alerts // guarded by io
}

var (
	_ Ledger  = (*File)(nil)
	_ Alerter = (*File)(nil)
)

type fileOpKind uint8

const (
	opReserve fileOpKind = iota
	opCommit
	opCancel
	opState
	opUnsettled
)

// fileOp is one operation queued for a group commit.
type fileOp struct {
	kind   fileOpKind
	key    string
	amount Amount // opReserve: the amount; opCommit: actual
	r      Reservation
	done   chan struct{}
	// ctx, for Reserve and State, bounds the wait for the journal's lock:
	// an op whose context ends before a batch takes it is abandoned, never
	// run (state goes pending → abandoned, or pending → taken by the batch).
	ctx   context.Context
	state atomic.Int32

	res       Reservation
	st        State
	list      []Reservation
	crossings []Crossing // opCommit: the alert marks it set
	err       error
	written   bool // the op appended entries
}

// OpenFile opens the budget journal at path, creating it if absent or
// empty (as touch or mktemp leave it), with the global limit and policy p.
// The journal and its lock file path+".lock" are created readable and
// writable by their owner only (0600); compaction keeps the journal's mode. The limit and policy are not stored in the
// journal: every process sharing it should open it with the same ones.
//
// It returns an error matching [ErrInvalid] when limit is negative or p is
// invalid, and an error matching [ErrUnavailable] when the journal cannot be
// read or locked, or is corrupt.
func OpenFile(path string, limit Amount, p Limits) (*File, error) {
	if limit < 0 {
		return nil, fmt.Errorf("%w: budget limit %v is negative", ErrInvalid, limit)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	lock, err := openLock(path)
	if err != nil {
		return nil, err
	}
	f := &File{path: path, limit: limit, pol: p, lock: lock, stale: true, compactSize: DefaultCompactSize}
	f.io.Lock()
	err = f.locked(func() error { return f.refresh() })
	f.io.Unlock()
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// openLock opens (or creates) the lock file of the journal at path.
func openLock(path string) (*os.File, error) {
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		if dir := filepath.Dir(path); errors.Is(err, os.ErrNotExist) {
			if _, derr := os.Stat(dir); derr != nil {
				return nil, fmt.Errorf("%w: opening budget journal %s: directory %s does not exist: %w", ErrUnavailable, path, dir, os.ErrNotExist)
			}
		}
		return nil, fmt.Errorf("%w: opening budget journal %s: its lock file: %w", ErrUnavailable, path, err)
	}
	return lock, nil
}

// Close releases the journal. Operations after Close return an error
// matching [ErrUnavailable]. Close is idempotent.
func (f *File) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.io.Lock()
	defer f.io.Unlock()
	var errs []error
	for _, c := range []**os.File{&f.jf, &f.lock} {
		if *c != nil {
			errs = append(errs, (*c).Close())
			*c = nil
		}
	}
	return errors.Join(errs...)
}

// Reserve implements [Ledger.Reserve] for the global budget and the budget
// of ctx's key, if it has one (see [Scoped.Reserve]). It returns ctx.Err()
// without reserving when ctx is already done, and an error matching
// [ErrUnavailable] when the journal cannot be read or written.
func (f *File) Reserve(ctx context.Context, amount Amount) (Reservation, error) {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return Reservation{}, err
		}
	}
	key, _ := KeyFromContext(ctx)
	op := &fileOp{kind: opReserve, key: key, amount: amount, ctx: ctx}
	f.do(op)
	return op.res, op.err
}

// Commit implements [Ledger.Commit] (see [Scoped.Commit]). ctx is not
// consulted.
func (f *File) Commit(ctx context.Context, r Reservation, actual Amount) error {
	_, err := f.CommitWithAlerts(ctx, r, actual)
	return err
}

// SetAlerts implements [Alerter.SetAlerts]. The marks are entries of the
// journal, appended in the record of the commit that set them: every
// process sharing the journal should set the same thresholds.
func (f *File) SetAlerts(thresholds []float64) error {
	f.io.Lock()
	defer f.io.Unlock()
	return f.al.setAlerts(thresholds)
}

// CommitWithAlerts implements [Alerter.CommitWithAlerts]: [File.Commit]
// that also returns the thresholds of the global budget's and the key's
// main limits that the commit's spend reached first in its window, whichever
// process sharing the journal reached it.
func (f *File) CommitWithAlerts(_ context.Context, r Reservation, actual Amount) ([]Crossing, error) {
	op := &fileOp{kind: opCommit, r: r, amount: actual}
	f.do(op)
	return op.crossings, op.err
}

// Cancel implements [Ledger.Cancel] (see [Scoped.Cancel]). ctx is not
// consulted.
func (f *File) Cancel(_ context.Context, r Reservation) error {
	op := &fileOp{kind: opCancel, r: r}
	f.do(op)
	return op.err
}

// State implements [Ledger.State]: the state of the budget binding calls
// made with ctx (see [Scoped.State]), including what other processes
// recorded.
func (f *File) State(ctx context.Context) (State, error) {
	key, _ := KeyFromContext(ctx)
	op := &fileOp{kind: opState, key: key, ctx: ctx}
	f.do(op)
	return op.st, op.err
}

// Unsettled returns the reservations not yet settled by any process, in ID
// order, those whose lease expired included.
func (f *File) Unsettled(context.Context) ([]Reservation, error) {
	op := &fileOp{kind: opUnsettled}
	f.do(op)
	return op.list, op.err
}

var errClosed = fmt.Errorf("%w: budget journal closed", ErrUnavailable)

// fileOp states.
const (
	opPending int32 = iota
	opTaken
	opAbandoned
)

// abandon gives up op if no batch has taken it; it reports whether it did.
func (op *fileOp) abandon(f *File) bool {
	if !op.state.CompareAndSwap(opPending, opAbandoned) {
		return false
	}
	op.res, op.err = Reservation{}, fmt.Errorf("%w: waiting for the budget journal %s's lock: %w", ErrUnavailable, f.path, context.Cause(op.ctx))
	return true
}

// expired reports whether op waits under a context that has ended.
func (op *fileOp) expired() bool { return op.ctx != nil && op.ctx.Err() != nil }

// do queues op and runs it: the first caller to find no batch running leads
// it, and hands the ops queued meanwhile to a goroutine that leads their
// batches until the queue is empty; the others wait for their batch.
func (f *File) do(op *fileOp) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		op.err = errClosed
		return
	}
	if f.leading {
		op.done = make(chan struct{})
		f.queue = append(f.queue, op)
		f.mu.Unlock()
		var ctxDone <-chan struct{}
		if op.ctx != nil {
			ctxDone = op.ctx.Done()
		}
		select {
		case <-op.done:
		case <-ctxDone:
			if !op.abandon(f) {
				<-op.done // taken by a batch (or abandoned by it): wait for it
			}
		}
		return
	}
	f.leading = true
	batch := append(f.spare[:0], op)
	f.mu.Unlock()
	if next := f.runBatch(batch); next != nil {
		// Others queued meanwhile: a goroutine leads their batches, so that
		// this caller returns now (it would otherwise wait on their behalf,
		// maybe for a lock another process holds, past its deadline).
		go f.lead(next)
	}
}

// lead runs batches until the queue is empty.
func (f *File) lead(batch []*fileOp) {
	for batch != nil {
		batch = f.runBatch(batch)
	}
}

// runBatch runs batch, wakes its callers and returns the next batch, or nil
// (and gives up leadership) when the queue is empty.
func (f *File) runBatch(batch []*fileOp) []*fileOp {
	f.run(batch)
	for _, o := range batch {
		if o.done != nil {
			close(o.done)
		}
	}
	clear(batch)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) == 0 {
		f.spare = batch[:0]
		f.leading = false
		return nil
	}
	next := f.queue
	f.queue = batch[:0]
	return next
}

// run runs one batch under the journal lock: read what others appended,
// decide every operation, append one record and fsync it.
func (f *File) run(batch []*fileOp) {
	f.io.Lock()
	defer f.io.Unlock()
	if f.lock == nil {
		for _, op := range batch {
			if op.state.CompareAndSwap(opPending, opTaken) { // not abandoned meanwhile
				op.err = errClosed
			}
		}
		return
	}
	if !f.lockFor(batch) {
		return // every op was abandoned while another process held the lock
	}
	for _, op := range batch {
		op.state.CompareAndSwap(opPending, opTaken) // fails for the abandoned
	}
	err := f.whileLocked(func() error {
		if err := f.refresh(); err != nil {
			return err
		}
		now := f.pol.now()
		f.ents = f.ents[:0]
		emit := func(e entry) {
			f.bk.apply(e)
			f.ents = append(f.ents, e)
		}
		f.bk.sweep(now, false, emit)
		for _, op := range batch {
			if op.state.Load() != opTaken {
				continue // abandoned: its caller has gone
			}
			n := len(f.ents)
			f.decide(op, now, emit)
			op.written = len(f.ents) > n
		}
		if len(f.ents) == 0 {
			return nil
		}
		if err := f.append(); err != nil {
			for _, op := range batch {
				if op.written || op.kind == opState {
					op.res, op.crossings, op.err = Reservation{}, nil, err
				}
			}
			return nil
		}
		if f.off > f.compactSize {
			f.compact(now) // a failed compaction leaves a valid journal
		}
		return nil
	})
	if err != nil {
		for _, op := range batch {
			if op.state.Load() == opTaken {
				op.err = err
			}
		}
	}
}

// lockFor takes the journal's flock for batch. While another process holds
// it, it polls, and gives up the ops whose context ends (Commit and Cancel
// have none: they wait); it returns false, without the lock, once every op
// of the batch is given up.
func (f *File) lockFor(batch []*fileOp) bool {
	wait := 50 * time.Microsecond
	for {
		busy, err := tryFlock(f.lock)
		if err != nil {
			err = fmt.Errorf("%w: locking budget journal %s: %w", ErrUnavailable, f.path, err)
			for _, op := range batch {
				if op.state.CompareAndSwap(opPending, opTaken) {
					op.err = err
				}
			}
			return false
		}
		if !busy {
			return true
		}
		live := 0
		for _, op := range batch {
			if op.expired() {
				op.abandon(f)
			}
			if op.state.Load() == opPending {
				live++
			}
		}
		if live == 0 {
			return false
		}
		time.Sleep(wait)
		wait = min(2*wait, 10*time.Millisecond)
	}
}

// decide runs op against the book, emitting the entries to append.
func (f *File) decide(op *fileOp, now time.Time, emit func(entry)) {
	switch op.kind {
	case opReserve:
		e, err := f.bk.reserve(&f.pol, f.limit, op.key, op.amount, now)
		if err != nil {
			op.err = err
			return
		}
		emit(e)
		op.res = Reservation{ID: e.id, Amount: e.amount, Generation: e.gen}
	case opCommit, opCancel:
		e, ok, err := f.bk.settle(op.r, op.kind == opCommit, op.amount)
		if ok {
			var marks []entry
			if op.kind == opCommit {
				marks, op.crossings = f.bk.crossings(&f.pol, f.limit, &f.al, e)
			}
			emit(e)
			for _, m := range marks {
				emit(m)
			}
		}
		op.err = err
	case opState:
		op.st = f.bk.state(&f.pol, f.limit, op.key, now)
	case opUnsettled:
		op.list = f.bk.unsettled()
	}
}

// locked runs fn holding the journal's flock, waiting for it.
func (f *File) locked(fn func() error) error {
	if err := flock(f.lock); err != nil {
		return fmt.Errorf("%w: locking budget journal %s: %w", ErrUnavailable, f.path, err)
	}
	return f.whileLocked(fn)
}

// whileLocked runs fn, the journal's flock held, and releases it.
func (f *File) whileLocked(fn func() error) error {
	err := fn()
	if uerr := funlock(f.lock); uerr != nil && err == nil {
		err = fmt.Errorf("%w: unlocking budget journal %s: %w", ErrUnavailable, f.path, uerr)
	}
	return err
}

// unavailable wraps an I/O error on the journal.
func (f *File) unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s budget journal %s: %w", ErrUnavailable, what, f.path, err)
}

// refresh brings bk up to date with the journal, under the flock: it
// creates the journal if absent (or empty, as touch leaves it), reloads it
// if it was replaced (compacted by another process) or if bk is stale, else
// applies the records appended since off. A torn last record is cut off.
func (f *File) refresh() error {
	if !f.mark.known {
		f.readMark()
	}
	fi, err := os.Stat(f.path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0) {
		if f.mark.known {
			// The journal was read before (by this File, or by the process
			// that left the lock file's mark): it was removed or emptied
			// since. Starting again from $0 would forget what was spent.
			return f.lost("is gone or empty")
		}
		if err := f.create(); err != nil {
			return err
		}
		fi, err = os.Stat(f.path)
	}
	if err != nil {
		return f.unavailable("reading", err)
	}
	if f.jf != nil && !f.stale {
		if cur, err := f.jf.Stat(); err == nil && os.SameFile(fi, cur) {
			err = f.readTail(cur.Size())
			if err == nil {
				err = f.heldByOthers()
			}
			f.saw(err)
			return err
		}
	}
	err = f.reload()
	if err == nil {
		err = f.heldByOthers()
	}
	f.saw(err)
	return err
}

// create writes an empty journal (a header with a new identity) atomically.
func (f *File) create() error {
	if err := writeJournal(f.path, appendHeader(nil, header{id: newJournalID()})); err != nil {
		return f.unavailable("creating", err)
	}
	return nil
}

// writeJournal writes the journal data at path atomically.
func writeJournal(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// reload reads the whole journal into a new book.
func (f *File) reload() error {
	if f.jf != nil {
		f.jf.Close()
		f.jf = nil
	}
	jf, err := os.OpenFile(f.path, os.O_RDWR, 0)
	if err != nil {
		return f.unavailable("opening", err)
	}
	data, err := io.ReadAll(jf)
	if err != nil {
		jf.Close()
		return f.unavailable("reading", err)
	}
	j, err := decodeJournal(data)
	if err != nil {
		jf.Close()
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, f.path, err)
	}
	if err := f.admit(j, data); err != nil {
		jf.Close()
		return err
	}
	if j.good < len(data) {
		if err := truncateSync(jf, int64(j.good)); err != nil {
			jf.Close()
			return f.unavailable("cutting the torn last record of", err)
		}
	}
	f.jf, f.bk, f.off, f.hdr, f.ch, f.stale = jf, j.bk, int64(j.good), j.hdr, j.ch, false
	f.tail.set(data, j.last)
	if j.hdr.legacy {
		f.compact(f.pol.now()) // rewrite format 1 in format 2, with an identity
	}
	return nil
}

// readTail applies the records appended after off.
func (f *File) readTail(size int64) error {
	if size == f.off {
		return nil
	}
	if size < f.off {
		return f.reload()
	}
	if err := f.tail.check(f); err != nil {
		return err
	}
	data := make([]byte, size-f.off)
	if _, err := f.jf.ReadAt(data, f.off); err != nil {
		f.stale = true
		return f.unavailable("reading", err)
	}
	good, last, err := decodeRecords(data, &f.ch, f.bk.apply)
	if last >= 0 {
		f.tail.set(data, last)
		f.tail.at += f.off
	}
	f.off += int64(good)
	if errors.Is(err, errSpliced) {
		f.stale, f.mark.spliced = true, true
		return f.lost("was cut back and written again, or replaced in place")
	}
	if err != nil {
		f.stale = true
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, f.path, err)
	}
	if int64(good) < int64(len(data)) {
		if err := truncateSync(f.jf, f.off); err != nil {
			f.stale = true
			return f.unavailable("cutting the torn last record of", err)
		}
	}
	return nil
}

// append writes f.ents as one record at the end and fsyncs it. On failure
// the book is marked stale (it holds entries that may not be on disk).
func (f *File) append() error {
	f.buf = appendRecord(f.buf[:0], &f.ch, f.ents)
	if _, err := faultfs.WriteAt(f.jf, f.buf, f.off); err != nil {
		f.stale = true
		return f.unavailable("writing", err)
	}
	if err := faultfs.Sync(f.jf); err != nil {
		f.stale = true
		return f.unavailable("syncing", err)
	}
	f.tail.set(f.buf, 0)
	f.tail.at += f.off
	f.off += int64(len(f.buf))
	f.saw(nil)
	return nil
}

// compact replaces the journal by a snapshot of the book, forgetting the
// reservations whose lease expired more than a day ago.
func (f *File) compact(now time.Time) {
	f.bk.dropExpired(now.Add(-lateSettleRetention).UnixNano())
	h := f.hdr
	if h.legacy {
		h = header{id: newJournalID()}
	}
	data := appendRecord(appendHeader(nil, h), &chain{seq: f.ch.seq, start: true}, []entry{{kind: entSnapshot, snap: f.bk}})
	tmp := f.path + ".tmp"
	mode := os.FileMode(0o600)
	if fi, err := f.jf.Stat(); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := writeFileSync(tmp, data, mode); err != nil {
		os.Remove(tmp)
		f.stale = true
		return
	}
	if err := os.Rename(tmp, f.path); err != nil {
		os.Remove(tmp)
		f.stale = true
		return
	}
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		f.stale = true
		return
	}
	f.stale = true // reopen the new journal on the next batch
}

// writeFileSync writes data to name, with mode perm, and fsyncs it.
func writeFileSync(name string, data []byte, perm os.FileMode) error {
	w, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if err := w.Chmod(perm); err != nil { // the umask, or a leftover temporary file
		w.Close()
		return err
	}
	if _, err := faultfs.Write(w, data); err != nil {
		w.Close()
		return err
	}
	if err := faultfs.Sync(w); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func truncateSync(w *os.File, size int64) error {
	if err := w.Truncate(size); err != nil {
		return err
	}
	return faultfs.Sync(w)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
