package main

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/scoring"
)

// Results.
const (
	pass = "PASS"
	fail = "FAIL"
)

// result is one row of the table.
type result struct {
	Check   string  `json:"check"`
	Tried   string  `json:"tried"`
	Result  string  `json:"result"`
	Spent   float64 `json:"spent_usd"`
	Cap     float64 `json:"cap_usd"`
	NoSpend bool    `json:"no_spend,omitempty"` // no router spent anything that matters (e.g. New must fail)
	Detail  string  `json:"detail"`
	// Failures are the failed conditions (empty for a PASS); Detail holds
	// them, then the observations.
	Failures []string `json:"failures,omitempty"`
	Seconds  float64  `json:"seconds"`
}

func (r result) spendCell() string {
	if r.NoSpend {
		return "-"
	}
	return fmt.Sprintf("$%.6f / $%.6f", r.Spent, r.Cap)
}

func (r result) duration() time.Duration { return time.Duration(r.Seconds * float64(time.Second)) }

// check is one adversarial scenario. run fills the outcome: Result is FAIL as
// soon as one of its conditions fails (see outcome.failf).
type check struct {
	name  string
	tried string
	run   func(ctx context.Context, e *env, o *outcome)
}

// outcome collects a check's verdict while it runs. It is safe for concurrent
// use (checks report from many goroutines).
type outcome struct {
	mu       sync.Mutex
	failures []string
	notes    []string
	spent    float64
	cap      float64
	noSpend  bool
}

// failf records a failed condition.
func (o *outcome) failf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failures = append(o.failures, fmt.Sprintf(format, args...))
}

// notef records an observation for the detail column.
func (o *outcome) notef(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.notes = append(o.notes, fmt.Sprintf(format, args...))
}

// spend records the spend against the cap for the table.
func (o *outcome) spend(spent, cap float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.spent, o.cap = spent, cap
}

// addSpend adds a router's spend and cap (checks with several routers).
func (o *outcome) addSpend(spent, cap float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.spent += spent
	o.cap += cap
}

func (o *outcome) result(c check, d time.Duration) result {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := result{Check: c.name, Tried: c.tried, Result: pass, Spent: o.spent, Cap: o.cap, NoSpend: o.noSpend, Seconds: d.Seconds()}
	parts := o.notes
	if len(o.failures) > 0 {
		r.Result = fail
		r.Failures = append([]string(nil), o.failures...)
		parts = append(append([]string(nil), o.failures...), o.notes...)
	}
	r.Detail = strings.Join(parts, "; ")
	return r
}

// env is what the checks share: the configuration, resolved prices and the
// calibrated threshold.
type env struct {
	c            *config
	cheapPrice   budget.Price
	capablePrice budget.Price
	threshold    float64 // calibrated to a 20% capable share on the built-in sample
	scorer       scoring.Scorer
}

func newEnv(ctx context.Context, c *config) (*env, error) {
	e := &env{c: c, scorer: c.scorer}
	if e.scorer == nil {
		e.scorer = scoring.Default()
	}
	var ok bool
	if e.cheapPrice, ok = priceOf(c.cheapModel, c.cheapPrice); !ok {
		return nil, fmt.Errorf("no price for the cheap model %q: give --cheap-price IN,OUT (USD per 1M tokens)", c.cheapModel)
	}
	if e.capablePrice, ok = priceOf(c.capableModel, c.capablePrice); !ok {
		return nil, fmt.Errorf("no price for the capable model %q: give --capable-price IN,OUT (USD per 1M tokens)", c.capableModel)
	}
	samples := make([]scoring.Request, 0, len(easyPrompts)+len(hardPrompts))
	for _, p := range append(append([]string(nil), easyPrompts...), hardPrompts...) {
		samples = append(samples, humanRequest(p))
	}
	th, err := scoring.Calibrate(ctx, e.scorer, samples, capableShare)
	if err != nil {
		return nil, fmt.Errorf("calibrating the threshold: %w", err)
	}
	e.threshold = th
	// The user's configuration must make a Router: fail early with New's own
	// message otherwise.
	if _, err := e.newRouter(&baartest.Model{}, &baartest.Model{}, c.budgetUSD); err != nil {
		return nil, err
	}
	return e, nil
}

func priceOf(model string, flagPrice *budget.Price) (budget.Price, bool) {
	if flagPrice != nil {
		return *flagPrice, true
	}
	return budget.Lookup(model)
}

