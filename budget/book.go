package budget

import (
	"container/heap"
	"fmt"
	"slices"
	"time"
)

// maxKeyLen is the longest budget key a ledger accepts, in bytes.
const maxKeyLen = 1024

// book is the state machine shared by the scoped ledgers of this package
// (Scoped in memory, File on disk): budgets per window and per key, and the
// holds (reservations) not yet settled. Every change is an entry applied by
// apply, so that a journal of entries replays to the same book; the deciding
// methods (reserve, settle, sweep) only read the book and return the entries
// to apply. A book is not safe for concurrent use.
type book struct {
	gen     uint64                 // the latest window generation seen
	lastID  uint64                 // the last reservation ID issued
	windows map[uint64]*generation // by generation: the current one and older ones with holds
	holds   map[uint64]*hold       // unsettled reservations by ID
	leases  leaseHeap              // lease expiries of open holds (lazily cleaned)

	rates  map[rateCell]*rateCounters // rate limits' figures, by rate, window and key
	rateAt [2 * MaxRates]uint64       // the latest generation seen of each rate
}

// rateCell names the figures of one rate limit in one window: rate i <
// MaxRates is Limits.Rates[i] (key ""), rate MaxRates+j is
// Limits.KeyRates[j] of key.
type rateCell struct {
	rate uint8
	gen  uint64
	key  string
}

// rateCounters are the figures of one rate cell and the holds in it.
type rateCounters struct {
	counters
	holds int
}

// counters are the figures of one budget in one window.
type counters struct {
	spent, reserved Amount
	fired           []uint32 // alert thresholds fired in this window, in ppm
}

// generation holds the budgets of one window generation.
type generation struct {
	global counters
	keys   map[string]*counters
	holds  int // holds of this generation not yet settled
}

// hold is an unsettled reservation.
type hold struct {
	amount  Amount
	gen     uint64
	key     string   // "" when no key budget applies
	expiry  int64    // lease expiry, Unix nanoseconds
	expired bool     // the lease expired: amount was charged as spent
	rg, krg []uint64 // the generations of the global and key rate limits held
}

type entryKind uint8

// Entry kinds; the values are part of the journal format.
const (
	entReserve  entryKind = 1 // a reservation: id, gen, amount, expiry, key
	entCommit   entryKind = 2 // a settlement: id, amount billed
	entCancel   entryKind = 3 // a release: id
	entExpire   entryKind = 4 // a lease expiry: id (charged as spent)
	entSnapshot entryKind = 5 // the whole book (compaction)
	entAlert    entryKind = 6 // an alert mark: id (the threshold in ppm), gen, key

	// Journal encodings only, read back as entReserve and entSnapshot: an
	// entry written with them is one that older versions cannot apply
	// faithfully (rate limits, alert marks), so that they refuse it instead
	// of misreading it.
	entReserveRates entryKind = 7 // entReserve, then the rate generations
	entSnapshotV2   entryKind = 8 // entSnapshot, then rates and alert marks
)

// extended reports whether b holds what only entSnapshotV2 records: rate
// limit figures or alert marks.
func (b *book) extended() bool {
	if len(b.rates) > 0 {
		return true
	}
	for _, w := range b.windows {
		if len(w.global.fired) > 0 {
			return true
		}
		for _, c := range w.keys {
			if len(c.fired) > 0 {
				return true
			}
		}
	}
	for _, g := range b.rateAt {
		if g != 0 {
			return true
		}
	}
	return false
}

// entry is one change of a book.
type entry struct {
	kind   entryKind
	id     uint64
	gen    uint64
	amount Amount // entReserve: the amount held; entCommit: the amount billed
	expiry int64
	key    string
	snap   *book    // entSnapshot
	rg     []uint64 // entReserve: generations of the global rate limits
	krg    []uint64 // entReserve: generations of the key's rate limits
}

func newBook() *book {
	return &book{windows: make(map[uint64]*generation), holds: make(map[uint64]*hold)}
}

// addSat returns a+b saturated to [0, MaxAmount].
func addSat(a, b Amount) Amount {
	switch {
	case b > 0 && a > MaxAmount-b:
		return MaxAmount
	case a+b < 0:
		return 0
	}
	return a + b
}

func (w *generation) key(k string) *counters {
	c := w.keys[k]
	if c == nil {
		if w.keys == nil {
			w.keys = make(map[string]*counters)
		}
		c = &counters{}
		w.keys[k] = c
	}
	return c
}

