package baar

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tmc/langchaingo/callbacks"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/tokens"
	"github.com/baarcore/baar/scoring"
)

// Router is an llms.Model that routes each call to a cheap or a capable model
// by the complexity of the request, under a hard USD budget. It is safe for
// concurrent use.
type Router struct {
	cheap, capable *tierModel

	ledger    budget.Ledger
	threshold float64
	schedule  ThresholdSchedule
	maxOutput int // WithMaxOutputTokens; 0: the model's default cap
	minOutput int // the floor of a cap fitted to the budget
	scorer    scoring.Scorer
	handler   callbacks.Handler
	report    func(context.Context, *CallReport)
	failover  bool
	prices    map[string]budget.Price // WithPrice overrides, by model name
	table     *budget.PriceTable      // WithPriceTable, else the embedded table
	counter   *tokens.Counter
	tel       *telemetry
	policies  []Policy      // in order: threshold, sticky, value gate, exploration, user's
	gate      *gatePolicy   // nil without WithValueFunc
	sticky    *sticky       // nil when disabled
	cascade   *cascade      // nil without WithCascade
	warnings  []string      // what New found odd but allowed
	alerts    *budgetAlerts // nil without WithBudgetAlerts (alerts.go)
}

var _ llms.Model = (*Router)(nil)

