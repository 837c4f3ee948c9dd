package budget

import (
	"container/heap"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The journal format of a File ledger:
//
//	journal = magic id[16] parent[16] record*
//	magic   = "BAARJNL" 0x02
//	record  = length:uint32le crc:uint32le payload[length]   (crc32c of payload)
//	payload = seq:uvarint prev:uint32le entry+
//
// id is the journal's identity, random, drawn when the journal is created
// and kept by its compactions; parent is the identity of the journal it
// deliberately replaced (RecreateFile), or zeros. Records are numbered: seq
// is one more than the previous record's, and prev is the previous record's
// crc (0 for the first record of the file), so that a journal cut back and
// written again is not taken for the continuation of the one a reader knew.
// One record is written (and fsynced) per group commit. After a compaction
// the journal is the header and one record holding a snapshot entry, which
// keeps the numbering. Integers in entries are (u)varints; strings are a
// uvarint length and the bytes.
//
// Format 1 (magic "BAARJNL" 0x01) had no identity and no seq or prev; it is
// read, and rewritten in format 2 by the first compaction.
const (
	journalMagic   = "BAARJNL\x02"
	journalMagicV1 = "BAARJNL\x01"
	// journalHeader is the length of a format 2 journal's header.
	journalHeader = len(journalMagic) + 2*len(journalID{})
)

// journalID identifies a journal; the zero journalID is none.
type journalID [16]byte

// newJournalID draws a random journal identity.
func newJournalID() journalID {
	var id journalID
	rand.Read(id[:]) // never fails (crypto/rand)
	return id
}

// header is what a journal says of itself before its records.
type header struct {
	id, parent journalID
	legacy     bool // format 1: no identity, records without seq or prev
}

// appendHeader appends a format 2 header to dst.
func appendHeader(dst []byte, h header) []byte {
	dst = append(dst, journalMagic...)
	dst = append(dst, h.id[:]...)
	return append(dst, h.parent[:]...)
}

// chain is a position in a journal's records: the seq and crc of the last
// record. At the start of a file (start), the first record may carry any
// seq (a snapshot continues the numbering), and prev 0.
type chain struct {
	seq    uint64
	crc    uint32
	start  bool
	legacy bool
}

// follows reports whether a record numbered seq, whose prev is prev, may
// come next.
func (c *chain) follows(seq uint64, prev uint32) bool {
	if c.legacy {
		return true
	}
	if c.start {
		return seq > c.seq && prev == 0
	}
	return seq == c.seq+1 && prev == c.crc
}

// advance moves c past the record numbered seq whose checksum is crc.
func (c *chain) advance(seq uint64, crc uint32) {
	if c.legacy {
		seq = c.seq + 1
	}
	c.seq, c.crc, c.start = seq, crc, false
}

const (
	recordHeader = 8
	// maxRecord bounds a record's payload; a longer length is garbage.
	maxRecord = 256 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is the cause of a journal that cannot be read: damaged before
// its last record, or not a journal.
var errCorrupt = errors.New("corrupt budget journal")

// appendRecord appends a record holding entries to dst, the next of c, and
// advances c.
func appendRecord(dst []byte, c *chain, entries []entry) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeader)...)
	seq := c.seq + 1
	dst = binary.AppendUvarint(dst, seq)
	prev := c.crc
	if c.start {
		prev = 0
	}
	dst = binary.LittleEndian.AppendUint32(dst, prev)
	for i := range entries {
		dst = appendEntry(dst, &entries[i])
	}
	payload := dst[start+recordHeader:]
	crc := crc32.Checksum(payload, crcTable)
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc)
	c.advance(seq, crc)
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendEntry(dst []byte, e *entry) []byte {
	kind := e.kind
	switch {
	case kind == entReserve && len(e.rg)+len(e.krg) > 0:
		kind = entReserveRates
	case kind == entSnapshot && e.snap.extended():
		kind = entSnapshotV2
	}
	dst = append(dst, byte(kind))
	switch e.kind {
	case entReserve:
		dst = binary.AppendUvarint(dst, e.id)
		dst = binary.AppendUvarint(dst, e.gen)
		dst = binary.AppendUvarint(dst, uint64(e.amount))
		dst = binary.AppendVarint(dst, e.expiry)
		dst = appendString(dst, e.key)
		if kind == entReserveRates {
			dst = appendGens(dst, e.rg)
			dst = appendGens(dst, e.krg)
		}
	case entAlert:
		dst = binary.AppendUvarint(dst, e.id)
		dst = binary.AppendUvarint(dst, e.gen)
		dst = appendString(dst, e.key)
	case entCommit:
		dst = binary.AppendUvarint(dst, e.id)
		dst = binary.AppendUvarint(dst, uint64(e.amount))
	case entCancel, entExpire:
		dst = binary.AppendUvarint(dst, e.id)
	case entSnapshot:
		dst = appendSnapshot(dst, e.snap)
		if kind == entSnapshotV2 {
			dst = appendSnapshotExt(dst, e.snap)
		}
	}
	return dst
}

