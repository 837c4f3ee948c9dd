package baar

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tmc/langchaingo/embeddings"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/tokens"
)

// Embedder is an embeddings.Embedder that charges every call to a hard USD
// budget, as a Router does for chat calls: each EmbedDocuments or EmbedQuery
// reserves the worst case of its whole input before the wrapped embedder is
// called (one reservation per call, however the embedder batches it), is
// refused locally with a *BudgetError and no provider request when the budget
// cannot afford it, and is settled once when it returns.
//
// To charge embeddings and chat calls to one budget, give the Embedder and
// the Router the same ledger with WithLedger; a call carrying a budget key
// (ContextWithBudgetKey) is charged to that key's budget in ledgers that have
// budgets per key, as for the Router.
//
// # Settlement
//
// An embedding request bills its input tokens only. A call is settled at:
//   - the provider's reported input tokens, when the wrapped embedder reports
//     them (it implements [UsageEmbedder]) and they are plausible (at least
//     one token per 128 bytes sent);
//   - otherwise, for OpenAI's embedding models (text-embedding-3-small,
//     text-embedding-3-large, text-embedding-ada-002: cl100k_base), the exact
//     token count of the texts as sent, which is what OpenAI bills
//     (UsageSource "count"). langchaingo's embedders report no usage, so this
//     is the usual case. The texts are counted while the provider works, up
//     to 8 MiB per call; a larger call is settled at its reservation;
//   - otherwise (other models, whose tokenizers are not public or not in
//     Go), the reservation: a guaranteed upper bound (the texts' bytes, 25%
//     more and one token per text), never $0;
//   - for a failed call: the reservation when the provider may have billed
//     it (a timeout, a 5xx, a broken connection, a cancelled call, a panic),
//     nothing when it cannot have (an authentication, bad-request, rate-limit
//     or quota error) and the call was a single request. A call the wrapped
//     embedder may have split into batches (more than one text, unless it is
//     an *embeddings.EmbedderImpl whose BatchSize holds them all) is settled
//     at its reservation whatever the error: an earlier batch may have been
//     billed.
//
// # Input
//
// An empty text list makes no request and costs nothing. Text that is not
// valid UTF-8 is refused with ErrInvalidRequest. The reservation is a byte
// bound computed in O(bytes), so a huge input the budget cannot afford is
// refused in milliseconds, not tokenized. The wrapped embedder receives a
// copy of the text slice: langchaingo's EmbedderImpl replaces newlines in
// the slice it is given, and the caller's slice is left as it was.
//
// # Telemetry
//
// Each call (refusals included) gets a CLIENT span "embeddings {model}" with
// gen_ai.operation.name "embeddings", gen_ai.request.model,
// gen_ai.provider.name when known, gen_ai.usage.input_tokens when the count
// is exact or reported, gen_ai.embeddings.dimension.count, the number of
// texts, the reserved and settled cost (baar.cost.usd, and gen_ai.usage.cost
// unless WithCostAlias(false)), the budget figures, and error.type; never any
// text. Calls that reach the provider record gen_ai.client.operation.duration,
// gen_ai.client.token.usage (input) and the baar.cost counter (by model and
// operation). The budget gauges and the telemetry log (one line per call,
// with "operation":"embeddings" and decision "embedded" or "rejected") work
// as for the Router.
//
// An Embedder is safe for concurrent use if the wrapped embedder is.
type Embedder struct {
	e        embeddings.Embedder
	reporter UsageEmbedder // e, when it reports usage
	model    string
	provider string
	source   string // the price's provenance
	rates    budget.Rates
	ledger   budget.Ledger
	counter  *tokens.Counter
	tel      *embedTelemetry
	report   func(context.Context, *CallReport)
}

var _ embeddings.Embedder = (*Embedder)(nil)

// UsageEmbedder is implemented by embedders that know the input tokens their
// provider billed for a call (summed over the batches they split it into).
// An Embedder over a UsageEmbedder calls these methods instead of
// EmbedDocuments and EmbedQuery, and settles the call at the reported
// tokens. langchaingo's embedders do not report usage.
type UsageEmbedder interface {
	embeddings.Embedder
	// EmbedDocumentsWithUsage is EmbedDocuments, and the input tokens billed.
	EmbedDocumentsWithUsage(ctx context.Context, texts []string) ([][]float32, int64, error)
	// EmbedQueryWithUsage is EmbedQuery, and the input tokens billed.
	EmbedQueryWithUsage(ctx context.Context, text string) ([]float32, int64, error)
}