// New returns a Router over a cheap and a capable model. It fails, naming the
// option to change, if a model is nil, a tier's model has no price, an option
// is invalid, or the configuration could never afford a single call.
func New(cheap, capable Tier, opts ...Option) (*Router, error) {
	c := newConfig(opts)
	r := &Router{
		threshold: c.threshold,
		schedule:  c.schedule,
		maxOutput: c.maxOutput,
		minOutput: c.minOutput,
		scorer:    c.scorer,
		handler:   c.callbacks,
		report:    c.reportFunc,
		failover:  !c.noFailover,
		prices:    c.prices,
		table:     c.priceTable,
		counter:   tokens.NewCounter(),
		policies:  []Policy{thresholdPolicy{}},
	}
	if r.table == nil {
		r.table = budget.EmbeddedPrices()
	}
	if r.scorer == nil {
		r.scorer = scoring.Default()
	}
	if err := r.newTiers(c, cheap, capable); err != nil {
		return nil, err
	}
	r.newPolicies(c)
	var err error
	if r.ledger, err = newLedger(c); err != nil {
		return nil, err
	}
	if err := r.checkAffordable(c); err != nil {
		return nil, err
	}
	if r.tel, err = newTelemetry(c); err != nil {
		return nil, err
	}
	r.tel.observeLedger(r.ledger)
	if r.alerts, err = newBudgetAlerts(c, r.ledger); err != nil {
		return nil, err
	}
	if c.alerts != nil {
		r.tel.alertThresholds = slices.Clone(c.alerts.thresholds)
	}
	if r.cascade, err = newCascade(c); err != nil {
		return nil, err
	}
	if c.capableShare != nil {
		if r.threshold, err = calibrateThreshold(r.scorer, c.capableShare); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// newTiers prices and checks the two tiers, and collects the options' errors
// with theirs.
func (r *Router) newTiers(c *config, cheap, capable Tier) error {
	var errs []error
	var err error
	if r.cheap, err = r.newTier(cheap, TierCheap); err != nil {
		errs = append(errs, err)
	}
	if r.capable, err = r.newTier(capable, TierCapable); err != nil {
		errs = append(errs, err)
	}
	if r.cheap != nil && r.capable != nil {
		errs = append(errs, r.checkTiers()...)
	}
	if err := c.err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// newPolicies orders the policies: threshold, sticky, value gate,
// exploration, the user's.
func (r *Router) newPolicies(c *config) {
	if r.sticky = newSticky(c.sticky); r.sticky != nil {
		r.policies = append(r.policies, r.sticky)
	}
	if c.valueGate != nil {
		r.gate = c.valueGate
		r.policies = append(r.policies, r.gate)
	}
	if c.exploration != nil {
		r.policies = append(r.policies, c.exploration)
	}
	r.policies = append(r.policies, c.policies...)
}

// newLedger is WithLedger's ledger, else a new in-memory one: with budgets
// per key when WithKeyBudget is given.
func newLedger(c *config) (budget.Ledger, error) {
	if c.ledger != nil {
		if c.budgetSet || c.keyBudgetSet {
			return nil, errors.New("baar: WithBudget and WithKeyBudget are exclusive with WithLedger: the ledger carries the budget (see budget.Limits)")
		}
		return c.ledger, nil
	}
	limit, err := budget.FromUSD(c.budgetUSD)
	if err != nil {
		return nil, fmt.Errorf("baar: WithBudget(%v): %w", c.budgetUSD, err)
	}
	if c.keyBudgetSet {
		keyLimit, err := budget.FromUSD(c.keyBudgetUSD)
		if err != nil {
			return nil, fmt.Errorf("baar: WithKeyBudget(%v): %w", c.keyBudgetUSD, err)
		}
		l, err := budget.NewScoped(limit, budget.Limits{KeyLimit: keyLimit})
		if err != nil {
			return nil, fmt.Errorf("baar: %w", err)
		}
		return l, nil
	}
	m, err := budget.NewMemory(limit)
	if err != nil {
		return nil, fmt.Errorf("baar: %w", err)
	}
	return defaultLedger{m}, nil
}

// defaultLedger is the in-memory ledger New makes without WithLedger or
// WithKeyBudget: it has no budgets per key, so a call that names a key is
// refused rather than silently held to the global budget only.
type defaultLedger struct{ *budget.Memory }

// checkAffordable refuses a configuration whose budget could never afford a
// single call: one input token and the smallest output cap on the cheap
// model. A budget of exactly $0 is the kill switch, and allowed.
func (r *Router) checkAffordable(c *config) error {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	st, err := r.ledger.State(ctx)
	if err != nil || st.Limit == 0 {
		return nil // a ledger that cannot be read now fails closed on every call
	}
	out := min(r.minOutput, r.outputCap(r.cheap, r.cheap.price))
	least, err := r.cheap.rates.EstimateCost(1, int64(out))
	if err != nil || least <= st.Limit {
		return nil
	}
	knob := fmt.Sprintf("raise WithBudget(%v)", c.budgetUSD)
	if c.ledger != nil {
		knob = "raise the ledger's limit"
	}
	return fmt.Errorf("baar: a budget of %s can never afford a call of the cheap model %q: one input token and %d output tokens cost %s; %s, or lower WithMinOutputTokens / WithMaxOutputTokens",
		st.Limit, r.cheap.Name, out, least, knob)
}

// checkKey refuses a call that names a budget key (ContextWithBudgetKey)
// when the ledger is one that has no budgets per key (the default one, a
// budget.Memory): the key would be silently ignored. Ledgers of other types
// decide for themselves what a key means.
func checkKey(ctx context.Context, l budget.Ledger) error {
	if key, ok := budget.KeyFromContext(ctx); ok {
		switch l.(type) {
		case defaultLedger, *budget.Memory:
			return invalidRequest("budget key %q: this ledger has no budgets per key; set WithKeyBudget, or WithLedger with a ledger of budget.Limits (budget.NewScoped, budget.OpenFile, redisledger.New, pgledger.New)", key)
		}
	}
	return nil
}

// calibrateThreshold is WithCapableShare's threshold.
func calibrateThreshold(scorer scoring.Scorer, cs *capableShare) (float64, error) {
	samples := make([]scoring.Request, len(cs.samples))
	for i, s := range cs.samples {
		samples[i] = scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: s}}}
	}
	t, err := scoring.Calibrate(context.Background(), scorer, samples, cs.share)
	if err != nil {
		return 0, fmt.Errorf("baar: WithCapableShare: %w", err)
	}
	return t, nil
}

// Call implements llms.Model.Call through llms.GenerateFromSinglePrompt.
func (r *Router) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, r, prompt, options...)
}

// GenerateContent implements llms.Model. It scores the request, picks a tier,
// reserves the call's worst-case cost, calls the model with an output cap,
// settles the reservation to the reported usage, and fails over from the
// capable model to the cheap one on retryable errors. A call the budget cannot
// afford returns a *BudgetError (errors.Is ErrBudgetExceeded) without any
// provider request.
func (r *Router) GenerateContent(ctx context.Context, messages []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	rep := &CallReport{Start: time.Now(), BaseThreshold: r.threshold, Score: math.NaN(), Doubt: math.NaN()}
	ctx, span := r.tel.startCall(ctx)
	returned := false
	defer func() {
		if !returned {
			// A panic (the model's, a streaming function's, a policy's) goes
			// on to the caller once the call is recorded like any other:
			// the attempt settled its reservation and added its cost.
			r.finish(ctx, span, rep, nil, errPanicked)
		}
	}()
	if r.handler != nil {
		r.handler.HandleLLMGenerateContentStart(ctx, messages)
	}
	resp, err := r.generate(ctx, rep, messages, options)
	returned = true
	r.finish(ctx, span, rep, resp, err)
	return resp, err
}