// add adds reserved and spent to the global budget and, when key is not
// empty, to key's.
func (w *generation) add(key string, reserved, spent Amount) {
	for _, c := range [2]*counters{&w.global, nil} {
		if c == nil {
			if key == "" {
				return
			}
			c = w.key(key)
		}
		c.reserved = addSat(c.reserved, reserved)
		c.spent = addSat(c.spent, spent)
	}
}

// apply applies e. Entries that do not apply (a settlement of an unknown ID,
// a reservation ID already issued) change nothing: a replay is idempotent.
func (b *book) apply(e entry) {
	switch e.kind {
	case entSnapshot:
		if e.snap != nil {
			*b = *e.snap
		}
	case entReserve:
		if e.id <= b.lastID {
			return
		}
		b.lastID = e.id
		if e.gen > b.gen {
			b.gen = e.gen
			for g, w := range b.windows {
				if g < b.gen && w.holds == 0 {
					delete(b.windows, g)
				}
			}
		}
		w := b.windows[e.gen]
		if w == nil {
			w = &generation{}
			b.windows[e.gen] = w
		}
		w.holds++
		w.add(e.key, e.amount, 0)
		h := &hold{amount: e.amount, gen: e.gen, key: e.key, expiry: e.expiry, rg: e.rg, krg: e.krg}
		b.holds[e.id] = h
		b.addRates(h, e.amount, 0, 1)
		heap.Push(&b.leases, lease{at: e.expiry, id: e.id})
	case entCommit, entCancel:
		h := b.holds[e.id]
		if h == nil {
			return
		}
		billed := Amount(0)
		if e.kind == entCommit {
			billed = e.amount
		}
		if w := b.windows[h.gen]; w != nil {
			if h.expired {
				w.add(h.key, 0, billed-h.amount) // correct the charge
			} else {
				w.add(h.key, -h.amount, billed)
			}
		}
		if h.expired {
			b.addRates(h, 0, billed-h.amount, -1)
		} else {
			b.addRates(h, -h.amount, billed, -1)
		}
		b.forget(e.id, h)
	case entExpire:
		h := b.holds[e.id]
		if h == nil || h.expired {
			return
		}
		h.expired = true
		if w := b.windows[h.gen]; w != nil {
			w.add(h.key, -h.amount, h.amount)
		}
		b.addRates(h, -h.amount, h.amount, 0)
	case entAlert:
		w := b.windows[e.gen]
		if w == nil {
			return
		}
		c := &w.global
		if e.key != "" {
			c = w.key(e.key)
		}
		if p := uint32(e.id); !slices.Contains(c.fired, p) {
			c.fired = append(c.fired, p)
		}
	}
}

// addRates adds reserved and spent to the rate limits h holds, and holds to
// their count of holds. A cell of an older window left without holds is
// dropped; so are, when a hold enters a rate's newer window, that rate's
// older cells without holds.
func (b *book) addRates(h *hold, reserved, spent Amount, holds int) {
	for i, gs := range [2][]uint64{h.rg, h.krg} {
		key := ""
		if i == 1 {
			key = h.key
		}
		for j, g := range gs {
			rate := uint8(i*MaxRates + j)
			if g > b.rateAt[rate] {
				b.rateAt[rate] = g
				for cell, c := range b.rates {
					if cell.rate == rate && cell.gen < g && c.holds == 0 {
						delete(b.rates, cell)
					}
				}
			}
			cell := rateCell{rate: rate, gen: g, key: key}
			c := b.rates[cell]
			if c == nil {
				if b.rates == nil {
					b.rates = make(map[rateCell]*rateCounters)
				}
				c = &rateCounters{}
				b.rates[cell] = c
			}
			c.reserved = addSat(c.reserved, reserved)
			c.spent = addSat(c.spent, spent)
			c.holds += holds
			if c.holds <= 0 && g < b.rateAt[rate] {
				delete(b.rates, cell)
			}
		}
	}
}

// rateFigures returns the figures of rate in generation g for key.
func (b *book) rateFigures(rate int, g uint64, key string) counters {
	if c := b.rates[rateCell{rate: uint8(rate), gen: g, key: key}]; c != nil {
		return c.counters
	}
	return counters{}
}

// forget removes the hold id, and its window when it is an old one left
// without holds.
func (b *book) forget(id uint64, h *hold) {
	delete(b.holds, id)
	if w := b.windows[h.gen]; w != nil {
		w.holds--
		if w.holds <= 0 && h.gen < b.gen {
			delete(b.windows, h.gen)
		}
	}
}

// current returns the generation a reservation made at now belongs to: the
// window's, never older than the latest seen.
func (b *book) current(p *Limits, now time.Time) uint64 {
	g, _ := p.Window.Bounds(now)
	return max(g, b.gen)
}

