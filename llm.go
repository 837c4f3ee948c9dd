package baar

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tmc/langchaingo/callbacks"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/tokens"
	"github.com/baarcore/baar/internal/usage"
	"github.com/baarcore/baar/scoring"
)

// Tier is one of the two models a Router routes between.
type Tier struct {
	// Model answers the calls routed to this tier.
	Model llms.Model
	// Name is the model id used for pricing and telemetry, e.g. "gpt-4o-mini".
	// It must have a price: in the embedded table (budget.Lookup) or given
	// with WithPrice.
	Name string
	// Provider is the OpenTelemetry provider name, e.g. "openai",
	// "anthropic", "gcp.gemini". Empty means inferred from Name where obvious.
	Provider string
}

// Router is an llms.Model that routes each call to a cheap or a capable model
// by the complexity of the request, under a hard USD budget. It is safe for
// concurrent use.
type Router struct {
	cheap, capable *tier

	ledger    budget.Ledger
	threshold float64
	schedule  ThresholdSchedule
	maxOutput int
	scorer    scoring.Scorer
	handler   callbacks.Handler
	report    func(context.Context, *CallReport)
	failover  bool
	prices    map[string]budget.Price // WithPrice overrides, by model name
	counter   *tokens.Counter
	tel       *telemetry
	policies  []Policy   // in order: threshold, sticky, value gate, exploration, user's
	gate      *valueGate // nil without WithValueFunc
	sticky    *sticky    // nil when disabled
}

type tier struct {
	Tier
	label string
	price budget.Price
	rates budget.Rates // price, compiled once
}

var _ llms.Model = (*Router)(nil)

// New returns a Router over a cheap and a capable model. It fails if a model
// is nil, a tier's model has no price, or an option is invalid.
func New(cheap, capable Tier, opts ...Option) (*Router, error) {
	c := newConfig(opts)
	if c.ledger != nil && c.budgetSet {
		c.fail("baar: WithBudget and WithLedger are exclusive: the ledger carries the budget")
	}
	r := &Router{
		threshold: c.threshold,
		schedule:  c.schedule,
		maxOutput: c.maxOutput,
		scorer:    c.scorer,
		handler:   c.callbacks,
		report:    c.reportFunc,
		failover:  !c.noFailover,
		prices:    c.prices,
		counter:   tokens.NewCounter(),
	}
	var errs []error
	var err error
	if r.cheap, err = r.newTier(cheap, TierCheap); err != nil {
		errs = append(errs, err)
	}
	if r.capable, err = r.newTier(capable, TierCapable); err != nil {
		errs = append(errs, err)
	}
	if err := c.err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if r.maxOutput == 0 {
		for _, t := range []*tier{r.cheap, r.capable} {
			if t.price.MaxOutputTokens <= 0 {
				return nil, fmt.Errorf("baar: the %s model %q has no known maximum output: set WithMaxOutputTokens so every call has an output cap to reserve", t.label, t.Name)
			}
		}
	}
	r.policies = []Policy{thresholdPolicy{}}
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
	if r.tel, err = newTelemetry(c); err != nil {
		return nil, err
	}
	if c.ledger != nil {
		r.ledger = c.ledger
	} else {
		limit, err := budget.FromUSD(c.budgetUSD)
		if err != nil {
			return nil, fmt.Errorf("baar: WithBudget(%v): %w", c.budgetUSD, err)
		}
		m, err := budget.NewMemory(limit)
		if err != nil {
			return nil, fmt.Errorf("baar: %w", err)
		}
		r.ledger = m
	}
	r.tel.observeLedger(r.ledger)
	if r.scorer == nil {
		r.scorer = scoring.Default()
	}
	if c.capableShare != nil {
		samples := make([]scoring.Request, len(c.capableShare.samples))
		for i, s := range c.capableShare.samples {
			samples[i] = scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: s}}}
		}
		t, err := scoring.Calibrate(context.Background(), r.scorer, samples, c.capableShare.share)
		if err != nil {
			return nil, fmt.Errorf("baar: WithCapableShare: %w", err)
		}
		r.threshold = t
	}
	return r, nil
}

