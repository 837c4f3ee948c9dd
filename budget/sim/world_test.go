package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baarcore/baar/budget"
)

// target is a ledger under simulation: the ledger instances of the
// simulated processes, their crashes, the faults of its store, and an
// auditor that reads every budget's exact figures.
type target interface {
	// ledger returns process p's ledger instance.
	ledger(p int) budget.Ledger
	// restart abandons process p's ledger instance without settling
	// anything (a crash) and gives p a new one.
	restart(p int)
	// audit reads the budget of key ("" is the global budget) in the current
	// window: its exact spent and reserved (Limit is not meaningful).
	// visible is false when the ledger cannot show that budget's figures.
	audit(key string) (st budget.State, visible bool, err error)
	// arm may choose a fault for the next ledger operation; it returns the
	// fault's kind, or "".
	arm(w *world) string
	// fault injects a fault between two steps and returns its kind, or "".
	fault(w *world) string
	// quiesce undoes the faults still in force (restores what can be
	// restored, delivers what is held), before the final checks.
	quiesce(w *world)
	// close releases the target.
	close()
}

// operated is a target whose store can lose acknowledged state (the lossy
// faults): the ledger must then fail closed until the operator answers.
type operated interface {
	target
	// recover is the operator's answer to a lost state (re-creating or
	// re-initializing the budget on purpose): the budget starts again from
	// the state the operator accepts, $0 here. It returns its kind.
	recover(w *world) string
}

// config is what a simulation run exercises.
type config struct {
	kind     string        // the ledger: memory, scoped, file, redis
	steps    int           // steps to run
	procs    int           // simulated processes
	keys     bool          // per-key budgets
	window   bool          // a daily window
	leases   bool          // the ledger charges expired leases
	lossy    bool          // inject the faults that lose acknowledged state
	faults   bool          // inject faults at all
	faultPct int           // percent of steps that inject a fault
	crashPm  int           // per mille of steps that crash a process
	lease    time.Duration // the reservation lease
	retries  bool          // Redis clients retry failed commands (go-redis's default)
	known    bool          // the run is of a known bug's faults (-sim.known)
	limit    budget.Amount // the global limit; 0 means $0.001
}

// callState is where a simulated call's reservation stands.
type callState uint8

const (
	stNone           callState = iota // not counted
	stOpen                            // reserved, acknowledged, not settled
	stCommitted                       // commit acknowledged
	stCancelled                       // cancel acknowledged
	stAbandoned                       // its process crashed: the lease charges it
	stCommitUnknown                   // the commit failed: it may have landed
	stCancelUnknown                   // the cancel failed: it may have landed
	stReserveUnknown                  // the reserve failed: it may exist
)

// call is one simulated model call of a router.
type call struct {
	proc   int
	life   int    // the budget's life it belongs to (see world.life)
	key    string // "" when no key budget applies
	r      budget.Reservation
	gen    uint64
	amount budget.Amount
	actual budget.Amount // the provider's bill once the call returned
	state  callState
}

// bounds are what the acknowledged history allows a budget's figures to
// be in one window.
type bounds struct {
	spentLB budget.Amount // acknowledged commits: Spent never falls below
	lb, ub  budget.Amount // Spent + Reserved lies in [lb, ub]
	billed  budget.Amount // what the provider billed for calls of the window
}

// contribution returns what c adds to the bounds of its budgets.
func (c *call) contribution() (spentLB, lb, ub budget.Amount) {
	switch c.state {
	case stOpen, stAbandoned:
		return 0, c.amount, c.amount
	case stCommitted:
		return c.actual, c.actual, c.actual
	case stCommitUnknown:
		return 0, c.actual, c.amount
	case stCancelUnknown, stReserveUnknown:
		return 0, 0, c.amount
	}
	return 0, 0, 0
}

// event is one entry of the trace printed with a failure.
type event struct {
	step   int
	what   string
	proc   int
	key    string
	id     uint64
	amount budget.Amount
	err    error
}