// finish records a call: the report's closing figures, the callbacks, the
// span and the report function.
func (r *Router) finish(ctx context.Context, span callSpan, rep *CallReport, resp *llms.ContentResponse, err error) {
	rep.Err = err
	rep.Latency = time.Since(rep.Start)
	if st, serr := r.ledger.State(context.WithoutCancel(ctx)); serr == nil {
		rep.Budget, rep.SpentAfter, rep.Remaining = st.Limit.USD(), st.Spent.USD(), st.Remaining().USD()
	}
	if r.handler != nil {
		if err != nil {
			r.handler.HandleLLMError(ctx, err)
		} else {
			r.handler.HandleLLMGenerateContentEnd(ctx, resp)
		}
	}
	r.tel.endCall(ctx, span, rep)
	if r.report != nil {
		r.report(ctx, rep)
	}
}

// generate is the data path of one call: score → decide → reserve → call →
// normalize usage → settle, with downgrade and failover.
func (r *Router) generate(ctx context.Context, rep *CallReport, msgs []llms.MessageContent, options []llms.CallOption) (*llms.ContentResponse, error) {
	rep.Decision = DecisionRejected
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := r.newRouteInput(ctx, msgs, options)
	if err != nil {
		return nil, err
	}
	if err := checkKey(ctx, r.ledger); err != nil {
		return nil, err
	}

	// Score.
	if err := r.score(ctx, rep, in); err != nil {
		return nil, err
	}

	// Decide.
	st, err := r.ledger.State(ctx)
	if err != nil {
		return nil, fmt.Errorf("baar: reading the budget: %w", err)
	}
	rep.Budget, rep.SpentBefore = st.Limit.USD(), st.Spent.USD()
	rep.Threshold = r.effectiveThreshold(st)
	in.Threshold, in.Budget = rep.Threshold, st
	rep.Conversation = in.Conversation
	rep.BudgetKey, _ = budget.KeyFromContext(ctx)
	route, err := r.decide(ctx, in)
	rep.Policy, rep.Reason = route.Policy, route.Reason
	if err != nil {
		return nil, err
	}
	t := r.cheap
	if route.Tier == TierCapable {
		t = r.capable
	}

	// A cascade's cheap-first call: sample → verify → accept or escalate.
	if r.cascade != nil && t == r.cheap && route.Policy == PolicyThreshold {
		return r.cascadeCall(ctx, rep, in)
	}

	// Reserve, downgrading when the capable model is unaffordable.
	h, err := r.reserve(ctx, in, t)
	if errors.Is(err, budget.ErrExceeded) && t == r.capable {
		errors.As(err, &rep.Downgrade)
		t = r.cheap
		if h, err = r.reserve(ctx, in, t); err == nil {
			rep.Decision = DecisionDowngraded
		}
	} else if err == nil {
		rep.Decision = Decision(t.label)
	}
	if err != nil {
		return nil, err
	}

	// Call and settle; fail over once from capable to cheap.
	resp, err := r.attempt(ctx, rep, in, h)
	if err == nil && t == r.capable && in.Conversation != "" && r.sticky != nil && route.Policy != PolicySticky {
		// Pinned (again) by a capable route of its own; sticky steps do not
		// extend the pin, so WithStickyConversations' bounds hold.
		r.sticky.pin(in.Conversation)
	}
	if err == nil || t == r.cheap || !r.failover || !failsOver(err, rep.Attempts[len(rep.Attempts)-1].ErrClass) {
		return resp, err
	}
	h, rerr := r.reserve(ctx, in, r.cheap)
	if rerr != nil {
		return nil, fmt.Errorf("baar: %s failed (%w); failover to %s refused: %w", t.Name, err, r.cheap.Name, rerr)
	}
	rep.Decision = DecisionFailover
	h.a.Step = StepFailover
	return r.attempt(ctx, rep, in, h)
}

// score rates the request. A scorer that fails (or returns NaN) does not fail
// the call: its score is NaN, which no threshold reaches, and the error is
// reported; only the caller's own cancellation ends the call.
func (r *Router) score(ctx context.Context, rep *CallReport, in *RouteInput) error {
	score, err := r.scorer.Score(ctx, in.Request)
	if err == nil && math.IsNaN(score) {
		err = errors.New("scorer returned NaN")
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep.ScoreErr, score = err, math.NaN()
	}
	rep.Score, in.Score = score, score
	return nil
}