func (r *Router) newTier(t Tier, label string) (*tier, error) {
	if t.Model == nil {
		return nil, fmt.Errorf("baar: the %s tier has no model", label)
	}
	if strings.TrimSpace(t.Name) == "" {
		return nil, fmt.Errorf("baar: the %s tier has no Name: the model id is needed to price its calls", label)
	}
	p, ok := r.priceOf(t.Name)
	if !ok {
		return nil, fmt.Errorf("baar: no price for the %s model %q: add it with baar.WithPrice(%q, budget.Price{Input: …, Output: …}) (USD per 1M tokens); unknown models are never assumed free", label, t.Name, t.Name)
	}
	if t.Provider == "" {
		t.Provider = inferProvider(t.Name)
	}
	rates, err := p.Compile()
	if err != nil {
		return nil, fmt.Errorf("baar: the price of the %s model %q: %w", label, t.Name, err)
	}
	return &tier{Tier: t, label: label, price: p, rates: rates}, nil
}

func (r *Router) priceOf(model string) (budget.Price, bool) {
	if p, ok := r.prices[model]; ok {
		return p, true
	}
	return budget.Lookup(model)
}

// ratesOf prices a model a call names with llms.WithModel, or refuses it.
func (r *Router) ratesOf(model string) (budget.Price, budget.Rates, error) {
	p, ok := r.priceOf(model)
	if !ok {
		return p, budget.Rates{}, invalidRequest("llms.WithModel(%q) has no price: add it with baar.WithPrice", model)
	}
	rates, err := p.Compile()
	if err != nil {
		return p, rates, invalidRequest("llms.WithModel(%q): %v", model, err)
	}
	return p, rates, nil
}

func inferProvider(model string) string {
	m := strings.ToLower(model)
	switch {
	case strings.HasPrefix(m, "gpt-"), strings.HasPrefix(m, "o1"), strings.HasPrefix(m, "o3"),
		strings.HasPrefix(m, "o4"), strings.HasPrefix(m, "chatgpt"):
		return "openai"
	case strings.HasPrefix(m, "claude"):
		return "anthropic"
	case strings.HasPrefix(m, "gemini"):
		return "gcp.gemini"
	}
	return ""
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
	rep := &CallReport{Start: time.Now(), BaseThreshold: r.threshold, Score: math.NaN()}
	ctx, span := r.tel.startCall(ctx)
	returned := false
	defer func() {
		if !returned {
			// A panic (the model's, a streaming function's, a policy's) goes
			// on to the caller; the attempt settled its reservation, and
			// the call's span ends.
			rep.Err = errPanicked
			r.tel.endCall(ctx, span, rep)
		}
	}()
	if r.handler != nil {
		r.handler.HandleLLMGenerateContentStart(ctx, messages)
	}
	resp, err := r.generate(ctx, rep, messages, options)
	returned = true
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
	return resp, err
}

// generate is the data path of one call: score → decide → reserve → call →
// normalize usage → settle, with downgrade and failover.
func (r *Router) generate(ctx context.Context, rep *CallReport, msgs []llms.MessageContent, options []llms.CallOption) (*llms.ContentResponse, error) {
	rep.Decision = DecisionRejected
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var co llms.CallOptions
	for _, o := range options {
		if o != nil {
			o(&co)
		}
	}
	if co.CandidateCount < 0 || co.N < 0 || co.MaxTokens < 0 {
		return nil, invalidRequest("negative N, CandidateCount or MaxTokens")
	}
	req, err := scoringRequest(msgs, &co)
	if err != nil {
		return nil, err
	}

	// Score.
	score, serr := r.scorer.Score(ctx, req)
	if serr == nil && math.IsNaN(score) {
		serr = errors.New("scorer returned NaN")
	}
	if serr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rep.ScoreErr, score = serr, math.NaN()
	}
	rep.Score = score

	// Decide.
	st, err := r.ledger.State(ctx)
	if err != nil {
		return nil, fmt.Errorf("baar: reading the budget: %w", err)
	}
	rep.Budget, rep.SpentBefore = st.Limit.USD(), st.Spent.USD()
	rep.Threshold = r.effectiveThreshold(st)
	in := &RouteInput{Request: req, Score: score, Threshold: rep.Threshold, Budget: st, r: r, msgs: msgs, co: &co}
	in.Conversation, _ = ConversationFromContext(ctx)
	rep.Conversation = in.Conversation
	route, err := r.decide(ctx, in)
	rep.Policy, rep.Reason = route.Policy, route.Reason
	if err != nil {
		return nil, err
	}
	want := r.cheap
	if route.Tier == TierCapable {
		want = r.capable
	}

	// Reserve, downgrading when the capable model is unaffordable.
	t := want
	res, a, p, err := r.reserve(ctx, in, t)
	if errors.Is(err, budget.ErrExceeded) && t == r.capable {
		t = r.cheap
		res, a, p, err = r.reserve(ctx, in, t)
		if err == nil {
			rep.Decision = DecisionDowngraded
		}
	} else if err == nil {
		rep.Decision = Decision(t.label)
	}
	if err != nil {
		return nil, err
	}

	// Call and settle; fail over once from capable to cheap.
	resp, err := r.attempt(ctx, rep, t, res, a, p, msgs, options, &co)
	if err == nil && t == r.capable && in.Conversation != "" && r.sticky != nil && route.Policy != "sticky" {
		// Pinned (again) by a capable route of its own; sticky steps do not
		// extend the pin, so WithStickyConversations' bounds hold.
		r.sticky.pin(in.Conversation)
	}
	if err == nil || t == r.cheap || !r.failover {
		return resp, err
	}
	last := &rep.Attempts[len(rep.Attempts)-1]
	if !last.ErrClass.retryable() {
		return nil, err
	}
	res, a, p, rerr := r.reserve(ctx, in, r.cheap)
	if rerr != nil {
		return nil, fmt.Errorf("baar: %s failed (%w); failover to %s refused: %w", t.Name, err, r.cheap.Name, rerr)
	}
	rep.Decision = DecisionFailover
	return r.attempt(ctx, rep, r.cheap, res, a, p, msgs, options, &co)
}