// DecisionEmbedded is the Decision of an Embedder's call that the budget
// afforded: the provider was called (CallReport.Err says whether it failed).
// A call refused before any provider request is DecisionRejected.
const DecisionEmbedded Decision = "embedded"

// UsageFromCount is the UsageSource of an Embedder's call settled at the
// exact token count of its input (OpenAI's embedding models), the provider
// having reported none.
const UsageFromCount UsageSource = "count"

// NewEmbedder returns an Embedder that embeds with e, prices its calls as
// model (an embedding model of the price table, e.g.
// "text-embedding-3-small", or one given with WithPrice) and charges them to
// a budget.
//
// It takes the Router's options that apply to embeddings: WithBudget or
// WithLedger, WithPrice and WithPriceTable, WithTracerProvider,
// WithMeterProvider, WithBudgetName, WithCostAlias, WithTelemetryLog or
// WithTelemetryLogFile, and WithReportFunc (whose CallReport has one
// Attempt and no routing figures). The routing options (WithScorer,
// WithComplexityThreshold, WithThresholdSchedule, WithCapableShare,
// WithPolicy, WithValueFunc, WithValueGate, WithExploration,
// WithStickyConversations, WithCascade, WithEscalationThreshold,
// WithEscalationShare, WithCascadeBypass, WithFailover), the chat options
// (WithMaxOutputTokens, WithCallbacks) and WithContentCapture (an Embedder
// never records its texts) make it fail, naming the option.
//
// It fails if e is nil, model is empty, model has no price (unknown models
// are never assumed free: give one with WithPrice), or model's price is not
// an embedding model's (budget.Price.Mode is not budget.ModeEmbedding: a chat
// model named by mistake; price a model of your own with
// WithPrice(model, budget.Price{Input: …, Mode: budget.ModeEmbedding})).
func NewEmbedder(e embeddings.Embedder, model string, opts ...Option) (*Embedder, error) {
	c := newEmbedderConfig(opts)
	var errs []error
	if e == nil {
		errs = append(errs, errors.New("baar: NewEmbedder: the embedder is nil"))
	}
	if strings.TrimSpace(model) == "" {
		errs = append(errs, errors.New("baar: NewEmbedder: empty model name: the model id is needed to price its calls"))
	}
	if c.ledger != nil && c.budgetSet {
		c.fail("baar: WithBudget and WithLedger are exclusive: the ledger carries the budget")
	}
	c.embedderOnly()
	if err := c.err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	table := c.priceTable
	if table == nil {
		table = budget.EmbeddedPrices()
	}
	p, ok := priceOf(table, c.prices, model)
	if !ok {
		return nil, fmt.Errorf("baar: no price for the embedding model %q in the price table (%s): add it with baar.WithPrice(%q, budget.Price{Input: …, Mode: budget.ModeEmbedding}) (USD per 1M tokens) or load a table with baar.WithPriceTable; unknown models are never assumed free", model, table.Source(), model)
	}
	if p.Mode != budget.ModeEmbedding {
		return nil, fmt.Errorf("baar: %q is priced as a chat model (mode %q), not an embedding model: check the model name, or price it with baar.WithPrice(%q, budget.Price{Input: …, Mode: budget.ModeEmbedding})", model, p.Mode, model)
	}
	rates, err := p.Compile()
	if err != nil {
		return nil, fmt.Errorf("baar: the price of the embedding model %q: %w", model, err)
	}
	em := &Embedder{
		e:        e,
		model:    model,
		provider: embeddingProvider(model),
		source:   priceSource(p),
		rates:    rates,
		counter:  tokens.NewCounter(),
		report:   c.reportFunc,
	}
	em.reporter, _ = e.(UsageEmbedder)
	tel, err := newTelemetry(c)
	if err != nil {
		return nil, err
	}
	em.tel = newEmbedTelemetry(tel, model, em.provider)
	if em.ledger, err = newLedger(c); err != nil {
		return nil, err
	}
	tel.observeLedger(em.ledger)
	return em, nil
}