func (e event) String() string {
	s := fmt.Sprintf("#%d %s p%d", e.step, e.what, e.proc)
	if e.key != "" {
		s += " key=" + e.key
	}
	if e.id != 0 {
		s += fmt.Sprintf(" id=%d", e.id)
	}
	if e.amount != 0 {
		s += fmt.Sprintf(" amount=%d", int64(e.amount))
	}
	if e.err != nil {
		s += " err=" + e.err.Error()
	}
	return s
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashHistory folds e into the FNV-1a digest h: the operation, its
// process, key, ID and amount, and whether it failed (error messages hold
// temporary paths).
func hashHistory(h uint64, e event) uint64 {
	mix := func(b byte) { h = (h ^ uint64(b)) * fnvPrime }
	for i := range len(e.what) {
		mix(e.what[i])
	}
	for i := range len(e.key) {
		mix(e.key[i])
	}
	for _, v := range [4]uint64{uint64(e.step), uint64(e.proc), e.id, uint64(e.amount)} {
		for range 8 {
			mix(byte(v))
			v >>= 8
		}
	}
	if e.err != nil {
		mix(1)
	}
	return h
}

// stats counts what a run exercised.
type stats struct {
	steps, reserves, refusals, failClosed, commits, cancels, crashes, clock, windows, hidden int
	stale                                                                                    int // settlements of an earlier life
	faults                                                                                   map[string]int
}

func (s *stats) add(o *stats) {
	s.steps += o.steps
	s.reserves += o.reserves
	s.refusals += o.refusals
	s.failClosed += o.failClosed
	s.commits += o.commits
	s.cancels += o.cancels
	s.crashes += o.crashes
	s.clock += o.clock
	s.windows += o.windows
	s.hidden += o.hidden
	s.stale += o.stale
	if s.faults == nil {
		s.faults = make(map[string]int)
	}
	for k, v := range o.faults {
		s.faults[k] += v
	}
}

// world is one simulation run: the routers of every process, the model of
// what the ledger acknowledged, the clock, and the checks.
type world struct {
	t     testing.TB
	seed  uint64
	cfg   config
	rng   *rand.Rand
	now   time.Time
	lim   budget.Limits
	limit budget.Amount
	keys  []string // the budget keys calls use; "" is none
	tg    target

	open    []*call // acknowledged, unsettled, of a live process
	retry   []*call // a settlement failed: retried later
	gens    map[uint64]map[string]*bounds
	curGen  uint64
	issued  map[uint64]bool // every reservation ID issued
	provCnt int64           // provider calls made
	reserve int64           // successful reserves
	// lost is set from a fault that lost acknowledged state until the
	// operator's answer: meanwhile every operation must fail closed.
	lost bool
	// life counts the operator's answers: each starts the budget again,
	// with bounds of its own; calls of an earlier life no longer count.
	life   int
	step   int
	st     stats
	trace  [64]event
	ntrace int
	digest uint64 // FNV-1a of the history, to tell replays apart
}

// newWorld returns a run of cfg from seed; the target is made by mk.
func newWorld(t testing.TB, seed uint64, cfg config, mk func(w *world) target) *world {
	w := &world{
		t: t, seed: seed, cfg: cfg,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:    time.Date(2026, time.January, 5, 23, 55, 0, 0, time.UTC),
		limit:  1_000_000,
		keys:   []string{""},
		gens:   make(map[uint64]map[string]*bounds),
		issued: make(map[uint64]bool),
		st:     stats{faults: make(map[string]int)},
		digest: fnvOffset,
	}
	// Start a few minutes before midnight, at a seeded offset, so that
	// the first window boundary comes early.
	w.now = w.now.Add(time.Duration(w.rng.IntN(300_000)) * time.Millisecond)
	if cfg.limit > 0 {
		w.limit = cfg.limit
	}
	w.lim = budget.Limits{Lease: cfg.lease, Now: func() time.Time { return w.now }}
	if cfg.window {
		w.lim.Window = budget.Window{Period: budget.Daily}
	}
	if cfg.keys {
		// Distinct from the global limit, so that a key's figures are
		// told from the global ones (see scopedTarget.audit).
		w.lim.KeyLimits = map[string]budget.Amount{"alice": 500_000, "bob": 300_001}
		w.lim.KeyLimit = 250_003
		w.keys = append(w.keys, "alice", "bob", "carol")
	}
	w.curGen, _ = w.lim.Window.Bounds(w.now)
	w.tg = mk(w)
	return w
}

// limitOf returns the limit of key's budget ("" is the global one).
func (w *world) limitOf(key string) budget.Amount {
	if key == "" {
		return w.limit
	}
	l, _ := w.lim.KeyLimitOf(key)
	return l
}

func (w *world) bounds(gen uint64, key string) *bounds {
	g := w.gens[gen]
	if g == nil {
		g = make(map[string]*bounds)
		w.gens[gen] = g
	}
	b := g[key]
	if b == nil {
		b = &bounds{}
		g[key] = b
	}
	return b
}

// set moves c to state s, keeping the bounds of its budgets up to date.
func (w *world) set(c *call, s callState) {
	sl0, lb0, ub0 := c.contribution()
	c.state = s
	sl1, lb1, ub1 := c.contribution()
	if c.life != w.life || (w.gens[c.gen] == nil && c.gen < w.curGen) {
		return // a window no longer checked, or a budget's earlier life
	}
	for _, k := range [2]string{"", c.key} {
		b := w.bounds(c.gen, k)
		b.spentLB += sl1 - sl0
		b.lb += lb1 - lb0
		b.ub += ub1 - ub0
		if c.key == "" {
			break
		}
	}
}

// bill records the provider's bill for c.
func (w *world) bill(c *call, billed budget.Amount) {
	c.actual = billed
	if c.life != w.life || (w.gens[c.gen] == nil && c.gen < w.curGen) {
		return
	}
	w.bounds(c.gen, "").billed += billed
	if c.key != "" {
		w.bounds(c.gen, c.key).billed += billed
	}
}

func (w *world) log(e event) {
	e.step = w.step
	w.digest = hashHistory(w.digest, e)
	w.trace[w.ntrace%len(w.trace)] = e
	w.ntrace++
}

// fail stops the run, printing the seed, the replay command and the trace.
func (w *world) fail(format string, args ...any) {
	w.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s seed %d step %d (history %016x): %s\n", w.cfg.kind, w.seed, w.step, w.digest, fmt.Sprintf(format, args...))
	fmt.Fprintf(&b, "replay: go test ./budget/sim -run 'TestSimulation/%s' -seed %d", w.cfg.kind, w.seed)
	if w.cfg.known {
		b.WriteString(" -sim.known")
	}
	b.WriteString("\nlast events:\n")
	start := max(0, w.ntrace-len(w.trace))
	for i := start; i < w.ntrace; i++ {
		fmt.Fprintf(&b, "  %v\n", w.trace[i%len(w.trace)])
	}
	w.t.Fatal(b.String())
}

// pick removes and returns a random element of *list.
func pick(rng *rand.Rand, list *[]*call) *call {
	l := *list
	i := rng.IntN(len(l))
	c := l[i]
	l[i] = l[len(l)-1]
	l[len(l)-1] = nil
	*list = l[:len(l)-1]
	return c
}

// amount draws a reservation amount: mostly small, sometimes $0, sometimes
// near a whole budget.
func (w *world) amount() budget.Amount {
	switch n := w.rng.IntN(100); {
	case n < 3:
		return 0
	case n < 8:
		return budget.Amount(w.rng.Int64N(int64(w.limit)))
	default:
		return budget.Amount(1 + w.rng.Int64N(int64(w.limit)/20))
	}
}

// run runs the simulation: cfg.steps steps, each followed by the checks,
// then the final settlement and the exactly-once check.
func (w *world) run() {
	defer w.tg.close()
	for w.step = 1; w.step <= w.cfg.steps; w.step++ {
		w.stepOnce()
		w.check()
		w.st.steps++
	}
	w.finish()
}

// stepOnce runs one step chosen by the seeded scheduler.
func (w *world) stepOnce() {
	if w.lost && w.rng.IntN(100) < 4 {
		w.operate()
		return
	}
	if w.inject("fault ", w.tg.fault) {
		return
	}
	switch n := w.rng.IntN(100); {
	case n < 34:
		w.doReserve()
	case n < 60:
		w.doSettle(true)
	case n < 70:
		w.doSettle(false)
	case n < 77:
		w.doRetry()
	default:
		if w.rng.IntN(1000) < w.cfg.crashPm {
			w.crash(w.rng.IntN(w.cfg.procs))
			return
		}
		w.advance()
	}
}

// armed asks the target for a fault on the next operation.
func (w *world) armed() { w.inject("arm ", w.tg.arm) }

// inject, on faultPct of its calls, asks choose for a fault, and counts
// the one it injected; it reports whether there was one.
func (w *world) inject(what string, choose func(*world) string) bool {
	if !w.cfg.faults || w.rng.IntN(100) >= w.cfg.faultPct {
		return false
	}
	f := choose(w)
	if f != "" {
		w.st.faults[f]++
		w.log(event{what: what + f})
	}
	return f != ""
}

func (w *world) doReserve() {
	p := w.rng.IntN(w.cfg.procs)
	key := w.keys[w.rng.IntN(len(w.keys))]
	amt := w.amount()
	ctx := budget.ContextWithKey(context.Background(), key)
	w.armed()
	r, err := w.tg.ledger(p).Reserve(ctx, amt)
	w.log(event{what: "reserve", proc: p, key: key, id: r.ID, amount: amt, err: err})
	w.st.reserves++
	w.failedClosed("reserve", err)
	var ex *budget.ExceededError
	switch {
	case err == nil:
		if r.Amount != amt || r.Generation != w.curGen {
			w.fail("reserve of %d in window %d returned %+v", amt, w.curGen, r)
		}
		if w.issued[r.ID] {
			w.fail("reservation ID %d issued twice", r.ID)
		}
		w.issued[r.ID] = true
		// The router calls the provider only now, holding the reservation.
		w.provCnt++
		w.reserve++
		c := &call{proc: p, key: key, r: r, gen: r.Generation, amount: amt, life: w.life}
		w.set(c, stOpen)
		w.open = append(w.open, c)
	case errors.As(err, &ex):
		w.st.refusals++
		scope := ex.Key
		if scope != key && scope != "" {
			w.fail("reserve for key %q refused by key %q's budget", key, scope)
		}
		if ex.Requested != amt || (budget.State{Limit: w.limitOf(scope), Spent: ex.Spent, Reserved: ex.Reserved}).CheckReserve(amt) == nil {
			w.fail("refusal not justified by its own figures: %v (limit %d)", err, w.limitOf(scope))
		}
		w.within("refusal of key "+scope, scope, ex.Spent, ex.Reserved)
	case errors.Is(err, budget.ErrUnavailable):
		// Failed closed: no provider call. The reservation may exist.
		w.st.failClosed++
		c := &call{proc: p, key: key, gen: w.curGen, amount: amt, life: w.life}
		w.set(c, stReserveUnknown)
	default:
		w.fail("reserve: unexpected error %v", err)
	}
	if w.provCnt != w.reserve {
		w.fail("%d provider calls for %d successful reserves", w.provCnt, w.reserve)
	}
}

// doSettle settles a random open call: commit at the provider's bill, or
// cancel (the provider call failed before billing).
func (w *world) doSettle(commit bool) {
	if len(w.open) == 0 {
		w.doReserve()
		return
	}
	c := pick(w.rng, &w.open)
	if commit {
		w.bill(c, budget.Amount(w.rng.Int64N(int64(c.amount)+1)))
	} else {
		w.bill(c, 0)
	}
	w.armed()
	w.settle(c, commit)
}

// settle sends c's settlement and records its outcome.
func (w *world) settle(c *call, commit bool) {
	l := w.tg.ledger(c.proc)
	var err error
	what := "cancel"
	if commit {
		what = "commit"
		err = l.Commit(context.Background(), c.r, c.actual)
	} else {
		err = l.Cancel(context.Background(), c.r)
	}
	w.log(event{what: what, proc: c.proc, key: c.key, id: c.r.ID, amount: c.actual, err: err})
	w.failedClosed(what, err)
	switch {
	case c.life != w.life && (err == nil || errors.Is(err, budget.ErrInvalid)):
		// A reservation of the budget's earlier life: the operator gave up
		// its spend; settling it must touch nothing of the new life.
		w.st.stale++
	case err == nil && commit:
		w.st.commits++
		w.set(c, stCommitted)
	case err == nil:
		w.st.cancels++
		w.set(c, stCancelled)
	case errors.Is(err, budget.ErrUnavailable):
		w.st.failClosed++
		if commit {
			w.set(c, stCommitUnknown)
		} else {
			w.set(c, stCancelUnknown)
		}
		w.retry = append(w.retry, c)
	default:
		w.fail("%s of reservation %+v: unexpected error %v", what, c.r, err)
	}
}

// failedClosed checks that, while the budget's state is lost, the
// operation of what failed closed: no ledger resumes from a lost state
// without the operator.
func (w *world) failedClosed(what string, err error) {
	w.t.Helper()
	if w.lost && !errors.Is(err, budget.ErrUnavailable) {
		w.fail("%s after a loss of acknowledged state, before the operator's answer: the ledger resumed (error %v), it must fail closed", what, err)
	}
}

// operate is the operator's answer to a lost state (budget.RecreateFile,
// redisledger.Reinitialize). Held requests are delivered first (the
// operator acts on a ledger failing closed, not in the middle of a
// request). The budget then starts again from what the operator accepted,
// $0: the bounds of the acknowledged history start again too, and the
// calls of the earlier life count no more (their settlement must be a
// no-op or refused as not issued).
func (w *world) operate() {
	op, ok := w.tg.(operated)
	if !ok {
		w.fail("a lossy fault on a target without an operator")
	}
	w.tg.quiesce(w)
	kind := op.recover(w)
	w.st.faults[kind]++
	w.log(event{what: "operator " + kind})
	w.lost = false
	w.life++
	clear(w.gens)
}

// stateLost records that a fault lost acknowledged state: until the
// operator's answer, every operation must fail closed.
func (w *world) stateLost() { w.lost = true }

// doRetry retries a failed settlement, as the router does.
func (w *world) doRetry() {
	if len(w.retry) == 0 {
		w.advance()
		return
	}
	c := pick(w.rng, &w.retry)
	w.armed()
	w.settle(c, c.state == stCommitUnknown)
}

// advance moves the clock: a little, past a lease, or to a window boundary.
func (w *world) advance() {
	var d time.Duration
	switch n := w.rng.IntN(100); {
	case n < 70:
		d = time.Duration(1+w.rng.IntN(2000)) * time.Millisecond
	case n < 90 && w.cfg.leases:
		d = w.cfg.lease + time.Duration(w.rng.IntN(int(w.cfg.lease/time.Millisecond)))*time.Millisecond
	case w.cfg.window:
		_, end := w.lim.Window.Bounds(w.now)
		d = end.Sub(w.now) + time.Duration(w.rng.IntN(3)-1)*time.Millisecond
	default:
		d = time.Minute
	}
	w.moveClock(d)
}

// moveClock advances the clock by d ≥ 0.
func (w *world) moveClock(d time.Duration) {
	if d < 0 {
		d = 0
	}
	next := w.now.Add(d)
	g, _ := w.lim.Window.Bounds(next)
	if g != w.curGen {
		// Delayed requests land before the window turns (see
		// redisTarget.quiesce): a window's figures stay its own.
		w.tg.quiesce(w)
	}
	w.now = next
	w.st.clock++
	w.log(event{what: fmt.Sprintf("clock +%v", d)})
	if g != w.curGen {
		w.st.windows++
		for old := range w.gens {
			if old < g {
				delete(w.gens, old)
			}
		}
		w.curGen = g
	}
}

// crash kills process p: its open calls are abandoned to their leases, its
// failed settlements are never retried, and it restarts.
func (w *world) crash(p int) {
	w.st.crashes++
	w.log(event{what: "crash", proc: p})
	w.open = w.abandon(w.open, p, true)
	w.retry = w.abandon(w.retry, p, false)
	w.tg.restart(p)
}

func (w *world) abandon(list []*call, p int, open bool) []*call {
	return slices.DeleteFunc(list, func(c *call) bool {
		if c.proc != p {
			return false
		}
		if open {
			// The provider may have billed the call in full.
			w.bill(c, c.amount)
			w.set(c, stAbandoned)
		}
		return true
	})
}

// within checks spent and reserved of key's budget in the current window
// against the acknowledged history.
func (w *world) within(what, key string, spent, reserved budget.Amount) {
	w.t.Helper()
	b := w.bounds(w.curGen, key)
	limit := w.limitOf(key)
	total := spent + reserved
	switch {
	case spent < 0 || reserved < 0 || spent > limit || reserved > limit || total > limit:
		w.fail("%s: spent %d + reserved %d exceeds the limit %d", what, spent, reserved, limit)
	case spent < b.spentLB:
		w.fail("%s: acknowledged spend lost: spent %d < %d acknowledged by commits", what, spent, b.spentLB)
	case total < b.lb:
		w.fail("%s: spent %d + reserved %d < %d held or spent by acknowledged calls", what, spent, reserved, b.lb)
	case total > b.ub:
		w.fail("%s: phantom charge: spent %d + reserved %d > %d, the most any call could hold", what, spent, reserved, b.ub)
	}
}

// check checks the invariants of every budget in the current window.
func (w *world) check() {
	w.t.Helper()
	for _, k := range w.keys {
		if b := w.bounds(w.curGen, k); b.billed > w.limitOf(k) {
			w.fail("budget %q: the provider billed %d, over the limit %d", k, b.billed, w.limitOf(k))
		}
		st, visible, err := w.tg.audit(k)
		switch {
		case errors.Is(err, budget.ErrUnavailable):
			continue // failed closed: nothing to read, nothing reserved
		case err != nil:
			w.fail("state of %q: unexpected error %v", k, err)
		case !visible:
			w.st.hidden++
			continue
		}
		w.within(fmt.Sprintf("budget %q", k), k, st.Spent, st.Reserved)
	}
}

// finish settles what can be settled, lets the leases charge the rest, and
// checks that every reservation ended exactly once: with no failure left
// ambiguous, spent + reserved is exactly what the history says, and
// nothing stays reserved.
func (w *world) finish() {
	w.step++
	w.cfg.faults = false
	if w.lost {
		w.operate()
	}
	w.tg.quiesce(w)
	for len(w.retry) > 0 {
		c := w.retry[len(w.retry)-1]
		w.retry = w.retry[:len(w.retry)-1]
		before := len(w.retry)
		w.settle(c, c.state == stCommitUnknown)
		if len(w.retry) > before {
			w.fail("settlement still failing after the faults ended: %+v", c.r)
		}
	}
	for len(w.open) > 0 {
		c := pick(w.rng, &w.open)
		w.bill(c, c.amount/2)
		w.settle(c, true)
	}
	if w.cfg.leases {
		_, end := w.lim.Window.Bounds(w.now)
		d := w.cfg.lease + time.Millisecond
		if !end.IsZero() && !w.now.Add(d).Before(end) {
			return // the leases end in the next window, unread
		}
		w.moveClock(d)
		// A $0 reservation runs the lease sweep in every ledger.
		if r, err := w.tg.ledger(0).Reserve(context.Background(), 0); err == nil {
			if err := w.tg.ledger(0).Cancel(context.Background(), r); err != nil {
				w.fail("cancel of the sweeping reservation: %v", err)
			}
		}
	}
	w.check()
	for _, k := range w.keys {
		b := w.bounds(w.curGen, k)
		if b.lb != b.ub {
			continue // an ambiguous failure: only the bounds hold
		}
		st, visible, err := w.tg.audit(k)
		if err != nil || !visible {
			continue
		}
		if st.Spent+st.Reserved != b.lb || (w.cfg.leases && st.Reserved != 0) {
			w.fail("budget %q after settling everything: spent %d, reserved %d; want %d in all, reserved 0 with leases",
				k, st.Spent, st.Reserved, b.lb)
		}
	}
}
