package budget

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
)

// A File never starts again from less spend than it has seen. It holds the
// journal to a mark: the journal's identity and the number of its last
// record. A journal read again (after another process compacted it, or
// after it shrank) must have the same identity and at least as many
// records, and the records appended since must follow the last one it read
// (see chain); else the File fails closed with errLost until the journal is
// restored or re-created deliberately ([RecreateFile]). The mark is also
// written to the lock file (without fsync: it may lag, never lead), so that
// a process opening the budget holds the journal to what the others saw.

// errLost is the cause of a journal that lost records a ledger has seen.
var errLost = errors.New("acknowledged spend is missing")

// mark is what a File holds the journal to.
type mark struct {
	known bool
	id    journalID
	seq   uint64 // the number of the last record seen
	spent Amount // the global spent when last read, for messages
	// spliced is set when the journal was found rewritten in place: only a
	// journal holding the last record seen, where it was seen, is the one
	// that was read (restored).
	spliced bool
	// written is the mark last written to the lock file by this File.
	written struct {
		id  journalID
		seq uint64
	}
}

// markMagic starts the mark in the lock file: magic id[16] seq:uint64le
// spent:uint64le.
const markMagic = "BAARHWM\x01"

const markSize = len(markMagic) + len(journalID{}) + 16

// readMark reads the lock file's mark, if any: a File opening a budget
// holds the journal to what the last process saw.
func (f *File) readMark() {
	id, seq, spent, ok := lockMark(f.lock)
	if !ok {
		return // a lock file of format 1, or new
	}
	f.mark.known, f.mark.id, f.mark.seq, f.mark.spent = true, id, seq, spent
	f.mark.written.id, f.mark.written.seq = id, seq
}

// lockMark reads the mark in lock; ok is false when there is none.
func lockMark(lock *os.File) (id journalID, seq uint64, spent Amount, ok bool) {
	var b [markSize]byte
	if n, _ := lock.ReadAt(b[:], 0); n < markSize || string(b[:len(markMagic)]) != markMagic {
		return id, 0, 0, false
	}
	copy(id[:], b[len(markMagic):])
	seq = binary.LittleEndian.Uint64(b[markSize-16:])
	spent = Amount(min(binary.LittleEndian.Uint64(b[markSize-8:]), uint64(MaxAmount)))
	return id, seq, spent, true
}

// heldByOthers reports errLost when the lock file's mark, written by the
// processes sharing the journal, has seen more records of the journal just
// read than it holds: the journal lost records this File never read (it
// was idle meanwhile), and its own mark is behind. The File then holds the
// journal to the lock file's mark.
func (f *File) heldByOthers() error {
	id, seq, spent, ok := lockMark(f.lock)
	if !ok || id != f.hdr.id || seq <= f.ch.seq || f.hdr.legacy {
		return nil
	}
	f.stale = true
	f.mark.known, f.mark.id, f.mark.seq, f.mark.spent = true, id, seq, spent
	return f.lost(fmt.Sprintf("was cut back to %d records (%d were seen by the processes sharing it)", f.ch.seq, seq))
}

// writeMark writes the mark m to lock.
func writeMark(lock *os.File, id journalID, seq uint64, spent Amount) error {
	b := make([]byte, 0, markSize)
	b = append(b, markMagic...)
	b = append(b, id[:]...)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(spent))
	_, err := lock.WriteAt(b, 0)
	return err
}

// saw moves the mark to the journal as just read or written, unless err.
func (f *File) saw(err error) {
	if err != nil {
		return
	}
	m := &f.mark
	m.known, m.id, m.seq = true, f.hdr.id, f.ch.seq
	m.spent = f.bk.state(&f.pol, f.limit, "", f.pol.now()).Spent
	if m.written.id != m.id || m.written.seq < m.seq {
		// Best effort: a mark that lags only protects less.
		if writeMark(f.lock, m.id, m.seq, m.spent) == nil {
			m.written.id, m.written.seq = m.id, m.seq
		}
	}
}

// admit checks a journal read again, data, against the mark.
func (f *File) admit(j journal, data []byte) error {
	m := &f.mark
	if !m.known {
		return nil
	}
	switch {
	case j.hdr.parent == m.id && m.id != journalID{}:
		m.spliced = false
		return nil // re-created deliberately: a new budget
	case m.spliced && !f.tail.in(data, f.hdr):
		return f.lost("was rewritten in place")
	case j.hdr.id == m.id:
	case m.id == journalID{} && !j.hdr.legacy:
		// Its format 1 journal, rewritten in format 2.
	default:
		return f.lost(fmt.Sprintf("was replaced by another journal (identity %x…, not %x…)", j.hdr.id[:4], m.id[:4]))
	}
	if j.ch.seq < m.seq {
		return f.lost(fmt.Sprintf("was cut back to %d records (%d were seen)", j.ch.seq, m.seq))
	}
	m.spliced = false
	return nil
}