func humanRequest(text string) scoring.Request {
	return scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: text}}}
}

// runCheck runs ch under the check time limit, turning a panic or a hang into
// a FAIL row.
func (e *env) runCheck(ctx context.Context, ch check) result {
	start := time.Now()
	o := &outcome{}
	cctx, cancel := context.WithTimeout(ctx, e.c.checkLimit)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				o.failf("panic: %v (%s)", p, firstFrames(debug.Stack()))
			}
		}()
		ch.run(cctx, e, o)
	}()
	select {
	case <-done:
	case <-cctx.Done():
		// Give the check a moment to notice its cancelled context.
		select {
		case <-done:
		case <-time.After(min(2*time.Second, e.c.checkLimit)):
		}
		if !closed(done) {
			o.failf("did not return within %v: hung (left running)", e.c.checkLimit)
		} else if ctx.Err() == nil {
			o.failf("ran into the %v check time limit", e.c.checkLimit)
		}
	}
	return o.result(ch, time.Since(start))
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// firstFrames returns the panicking frame of a stack, for the detail column.
func firstFrames(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i, l := range lines {
		if strings.Contains(l, "panic(") && i+2 < len(lines) {
			return strings.TrimSpace(lines[i+2]) + " " + strings.TrimSpace(lines[min(i+3, len(lines)-1)])
		}
	}
	return ""
}

// rig is a Router with its witness ledger and report collector.
type rig struct {
	router *baar.Router
	ledger *witness
	calls  *collector
	capUSD float64
}

// newRouter builds a Router over cheap and capable with the configured
// models, prices and output cap, a fresh ledger of capUSD (wrapped by the
// test hook, then by a witness), the calibrated threshold and a report
// collector. extra options are applied last.
func (e *env) newRouter(cheap, capable llms.Model, capUSD float64, extra ...baar.Option) (*rig, error) {
	return e.newRouterNamed(e.c.cheapModel, e.c.capableModel, cheap, capable, capUSD, extra...)
}

// newRouterNamed is newRouter with other tier model names.
func (e *env) newRouterNamed(cheapName, capableName string, cheap, capable llms.Model, capUSD float64, extra ...baar.Option) (*rig, error) {
	limit, err := budget.FromUSD(capUSD)
	if err != nil {
		return nil, err
	}
	mem, err := budget.NewMemory(limit)
	if err != nil {
		return nil, err
	}
	var l budget.Ledger = mem
	if e.c.wrapLedger != nil {
		l = e.c.wrapLedger(l)
	}
	w := &witness{inner: l, limit: limit}
	col := &collector{}
	opts := []baar.Option{
		baar.WithLedger(w),
		baar.WithMaxOutputTokens(e.c.maxOutput),
		baar.WithComplexityThreshold(e.threshold),
		baar.WithReportFunc(col.add),
	}
	if e.c.cheapPrice != nil {
		opts = append(opts, baar.WithPrice(e.c.cheapModel, *e.c.cheapPrice))
	}
	if e.c.capablePrice != nil {
		opts = append(opts, baar.WithPrice(e.c.capableModel, *e.c.capablePrice))
	}
	if e.c.scorer != nil {
		opts = append(opts, baar.WithScorer(e.c.scorer))
	}
	opts = append(opts, extra...)
	r, err := baar.New(
		baar.Tier{Model: cheap, Name: cheapName},
		baar.Tier{Model: capable, Name: capableName},
		opts...)
	if err != nil {
		return nil, err
	}
	return &rig{router: r, ledger: w, calls: col, capUSD: capUSD}, nil
}

// openaiModel is langchaingo's real openai client for model, pointed at srv.
func openaiModel(srv *baartest.Server, model string, extra ...openai.Option) (llms.Model, error) {
	opts := append([]openai.Option{openai.WithToken("baar-stress"), openai.WithBaseURL(srv.URL()), openai.WithModel(model)}, extra...)
	return openai.New(opts...)
}

// httpRig is a Router over langchaingo's openai client for both tiers,
// against one simulator.
func (e *env) httpRig(srv *baartest.Server, capUSD float64, extra ...baar.Option) (*rig, error) {
	cheap, err := openaiModel(srv, e.c.cheapModel)
	if err != nil {
		return nil, err
	}
	capable, err := openaiModel(srv, e.c.capableModel)
	if err != nil {
		return nil, err
	}
	return e.newRouter(cheap, capable, capUSD, extra...)
}

