package baar_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
)

// alertSink collects the alerts a WithBudgetAlerts callback receives.
type alertSink struct {
	mu  sync.Mutex
	got []baar.BudgetAlert
	ch  chan struct{}
}

func newAlertSink() *alertSink { return &alertSink{ch: make(chan struct{}, 1024)} }

func (s *alertSink) fn(_ context.Context, a baar.BudgetAlert) {
	s.mu.Lock()
	s.got = append(s.got, a)
	s.mu.Unlock()
	s.ch <- struct{}{}
}

// wait returns the alerts once n arrived, failing after a second.
func (s *alertSink) wait(t *testing.T, n int) []baar.BudgetAlert {
	t.Helper()
	for range n {
		select {
		case <-s.ch:
		case <-time.After(time.Second):
			t.Fatalf("%d alerts expected, got %d", n, len(s.got))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]baar.BudgetAlert(nil), s.got...)
}

// Each cheap call costs $0.003 (1,000 tokens in and out at $1 and $2 per
// million): on a $0.01 budget the second call crosses 50%, the third 80%.
func TestBudgetAlerts(t *testing.T) {
	sink := newAlertSink()
	buf := &lockedBuffer{}
	report, reps := reports()
	o := newObserved(t, &scripted{reply: answer(1000, 1000)}, &scripted{reply: answer(1000, 1000)},
		baar.WithBudget(0.01), scoreOf(0.1), baar.WithMaxOutputTokens(1000), baar.WithBudgetName("team"),
		baar.WithBudgetAlerts([]float64{0.8, 0.5}, sink.fn), baar.WithTelemetryLog(buf), baar.WithReportFunc(report))
	ctx := context.Background()
	for range 3 {
		_, err := o.r.GenerateContent(ctx, human("What is 2+2?"))
		require.NoError(t, err)
	}
	var crossed [][]baar.BudgetAlert
	for _, rep := range reps() {
		crossed = append(crossed, rep.Alerts)
	}
	require.Len(t, crossed, 3)
	assert.Empty(t, crossed[0])
	require.Len(t, crossed[1], 1)
	require.Len(t, crossed[2], 1)
	assert.Equal(t, baar.BudgetAlert{Budget: "team", Threshold: 0.5, Spent: 0.006, Limit: 0.01}, crossed[1][0])
	assert.Equal(t, 0.8, crossed[2][0].Threshold)
	got := sink.wait(t, 2)
	assert.Equal(t, []baar.BudgetAlert{crossed[1][0], crossed[2][0]}, got, "the callback gets each alert once")

	// The calls that crossed carry a span event; the counter counts both.
	var events int
	for _, s := range o.spans.Ended() {
		for _, e := range s.Events() {
			if e.Name == "baar.budget.alert" {
				events++
			}
		}
	}
	assert.Equal(t, 2, events, "span events baar.budget.alert")
	var rm metricdata.ResourceMetrics
	require.NoError(t, o.reader.Collect(ctx, &rm))
	var count int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "baar.budget.alerts" {
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					count += dp.Value
				}
			}
		}
	}
	assert.Equal(t, int64(2), count, "baar.budget.alerts")
	recs := buf.records(t)
	require.Len(t, recs, 3)
	require.Len(t, recs[1].Alerts, 1)
	assert.Equal(t, 0.5, recs[1].Alerts[0].Threshold)
	assert.InDelta(t, 0.006, recs[1].Alerts[0].SpentUSD, 1e-12)
	assert.Empty(t, recs[0].Alerts)
}

// A key's budget has its own marks, reported with its key and window.
func TestBudgetAlertsPerKey(t *testing.T) {
	clk := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
	l, err := budget.NewScoped(budget.Dollar, budget.Limits{KeyLimit: 6000 * budget.MicroDollar,
		Window: budget.Window{Period: budget.Monthly}, Now: func() time.Time { return clk }})
	require.NoError(t, err)
	sink := newAlertSink()
	r := newRouter(t, &scripted{reply: answer(1000, 1000)}, &scripted{reply: answer(1000, 1000)},
		baar.WithLedger(l), scoreOf(0.1), baar.WithMaxOutputTokens(1000), baar.WithBudgetAlerts([]float64{0.5}, sink.fn))
	ctx := baar.ContextWithBudgetKey(context.Background(), "alice")
	_, err = r.GenerateContent(ctx, human("hi"))
	require.NoError(t, err)
	got := sink.wait(t, 1)
	assert.Equal(t, baar.BudgetAlert{Key: "alice", Period: budget.Monthly, Window: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Threshold: 0.5, Spent: 0.003, Limit: 0.006}, got[0])
	// Alice's next calls fill her budget, then are refused: no other alert.
	for err == nil {
		_, err = r.GenerateContent(ctx, human("hi"))
	}
	require.ErrorIs(t, err, baar.ErrBudgetExceeded)
	time.Sleep(10 * time.Millisecond) // a second alert would have arrived
	sink.mu.Lock()
	assert.Len(t, sink.got, 1)
	sink.mu.Unlock()
}