// failsOver reports whether a failed capable attempt is tried again on the
// cheap model: on errors that may go away (rate limits, 5xx, timeouts, the
// network) and on errors no class fits (a client that drops the HTTP status,
// as langchaingo's ollama does), but not once part of a stream reached the
// caller, nor on errors another model would repeat or that are not the
// provider's (auth, bad request, budget, quota, the caller's own).
func failsOver(err error, class ErrorClass) bool {
	var si *StreamInterruptedError
	if errors.As(err, &si) {
		return false
	}
	return class.retryable() || class == ClassUnknown
}

// newRouteInput validates a call and converts it for the scorer and the
// policies.
func (r *Router) newRouteInput(ctx context.Context, msgs []llms.MessageContent, options []llms.CallOption) (*RouteInput, error) {
	in := &RouteInput{r: r, msgs: msgs, opts: options, co: &llms.CallOptions{}}
	for _, o := range options {
		if o != nil {
			o(in.co)
		}
	}
	if in.co.CandidateCount < 0 || in.co.N < 0 || in.co.MaxTokens < 0 {
		return nil, invalidRequest("negative N, CandidateCount or MaxTokens")
	}
	req, err := scoringRequest(msgs, in.co)
	if err != nil {
		return nil, err
	}
	in.Request = req
	for _, m := range req.Messages {
		in.sentBytes += int64(len(m.Text))
	}
	if in.sentBytes == 0 && req.Attachments == 0 && req.ToolCalls == 0 {
		return nil, invalidRequest("the request has no content: every message's text is empty")
	}
	in.Conversation, _ = ConversationFromContext(ctx)
	return in, nil
}

// effectiveThreshold raises the configured threshold with utilization.
func (r *Router) effectiveThreshold(st budget.State) float64 { return r.raise(r.threshold, st) }

// stateTimeout bounds how long Spent, Remaining and Budget wait for the
// ledger.
const stateTimeout = 5 * time.Second

// Spent, Remaining and Budget are conveniences over State for reports and
// dashboards. They read the ledger with a bounded wait (5 s) and all follow
// one rule when it cannot be read (its store is down or slow): they return
// NaN, which compares false with every number, so a check such as
// `r.Remaining() > need` fails closed. Use State for the error and a context
// of your own.

// Spent returns the settled spend in USD, or NaN if the ledger cannot be read.
func (r *Router) Spent() float64 {
	return r.stateUSD(func(st budget.State) budget.Amount { return st.Spent })
}

// Remaining returns the budget left in USD, cap − spent − reservations of calls
// in flight, never below 0; NaN if the ledger cannot be read.
func (r *Router) Remaining() float64 {
	return r.stateUSD(budget.State.Remaining)
}

// Budget returns the cap in USD, or NaN if the ledger cannot be read.
func (r *Router) Budget() float64 {
	return r.stateUSD(func(st budget.State) budget.Amount { return st.Limit })
}

func (r *Router) stateUSD(f func(budget.State) budget.Amount) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	st, err := r.ledger.State(ctx)
	if err != nil {
		return math.NaN()
	}
	return f(st).USD()
}

// State returns the budget's ledger state: the context form of Spent,
// Remaining and Budget, with the ledger's error.
func (r *Router) State(ctx context.Context) (budget.State, error) { return r.ledger.State(ctx) }

// Close releases what New acquired: it waits until the budget alerts already
// queued (WithBudgetAlerts) are delivered and stops their goroutine, and it
// closes the file of WithTelemetryLogFile. It does not close the ledger (the
// caller owns WithLedger's). A closed Router still answers calls; it no
// longer delivers alerts or writes its telemetry log. Close is idempotent and
// safe for concurrent use.
func (r *Router) Close() error {
	if r.alerts != nil {
		r.alerts.close()
	}
	if r.tel == nil || r.tel.log == nil {
		return nil
	}
	if err := r.tel.log.close(); err != nil {
		return fmt.Errorf("baar: closing the telemetry log: %w", err)
	}
	return nil
}

// Warnings returns what New found odd in the configuration but allowed, such
// as one model on both tiers (the Router then guards a budget without
// routing).
func (r *Router) Warnings() []string { return slices.Clone(r.warnings) }

// Threshold returns the configured complexity threshold (after calibration by
// WithCapableShare, if given).
func (r *Router) Threshold() float64 { return r.threshold }

// raise is the threshold schedule applied to t at the budget's utilization:
// never below t.
func (r *Router) raise(t float64, st budget.State) float64 {
	util := 1.0
	if st.Limit > 0 {
		util = min(1, max(0, float64(st.Spent)/float64(st.Limit)))
	}
	eff := r.schedule(t, util)
	if math.IsNaN(eff) || eff < t {
		return t
	}
	return eff
}
