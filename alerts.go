package baar

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/baarcore/baar/budget"
)

// BudgetAlert is a budget alert threshold crossed (WithBudgetAlerts): the
// settled spend of a budget — the global one, or a key's — reached
// Threshold × Limit in its window. Amounts are in USD.
type BudgetAlert struct {
	// Budget is the budget's name (WithBudgetName), "" when unnamed.
	Budget string
	// Key is the budget key (ContextWithBudgetKey) whose budget crossed the
	// threshold; "" for the global budget.
	Key string
	// Period is the period of the budget's window (budget.Limits.Window) and
	// Window the instant the window started; the zero time for a budget
	// that never resets.
	Period budget.Period
	Window time.Time
	// Threshold is the fraction of Limit that was reached.
	Threshold float64
	// Spent is the budget's settled spend right after the call that crossed
	// the threshold; Limit its main limit.
	Spent, Limit float64
}

// alertQueueSize is the most alerts waiting for the callback; more are
// dropped and counted (Router.DroppedBudgetAlerts).
const alertQueueSize = 256

// alertConfig is WithBudgetAlerts's configuration.
type alertConfig struct {
	thresholds []float64
	fn         func(context.Context, BudgetAlert)
}

// budgetAlerts delivers a Router's budget alerts.
type budgetAlerts struct {
	fn      func(context.Context, BudgetAlert)
	name    string
	store   budget.Alerter // nil: marks kept here (local)
	local   *localMarks
	queue   chan queuedAlert
	start   sync.Once
	done    chan struct{} // closed when run has delivered the last alert
	mu      sync.RWMutex  // guards closed against deliver's send
	closed  bool
	dropped atomic.Uint64
}

type queuedAlert struct {
	ctx context.Context
	a   BudgetAlert
}

// newBudgetAlerts sets up c's alerts on ledger l; nil without
// WithBudgetAlerts.
func newBudgetAlerts(c *config, l budget.Ledger) (*budgetAlerts, error) {
	if c.alerts == nil {
		return nil, nil
	}
	b := &budgetAlerts{fn: c.alerts.fn, name: c.tel.budgetName, queue: make(chan queuedAlert, alertQueueSize), done: make(chan struct{})}
	if s, ok := l.(budget.Alerter); ok {
		if err := s.SetAlerts(c.alerts.thresholds); err != nil {
			return nil, fmt.Errorf("baar: WithBudgetAlerts: %w", err)
		}
		b.store = s
		return b, nil
	}
	ppm, err := budget.AlertLevels(c.alerts.thresholds)
	if err != nil {
		return nil, err
	}
	b.local = &localMarks{ppm: ppm}
	return b, nil
}

// commit commits res at cost in r's ledger and reports the alerts it
// crossed on the call's span, metric and report, and to the callback.
func (r *Router) commit(ctx context.Context, rep *CallReport, res budget.Reservation, cost budget.Amount) error {
	b := r.alerts
	if b == nil {
		return r.ledger.Commit(ctx, res, cost)
	}
	var cs []budget.Crossing
	var err error
	if b.store != nil {
		cs, err = b.store.CommitWithAlerts(ctx, res, cost)
	} else if err = r.ledger.Commit(ctx, res, cost); err == nil {
		cs = b.local.check(ctx, r.ledger)
	}
	for _, c := range cs {
		a := BudgetAlert{Budget: b.name, Key: c.Key, Period: c.Period, Window: c.Window, Threshold: c.Threshold,
			Spent: c.Spent.USD(), Limit: c.Limit.USD()}
		rep.Alerts = append(rep.Alerts, a)
		r.tel.budgetAlert(ctx, a)
		b.deliver(ctx, a)
	}
	return err
}

// deliver queues a for the callback, or drops it when the queue is full or
// the Router is closed.
func (b *budgetAlerts) deliver(ctx context.Context, a BudgetAlert) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		b.dropped.Add(1)
		return
	}
	b.start.Do(func() { go b.run() })
	select {
	case b.queue <- queuedAlert{ctx: context.WithoutCancel(ctx), a: a}:
	default:
		b.dropped.Add(1)
	}
}

// run calls the callback for each queued alert, until the queue is closed
// and empty.
func (b *budgetAlerts) run() {
	defer close(b.done)
	for q := range b.queue {
		b.call(q)
	}
}

// close stops taking alerts and waits until the queued ones are delivered.
func (b *budgetAlerts) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.start.Do(func() { go b.run() })
	<-b.done
}

// call runs the callback, recovering a panic so that one bad alert does not
// stop the others.
func (b *budgetAlerts) call(q queuedAlert) {
	defer func() { _ = recover() }()
	b.fn(q.ctx, q.a)
}

// DroppedBudgetAlerts returns the number of budget alerts dropped because
// the WithBudgetAlerts callback was too slow to empty its queue.
func (r *Router) DroppedBudgetAlerts() uint64 {
	if r.alerts == nil {
		return 0
	}
	return r.alerts.dropped.Load()
}

// localMarks are the alert marks of the global budget of a ledger that
// keeps none (not a budget.Alerter), per process.
type localMarks struct {
	ppm   []uint32
	mu    sync.Mutex
	fired []uint32
}

// check reads the global budget's state and returns the thresholds reached
// that were not yet marked.
func (m *localMarks) check(ctx context.Context, l budget.Ledger) []budget.Crossing {
	st, err := l.State(budget.ContextWithKey(context.WithoutCancel(ctx), ""))
	if err != nil || st.Limit <= 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.fired) > 0 && st.Spent < budget.AlertAmount(st.Limit, m.ppm[0]) {
		m.fired = m.fired[:0] // the spend fell back: a new window
	}
	var cs []budget.Crossing
	for _, p := range m.ppm {
		if st.Spent >= budget.AlertAmount(st.Limit, p) && !slices.Contains(m.fired, p) {
			m.fired = append(m.fired, p)
			cs = append(cs, budget.Crossing{Threshold: float64(p) / 1e6, Spent: st.Spent, Limit: st.Limit})
		}
	}
	return cs
}

// budgetAlert records a on the call's span and the alerts counter.
func (t *telemetry) budgetAlert(ctx context.Context, a BudgetAlert) {
	if t == nil {
		return
	}
	attrs := []attribute.KeyValue{keyAlertThreshold.Float64(a.Threshold)}
	if t.budgetName.Valid() {
		attrs = append(attrs, t.budgetName)
	}
	if t.alerts != nil && t.alerts.Enabled(ctx) {
		// Not by key: keys are unbounded, a metric's attributes must not be.
		t.alerts.Add(ctx, 1, metric.WithAttributes(attrs...))
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		attrs = append(attrs, keyAlertSpent.Float64(a.Spent), keyAlertLimit.Float64(a.Limit), keyAlertPeriod.String(a.Period.String()))
		if a.Key != "" {
			attrs = append(attrs, keyAlertKey.String(a.Key))
		}
		span.AddEvent(eventBudgetAlert, trace.WithAttributes(attrs...))
	}
}

// Budget alert telemetry names.
const (
	eventBudgetAlert  = "baar.budget.alert"
	metricAlerts      = "baar.budget.alerts" // Int64 counter, {alert}, by threshold and budget name
	keyAlertThreshold = attribute.Key("baar.budget.alert.threshold")
	keyAlertKey       = attribute.Key("baar.budget.key")
	keyAlertSpent     = attribute.Key("baar.budget.alert.spent_usd")
	keyAlertLimit     = attribute.Key("baar.budget.alert.limit_usd")
	keyAlertPeriod    = attribute.Key("baar.budget.alert.period")
)