// lost is the error of a journal that lost records.
func (f *File) lost(what string) error {
	return fmt.Errorf("%w: %w: budget journal %s %s; it held %v spent when last read, and the budget does not start again from less: restore the journal from a backup, or re-create the budget deliberately with budget.RecreateFile (see docs/budgets.md)",
		ErrUnavailable, errLost, f.path, what, f.mark.spent)
}

// RecreateFile deliberately starts the budget kept at path again from $0:
// the operator's answer to a File ledger that fails closed because its
// journal was removed, emptied, cut back, replaced or corrupted, when the
// journal cannot be restored. The current journal, if any, is moved to
// path+".old" (replacing an older one) for inspection, and a new, empty
// journal takes its place, under the journal's lock.
//
// Ledgers open on path (in any process) adopt the new journal at their
// next operation, as they adopt no other replacement, and start again from
// $0; so do ledgers opened later. The new journal numbers its reservations
// from a random base, so that settling a reservation of the replaced
// journal never touches a new one: it does nothing, as for a reservation
// already settled. A ledger that had read a journal other
// than the one replaced (the budget was re-created twice meanwhile) keeps
// failing closed: reopen it.
//
// It returns an error matching [ErrUnavailable] when the files cannot be
// locked, moved or written.
func RecreateFile(path string) error {
	lock, err := openLock(path)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := flock(lock); err != nil {
		return fmt.Errorf("%w: locking budget journal %s: %w", ErrUnavailable, path, err)
	}
	defer funlock(lock)
	f := &File{path: path, lock: lock}
	f.readMark()
	parent := f.mark.id
	data, err := os.ReadFile(path)
	switch {
	case err == nil && len(data) > 0:
		if parent == (journalID{}) && len(data) >= journalHeader && string(data[:len(journalMagic)]) == journalMagic {
			copy(parent[:], data[len(journalMagic):])
		}
		if err := os.Rename(path, path+".old"); err != nil {
			return f.unavailable("moving aside", err)
		}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return f.unavailable("reading", err)
	}
	// The new journal starts with a snapshot of an empty book whose
	// reservation numbers start at a random base, so that no reservation
	// of the lost journal (a settlement in flight, retried) has the number
	// of one of the new.
	h := header{id: newJournalID(), parent: parent}
	b := newBook()
	b.lastID = recreatedIDBase()
	ch := chain{start: true}
	data = appendRecord(appendHeader(nil, h), &ch, []entry{{kind: entSnapshot, snap: b}})
	if err := writeJournal(path, data); err != nil {
		return f.unavailable("re-creating", err)
	}
	if err := writeMark(lock, h.id, ch.seq, 0); err != nil {
		return f.unavailable("marking", err)
	}
	return lock.Sync()
}

// recreatedIDBase returns the number before the first reservation of a
// re-created journal: a random multiple of 2^40 below 2^62, which leaves
// each life of a budget 2^40 reservations of its own.
func recreatedIDBase() uint64 { return (1 + rand.Uint64N(1<<22-1)) << 40 }

// tail is the header (length and checksum) of the last record a File read
// or wrote, and where it is. Before reading what was appended after it, a
// File checks that it is still there: a journal cut back and written again
// in place by a process that did not know it (its records may not even be
// aligned with the File's offset, and would be taken for a torn tail) is
// not taken for the one the File read.
type tail struct {
	at  int64 // -1: the journal has no record; the identity is checked
	hdr [recordHeader]byte
}

// set records the record at offset last of data (-1: none).
func (t *tail) set(data []byte, last int) {
	if last < 0 {
		t.at = -1
		return
	}
	t.at = int64(last)
	copy(t.hdr[:], data[last:])
}

// where returns the offset and bytes to find in a journal whose header is
// h; ok is false when there is nothing to check (format 1, no record).
func (t *tail) where(h header) (at int64, want []byte, ok bool) {
	if t.at >= 0 {
		return t.at, t.hdr[:], true
	}
	return int64(len(journalMagic)), h.id[:recordHeader], !h.legacy
}

// in reports whether data holds the record (or identity) t is.
func (t *tail) in(data []byte, h header) bool {
	at, want, ok := t.where(h)
	return !ok || (int64(len(data)) >= at+recordHeader && string(data[at:at+recordHeader]) == string(want))
}

// check reports errLost when f's journal no longer holds the record (or
// the identity) f read last; the File then holds the journal to it.
func (t *tail) check(f *File) error {
	at, want, ok := t.where(f.hdr)
	if !ok {
		return nil
	}
	var got [recordHeader]byte
	if _, err := f.jf.ReadAt(got[:], at); err != nil {
		f.stale = true
		return f.unavailable("reading", err)
	}
	if string(got[:]) != string(want) {
		f.stale, f.mark.spliced = true, true
		return f.lost("was rewritten in place")
	}
	return nil
}