// EmbedDocuments implements embeddings.Embedder: it returns a vector for each
// text, once the budget has afforded the whole call.
func (e *Embedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	sent := slices.Clone(texts)
	var vecs [][]float32
	err := e.call(ctx, texts, e.singleRequest(len(texts)), func(ctx context.Context) (int64, bool, int, error) {
		var n int64
		var err error
		reported := e.reporter != nil
		if reported {
			vecs, n, err = e.reporter.EmbedDocumentsWithUsage(ctx, sent)
		} else {
			vecs, err = e.e.EmbedDocuments(ctx, sent)
		}
		if err == nil && len(vecs) != len(texts) {
			return n, reported, 0, &vectorCountError{model: e.model, got: len(vecs), want: len(texts)}
		}
		if len(vecs) > 0 {
			return n, reported, len(vecs[0]), err
		}
		return n, reported, 0, err
	})
	if err != nil {
		return nil, err
	}
	return vecs, nil
}

// EmbedQuery implements embeddings.Embedder: it embeds a single text, once
// the budget has afforded it.
func (e *Embedder) EmbedQuery(ctx context.Context, text string) ([]float32, error) {
	var vec []float32
	err := e.call(ctx, []string{text}, true, func(ctx context.Context) (int64, bool, int, error) {
		var n int64
		var err error
		reported := e.reporter != nil
		if reported {
			vec, n, err = e.reporter.EmbedQueryWithUsage(ctx, text)
		} else {
			vec, err = e.e.EmbedQuery(ctx, text)
		}
		return n, reported, len(vec), err
	})
	if err != nil {
		return nil, err
	}
	return vec, nil
}

// State returns the budget's ledger state.
func (e *Embedder) State(ctx context.Context) (budget.State, error) { return e.ledger.State(ctx) }

// Model returns the model the Embedder prices its calls as.
func (e *Embedder) Model() string { return e.model }

// embedFunc calls the wrapped embedder: it returns the input tokens it
// reports and whether it reports any, the vectors' dimension, and its error.
type embedFunc func(ctx context.Context) (tokens int64, reported bool, dims int, err error)

// call is the data path of one call: validate → reserve → embed (counting
// the input meanwhile) → settle → record.
func (e *Embedder) call(ctx context.Context, texts []string, single bool, do embedFunc) error {
	rep := &CallReport{Start: time.Now(), Decision: DecisionRejected, Model: e.model, Score: math.NaN(), Doubt: math.NaN()}
	rep.BudgetKey, _ = budget.KeyFromContext(ctx)
	ctx, span := e.tel.start(ctx)
	st := embedStats{inputs: len(texts)}
	returned := false
	defer func() {
		if !returned {
			// The wrapped embedder panicked: the attempt was settled at its
			// reservation; the panic goes on once the call is recorded.
			e.finish(ctx, span, rep, st, errPanicked)
		}
	}()
	err := e.embed(ctx, rep, &st, texts, single, do)
	returned = true
	e.finish(ctx, span, rep, st, err)
	return err
}

// embedStats are the facts of a call that its report does not hold.
type embedStats struct {
	inputs, dims int
}

// embed validates, reserves, calls the embedder and settles.
func (e *Embedder) embed(ctx context.Context, rep *CallReport, st *embedStats, texts []string, single bool, do embedFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(ctx, e.ledger); err != nil {
		return err
	}
	var sentBytes int64
	for i, s := range texts {
		if !utf8.ValidString(s) {
			return invalidRequest("text %d of %d is not valid UTF-8", i+1, len(texts))
		}
		sentBytes += int64(len(s))
	}
	s, err := e.ledger.State(ctx)
	if err != nil {
		return fmt.Errorf("baar: reading the budget: %w", err)
	}
	rep.Budget, rep.SpentBefore = s.Limit.USD(), s.Spent.USD()

	// Reserve the whole call's worst case.
	h, err := e.reserve(ctx, texts)
	if err != nil {
		return err
	}
	rep.Decision, rep.Estimated = DecisionEmbedded, h.est.USD()
	a := &Attempt{Step: StepAnswer, Model: e.model, Provider: e.provider, InputTokensEstimate: h.input,
		PriceSource: e.source, Reserved: h.est.USD()}

	// Count the input exactly while the provider works.
	var counted chan textCount
	if !h.counted && tokens.FamilyOf(e.model).Exact() {
		counted = make(chan textCount, 1)
		go func() {
			n, exact := e.counter.CountTexts(e.model, e.asSent(texts), tokens.TextCountLimit)
			counted <- textCount{n, exact}
		}()
	}
	start := time.Now()
	settled := false
	defer func() {
		if !settled {
			a.Err, a.ErrClass, a.Latency = errPanicked, ClassUnknown, time.Since(start)
			e.record(ctx, rep, a, h.res, embedSettlement{settlement: settlement{cost: h.res.Amount, source: UsageFromReservation}})
		}
	}()
	n, reported, dims, err := do(ctx)
	a.Latency = time.Since(start)
	o := embedOutcome{single: single, reported: n, reportedOK: reported, sentBytes: sentBytes}
	if h.counted {
		o.count, o.exact = h.input, true
	} else if counted != nil {
		c := <-counted
		o.count, o.exact = c.n, c.exact
	}
	var vce *vectorCountError
	switch {
	case err == nil:
	case errors.As(err, &vce):
		// The provider answered, and billed, but not with one vector per
		// text.
		a.Err, a.ErrClass = err, ClassUnknown
	default:
		o.class = classify(ctx, err)
		a.Err, a.ErrClass = err, o.class
	}
	e.record(ctx, rep, a, h.res, settleEmbedding(o, e.rates, h.res.Amount))
	settled = true
	if err != nil {
		if o.class == ClassCanceled && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%s: %w)", ctx.Err(), e.model, err)
		}
		return err
	}
	st.dims = dims
	return nil
}