// figures returns the global budget's and key's counters in generation g.
func (b *book) figures(g uint64, key string) (global, k counters) {
	if w := b.windows[g]; w != nil {
		global = w.global
		if c := w.keys[key]; c != nil && key != "" {
			k = *c
		}
	}
	return global, k
}

// reserve decides a reservation of amount for key at now: the entry to
// apply, or the refusal.
func (b *book) reserve(p *Limits, limit Amount, key string, amount Amount, now time.Time) (entry, error) {
	if amount < 0 {
		return entry{}, fmt.Errorf("%w: reservation amount %v is negative", ErrInvalid, amount)
	}
	if len(key) > maxKeyLen {
		return entry{}, fmt.Errorf("%w: budget key of %d bytes is longer than %d", ErrInvalid, len(key), maxKeyLen)
	}
	g := b.current(p, now)
	_, end := p.Window.Bounds(now)
	kl, hasLimit := p.KeyLimitOf(key)
	if !p.Scoped(key) {
		key = ""
	}
	gc, kc := b.figures(g, key)
	if err := (State{Limit: limit, Spent: gc.spent, Reserved: gc.reserved}).CheckReserve(amount); err != nil {
		return entry{}, mainExceeded(p.Window.Period, end, err)
	}
	rg, err := b.reserveRates(p.Rates, 0, p.Window.Location, "", amount, now)
	if err != nil {
		return entry{}, err
	}
	var krg []uint64
	if key != "" {
		if hasLimit {
			if err := (State{Limit: kl, Spent: kc.spent, Reserved: kc.reserved}).CheckReserve(amount); err != nil {
				return entry{}, keyExceeded(key, mainExceeded(p.Window.Period, end, err))
			}
		}
		if krg, err = b.reserveRates(p.KeyRates, MaxRates, p.Window.Location, key, amount, now); err != nil {
			return entry{}, keyExceeded(key, err)
		}
	}
	exp := now.Add(p.lease()).UnixNano()
	return entry{kind: entReserve, id: b.lastID + 1, gen: g, amount: amount, expiry: exp, key: key, rg: rg, krg: krg}, nil
}

// reserveRates checks that amount fits in each of rates (numbered from base)
// at now for key, and returns their generations.
func (b *book) reserveRates(rates []Rate, base int, loc *time.Location, key string, amount Amount, now time.Time) ([]uint64, error) {
	if len(rates) == 0 {
		return nil, nil
	}
	gs := make([]uint64, len(rates))
	for i, r := range rates {
		g, end := r.Window(loc).Bounds(now)
		g = max(g, b.rateAt[base+i])
		c := b.rateFigures(base+i, g, key)
		if err := (State{Limit: r.Limit, Spent: c.spent, Reserved: c.reserved}).CheckReserve(amount); err != nil {
			return nil, rateExceeded(r, end, err)
		}
		gs[i] = g
	}
	return gs, nil
}

// crossings decides the alert marks that the settlement e (an entCommit not
// yet applied) sets: the entries to apply after e, and the crossings they
// report.
func (b *book) crossings(p *Limits, limit Amount, a *alerts, e entry) ([]entry, []Crossing) {
	h := b.holds[e.id]
	if h == nil || len(a.ppm) == 0 {
		return nil, nil
	}
	w := b.windows[h.gen]
	if w == nil {
		return nil, nil
	}
	delta := e.amount
	if h.expired {
		delta -= h.amount
	}
	var es []entry
	var cs []Crossing
	check := func(key string, limit Amount, c counters) {
		spent := addSat(c.spent, delta)
		for _, ppm := range a.crossed(limit, spent, c.fired) {
			es = append(es, entry{kind: entAlert, id: uint64(ppm), gen: h.gen, key: key})
			cs = append(cs, Crossing{Key: key, Period: p.Window.Period, Window: p.Window.Start(h.gen), Generation: h.gen,
				Threshold: float64(ppm) / 1e6, Spent: spent, Limit: limit})
		}
	}
	check("", limit, w.global)
	if kl, ok := p.KeyLimitOf(h.key); ok {
		if c := w.keys[h.key]; c != nil {
			check(h.key, kl, *c)
		}
	}
	return es, cs
}

