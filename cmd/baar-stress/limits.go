package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
	"github.com/tmc/langchaingo/llms"
)

// rateLoopShare is the share of the budget a key may spend per minute in
// loops/rate-limit: a runaway agent must be stopped there, long before the
// budget notices.
const rateLoopShare = 0.1

// rateLimitLoop runs an agent in a loop on a key whose budget has a
// per-minute limit of a tenth of the global budget: the loop must be
// refused by that limit — the refusal naming it — with the global budget
// mostly left, and go on when the next minute starts.
func rateLimitLoop(ctx context.Context, e *env, o *outcome) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	limit, err := budget.FromUSD(e.c.budgetUSD)
	if err != nil {
		o.failf("budget: %v", err)
		return
	}
	perMinute := budget.Amount(float64(limit) * rateLoopShare)
	ledger, err := budget.NewScoped(limit, budget.Limits{
		Window:   budget.Window{Period: budget.Monthly},
		KeyRates: []budget.Rate{{Limit: perMinute, Period: budget.Minutely}},
		Now:      clock,
	})
	if err != nil {
		o.failf("NewScoped: %v", err)
		return
	}
	m := &baartest.Model{Name: e.c.cheapModel, FullOutput: true}
	r, err := baar.New(baar.Tier{Model: m, Name: e.c.cheapModel}, baar.Tier{Model: m, Name: e.c.capableModel},
		baar.WithLedger(ledger), baar.WithMaxOutputTokens(e.c.maxOutput),
		baar.WithPrice(e.c.cheapModel, e.cheapPrice), baar.WithPrice(e.c.capableModel, e.capablePrice))
	if err != nil {
		o.failf("New: %v", err)
		return
	}
	agent := baar.ContextWithBudgetKey(ctx, "runaway-agent")
	turns := 0
	var last error
	for ; turns < loopMaxTurns; turns++ {
		if _, last = r.GenerateContent(agent, human(fmt.Sprintf("step %d: keep going", turns))); last != nil {
			break
		}
	}
	var be *baar.BudgetError
	switch {
	case turns == loopMaxTurns:
		o.failf("still running after %d turns", loopMaxTurns)
	case !errors.As(last, &be):
		o.failf("stopped by %v, not by the budget", last)
	case !be.Rate || be.Window != budget.Minutely.String():
		o.failf("refused by %q (rate %v), not by the per-minute limit: %v", be.Window, be.Rate, last)
	}
	st, err := ledger.State(ctx)
	if err != nil {
		o.failf("State: %v", err)
		return
	}
	if st.Spent > perMinute {
		o.failf("spent %v in one minute, past the per-minute limit of %v", st.Spent, perMinute)
	}
	calls := m.Calls()
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, err := r.GenerateContent(agent, human("the next minute")); err != nil {
		o.failf("the next minute still refuses: %v", err)
	}
	o.notef("%d turns answered, then refused by the per-minute limit (%v of %v a minute; %v of the %v monthly budget spent); %d provider calls, answered again the next minute",
		turns, st.Spent, perMinute, st.Spent, limit, calls)
	o.spend(st.Spent.USD(), e.c.budgetUSD)
}

// alertsStorm runs a storm of calls on one budget with four alert
// thresholds until the budget refuses: each threshold must fire exactly
// once, none dropped.
func alertsStorm(ctx context.Context, e *env, o *outcome) {
	thresholds := []float64{0.25, 0.5, 0.75, 0.9}
	var mu sync.Mutex
	fired := map[float64]int{}
	m := &baartest.Model{Name: e.c.cheapModel, FullOutput: true}
	r, err := baar.New(baar.Tier{Model: m, Name: e.c.cheapModel}, baar.Tier{Model: m, Name: e.c.capableModel},
		baar.WithBudget(e.c.budgetUSD), baar.WithMaxOutputTokens(e.c.maxOutput),
		baar.WithPrice(e.c.cheapModel, e.cheapPrice), baar.WithPrice(e.c.capableModel, e.capablePrice),
		baar.WithBudgetAlerts(thresholds, func(_ context.Context, a baar.BudgetAlert) {
			mu.Lock()
			fired[a.Threshold]++
			mu.Unlock()
		}))
	if err != nil {
		o.failf("New: %v", err)
		return
	}
	n := e.c.goroutines
	var wg sync.WaitGroup
	var answered, refused atomic.Int64
	for g := range n {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				_, err := r.GenerateContent(ctx, human(fmt.Sprintf("call %d.%d", g, i)))
				if errors.Is(err, baar.ErrBudgetExceeded) {
					refused.Add(1)
					return
				}
				if err != nil {
					o.failf("call: %v", err)
					return
				}
				answered.Add(1)
			}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		o.failf("Close: %v", err)
	}
	for _, t := range thresholds {
		if fired[t] != 1 {
			o.failf("threshold %.2f fired %d times, want once", t, fired[t])
		}
	}
	if d := r.DroppedBudgetAlerts(); d != 0 {
		o.failf("%d alerts dropped", d)
	}
	st, err := r.State(ctx)
	if err != nil {
		o.failf("State: %v", err)
		return
	}
	o.notef("%d goroutines, %d calls answered, %d refused at the cap; thresholds %v each fired once", n, answered.Load(), refused.Load(), thresholds)
	o.spend(st.Spent.USD(), e.c.budgetUSD)
}

// human is a one-message conversation.
func human(text string) []llms.MessageContent {
	return []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, text)}
}