func appendGens(dst []byte, gs []uint64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(gs)))
	for _, g := range gs {
		dst = binary.AppendUvarint(dst, g)
	}
	return dst
}

// appendSnapshotExt appends what entSnapshotV2 adds to a snapshot: the
// alert marks, the latest generation of each rate, the rate cells and the
// rate generations of the holds.
func appendSnapshotExt(dst []byte, b *book) []byte {
	type mark struct {
		gen   uint64
		key   string
		fired []uint32
	}
	var marks []mark
	for g, w := range b.windows {
		if len(w.global.fired) > 0 {
			marks = append(marks, mark{g, "", w.global.fired})
		}
		for k, c := range w.keys {
			if len(c.fired) > 0 {
				marks = append(marks, mark{g, k, c.fired})
			}
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(marks)))
	for _, m := range marks {
		dst = binary.AppendUvarint(dst, m.gen)
		dst = appendString(dst, m.key)
		dst = binary.AppendUvarint(dst, uint64(len(m.fired)))
		for _, p := range m.fired {
			dst = binary.AppendUvarint(dst, uint64(p))
		}
	}
	dst = appendGens(dst, b.rateAt[:])
	dst = binary.AppendUvarint(dst, uint64(len(b.rates)))
	for cell, c := range b.rates {
		dst = append(dst, cell.rate)
		dst = binary.AppendUvarint(dst, cell.gen)
		dst = appendString(dst, cell.key)
		dst = binary.AppendUvarint(dst, uint64(c.spent))
		dst = binary.AppendUvarint(dst, uint64(c.reserved))
		dst = binary.AppendUvarint(dst, uint64(max(c.holds, 0)))
	}
	n := 0
	for _, h := range b.holds {
		if len(h.rg)+len(h.krg) > 0 {
			n++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	for id, h := range b.holds {
		if len(h.rg)+len(h.krg) > 0 {
			dst = binary.AppendUvarint(dst, id)
			dst = appendGens(dst, h.rg)
			dst = appendGens(dst, h.krg)
		}
	}
	return dst
}

func appendSnapshot(dst []byte, b *book) []byte {
	dst = binary.AppendUvarint(dst, b.gen)
	dst = binary.AppendUvarint(dst, b.lastID)
	dst = binary.AppendUvarint(dst, uint64(len(b.windows)))
	for g, w := range b.windows {
		dst = binary.AppendUvarint(dst, g)
		dst = binary.AppendUvarint(dst, uint64(w.global.spent))
		dst = binary.AppendUvarint(dst, uint64(w.global.reserved))
		dst = binary.AppendUvarint(dst, uint64(len(w.keys)))
		for k, c := range w.keys {
			dst = appendString(dst, k)
			dst = binary.AppendUvarint(dst, uint64(c.spent))
			dst = binary.AppendUvarint(dst, uint64(c.reserved))
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.holds)))
	for id, h := range b.holds {
		dst = binary.AppendUvarint(dst, id)
		dst = binary.AppendUvarint(dst, uint64(h.amount))
		dst = binary.AppendUvarint(dst, h.gen)
		dst = binary.AppendVarint(dst, h.expiry)
		exp := byte(0)
		if h.expired {
			exp = 1
		}
		dst = append(dst, exp)
		dst = appendString(dst, h.key)
	}
	return dst
}

// decoder reads entries from one record's payload.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", errCorrupt, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// amount reads a non-negative Amount.
func (d *decoder) amount(what string) Amount {
	v := d.uvarint(what)
	if v > uint64(MaxAmount) {
		d.fail(what)
		return 0
	}
	return Amount(v)
}

func (d *decoder) str(what string) string {
	n := d.uvarint(what)
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) || n > maxKeyLen {
		d.fail(what)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads a collection length, each element taking at least min bytes.
func (d *decoder) count(what string, min int) int {
	n := d.uvarint(what)
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.fail(what)
		return 0
	}
	return int(n)
}

func (d *decoder) entry() entry {
	var e entry
	if len(d.b) == 0 {
		d.fail("entry")
		return e
	}
	kind := entryKind(d.b[0])
	d.b = d.b[1:]
	switch kind {
	case entReserveRates:
		e.kind = entReserve
	case entSnapshotV2:
		e.kind = entSnapshot
	default:
		e.kind = kind
	}
	switch kind {
	case entReserve, entReserveRates:
		e.id = d.uvarint("reservation id")
		e.gen = d.uvarint("generation")
		e.amount = d.amount("reserved amount")
		e.expiry = d.varint("lease expiry")
		e.key = d.str("key")
		if kind == entReserveRates {
			e.rg = d.gens(MaxRates)
			e.krg = d.gens(MaxRates)
		}
	case entAlert:
		e.id = d.uvarint("alert threshold")
		e.gen = d.uvarint("generation")
		e.key = d.str("key")
		if e.id > 1e6 {
			d.fail("alert threshold")
		}
	case entCommit:
		e.id = d.uvarint("reservation id")
		e.amount = d.amount("billed amount")
	case entCancel, entExpire:
		e.id = d.uvarint("reservation id")
	case entSnapshot:
		e.snap = d.snapshot()
	case entSnapshotV2:
		e.snap = d.snapshot()
		d.snapshotExt(e.snap)
	default:
		d.fail("entry kind")
	}
	if e.kind != entSnapshot && e.id == 0 && d.err == nil {
		d.fail("reservation id")
	}
	return e
}

func (d *decoder) snapshot() *book {
	b := newBook()
	b.gen = d.uvarint("generation")
	b.lastID = d.uvarint("last id")
	nw := d.count("window count", 4)
	for range nw {
		g := d.uvarint("window generation")
		w := &generation{global: counters{spent: d.amount("spent"), reserved: d.amount("reserved")}}
		nk := d.count("key count", 3)
		for range nk {
			k := d.str("key")
			c := &counters{spent: d.amount("spent"), reserved: d.amount("reserved")}
			if d.err != nil {
				return nil
			}
			w.key(k)
			w.keys[k] = c
		}
		if d.err != nil {
			return nil
		}
		if _, dup := b.windows[g]; dup {
			d.fail("window generation")
			return nil
		}
		b.windows[g] = w
	}
	nh := d.count("hold count", 6)
	for range nh {
		id := d.uvarint("reservation id")
		h := &hold{amount: d.amount("held amount"), gen: d.uvarint("generation"), expiry: d.varint("lease expiry")}
		if d.err == nil {
			if len(d.b) == 0 || d.b[0] > 1 {
				d.fail("expired flag")
			} else {
				h.expired = d.b[0] == 1
				d.b = d.b[1:]
			}
		}
		h.key = d.str("key")
		if d.err != nil {
			return nil
		}
		if _, dup := b.holds[id]; dup || id == 0 || id > b.lastID {
			d.fail("hold id")
			return nil
		}
		b.holds[id] = h
		w := b.windows[h.gen]
		if w == nil {
			w = &generation{}
			b.windows[h.gen] = w
		}
		w.holds++
		if !h.expired {
			b.leases = append(b.leases, lease{at: h.expiry, id: id})
		}
	}
	if d.err != nil {
		return nil
	}
	heap.Init(&b.leases)
	return b
}

// gens reads a list of at most n generations.
func (d *decoder) gens(n int) []uint64 {
	c := d.count("generation count", 1)
	if d.err == nil && c > n {
		d.fail("generation count")
	}
	if d.err != nil || c == 0 {
		return nil
	}
	gs := make([]uint64, c)
	for i := range gs {
		gs[i] = d.uvarint("generation")
	}
	return gs
}

// snapshotExt reads what entSnapshotV2 adds to the snapshot b.
func (d *decoder) snapshotExt(b *book) {
	if b == nil || d.err != nil {
		return
	}
	nm := d.count("mark count", 3)
	for range nm {
		g := d.uvarint("mark generation")
		k := d.str("mark key")
		np := d.count("mark thresholds", 1)
		if d.err != nil {
			return
		}
		w := b.windows[g]
		if w == nil {
			w = &generation{}
			b.windows[g] = w
		}
		c := &w.global
		if k != "" {
			c = w.key(k)
		}
		for range np {
			p := d.uvarint("mark threshold")
			if p == 0 || p > 1e6 {
				d.fail("mark threshold")
				return
			}
			c.fired = append(c.fired, uint32(p))
		}
	}
	at := d.gens(2 * MaxRates)
	copy(b.rateAt[:], at)
	nc := d.count("rate cell count", 6)
	for range nc {
		if d.err != nil {
			return
		}
		if len(d.b) == 0 || d.b[0] >= 2*MaxRates {
			d.fail("rate")
			return
		}
		cell := rateCell{rate: d.b[0]}
		d.b = d.b[1:]
		cell.gen = d.uvarint("rate generation")
		cell.key = d.str("rate key")
		c := &rateCounters{counters: counters{spent: d.amount("rate spent"), reserved: d.amount("rate reserved")}}
		h := d.uvarint("rate holds")
		if h > uint64(len(b.holds)) {
			d.fail("rate holds")
		}
		if d.err != nil {
			return
		}
		c.holds = int(h)
		if b.rates == nil {
			b.rates = make(map[rateCell]*rateCounters)
		}
		b.rates[cell] = c
	}
	nh := d.count("rate hold count", 3)
	for range nh {
		id := d.uvarint("reservation id")
		rg, krg := d.gens(MaxRates), d.gens(MaxRates)
		h := b.holds[id]
		if d.err != nil {
			return
		}
		if h == nil {
			d.fail("rate hold id")
			return
		}
		h.rg, h.krg = rg, krg
	}
}

// decodePayload returns the entries of one record's payload.
func decodePayload(p []byte) ([]entry, error) {
	d := decoder{b: p}
	var es []entry
	for len(d.b) > 0 && d.err == nil {
		e := d.entry()
		if d.err == nil {
			es = append(es, e)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%w: empty record", errCorrupt)
	}
	return es, nil
}

// rec is one record read from a journal.
type rec struct {
	es   []entry
	size int
	seq  uint64 // format 2 only
	prev uint32 // format 2 only
	crc  uint32
}

// readRecord reads the record at the start of b, in format 1 when legacy.
// ok is false when b does not start with a whole, valid record.
func readRecord(b []byte, legacy bool) (r rec, ok bool) {
	if len(b) < recordHeader {
		return rec{}, false
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > maxRecord || uint64(n) > uint64(len(b)-recordHeader) {
		return rec{}, false
	}
	payload := b[recordHeader : recordHeader+int(n)]
	r.crc = crc32.Checksum(payload, crcTable)
	if r.crc != binary.LittleEndian.Uint32(b[4:]) {
		return rec{}, false
	}
	if !legacy {
		seq, k := binary.Uvarint(payload)
		if k <= 0 || seq == 0 || len(payload) < k+4 {
			return rec{}, false
		}
		r.seq, r.prev = seq, binary.LittleEndian.Uint32(payload[k:])
		payload = payload[k+4:]
	}
	es, err := decodePayload(payload)
	if err != nil {
		return rec{}, false
	}
	r.es, r.size = es, recordHeader+int(n)
	return r, true
}

// errSpliced is the cause of records that do not follow the records before
// them: the journal was cut back and written again, or pieced together.
var errSpliced = fmt.Errorf("%w: records out of sequence", errCorrupt)

// decodeRecords decodes the records of b (a journal without its header, or
// its tail) that follow c, calling apply for each entry in order and
// advancing c. It returns the length of the valid prefix. A damaged record
// that is the torn tail of an interrupted write returns good = its offset
// and err = nil; the caller ignores (and truncates) it. Any other damage is
// corruption: err matches errCorrupt, and errSpliced when a valid record
// does not follow the one before it. last is the offset of the last valid
// record, -1 when there is none.
func decodeRecords(b []byte, c *chain, apply func(entry)) (good, last int, err error) {
	last = -1
	for good < len(b) {
		r, ok := readRecord(b[good:], c.legacy)
		if !ok {
			if at, bad := damaged(b[good:], c.legacy); bad {
				return good, last, fmt.Errorf("%w: damaged record at offset %d followed by a valid one at offset %d", errCorrupt, good, good+at)
			}
			return good, last, nil
		}
		if !c.follows(r.seq, r.prev) {
			return good, last, fmt.Errorf("%w: record %d at offset %d does not follow record %d", errSpliced, r.seq, good, c.seq)
		}
		for _, e := range r.es {
			apply(e)
		}
		c.advance(r.seq, r.crc)
		last = good
		good += r.size
	}
	return good, last, nil
}

// damaged tells a torn tail from corruption, for b starting with a record
// that does not read. A torn write leaves a prefix of its record: its header
// and part of its payload, never a whole record after it. So b is corrupt
// when a valid record starts after the extent its header declares (a
// damaged payload or checksum), or when the payload checksums right at
// another length (a damaged length field, the records after intact). The
// damaged record's own payload is not searched: it holds caller data (budget
// keys), which may spell a valid record.
func damaged(b []byte, legacy bool) (at int, corrupt bool) {
	if len(b) < recordHeader {
		return 0, false
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if end := uint64(recordHeader) + n; n > 0 && n <= maxRecord && end <= uint64(len(b)) {
		for p := int(end); p+recordHeader <= len(b); p++ {
			if _, ok := readRecord(b[p:], legacy); ok {
				return p, true
			}
		}
	}
	want := binary.LittleEndian.Uint32(b[4:])
	crc := uint32(0)
	payload := b[recordHeader:min(len(b), recordHeader+maxRecord)]
	for i := range payload {
		crc = crc32.Update(crc, crcTable, payload[i:i+1])
		if crc == want && uint64(i+1) != n {
			if next := recordHeader + i + 1; next == len(b) {
				return next, true
			} else if _, ok := readRecord(b[next:], legacy); ok {
				return next, true
			}
		}
	}
	return 0, false
}

// journal is a decoded journal.
type journal struct {
	bk   *book
	hdr  header
	ch   chain // after the last valid record
	good int   // the length of the valid prefix
	last int   // the offset of the last valid record; -1 when there is none
}

// decodeJournal decodes a whole journal. Its valid prefix is shorter than
// data when the last record is torn.
func decodeJournal(data []byte) (journal, error) {
	var j journal
	switch {
	case len(data) >= journalHeader && string(data[:len(journalMagic)]) == journalMagic:
		copy(j.hdr.id[:], data[len(journalMagic):])
		copy(j.hdr.parent[:], data[len(journalMagic)+len(j.hdr.id):])
		j.good = journalHeader
	case len(data) >= len(journalMagicV1) && string(data[:len(journalMagicV1)]) == journalMagicV1:
		j.hdr.legacy = true
		j.good = len(journalMagicV1)
	default:
		return journal{}, fmt.Errorf("%w: not a baar budget journal (bad magic)", errCorrupt)
	}
	j.bk = newBook()
	j.ch = chain{start: true, legacy: j.hdr.legacy}
	good, last, err := decodeRecords(data[j.good:], &j.ch, j.bk.apply)
	if err != nil {
		return journal{}, err
	}
	j.last = -1
	if last >= 0 {
		j.last = j.good + last
	}
	j.good += good
	return j, nil
}