// A rate limit's refusal says which window refused.
func TestBudgetErrorNamesRateWindow(t *testing.T) {
	now := time.Date(2026, 1, 31, 23, 0, 10, 0, time.UTC)
	l, err := budget.NewScoped(budget.Dollar, budget.Limits{
		KeyRates: []budget.Rate{{Limit: 5000 * budget.MicroDollar, Period: budget.Minutely}},
		Now:      func() time.Time { return now }})
	require.NoError(t, err)
	r := newRouter(t, &scripted{reply: answer(1000, 1000)}, &scripted{reply: answer(1000, 1000)},
		baar.WithLedger(l), scoreOf(0.1), baar.WithMaxOutputTokens(1000))
	ctx := baar.ContextWithBudgetKey(context.Background(), "bot")
	for i := 0; err == nil; i++ {
		require.Less(t, i, 3, "a $0.003 call a minute fits $0.005 at most twice")
		_, err = r.GenerateContent(ctx, human("hi"))
	}
	var be *baar.BudgetError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "minutely", be.Window)
	assert.True(t, be.Rate)
	assert.Equal(t, "bot", be.Key)
	assert.Equal(t, time.Date(2026, 1, 31, 23, 1, 0, 0, time.UTC), be.Resets)
	assert.Contains(t, be.Error(), "minutely rate limit")
	_, err = r.GenerateContent(context.Background(), human("hi"))
	require.NoError(t, err, "the global budget has room: only the key is limited")
}

// plainLedger hides the ledger's Alerter methods.
type plainLedger struct{ budget.Ledger }

// With a ledger that keeps no marks, the Router keeps the global budget's.
func TestBudgetAlertsInProcess(t *testing.T) {
	m, err := budget.NewMemory(10000 * budget.MicroDollar)
	require.NoError(t, err)
	sink := newAlertSink()
	r := newRouter(t, &scripted{reply: answer(1000, 1000)}, &scripted{reply: answer(1000, 1000)},
		baar.WithLedger(plainLedger{m}), scoreOf(0.1), baar.WithMaxOutputTokens(1000), baar.WithBudgetAlerts([]float64{0.5, 0.8}, sink.fn))
	for range 3 {
		_, err := r.GenerateContent(context.Background(), human("hi"))
		require.NoError(t, err)
	}
	got := sink.wait(t, 2)
	assert.Equal(t, []float64{0.5, 0.8}, []float64{got[0].Threshold, got[1].Threshold})
}

// A callback that blocks never delays a call: alerts beyond the queue are
// dropped and counted.
func TestBudgetAlertsSlowCallback(t *testing.T) {
	l, err := budget.NewScoped(budget.Dollar, budget.Limits{KeyLimit: 3000 * budget.MicroDollar})
	require.NoError(t, err)
	release := make(chan struct{})
	var calls sync.WaitGroup
	calls.Add(1)
	first := sync.OnceFunc(calls.Done)
	r := newRouter(t, &scripted{reply: answer(1000, 1000)}, &scripted{reply: answer(1000, 1000)},
		baar.WithLedger(l), scoreOf(0.1), baar.WithMaxOutputTokens(1000),
		baar.WithBudgetAlerts([]float64{1}, func(context.Context, baar.BudgetAlert) { first(); <-release }))
	defer close(release)
	const keys = 300
	start := time.Now()
	for i := range keys {
		_, err := r.GenerateContent(baar.ContextWithBudgetKey(context.Background(), fmt.Sprint("k", i)), human("hi"))
		require.NoError(t, err)
	}
	calls.Wait()
	assert.Less(t, time.Since(start), 5*time.Second)
	// One alert is in the callback, at most 256 wait: the rest was dropped.
	assert.GreaterOrEqual(t, r.DroppedBudgetAlerts(), uint64(keys-1-256))
}

func TestBudgetAlertsInvalid(t *testing.T) {
	for _, th := range [][]float64{{0}, {1.5}, {-1}} {
		_, err := baar.New(baar.Tier{Model: &scripted{}, Name: "cheap"}, baar.Tier{Model: &scripted{}, Name: "capable"},
			baar.WithPrice("cheap", cheapPrice), baar.WithPrice("capable", capablePrice),
			baar.WithBudgetAlerts(th, func(context.Context, baar.BudgetAlert) {}))
		require.Error(t, err, "%v", th)
	}
	_, err := baar.New(baar.Tier{Model: &scripted{}, Name: "cheap"}, baar.Tier{Model: &scripted{}, Name: "capable"},
		baar.WithPrice("cheap", cheapPrice), baar.WithPrice("capable", capablePrice), baar.WithBudgetAlerts([]float64{0.5}, nil))
	require.Error(t, err)
	// Two Routers on one ledger with other thresholds.
	m, err := budget.NewMemory(budget.Dollar)
	require.NoError(t, err)
	newRouter(t, &scripted{}, &scripted{}, baar.WithLedger(m), baar.WithBudgetAlerts([]float64{0.5}, func(context.Context, baar.BudgetAlert) {}))
	_, err = baar.New(baar.Tier{Model: &scripted{}, Name: "cheap"}, baar.Tier{Model: &scripted{}, Name: "capable"},
		baar.WithPrice("cheap", cheapPrice), baar.WithPrice("capable", capablePrice), baar.WithLedger(m),
		baar.WithBudgetAlerts([]float64{0.9}, func(context.Context, baar.BudgetAlert) {}))
	require.True(t, errors.Is(err, budget.ErrInvalid), "%v", err)
}
