package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
)

// Runaway loop settings.
const (
	// loopMaxTurns stops an agent loop the budget failed to stop.
	loopMaxTurns = 20_000
)

// agentLoop calls the Router in a loop, resending the growing conversation
// with every answer, until it is refused: it must stop at the cap, refused
// because the next call did not fit, with every request accounted for.
func agentLoop(ctx context.Context, e *env, o *outcome) {
	srv := baartest.NewServer(baartest.WithMaxOutput())
	defer srv.Close()
	g, err := e.httpRig(srv, e.c.budgetUSD)
	if err != nil {
		o.failf("New: %v", err)
		return
	}
	history := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "You are an agent. Keep working until the task is done."),
		llms.TextParts(llms.ChatMessageTypeHuman, "Research the history of every village in the region and write a report."),
	}
	turns := 0
	var last error
	for ; turns < loopMaxTurns; turns++ {
		if ctx.Err() != nil {
			o.failf("stopped after %d turns: %v", turns, ctx.Err())
			break
		}
		resp, err := g.router.GenerateContent(ctx, history)
		if err != nil {
			last = err
			break
		}
		history = append(history,
			llms.TextParts(llms.ChatMessageTypeAI, resp.Choices[0].Content),
			llms.TextParts(llms.ChatMessageTypeHuman, fmt.Sprintf("Observation %d: not done yet, continue.", turns+1)))
	}
	switch {
	case turns == loopMaxTurns:
		o.failf("still running after %d turns", loopMaxTurns)
	case last == nil:
	case !errors.Is(last, baar.ErrBudgetExceeded):
		o.failf("stopped by %v, not by the budget", last)
	default:
		var be *baar.BudgetError
		if !errors.As(last, &be) {
			o.failf("the refusal is not a *baar.BudgetError: %v", last)
		} else if left := be.Limit - be.Spent - be.Reserved; be.Requested <= left {
			o.failf("refused a call of %s with %s left: stopped before the cap", usd(be.Requested), usd(left))
		}
		if !llms.IsQuotaExceededError(last) {
			o.failf("llms.IsQuotaExceededError does not hold for the refusal")
		}
	}
	st := g.ledger.verify(o, false)
	verifyAccounting(o, g.calls.tally(), srv.Requests(), st)
	o.notef("%d turns answered, refused at turn %d with %s left (%d messages in the history)", turns, turns+1, usd((st.Limit - st.Spent).USD()), len(history))
	o.spend(st.Spent.USD(), g.capUSD)
}

// endlessStream streams from a provider that never stops (and ignores
// max_tokens): the Router must cut the stream at its reservation and return
// ErrBudgetExceeded promptly.
func endlessStream(ctx context.Context, e *env, o *outcome) {
	srv := baartest.NewServer(baartest.WithEndlessStream(), baartest.WithStreamChunks(64, time.Millisecond))
	defer srv.Close()
	g, err := e.httpRig(srv, e.c.budgetUSD)
	if err != nil {
		o.failf("New: %v", err)
		return
	}
	var streamed atomic.Int64
	cctx, cancel := context.WithTimeout(ctx, 2*e.c.quick)
	defer cancel()
	start := time.Now()
	_, err = g.router.GenerateContent(cctx,
		[]llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Tell me a story that never ends.")},
		llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
			streamed.Add(int64(len(chunk)))
			return nil
		}))
	took := time.Since(start)
	switch {
	case took > e.c.quick:
		o.failf("returned after %v (limit %v): the stream was not cut (err: %v)", took.Round(time.Millisecond), e.c.quick, err)
	case err == nil:
		o.failf("an endless stream ended without error")
	case !errors.Is(err, baar.ErrBudgetExceeded):
		o.failf("want ErrBudgetExceeded, got %v", err)
	default:
		var be *baar.BudgetError
		partial := -1
		if errors.As(err, &be) {
			partial = len(be.Partial)
		}
		o.notef("cut after %v and %d streamed bytes (BudgetError.Partial holds %d bytes): %s", took.Round(time.Millisecond), streamed.Load(), partial, clip(err.Error(), 120))
	}
	// The cut must close the connection: the simulator's handler returns.
	deadline := time.Now().Add(2 * time.Second)
	for srv.Active() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.Active(); n > 0 {
		o.failf("%d streams still open at the provider after the call returned", n)
	}
	st := g.ledger.verify(o, false)
	verifyAccounting(o, g.calls.tally(), srv.Requests(), st)
	o.spend(st.Spent.USD(), g.capUSD)
}

// agentFleet runs a runaway loop in many goroutines sharing one budget (a
// fleet of agents): all must stop at the cap.
func agentFleet(ctx context.Context, e *env, o *outcome) {
	cheap := &baartest.Model{Name: e.c.cheapModel, FullOutput: true}
	capable := &baartest.Model{Name: e.c.capableModel, FullOutput: true}
	const agents = 200
	g, err := e.newRouter(cheap, capable, e.c.budgetUSD)
	if err != nil {
		o.failf("New: %v", err)
		return
	}
	var turns atomic.Int64
	s := storm(ctx, agents, 0, func(ctx context.Context, i int) error {
		history := stormPrompt(i)
		for k := 0; k < loopMaxTurns; k++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			resp, err := g.router.GenerateContent(ctx, history)
			if err != nil {
				return err
			}
			turns.Add(1)
			history = append(history, llms.TextParts(llms.ChatMessageTypeAI, resp.Choices[0].Content),
				llms.TextParts(llms.ChatMessageTypeHuman, strings.Repeat("continue ", 1+k%5)))
		}
		return errors.New("agent still running")
	})
	if s.refused.Load() != agents {
		o.failf("%d of %d agents stopped by the budget (others: %v)", s.refused.Load(), agents, s.firstOther.Load())
	}
	st := g.ledger.verify(o, false)
	verifyAccounting(o, g.calls.tally(), cheap.Calls()+capable.Calls(), st)
	verifyAttempts(o, g.calls.records(), "provider", false)
	o.notef("%d agents, %d turns answered in all, every agent refused at the cap", agents, turns.Load())
	o.spend(st.Spent.USD(), g.capUSD)
}
