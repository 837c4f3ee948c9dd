package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/internal/faultfs"
)

// fileTarget is a budget.File journal shared by the simulated processes,
// each with its own File instance on the path (a crash closes it and opens
// a new one), with the faults of a disk: writes cut short by a full disk,
// failing or lying fsyncs, power losses, torn tails, and a journal removed,
// truncated or replaced behind the ledger's back.
type fileTarget struct {
	w       *world
	dir     string
	path    string
	procs   []*budget.File
	down    []error // why procs[p] is nil
	auditor *budget.File
	fs      *faultFS
	undo    func()

	removed   bool // the journal is set aside (path+".gone")
	restoreAt int  // the step at which it is put back
	backup    []byte
}

// simDir returns a directory for journals: on tmpfs when there is one, so
// that fsync costs nothing, else the test's temporary directory.
func simDir(w *world) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "baar-sim-"); err == nil {
			w.t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return w.t.TempDir()
}

func newFileTarget(w *world) target {
	f := &fileTarget{w: w, dir: simDir(w)}
	f.path = filepath.Join(f.dir, "budget.journal")
	f.fs = &faultFS{journal: f.path}
	f.undo = faultfs.Set(f.fs)
	f.procs = make([]*budget.File, w.cfg.procs)
	f.down = make([]error, w.cfg.procs)
	for p := range f.procs {
		f.open(p)
	}
	// The auditor opens the same journal with a limit no figure reaches,
	// so that State shows each key's own figures (the limits are not in
	// the journal: they are each process's).
	aud, err := budget.OpenFile(f.path, budget.MaxAmount, w.lim)
	if err != nil {
		w.t.Fatalf("opening the auditor: %v", err)
	}
	f.auditor = aud
	f.fs.durable = f.size()
	return f
}

// open starts process p's File instance; a failure leaves p down.
func (f *fileTarget) open(p int) {
	if f.removed {
		f.procs[p], f.down[p] = nil, fmt.Errorf("%w: journal removed", budget.ErrUnavailable)
		return
	}
	l, err := budget.OpenFile(f.path, f.w.limit, f.w.lim)
	f.procs[p], f.down[p] = l, err
}

func (f *fileTarget) ledger(p int) budget.Ledger {
	if f.removed && f.w.step >= f.restoreAt {
		f.w.st.faults[f.restore()]++
	}
	if f.procs[p] == nil && !f.removed {
		f.open(p) // a process that failed to start tries again
	}
	if f.procs[p] == nil {
		return downLedger{f.down[p]}
	}
	return f.procs[p]
}

func (f *fileTarget) restart(p int) {
	if f.procs[p] != nil {
		f.procs[p].Close()
	}
	f.open(p)
}

func (f *fileTarget) audit(key string) (budget.State, bool, error) {
	f.fs.pause(true)
	defer f.fs.pause(false)
	st, err := f.auditor.State(budget.ContextWithKey(context.Background(), key))
	return st, true, err
}

func (f *fileTarget) size() int64 {
	fi, err := os.Stat(f.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// journalHeader is the length of a journal's header: magic[8] id[16]
// parent[16] (the format is documented in budget/journal.go).
const journalHeader = 40

// records returns the offsets at which the journal's records start.
func records(data []byte) (starts []int) {
	for off := journalHeader; off+8 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		if off+8+n > len(data) {
			break
		}
		starts = append(starts, off)
		off += 8 + n
	}
	return starts
}

// arm chooses a fault of the next journal write or fsync.
func (f *fileTarget) arm(w *world) string {
	switch n := w.rng.IntN(100); {
	case n < 40:
		f.fs.arm(func(fs *faultFS) { fs.shortWrite = true; fs.keep = w.rng.IntN(64) })
		return "disk-full"
	case n < 70:
		f.fs.arm(func(fs *faultFS) { fs.syncErr = true })
		return "fsync-error"
	case w.cfg.lossy:
		f.fs.arm(func(fs *faultFS) { fs.lies = 1 + w.rng.IntN(3) })
		return "lost-fsync"
	}
	return ""
}

// fault injects a fault of the disk or of the journal's file.
func (f *fileTarget) fault(w *world) string {
	n := w.rng.IntN(100)
	if _, err := os.Stat(f.path); err != nil && !f.removed {
		return "" // removed for good: the operator re-creates it
	}
	if w.cfg.lossy && n < 40 && !f.removed {
		return f.lossyFault(w, n)
	}
	switch {
	case f.removed:
		return ""
	case n < 55:
		return f.tornTail(w)
	case n < 75:
		return f.powerLoss(w)
	case n < 85 && !f.removed:
		if err := os.Rename(f.path, f.path+".gone"); err != nil {
			w.t.Fatal(err)
		}
		f.removed, f.restoreAt = true, w.step+1+w.rng.IntN(20)
		return "journal-removed"
	}
	f.backup, _ = os.ReadFile(f.path)
	return ""
}

// lossyFault loses acknowledged records: the faults a ledger cannot undo,
// only detect.
func (f *fileTarget) lossyFault(w *world, n int) string {
	data, err := os.ReadFile(f.path)
	if err != nil {
		w.t.Fatal(err)
	}
	switch {
	case n < 10:
		starts := records(data)
		if len(starts) == 0 {
			return "" // nothing to lose
		}
		// Down to a record's start: that record and those after it are
		// lost, the header at least is left.
		f.rewrite(data[:starts[w.rng.IntN(len(starts))]], false)
		w.stateLost()
		return "journal-truncated"
	case n < 20 && f.backup != nil && string(f.backup) != string(data):
		f.rewrite(f.backup, true)
		w.stateLost()
		return "journal-replaced-by-stale-copy"
	case n < 30:
		if err := os.Remove(f.path); err != nil {
			w.t.Fatal(err)
		}
		w.stateLost()
		f.restart(w.rng.IntN(w.cfg.procs))
		return "journal-removed-then-restart"
	}
	return f.powerLoss(w)
}

// recover re-creates the budget deliberately (budget.RecreateFile), as the
// operator does when the journal cannot be restored: every process adopts
// the new, empty journal at its next operation.
func (f *fileTarget) recover(w *world) string {
	if err := budget.RecreateFile(f.path); err != nil {
		w.t.Fatalf("re-creating the budget: %v", err)
	}
	f.backup = nil
	f.fs.setDurable(f.size())
	return "operator-recreate"
}

// rewrite puts data in place of the journal: in place (a truncation), or
// as a new file renamed over it.
func (f *fileTarget) rewrite(data []byte, replace bool) {
	if replace {
		tmp := f.path + ".stale"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			f.w.t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			f.w.t.Fatal(err)
		}
	} else if err := os.Truncate(f.path, int64(len(data))); err != nil {
		f.w.t.Fatal(err)
	}
	f.fs.setDurable(int64(len(data)))
}