// effectiveThreshold raises the configured threshold with utilization.
func (r *Router) effectiveThreshold(st budget.State) float64 {
	util := 1.0
	if st.Limit > 0 {
		util = min(1, max(0, float64(st.Spent)/float64(st.Limit)))
	}
	eff := r.schedule(r.threshold, util)
	if math.IsNaN(eff) || eff < r.threshold {
		return r.threshold
	}
	return eff
}

// callPlan is the worst case of calling a tier's model for one request: the
// model that answers (the tier's, or the caller's llms.WithModel), its compiled
// price, the output cap per choice and for all choices, the input-token bound
// and the cost of it all.
type callPlan struct {
	model     string
	rates     budget.Rates
	maxTokens int
	output    int64
	input     int64
	est       budget.Amount
}

// plan computes t's worst case for the request: input tokens (a cheap upper
// bound) at the input price plus the output cap (per choice) at the output
// price.
func (r *Router) plan(t *tier, msgs []llms.MessageContent, co *llms.CallOptions) (callPlan, error) {
	p := callPlan{model: t.Name, rates: t.rates, maxTokens: co.MaxTokens}
	price := t.price
	if co.Model != "" && co.Model != t.Name {
		// The caller overrides the provider's model: price that one, or refuse.
		var err error
		if price, p.rates, err = r.ratesOf(co.Model); err != nil {
			return p, err
		}
		p.model = co.Model
	}
	if p.maxTokens == 0 {
		p.maxTokens = r.maxOutput
		if p.maxTokens == 0 {
			p.maxTokens = int(price.MaxOutputTokens)
		}
		if p.maxTokens <= 0 {
			return p, invalidRequest("no output cap for %q: set WithMaxOutputTokens or llms.WithMaxTokens", p.model)
		}
	}
	p.output = outputTokens(p.maxTokens, co)
	p.input = r.counter.Bound(p.model, msgs, co)
	est, err := p.rates.EstimateCost(p.input, p.output)
	if err != nil {
		return p, fmt.Errorf("baar: pricing %s: %w", p.model, err)
	}
	p.est = est
	return p, nil
}