// worstCase is the worst-case cost of a call at price p with
// inputTokens of input and the configured output cap.
func (e *env) worstCase(p budget.Price, inputTokens int64) float64 {
	return (float64(inputTokens)*p.Input + float64(e.c.maxOutput)*p.Output) / 1e6
}

// witness is a budget.Ledger that passes every operation to inner and checks
// the ledger's invariants as they happen:
//   - after every operation, spent + reserved ≤ limit (unless a settlement
//     above its reservation was recorded, which the ledger must then keep
//     recording truthfully);
//   - once the recorded spend exceeds the limit, no Reserve succeeds;
//   - the limit the ledger reports never changes.
type witness struct {
	inner budget.Ledger
	limit budget.Amount

	reserves, refusals, commits, cancels atomic.Int64
	overran                              atomic.Bool  // spent > limit was observed
	reservedAfterOverrun                 atomic.Int64 // reservations granted after that
	overCommitted                        atomic.Int64 // settlements above their reservation
	maxExcess                            atomic.Int64 // the largest excess of a settlement over its reservation
	maxUsed                              atomic.Int64 // largest spent+reserved seen, nano-dollars
	limitChanged                         atomic.Bool
	stateErrs                            atomic.Int64
}

var _ budget.Ledger = (*witness)(nil)

func (w *witness) observe(ctx context.Context) {
	st, err := w.inner.State(context.WithoutCancel(ctx))
	if err != nil {
		w.stateErrs.Add(1)
		return
	}
	if st.Limit != w.limit {
		w.limitChanged.Store(true)
	}
	storeMax(&w.maxUsed, int64(st.Spent+st.Reserved))
	if st.Spent > st.Limit {
		w.overran.Store(true)
	}
}

// storeMax raises m to v if v is larger.
func storeMax(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

// Reserve implements budget.Ledger.
func (w *witness) Reserve(ctx context.Context, amount budget.Amount) (budget.Reservation, error) {
	overranBefore := w.overran.Load()
	r, err := w.inner.Reserve(ctx, amount)
	if err != nil {
		if errors.Is(err, budget.ErrExceeded) {
			w.refusals.Add(1)
		}
		return r, err
	}
	w.reserves.Add(1)
	if overranBefore && amount > 0 {
		w.reservedAfterOverrun.Add(1)
	}
	w.observe(ctx)
	return r, nil
}

// Commit implements budget.Ledger.
func (w *witness) Commit(ctx context.Context, r budget.Reservation, actual budget.Amount) error {
	err := w.inner.Commit(ctx, r, actual)
	w.commits.Add(1)
	if actual > r.Amount {
		w.overCommitted.Add(1)
		storeMax(&w.maxExcess, int64(actual-r.Amount))
	}
	w.observe(ctx)
	return err
}

// Cancel implements budget.Ledger.
func (w *witness) Cancel(ctx context.Context, r budget.Reservation) error {
	err := w.inner.Cancel(ctx, r)
	w.cancels.Add(1)
	w.observe(ctx)
	return err
}

// State implements budget.Ledger.
func (w *witness) State(ctx context.Context) (budget.State, error) { return w.inner.State(ctx) }

// verify checks the witness's invariants and the final state: nothing left
// reserved, and spent ≤ cap unless overrunAllowed. It returns the final state.
func (w *witness) verify(o *outcome, overrunAllowed bool) budget.State {
	st, err := w.inner.State(context.Background())
	if err != nil {
		o.failf("reading the ledger: %v", err)
		return st
	}
	if w.limitChanged.Load() || st.Limit != w.limit {
		o.failf("the ledger's limit changed from %s to %s", w.limit, st.Limit)
	}
	if st.Reserved != 0 {
		o.failf("%s still reserved after every call returned (a reservation leaked)", st.Reserved)
	}
	if n := w.stateErrs.Load(); n > 0 {
		o.failf("%d ledger reads failed", n)
	}
	if !overrunAllowed {
		if st.Spent > st.Limit {
			o.failf("spent %s > cap %s", st.Spent, st.Limit)
		}
		over := w.overCommitted.Load()
		if m := budget.Amount(w.maxUsed.Load()); m > w.limit && over == 0 {
			o.failf("spent+reserved reached %s > cap %s during the run", m, w.limit)
		}
		if over > 0 {
			// The provider reported more tokens than the Router reserved
			// for. The truth is recorded; the cap must still hold (checked
			// above), which it does only while the excess fits.
			o.notef("NOTE: %d settlements exceeded their reservation, by up to %s (the simulator counts input as bytes/4, more than the exact tokenizer count the Router reserves with near the cap)",
				over, budget.Amount(w.maxExcess.Load()))
		}
	}
	if n := w.reservedAfterOverrun.Load(); n > 0 {
		o.failf("%d reservations were granted after the spend exceeded the cap", n)
	}
	return st
}

// callRecord is what the checks keep of a CallReport (reports must not be
// retained).
type callRecord struct {
	decision    baar.Decision
	score       float64
	threshold   float64
	base        float64
	spentBefore float64
	budget      float64
	estimated   float64
	cost        float64
	err         error
	attempts    []attemptRecord
}

type attemptRecord struct {
	tier        baar.TierLabel
	model       string
	reserved    float64
	cost        float64
	usageSource baar.UsageSource
	errClass    baar.ErrorClass
	settleErr   error
	streaming   bool
	outputToks  int64
	maxTokens   int
}

// collector gathers CallReports; it is safe for concurrent use.
type collector struct {
	mu   sync.Mutex
	recs []callRecord
}

func (c *collector) add(_ context.Context, r *baar.CallReport) {
	rec := callRecord{decision: r.Decision, score: r.Score, threshold: r.Threshold, base: r.BaseThreshold,
		spentBefore: r.SpentBefore, budget: r.Budget, estimated: r.Estimated, cost: r.Cost, err: r.Err}
	for _, a := range r.Attempts {
		rec.attempts = append(rec.attempts, attemptRecord{tier: a.Tier, model: a.Model, reserved: a.Reserved, cost: a.Cost,
			usageSource: a.UsageSource, errClass: a.ErrClass, settleErr: a.SettleErr, streaming: a.Streaming,
			outputToks: a.Usage.OutputTokens, maxTokens: a.MaxTokens})
	}
	c.mu.Lock()
	c.recs = append(c.recs, rec)
	c.mu.Unlock()
}

func (c *collector) records() []callRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]callRecord(nil), c.recs...)
}

