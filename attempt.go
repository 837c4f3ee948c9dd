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

// hold is one attempt before it is made: the tier, the plan of its worst case,
// what the ledger holds for it and its report so far. Like rate.Reservation,
// it is settled exactly once, by attempt.
type hold struct {
	t    *tierModel
	plan callPlan
	res  budget.Reservation
	a    Attempt
	// stream and reasoning receive the answer as it streams: the caller's
	// streaming functions, or a cascade's buffer. Nil: not streamed.
	stream    func(context.Context, []byte) error
	reasoning func(context.Context, []byte, []byte) error
}

// streaming reports whether the attempt streams.
func (h *hold) streaming() bool { return h.stream != nil || h.reasoning != nil }

// attempt calls h's model, settles h's reservation and records the attempt in
// rep. A panic of the model or of a streaming function settles the
// reservation as spent, is recorded, and goes on.
func (r *Router) attempt(ctx context.Context, rep *CallReport, in *RouteInput, h *hold) (*llms.ContentResponse, error) {
	start := time.Now()
	a := &h.a
	rep.Tier, rep.Model = h.t.label, a.Model
	rep.Estimated += a.Reserved
	actx, aspan := r.tel.startAttempt(ctx, h.t, a)
	settled := false
	defer func() {
		if !settled {
			// The model, or a streaming function, panicked: the provider may
			// have billed, so the reservation is spent; the panic goes on.
			a.Err, a.ErrClass, a.Latency = errPanicked, ClassUnknown, time.Since(start)
			r.record(ctx, rep, h, settle(outcome{class: ClassUnknown}, h.plan.rates, h.res.Amount))
			r.tel.endAttempt(actx, aspan, a)
		}
	}()
	r.tel.captureInput(aspan, in.msgs)

	pctx, callOpts, sw, stop := h.callOptions(actx, in)
	defer stop()
	resp, err := h.t.Model.GenerateContent(pctx, in.msgs, callOpts...)
	a.Latency = time.Since(start)

	o := outcome{sentBytes: in.sentBytes}
	var cutErr *BudgetError
	if sw != nil {
		resp, cutErr, err = sw.outcome(&o, a, resp, err)
	}
	switch {
	case o.cut:
		a.Err, a.ErrClass = err, ClassBudget
	case err == nil && resp == nil:
		err = fmt.Errorf("baar: %s returned no response and no error", a.Model)
		o.class = ClassUnknown
	case err != nil && o.class == "":
		o.class = classify(ctx, err)
	}
	if err == nil || o.class == ClassCaller {
		u, ur := usage.FromResponse(resp)
		a.ResponseModel, a.FinishReasons = ur.ResponseModel, ur.FinishReasons
		o.usage, o.usageOK, o.problem = u, ur.Found && !ur.Invalid, ur.Problem
		o.receivedBytes = max(o.receivedBytes, responseBytes(resp))
		if ur.Found && !ur.Invalid {
			a.Usage = u
		}
	}
	if err != nil && !o.cut {
		a.Err, a.ErrClass = err, o.class
	}
	if o.class == ClassCaller {
		resp = nil
	}
	r.record(ctx, rep, h, settle(o, h.plan.rates, h.res.Amount))
	settled = true
	r.tel.captureOutput(aspan, resp)
	r.tel.endAttempt(actx, aspan, a)
	if err != nil {
		if cutErr != nil {
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

// record settles h in the ledger as s says and adds the attempt to rep.
func (r *Router) record(ctx context.Context, rep *CallReport, h *hold, s settlement) {
	a := &h.a
	a.UsageSource = s.source
	if s.problem != "" {
		a.UsageProblem = s.problem
	}
	if s.source == UsageNone {
		a.SettleErr = r.ledger.Cancel(context.WithoutCancel(ctx), h.res)
	} else {
		a.SettleErr = r.commit(context.WithoutCancel(ctx), rep, h.res, s.cost)
		a.Cost = s.cost.USD()
	}
	rep.Cost += a.Cost
	rep.Attempts = append(rep.Attempts, *a)
}

// callOptions returns the context and options of h's provider call: the
// caller's options (nil ones dropped: clients call every option), then the
// output cap and the number of choices that were reserved (the last option
// wins, so a client's own default, e.g. googleai.WithDefaultCandidateCount,
// cannot multiply the output behind the Router's back), then the streaming
// functions, wrapped to count the stream and cut it at its cap. stop releases
// the context.
func (h *hold) callOptions(ctx context.Context, in *RouteInput) (context.Context, []llms.CallOption, *streamWatch, func()) {
	callOpts := make([]llms.CallOption, 0, len(in.opts)+4)
	for _, o := range in.opts {
		if o != nil {
			callOpts = append(callOpts, o)
		}
	}
	if in.co.MaxTokens == 0 {
		callOpts = append(callOpts, llms.WithMaxTokens(h.a.MaxTokens))
	}
	if in.co.CandidateCount == 0 {
		// Not N: llamafile reads N as its context size.
		callOpts = append(callOpts, llms.WithCandidateCount(choices(in.co)))
	}
	if !h.streaming() {
		return ctx, callOpts, nil, func() {}
	}
	// Count the stream; cut it (an error from the streaming function AND a
	// cancelled context) when it outgrows the reserved output.
	pctx, cancel := context.WithCancelCause(ctx)
	sw := &streamWatch{limit: h.plan.output, cancel: cancel}
	callOpts = sw.wrap(callOpts, h.stream, h.reasoning)
	return pctx, callOpts, sw, func() { cancel(nil) }
}

// responseBytes is the size of the text of every choice of resp: content,
// reasoning and tool-call arguments, all billed as output.
func responseBytes(resp *llms.ContentResponse) int64 {
	if resp == nil {
		return 0
	}
	var n int64
	for _, c := range resp.Choices {
		if c == nil {
			continue
		}
		n += int64(len(c.Content) + len(c.ReasoningContent))
		for _, tc := range c.ToolCalls {
			if tc.FunctionCall != nil {
				n += int64(len(tc.FunctionCall.Name) + len(tc.FunctionCall.Arguments))
			}
		}
		if c.FuncCall != nil {
			n += int64(len(c.FuncCall.Name) + len(c.FuncCall.Arguments))
		}
	}
	return n
}

// outcome reads what the stream watch saw into o and returns the response
// and error the attempt ends with: a cut stream is a *BudgetError (googleai
// and vertex return a partial answer and no error); a stream the caller's
// own function stopped is the caller's error, billed and never failed over;
// a stream that broke after chunks reached the caller is a
// *StreamInterruptedError, which is not failed over either (another model's
// answer would follow the partial one).
func (w *streamWatch) outcome(o *outcome, a *Attempt, resp *llms.ContentResponse, err error) (*llms.ContentResponse, *BudgetError, error) {
	partial, cut, callerErr := w.state()
	o.receivedBytes = w.received()
	switch {
	case cut:
		o.cut = true
		cutErr := &BudgetError{Model: a.Model, Requested: a.Reserved, StreamCut: true, Partial: partial, cause: errStreamCut}
		return nil, cutErr, cutErr
	case callerErr != nil:
		o.class = ClassCaller
		if err == nil || !errors.Is(err, callerErr) {
			err = callerErr
		}
	case err != nil && w.chunks() > 0:
		err = &StreamInterruptedError{Model: a.Model, Partial: partial, Err: err}
	}
	return resp, nil, err
}
