package budget

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// record returns the bytes of one journal record holding es.
// Its seq is 1: it may start a journal's records.
func record(es ...entry) []byte { return appendRecord(nil, &chain{start: true}, es) }

// testHeader is the header of the journals the tests write by hand.
var testHeader = appendHeader(nil, header{id: journalID{1, 2, 3}})

// fuzzJournal is a valid journal: reservations, settlements, an expiry and
// a snapshot.
func fuzzJournal() []byte {
	b := newBook()
	es := []entry{
		{kind: entReserve, id: 1, gen: 3, amount: 5 * Dollar, expiry: 100, key: "u1"},
		{kind: entReserve, id: 2, gen: 3, amount: 2 * Dollar, expiry: 200},
		{kind: entCommit, id: 1, amount: 4 * Dollar},
		{kind: entReserve, id: 3, gen: 4, amount: Dollar, expiry: 300, key: "u2"},
		{kind: entExpire, id: 2},
	}
	for _, e := range es {
		b.apply(e)
	}
	data := append([]byte{}, testHeader...)
	c := chain{start: true}
	data = appendRecord(data, &c, es[:2])
	data = appendRecord(data, &c, es[2:])
	data = appendRecord(data, &c, []entry{{kind: entSnapshot, snap: b.clone()}, {kind: entCancel, id: 3}})
	return data
}

// FuzzJournalDecode decodes arbitrary bytes as a journal, and arbitrary
// bytes appended to a valid journal: the decoder must never panic, a valid
// prefix must never be lost (the damaged tail is cut off, or the journal is
// reported corrupt), and the valid prefix it reports must decode again to
// the same book.
func FuzzJournalDecode(f *testing.F) {
	valid := fuzzJournal()
	f.Add([]byte{}, false)
	f.Add(valid[journalHeader:], false)
	f.Add(valid[journalHeader:len(valid)-3], false)
	f.Add([]byte{5, 0, 0, 0, 1, 2, 3, 4, 1, 1}, true)
	f.Add(make([]byte, 64), true)
	f.Add(append(record(entry{kind: entCancel, id: 7}), 0xff, 0xff), true)
	f.Add(record(entry{kind: entSnapshot, snap: newBook()}), true)
	// Rate limits and alert marks: a reservation with rate generations, a
	// mark, and a snapshot holding both.
	rated := newBook()
	for _, e := range []entry{
		{kind: entReserve, id: 1, gen: 3, amount: 5, expiry: 9, key: "k", rg: []uint64{7}, krg: []uint64{8, 2}},
		{kind: entAlert, id: 500_000, gen: 3, key: "k"},
	} {
		rated.apply(e)
		f.Add(record(e), true)
	}
	f.Add(record(entry{kind: entSnapshot, snap: rated}), true)
	f.Fuzz(func(t *testing.T, tail []byte, afterValid bool) {
		prefix := testHeader
		if afterValid {
			prefix = valid
		}
		data := append(append([]byte{}, prefix...), tail...)
		j, err := decodeJournal(data)
		b, good := j.bk, j.good
		if err != nil {
			require.True(t, errors.Is(err, errCorrupt), "%v", err)
			return
		}
		require.LessOrEqual(t, good, len(data))
		require.GreaterOrEqual(t, good, len(prefix), "the valid prefix is kept")
		j2, err := decodeJournal(data[:good])
		require.NoError(t, err)
		require.Equal(t, good, j2.good)
		require.Equal(t, j.ch, j2.ch)
		b2 := j2.bk
		assert.Equal(t, b.lastID, b2.lastID)
		assert.Equal(t, b.gen, b2.gen)
		assert.Equal(t, len(b.holds), len(b2.holds))
		assert.Equal(t, b.unsettled(), b2.unsettled())
		// The snapshot of what was decoded decodes to the same book.
		snap := appendRecord(append([]byte{}, testHeader...), &chain{seq: j.ch.seq, start: true}, []entry{{kind: entSnapshot, snap: b}})
		j3, err := decodeJournal(snap)
		require.NoError(t, err)
		assert.Equal(t, j.ch.seq+1, j3.ch.seq, "a snapshot continues the numbering")
		b3 := j3.bk
		assert.Equal(t, b.unsettled(), b3.unsettled())
		for g, w := range b.windows {
			w3 := b3.windows[g]
			if assert.NotNil(t, w3) {
				assert.Equal(t, w.global, w3.global)
				assert.Equal(t, len(w.keys), len(w3.keys))
			}
		}
	})
}

func TestFuzzJournalValid(t *testing.T) {
	j, err := decodeJournal(fuzzJournal())
	require.NoError(t, err)
	b := j.bk
	assert.Equal(t, len(fuzzJournal()), j.good)
	assert.Equal(t, uint64(3), j.ch.seq)
	assert.Equal(t, uint64(3), b.lastID)
	assert.Equal(t, []Reservation{{ID: 2, Amount: 2 * Dollar, Generation: 3}}, b.unsettled(), "2 expired, unsettled")
	assert.Equal(t, counters{spent: 6 * Dollar}, b.windows[3].global, "1 committed at $4, 2 charged $2")
	assert.Equal(t, counters{spent: 4 * Dollar}, *b.windows[3].keys["u1"])
	assert.Equal(t, counters{}, b.windows[4].global, "3 cancelled")
}

// Records must follow each other: numbered in sequence, each naming the
// checksum of the one before.
func TestJournalRecordsOutOfSequence(t *testing.T) {
	e := []entry{{kind: entCancel, id: 1}}
	var a, b chain
	a.start, b.start = true, true
	data := appendRecord(nil, &a, e)
	data = appendRecord(data, &a, e)
	other := appendRecord(nil, &b, []entry{{kind: entCancel, id: 2}})
	other = appendRecord(other, &b, e) // record 2 of another history
	c := chain{start: true}
	_, _, err := decodeRecords(append(data[:len(data)/2:len(data)/2], other[len(other)/2:]...), &c, func(entry) {})
	assert.ErrorIs(t, err, errSpliced)
	c = chain{start: true}
	_, _, err = decodeRecords(append(append([]byte{}, data...), other[len(other)/2:]...), &c, func(entry) {})
	assert.ErrorIs(t, err, errSpliced, "record 2 again")
	c = chain{start: true}
	good, last, err := decodeRecords(data, &c, func(entry) {})
	require.NoError(t, err)
	assert.Equal(t, len(data), good)
	assert.Equal(t, len(data)/2, last)
	assert.Equal(t, uint64(2), c.seq)
}