// settle decides the settlement of r: commit at actual, or cancel. apply is
// false when there is nothing to apply (r is already settled). A negative
// actual bills the reserved amount and returns an error matching ErrInvalid
// along with the entry to apply.
func (b *book) settle(r Reservation, commit bool, actual Amount) (e entry, apply bool, err error) {
	h := b.holds[r.ID]
	switch {
	case h != nil && h.amount == r.Amount && h.gen == r.Generation:
	case h != nil || r.ID == 0 || r.ID > b.lastID:
		return entry{}, false, fmt.Errorf("%w: reservation %d of %v (generation %d) was not issued by this ledger", ErrInvalid, r.ID, r.Amount, r.Generation)
	default:
		return entry{}, false, nil // issued and already settled
	}
	if !commit {
		return entry{kind: entCancel, id: r.ID}, true, nil
	}
	if actual < 0 {
		err = fmt.Errorf("%w: committed amount %v is negative (reservation %d settled at its reserved %v)", ErrInvalid, actual, r.ID, h.amount)
		actual = h.amount
	}
	return entry{kind: entCommit, id: r.ID, amount: actual}, true, err
}

// sweep calls expire with the entry that charges each open hold whose lease
// expired by now; expire must apply it. With drop, it also forgets the holds
// whose lease expired more than lateSettleRetention ago.
func (b *book) sweep(now time.Time, drop bool, expire func(entry)) {
	t := now.UnixNano()
	for len(b.leases) > 0 && b.leases[0].at <= t {
		l := heap.Pop(&b.leases).(lease)
		h := b.holds[l.id]
		switch {
		case h == nil:
		case !h.expired && l.at == h.expiry:
			expire(entry{kind: entExpire, id: l.id})
			if drop {
				heap.Push(&b.leases, lease{at: satAddNanos(h.expiry, lateSettleRetention), id: l.id})
			}
		case h.expired && drop:
			b.forget(l.id, h)
		}
	}
}

// dropExpired forgets the expired holds whose lease ended before t.
func (b *book) dropExpired(t int64) {
	for id, h := range b.holds {
		if h.expired && h.expiry < t {
			b.forget(id, h)
		}
	}
}

func satAddNanos(t int64, d time.Duration) int64 {
	if t > 0 && int64(d) > 1<<63-1-t {
		return 1<<63 - 1
	}
	return t + int64(d)
}

// state returns the state of the budget that binds key's calls at now.
func (b *book) state(p *Limits, limit Amount, key string, now time.Time) State {
	g := b.current(p, now)
	kl, hasKey := p.KeyLimitOf(key)
	gc, kc := b.figures(g, key)
	return binding(State{Limit: limit, Spent: gc.spent, Reserved: gc.reserved},
		State{Limit: kl, Spent: kc.spent, Reserved: kc.reserved}, hasKey)
}

// unsettled returns the unsettled reservations, expired ones included, by ID.
func (b *book) unsettled() []Reservation {
	rs := make([]Reservation, 0, len(b.holds))
	for id, h := range b.holds {
		rs = append(rs, Reservation{ID: id, Amount: h.amount, Generation: h.gen})
	}
	slices.SortFunc(rs, func(a, b Reservation) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return rs
}

// clone returns a deep copy of b (for snapshots).
func (b *book) clone() *book {
	c := &book{gen: b.gen, lastID: b.lastID, windows: make(map[uint64]*generation, len(b.windows)), holds: make(map[uint64]*hold, len(b.holds))}
	for g, w := range b.windows {
		nw := &generation{global: w.global, holds: w.holds}
		nw.global.fired = slices.Clone(w.global.fired)
		if len(w.keys) > 0 {
			nw.keys = make(map[string]*counters, len(w.keys))
			for k, v := range w.keys {
				cv := *v
				cv.fired = slices.Clone(v.fired)
				nw.keys[k] = &cv
			}
		}
		c.windows[g] = nw
	}
	c.rateAt = b.rateAt
	if len(b.rates) > 0 {
		c.rates = make(map[rateCell]*rateCounters, len(b.rates))
		for cell, v := range b.rates {
			cv := *v
			c.rates[cell] = &cv
		}
	}
	for id, h := range b.holds {
		ch := *h
		ch.rg, ch.krg = slices.Clone(h.rg), slices.Clone(h.krg)
		c.holds[id] = &ch
		if !h.expired {
			c.leases = append(c.leases, lease{at: h.expiry, id: id})
		}
	}
	heap.Init(&c.leases)
	return c
}

// lease is a lease expiry in the heap.
type lease struct {
	at int64
	id uint64
}

// leaseHeap is a min-heap of lease expiries.
type leaseHeap []lease

func (h leaseHeap) Len() int { return len(h) }
func (h leaseHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].id < h[j].id)
}
func (h leaseHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *leaseHeap) Push(x any)   { *h = append(*h, x.(lease)) }
func (h *leaseHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
