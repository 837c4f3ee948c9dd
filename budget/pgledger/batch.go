package pgledger

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/baarcore/baar/budget"
)

type opKind int16

// Operation kinds: the p_op codes of the apply function.
const (
	opReserve opKind = 1
	opCommit  opKind = 2
	opCancel  opKind = 3
	opState   opKind = 4
)

// Result statuses of the apply function.
const (
	stReserved    = 1
	stRefused     = 2 // by the global budget
	stRefusedKey  = 3
	stSettled     = 4
	stSettledLate = 5
	stAlready     = 6
	stNotIssued   = 7
	stState       = 8
	stRefusedRate = 9
)

// op is one operation queued for a batch.
type op struct {
	kind     opKind
	now      int64 // the caller's clock, Unix ms
	id       uint64
	gen      uint64
	key      string
	keyLimit budget.Amount
	amount   budget.Amount // reserve: the amount; settlements: the reserved amount
	actual   budget.Amount // commit: the amount billed
	expiry   int64
	label    string
	rateGens []int64 // reserve: the generation of each rate limit (0: none applies)

	// ctx, for Reserve and State, bounds the wait for a batch: an op whose
	// context ends before a batch takes it is abandoned, never sent (state
	// goes pending → abandoned, or pending → taken by the batch).
	ctx   context.Context
	state atomic.Int32
	done  chan struct{}

	res       budget.Reservation
	st        budget.State
	crossings []budget.Crossing
	err       error
}

// op states.
const (
	opPending int32 = iota
	opTaken
	opAbandoned
)

// do queues o and runs it: the first caller to find no batch running leads
// it, and hands the operations queued meanwhile to a goroutine that leads
// their batches until the queue is empty; the others wait for their batch.
func (l *Ledger) do(o *op) {
	l.mu.Lock()
	if l.leading {
		o.done = make(chan struct{})
		l.queue = append(l.queue, o)
		l.mu.Unlock()
		var ctxDone <-chan struct{}
		if o.ctx != nil {
			ctxDone = o.ctx.Done()
		}
		select {
		case <-o.done:
		case <-ctxDone:
			if o.state.CompareAndSwap(opPending, opAbandoned) {
				o.err = fmt.Errorf("pgledger: waiting for a batch: %w: %w", budget.ErrUnavailable, context.Cause(o.ctx))
				return
			}
			<-o.done // taken by a batch: wait for its answer
		}
		return
	}
	l.leading = true
	l.mu.Unlock()
	if next := l.runBatch([]*op{o}); next != nil {
		// Others queued meanwhile: a goroutine leads their batches, so that
		// this caller returns now instead of waiting on their behalf.
		go l.lead(next)
	}
}

// lead runs batches until the queue is empty.
func (l *Ledger) lead(batch []*op) {
	for batch != nil {
		batch = l.runBatch(batch)
	}
}

