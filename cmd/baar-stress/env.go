package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/scoring"
)

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

// worstCase is the worst-case cost of a call at price p with
// inputTokens of input and the configured output cap.
func (e *env) worstCase(p budget.Price, inputTokens int64) float64 {
	return (float64(inputTokens)*p.Input + float64(e.c.maxOutput)*p.Output) / 1e6
}