// reserve holds the worst case of calling t (in.plan). It counts the input
// exactly only when the bound does not fit.
func (r *Router) reserve(ctx context.Context, in *RouteInput, t *tier) (budget.Reservation, Attempt, callPlan, error) {
	a := Attempt{Tier: t.label, Model: t.Name, Provider: t.Provider, Streaming: in.co.StreamingFunc != nil || in.co.StreamingReasoningFunc != nil}
	p, err := in.plan(t)
	if err != nil {
		return budget.Reservation{}, a, p, err
	}
	a.Model, a.MaxTokens, a.InputTokensEstimate = p.model, p.maxTokens, p.input
	res, err := r.ledger.Reserve(ctx, p.est)
	if errors.Is(err, budget.ErrExceeded) && tokens.FamilyOf(p.model).Exact() {
		// The bound does not fit: count exactly, where counting is exact.
		// Other tokenizers' counts are estimates that can fall short, so
		// their calls keep the guaranteed bound and are refused instead.
		if n := r.counter.Count(p.model, in.msgs, in.co); n < p.input {
			if e2, err2 := p.rates.EstimateCost(n, p.output); err2 == nil && e2 < p.est {
				a.InputTokensEstimate, p.input, p.est = n, n, e2
				res, err = r.ledger.Reserve(ctx, p.est)
			}
		}
	}
	if err != nil {
		var ex *budget.ExceededError
		if errors.As(err, &ex) {
			return budget.Reservation{}, a, p, newBudgetError(p.model, ex, p.est, err)
		}
		if ctx.Err() != nil {
			return budget.Reservation{}, a, p, ctx.Err()
		}
		return budget.Reservation{}, a, p, fmt.Errorf("baar: reserving %s for %s: %w", p.est, p.model, err)
	}
	a.Reserved = p.est.USD()
	return res, a, p, nil
}

// outputTokens is the output a call may produce: its cap for every choice,
// saturated at math.MaxInt64 (a reservation nothing can afford) rather than
// wrapped.
func outputTokens(maxTokens int, co *llms.CallOptions) int64 {
	m, n := int64(maxTokens), int64(choices(co))
	if m > math.MaxInt64/n {
		return math.MaxInt64
	}
	return m * n
}

// choices is the number of answers a call asks for (N for OpenAI-style
// clients, CandidateCount for Gemini-style ones), at least 1.
func choices(co *llms.CallOptions) int { return max(1, co.CandidateCount, co.N) }