// tally sums what the reports say.
type tally struct {
	calls, refused, answered, failed int
	attempts                         int64
	byTier                           map[baar.TierLabel]int64 // attempts per tier
	decisions                        map[baar.Decision]int
	cost                             budget.Amount // sum of the attempts' settled costs
	settleErrs                       int
	refusedWithAttempts              int
}

func (c *collector) tally() tally {
	t := tally{byTier: map[baar.TierLabel]int64{}, decisions: map[baar.Decision]int{}}
	for _, r := range c.records() {
		t.calls++
		t.decisions[r.decision]++
		switch {
		case r.err == nil:
			t.answered++
		case errors.Is(r.err, baar.ErrBudgetExceeded) && len(r.attempts) == 0:
			t.refused++
		default:
			t.failed++
		}
		if r.decision == baar.DecisionRejected && len(r.attempts) > 0 {
			t.refusedWithAttempts++
		}
		for _, a := range r.attempts {
			t.attempts++
			t.byTier[a.tier]++
			amt, err := budget.FromUSD(a.cost)
			if err == nil {
				t.cost += amt
			}
			if a.settleErr != nil {
				t.settleErrs++
			}
		}
	}
	return t
}

// verifyAccounting checks that the reports account for every provider request
// and every settled dollar: providerRequests must equal the attempts the
// reports list (so no refused call reached the provider), refused calls list
// no attempt, settlements were recorded, and the ledger's spend equals the sum
// of the attempts' costs (to a nano-dollar per attempt).
func verifyAccounting(o *outcome, t tally, providerRequests int64, st budget.State) {
	if providerRequests != t.attempts {
		o.failf("the provider received %d requests but the reports list %d attempts", providerRequests, t.attempts)
	}
	if t.refusedWithAttempts > 0 {
		o.failf("%d refused calls list provider attempts", t.refusedWithAttempts)
	}
	if t.settleErrs > 0 {
		o.failf("%d settlements failed", t.settleErrs)
	}
	diff := st.Spent - t.cost
	if diff < 0 {
		diff = -diff
	}
	if diff > budget.Amount(t.attempts+1) {
		o.failf("the ledger spent %s but the attempts' costs sum to %s", st.Spent, t.cost)
	}
}

func usd(v float64) string { return fmt.Sprintf("$%.6f", v) }