// runBatch runs batch, wakes its callers and returns the next batch (at
// most maxBatch operations), or nil (giving up leadership) when the queue
// is empty.
func (l *Ledger) runBatch(batch []*op) []*op {
	l.run(batch)
	woken := 0
	for _, o := range batch {
		if o.done != nil {
			close(o.done)
			woken++
		}
	}
	if woken > 0 {
		// Let the callers just woken queue their next operations (a
		// Commit follows a Reserve) before looking at the queue: they then
		// share the next round trip instead of the first of them leading
		// a batch of one while the others wait.
		runtime.Gosched()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 {
		l.leading = false
		return nil
	}
	n := min(len(l.queue), maxBatch)
	next := l.queue[:n:n]
	l.queue = l.queue[n:]
	if len(l.queue) == 0 {
		l.queue = nil
	}
	return next
}

// run sends the operations of batch not abandoned in one call of the apply
// function and sets their results.
func (l *Ledger) run(batch []*op) {
	ops := batch[:0:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opPending, opTaken) {
			ops = append(ops, o)
		}
	}
	if len(ops) == 0 {
		return
	}
	n := len(ops)
	var (
		now       int64
		kinds     = make([]int16, n)
		ids       = make([]int64, n)
		gens      = make([]int64, n)
		keys      = make([]string, n)
		keyLimits = make([]int64, n)
		amounts   = make([]int64, n)
		actuals   = make([]int64, n)
		expiries  = make([]int64, n)
		labels    = make([]string, n)
		rateGens  = make([]int64, n*len(l.rates))
	)
	l.mu.Lock()
	alerts := l.alerts
	l.mu.Unlock()
	for i, o := range ops {
		copy(rateGens[i*len(l.rates):], o.rateGens)
		now = max(now, o.now)
		kinds[i], ids[i], gens[i] = int16(o.kind), int64(o.id), int64(o.gen)
		keys[i], keyLimits[i], labels[i] = o.key, int64(o.keyLimit), o.label
		amounts[i], actuals[i], expiries[i] = int64(o.amount), int64(o.actual), o.expiry
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	rows, err := l.pool.Query(ctx, l.call, l.name, now, int64(l.limit), lateSettleRetention.Milliseconds(), l.record,
		kinds, ids, gens, keys, keyLimits, amounts, actuals, expiries, labels,
		l.rates, int32(len(l.pol.Rates)), rateGens, alerts)
	if err != nil {
		fail(ops, unavailable("applying a batch", err))
		return
	}
	results := make([]result, 0, n)
	for rows.Next() {
		var r result
		if err := rows.Scan(&r.status, &r.id, &r.gen, &r.spent, &r.reserved, &r.keySpent, &r.keyReserved,
			&r.rate, &r.holdKey, &r.keyLimit, &r.fired); err != nil {
			rows.Close()
			fail(ops, unavailable("applying a batch", err))
			return
		}
		results = append(results, r)
	}
	// Close reads up to ReadyForQuery: the error of a failed COMMIT
	// arrives after the rows.
	rows.Close()
	if err := rows.Err(); err != nil {
		fail(ops, unavailable("applying a batch", err))
		return
	}
	if len(results) != n {
		fail(ops, fmt.Errorf("pgledger: %w: %d answers to %d operations", budget.ErrUnavailable, len(results), n))
		return
	}
	for i, o := range ops {
		l.answer(o, results[i], alerts)
	}
}

func fail(ops []*op, err error) {
	for _, o := range ops {
		o.err = err
	}
}

// result is one row of the apply function's answer.
type result struct {
	status                                          int16
	id, gen, spent, reserved, keySpent, keyReserved int64
	rate                                            int16
	holdKey                                         string
	keyLimit                                        int64
	fired                                           int32
}

// answer sets o's result from r, or an error matching ErrUnavailable when r
// is not an answer the function gives to o.
func (l *Ledger) answer(o *op, r result, alerts []int32) {
	if r.id < 0 || r.gen < 0 || r.spent < 0 || r.reserved < 0 || r.keySpent < 0 || r.keyReserved < 0 {
		o.err = garbage(r)
		return
	}
	switch {
	case o.kind == opReserve && r.status == stReserved && r.id > 0 && uint64(r.gen) >= o.gen:
		o.res = budget.Reservation{ID: uint64(r.id), Amount: o.amount, Generation: uint64(r.gen)}
	case o.kind == opReserve && r.status == stRefused:
		o.err = &budget.ExceededError{Limit: l.limit, Spent: budget.Amount(r.spent), Reserved: budget.Amount(r.reserved), Requested: o.amount,
			Period: l.pol.Window.Period, Resets: l.windowEnd(l.pol.Window, o.now)}
	case o.kind == opReserve && r.status == stRefusedKey && o.key != "" && o.keyLimit >= 0:
		o.err = fmt.Errorf("budget of key %q: %w", o.key, &budget.ExceededError{Limit: o.keyLimit,
			Spent: budget.Amount(r.keySpent), Reserved: budget.Amount(r.keyReserved), Requested: o.amount, Key: o.key,
			Period: l.pol.Window.Period, Resets: l.windowEnd(l.pol.Window, o.now)})
	case o.kind == opReserve && r.status == stRefusedRate && r.rate >= 1 && int(r.rate) <= len(l.rates) &&
		(int(r.rate) <= len(l.pol.Rates) || o.key != ""):
		o.err = l.rateRefusal(o, int(r.rate)-1, r)
	case o.kind == opCommit && (r.status == stSettled || r.status == stSettledLate):
		o.crossings = l.crossings(r, alerts)
	case (o.kind == opCommit || o.kind == opCancel) && (r.status == stSettled || r.status == stSettledLate || r.status == stAlready):
	case (o.kind == opCommit || o.kind == opCancel) && r.status == stNotIssued:
		o.err = notIssued(budget.Reservation{ID: o.id, Amount: o.amount, Generation: o.gen})
	case o.kind == opState && r.status == stState && uint64(r.gen) >= o.gen:
		global := budget.State{Limit: l.limit, Spent: budget.Amount(r.spent), Reserved: budget.Amount(r.reserved)}
		o.st = global
		if o.key != "" && o.keyLimit >= 0 {
			if k := (budget.State{Limit: o.keyLimit, Spent: budget.Amount(r.keySpent), Reserved: budget.Amount(r.keyReserved)}); k.Remaining() < global.Remaining() {
				o.st = k
			}
		}
	default:
		o.err = garbage(r)
	}
}

func garbage(r result) error {
	return fmt.Errorf("pgledger: %w: unexpected answer %+v", budget.ErrUnavailable, r)
}

// windowEnd returns the end of w's window holding the instant now (Unix ms).
func (l *Ledger) windowEnd(w budget.Window, now int64) time.Time {
	_, end := w.Bounds(time.UnixMilli(now))
	return end
}

// rateRefusal returns the refusal of o by the rate limit of index i (in
// Rates, then KeyRates), whose window figures r carries.
func (l *Ledger) rateRefusal(o *op, i int, r result) error {
	rate, key := budget.Rate{}, ""
	if i < len(l.pol.Rates) {
		rate = l.pol.Rates[i]
	} else {
		rate, key = l.pol.KeyRates[i-len(l.pol.Rates)], o.key
	}
	ex := &budget.ExceededError{Limit: rate.Limit, Spent: budget.Amount(r.spent), Reserved: budget.Amount(r.reserved),
		Requested: o.amount, Key: key, Period: rate.Period, Rate: true, Resets: l.windowEnd(rate.Window(l.pol.Window.Location), o.now)}
	if key != "" {
		return fmt.Errorf("budget of key %q: %w", key, ex)
	}
	return ex
}

// crossings returns the alert crossings marked by a commit (r.fired).
func (l *Ledger) crossings(r result, alerts []int32) []budget.Crossing {
	if r.fired == 0 {
		return nil
	}
	var cs []budget.Crossing
	for b := range 2 * len(alerts) {
		if r.fired&(1<<b) == 0 {
			continue
		}
		c := budget.Crossing{Period: l.pol.Window.Period, Generation: uint64(r.gen), Window: l.pol.Window.Start(uint64(r.gen)),
			Threshold: float64(alerts[b%len(alerts)]) / 1e6, Limit: l.limit, Spent: budget.Amount(r.spent)}
		if b >= len(alerts) {
			c.Key, c.Limit, c.Spent = r.holdKey, budget.Amount(r.keyLimit), budget.Amount(r.keySpent)
		}
		cs = append(cs, c)
	}
	return cs
}