// vectorCountError is the error of an embedder that returned a different
// number of vectors than it was given texts.
type vectorCountError struct {
	model     string
	got, want int
}

func (e *vectorCountError) Error() string {
	return fmt.Sprintf("baar: %s returned %d vectors for %d texts", e.model, e.got, e.want)
}

// textCount is an input's token count and whether it is exact.
type textCount struct {
	n     int64
	exact bool
}

// embedHold is a call's reservation: its input-token bound (or exact count,
// when counted), the worst-case cost and what the ledger holds.
type embedHold struct {
	input   int64
	counted bool // input is the exact count
	est     budget.Amount
	res     budget.Reservation
}

// reserve holds the call's worst case: its input-token bound at the input
// price. When that does not fit and the model's count is exact, it counts the
// input (up to tokens.CountLimit bytes, so that a huge input is refused
// without being tokenized) and reserves the count. A refusal is a
// *BudgetError.
func (e *Embedder) reserve(ctx context.Context, texts []string) (embedHold, error) {
	h := embedHold{input: tokens.TextsBound(e.model, texts)}
	est, err := e.rates.EstimateCost(h.input, 0)
	if err != nil {
		return h, fmt.Errorf("baar: pricing %s: %w", e.model, err)
	}
	res, err := e.ledger.Reserve(ctx, est)
	if errors.Is(err, budget.ErrExceeded) && tokens.FamilyOf(e.model).Exact() {
		if n, exact := e.counter.CountTexts(e.model, e.asSent(texts), tokens.CountLimit); exact && n < h.input {
			if e2, err2 := e.rates.EstimateCost(n, 0); err2 == nil && e2 < est {
				h.input, h.counted, est = n, true, e2
				res, err = e.ledger.Reserve(ctx, est)
			}
		}
	}
	h.est = est
	if err != nil {
		var ex *budget.ExceededError
		if errors.As(err, &ex) {
			be := newBudgetError(e.model, ex, est, err)
			be.noOutput = true
			return h, be
		}
		if ctx.Err() != nil {
			return h, ctx.Err()
		}
		return h, fmt.Errorf("baar: reserving %s for %s: %w", est, e.model, err)
	}
	h.res = res
	return h, nil
}

// asSent returns texts as the wrapped embedder sends them: langchaingo's
// EmbedderImpl replaces newlines with spaces when StripNewLines is set (its
// default), which changes the token count but not the bytes.
func (e *Embedder) asSent(texts []string) []string {
	impl, ok := e.e.(*embeddings.EmbedderImpl)
	if !ok || !impl.StripNewLines {
		return texts
	}
	var out []string
	for i, s := range texts {
		if strings.Contains(s, "\n") {
			if out == nil {
				out = slices.Clone(texts)
			}
			out[i] = strings.ReplaceAll(s, "\n", " ")
		}
	}
	if out == nil {
		return texts
	}
	return out
}

// singleRequest reports whether embedding n texts is one provider request:
// one text, or an *embeddings.EmbedderImpl whose batch holds them all.
func (e *Embedder) singleRequest(n int) bool {
	if n <= 1 {
		return true
	}
	impl, ok := e.e.(*embeddings.EmbedderImpl)
	return ok && impl.BatchSize >= n
}