// tornTail kills a process in the middle of its write: the journal ends
// with a prefix of a record.
func (f *fileTarget) tornTail(w *world) string {
	data, err := os.ReadFile(f.path)
	if err != nil {
		w.t.Fatal(err)
	}
	starts := records(data)
	if len(starts) == 0 {
		return ""
	}
	rec := data[starts[len(starts)-1]:]
	jf, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	_, err = jf.Write(rec[:1+w.rng.IntN(len(rec)-1)])
	if cerr := jf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.t.Fatal(err)
	}
	w.crash(w.rng.IntN(w.cfg.procs))
	return "torn-tail"
}

// powerLoss stops every process at once; what no honest fsync made
// durable is lost.
func (f *fileTarget) powerLoss(w *world) string {
	kind := "power-loss"
	if d, lost := f.fs.crash(); lost && d < f.size() {
		if err := os.Truncate(f.path, d); err != nil {
			w.t.Fatal(err)
		}
		w.stateLost()
		kind = "power-loss-after-lost-fsync"
	}
	for p := range f.procs {
		w.crash(p)
	}
	return kind
}

// restore puts the set-aside journal back and restarts what was down.
func (f *fileTarget) restore() string {
	if err := os.Rename(f.path+".gone", f.path); err != nil {
		f.w.t.Fatal(err)
	}
	f.removed = false
	for p := range f.procs {
		if f.procs[p] == nil {
			f.open(p)
		}
	}
	return "journal-restored"
}

func (f *fileTarget) quiesce(*world) {
	f.fs.arm(func(*faultFS) {})
	if f.removed {
		f.restore()
	}
}

func (f *fileTarget) close() {
	f.undo()
	for _, l := range f.procs {
		if l != nil {
			l.Close()
		}
	}
	f.auditor.Close()
}

// faultFS injects the faults armed by the scheduler into the journal's
// writes and fsyncs (budget/internal/faultfs), and keeps what an fsync
// made durable, for power losses.
type faultFS struct {
	journal string

	mu         sync.Mutex
	paused     bool
	shortWrite bool // the next write stops after keep bytes: ENOSPC
	keep       int
	syncErr    bool  // the next fsync fails: EIO
	lies       int   // the next fsyncs report success and sync nothing
	lost       bool  // an fsync lied since the last honest one
	durable    int64 // the journal's length at its last honest fsync
}

// arm replaces the armed faults by what set arms.
func (fs *faultFS) arm(set func(*faultFS)) {
	fs.mu.Lock()
	fs.shortWrite, fs.syncErr, fs.lies = false, false, 0
	set(fs)
	fs.mu.Unlock()
}

func (fs *faultFS) pause(p bool) {
	fs.mu.Lock()
	fs.paused = p
	fs.mu.Unlock()
}

func (fs *faultFS) ours(name string) bool {
	return !fs.paused && strings.HasPrefix(name, fs.journal)
}

func (fs *faultFS) Write(name string, n int) (int, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.ours(name) && fs.shortWrite && n > 0 {
		fs.shortWrite = false
		return min(fs.keep, n-1), syscall.ENOSPC
	}
	return n, nil
}

func (fs *faultFS) Sync(name string) (bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	switch {
	case !fs.ours(name):
	case fs.syncErr:
		fs.syncErr = false
		return false, syscall.EIO
	case fs.lies > 0 && name == fs.journal:
		fs.lies--
		fs.lost = true
		return true, nil
	}
	if name == fs.journal {
		// An honest fsync makes the whole file durable, what a lying one
		// left behind included. The caller syncs right after its write.
		if fi, err := os.Stat(name); err == nil {
			fs.durable, fs.lost = fi.Size(), false
		}
	}
	return false, nil
}

// crash returns the durable length, and whether a lying fsync lost
// anything since, and forgets the lie.
func (fs *faultFS) crash() (int64, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	lost := fs.lost
	fs.lost = false
	return fs.durable, lost
}

func (fs *faultFS) setDurable(n int64) {
	fs.mu.Lock()
	fs.durable, fs.lost = n, false
	fs.mu.Unlock()
}

// downLedger is the ledger of a process that could not open its ledger: it
// fails closed.
type downLedger struct{ err error }

func (d downLedger) Reserve(context.Context, budget.Amount) (budget.Reservation, error) {
	return budget.Reservation{}, d.err
}
func (d downLedger) Commit(context.Context, budget.Reservation, budget.Amount) error { return d.err }
func (d downLedger) Cancel(context.Context, budget.Reservation) error                { return d.err }
func (d downLedger) State(context.Context) (budget.State, error)                     { return budget.State{}, d.err }
