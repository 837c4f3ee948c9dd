package baar

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/usage"
)

// attempt calls t's model under reservation res and settles it.
func (r *Router) attempt(ctx context.Context, rep *CallReport, t *tierModel, res budget.Reservation, a Attempt, p callPlan,
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
			a.Err, a.ErrClass, a.UsageSource = errPanicked, ClassUnknown, UsageFromReservation
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
		a.UsageSource = UsageFromReservation
		switch {
		case ur.Found && !ur.Invalid:
			a.Usage = u
			if c, cerr := p.rates.Cost(u); cerr == nil {
				cost, a.UsageSource = c, UsageFromProvider
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
		cost, a.UsageSource = res.Amount, UsageFromReservation
	default:
		a.Err, a.ErrClass = err, classify(ctx, err)
		if a.ErrClass.billed() {
			cost, a.UsageSource = res.Amount, UsageFromReservation
		} else {
			a.UsageSource = UsageNone
		}
	}
	if a.UsageSource == UsageNone {
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