// record settles the call's reservation as s says and adds the attempt to
// rep.
func (e *Embedder) record(ctx context.Context, rep *CallReport, a *Attempt, res budget.Reservation, s embedSettlement) {
	a.UsageSource, a.UsageProblem = s.source, s.problem
	if s.source == UsageNone {
		a.SettleErr = e.ledger.Cancel(context.WithoutCancel(ctx), res)
	} else {
		a.SettleErr = e.ledger.Commit(context.WithoutCancel(ctx), res, s.cost)
		a.Cost = s.cost.USD()
	}
	if s.source == UsageFromProvider || s.source == UsageFromCount {
		a.Usage = budget.Usage{InputTokens: s.tokens}
	}
	rep.Cost += a.Cost
	rep.Attempts = append(rep.Attempts, *a)
}

// finish records a call: the report's closing figures, the span, the
// metrics, the telemetry log and the report function.
func (e *Embedder) finish(ctx context.Context, span embedSpan, rep *CallReport, st embedStats, err error) {
	rep.Err = err
	rep.Latency = time.Since(rep.Start)
	if s, serr := e.ledger.State(context.WithoutCancel(ctx)); serr == nil {
		rep.Budget, rep.SpentAfter, rep.Remaining = s.Limit.USD(), s.Spent.USD(), s.Remaining().USD()
	}
	e.tel.end(ctx, span, rep, st)
	if e.report != nil {
		e.report(ctx, rep)
	}
}

// embedOutcome is what an Embedder's call came back with, as its settlement
// rule sees it.
type embedOutcome struct {
	// class is the error's class; "" when the embedder answered.
	class ErrorClass
	// single reports a call made as one provider request.
	single bool
	// reported is the embedder's reported input tokens, when reportedOK.
	reported   int64
	reportedOK bool
	// count is the input's token count, exact when exact.
	count int64
	exact bool
	// sentBytes is the text sent: the floor reported usage must reach.
	sentBytes int64
}

// embedSettlement is what the ledger is told about an Embedder's call, and
// the input tokens it was settled at (provider or count).
type embedSettlement struct {
	settlement
	tokens int64
}

// settleEmbedding is the settlement rule of an Embedder's call, a pure
// function (see Embedder): the reported tokens when valid and plausible,
// else the exact count, else the reservation; for errors, the rule of
// settle, except that a call that may have been split into batches is
// never settled at nothing.
func settleEmbedding(o embedOutcome, rates budget.Rates, reserved budget.Amount) embedSettlement {
	if o.class != "" {
		s := settle(outcome{class: o.class}, rates, reserved)
		if s.source == UsageNone && !o.single {
			s = settlement{cost: reserved, source: UsageFromReservation,
				problem: "the call may have been sent in batches, of which an earlier one may have been billed"}
		}
		return embedSettlement{settlement: s}
	}
	var problem string
	if o.reportedOK {
		s := settle(outcome{usage: budget.Usage{InputTokens: o.reported}, usageOK: true, sentBytes: o.sentBytes}, rates, reserved)
		if s.source == UsageFromProvider {
			return embedSettlement{settlement: s, tokens: o.reported}
		}
		problem = s.problem
	}
	if o.exact {
		if c, err := rates.Cost(budget.Usage{InputTokens: o.count}); err == nil {
			return embedSettlement{settlement: settlement{cost: c, source: UsageFromCount, problem: problem}, tokens: o.count}
		}
	}
	return embedSettlement{settlement: settlement{cost: reserved, source: UsageFromReservation, problem: problem}}
}

// embeddingProvider is the gen_ai.provider.name of an embedding model, when
// its name tells.
func embeddingProvider(model string) string {
	m := strings.ToLower(model)
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	switch {
	case strings.HasPrefix(m, "text-embedding-3"), strings.HasPrefix(m, "text-embedding-ada"):
		return "openai"
	case strings.HasPrefix(m, "text-embedding-0"), strings.HasPrefix(m, "text-multilingual-embedding"):
		return "gcp.vertex_ai"
	case strings.HasPrefix(m, "gemini-embedding"):
		return "gcp.gemini"
	case strings.HasPrefix(m, "mistral-embed"), strings.HasPrefix(m, "codestral-embed"):
		return "mistral_ai"
	}
	return inferProvider(model)
}