// attempt calls t's model under reservation res and settles it.
func (r *Router) attempt(ctx context.Context, rep *CallReport, t *tier, res budget.Reservation, a Attempt, p callPlan,
	msgs []llms.MessageContent, options []llms.CallOption, co *llms.CallOptions,
) (*llms.ContentResponse, error) {
	start := time.Now()
	rep.Tier, rep.Model = t.label, a.Model
	rep.Estimated += a.Reserved
	streaming := co.StreamingFunc != nil || co.StreamingReasoningFunc != nil
	// Forward the caller's options (nil ones dropped: clients call every
	// option) and append ours; the last option wins. The reservation counts
	// choices(co) answers of MaxTokens each, so both are pinned: a client's
	// own default (googleai.WithDefaultCandidateCount) must not multiply
	// the output behind the Router's back.
	callOpts := make([]llms.CallOption, 0, len(options)+4)
	for _, o := range options {
		if o != nil {
			callOpts = append(callOpts, o)
		}
	}
	if co.MaxTokens == 0 {
		callOpts = append(callOpts, llms.WithMaxTokens(a.MaxTokens))
	}
	if co.CandidateCount == 0 {
		// Not N: llamafile reads N as its context size.
		callOpts = append(callOpts, llms.WithCandidateCount(choices(co)))
	}
	actx, aspan := r.tel.startAttempt(ctx, t, &a)
	settled := false
	defer func() {
		if !settled {
			// The model, or the caller's streaming function, panicked: the
			// provider may have billed, so the reservation is spent; the
			// panic goes on.
			a.Err, a.ErrClass, a.UsageSource = errPanicked, ClassUnknown, "reservation"
			a.SettleErr = r.ledger.Commit(context.WithoutCancel(ctx), res, res.Amount)
			a.Cost = res.Amount.USD()
			r.tel.endAttempt(actx, aspan, &a)
		}
	}()
	r.tel.captureInput(aspan, msgs)
	pctx := actx
	var sw *streamWatch
	var cutErr *BudgetError
	if streaming {
		// Count the stream; cut it (error from the streaming function AND a
		// cancelled context) when it outgrows the reserved output.
		var cancel context.CancelCauseFunc
		pctx, cancel = context.WithCancelCause(actx)
		defer cancel(nil)
		sw = &streamWatch{limit: p.output, cancel: cancel}
		callOpts = sw.wrap(callOpts, co)
	}
	resp, err := t.Model.GenerateContent(pctx, msgs, callOpts...)
	a.Latency = time.Since(start)
	var callerErr error // the caller's own streaming function failed
	if sw != nil {
		partial, cut, uerr := sw.state()
		switch {
		case cut:
			// googleai and vertex return a partial answer and no error.
			cutErr = &BudgetError{Model: a.Model, Requested: a.Reserved, StreamCut: true, Partial: partial, cause: errStreamCut}
			resp, err = nil, cutErr
		case uerr != nil:
			// Whatever the provider made of it (an error of its own, the
			// caller's wrapped, or a partial answer and no error), the call
			// stopped because the caller's function failed: not the
			// provider's fault, not a reason to fail over.
			callerErr = uerr
			if err == nil || !errors.Is(err, uerr) {
				err = uerr
			}
		}
	}

	var cost budget.Amount
	switch {
	case err == nil || callerErr != nil:
		// Answered, or stopped by the caller's streaming function (billed:
		// the provider produced what was streamed, and maybe more). The
		// reported usage, else the reservation: what was streamed is no
		// measure, reasoning and tool calls are billed output that many
		// clients never stream.
		u, ur := usage.FromResponse(resp)
		a.ResponseModel = ur.ResponseModel
		a.FinishReasons = ur.FinishReasons
		cost = res.Amount
		a.UsageSource = "reservation"
		switch {
		case ur.Found && !ur.Invalid:
			a.Usage = u
			if c, cerr := p.rates.Cost(u); cerr == nil {
				cost, a.UsageSource = c, "provider"
			} else {
				a.UsageProblem = cerr.Error()
			}
		case ur.Invalid:
			a.UsageProblem = ur.Problem
		}
		switch {
		case callerErr != nil:
			a.Err, a.ErrClass, resp = err, ClassCaller, nil
		case resp == nil:
			err = fmt.Errorf("baar: %s returned no response and no error", a.Model)
			a.Err, a.ErrClass = err, ClassUnknown
		}
	case err == cutErr:
		// Cut off at the output cap: settled at the reservation.
		a.Err, a.ErrClass = err, ClassBudget
		cost, a.UsageSource = res.Amount, "reservation"
	default:
		a.Err, a.ErrClass = err, classify(ctx, err)
		if a.ErrClass.billed() {
			cost, a.UsageSource = res.Amount, "reservation"
		} else {
			a.UsageSource = "none"
		}
	}
	if a.UsageSource == "none" {
		a.SettleErr = r.ledger.Cancel(context.WithoutCancel(ctx), res)
	} else {
		a.SettleErr = r.ledger.Commit(context.WithoutCancel(ctx), res, cost)
		a.Cost = cost.USD()
	}
	settled = true
	rep.Cost += a.Cost
	r.tel.captureOutput(aspan, resp)
	r.tel.endAttempt(actx, aspan, &a)
	rep.Attempts = append(rep.Attempts, a)
	if err != nil {
		if err == cutErr {
			if st, serr := r.ledger.State(context.WithoutCancel(ctx)); serr == nil {
				cutErr.Limit, cutErr.Spent, cutErr.Reserved = st.Limit.USD(), st.Spent.USD(), st.Reserved.USD()
			}
			return nil, cutErr
		}
		if a.ErrClass == ClassCanceled && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%s: %w)", ctx.Err(), a.Model, err)
		}
		return nil, err
	}
	return resp, nil
}

// Spent returns the settled spend in USD (NaN if the ledger cannot be read).
func (r *Router) Spent() float64 {
	st, err := r.ledger.State(context.Background())
	if err != nil {
		return math.NaN()
	}
	return st.Spent.USD()
}

// Remaining returns the budget left in USD: cap − spent − reservations of calls
// in flight, never below 0 (0 if the ledger cannot be read).
func (r *Router) Remaining() float64 {
	st, err := r.ledger.State(context.Background())
	if err != nil {
		return 0
	}
	return st.Remaining().USD()
}

// Budget returns the cap in USD (NaN if the ledger cannot be read).
func (r *Router) Budget() float64 {
	st, err := r.ledger.State(context.Background())
	if err != nil {
		return math.NaN()
	}
	return st.Limit.USD()
}

// State returns the budget's ledger state.
func (r *Router) State(ctx context.Context) (budget.State, error) { return r.ledger.State(ctx) }

// Threshold returns the configured complexity threshold (after calibration by
// WithCapableShare, if given).
func (r *Router) Threshold() float64 { return r.threshold }
