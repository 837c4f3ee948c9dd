package main

import (
	"context"
	"errors"
	"sync"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/budget"
)

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
