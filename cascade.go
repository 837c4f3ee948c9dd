package baar

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/scoring"
)

// A cascade (WithCascade) lets the cheap model answer first and asks the
// capable one only when a verifier doubts that answer: the prompt alone does
// not show how hard a task is, the answer does. Its data path, after the
// policies chose the cheap model ("cheap first"):
//
//		sample → verify → accept (return the cheap answer)
//		                ↘ escalate: reserve → call the capable model → settle
//
//	 1. Sample: the cheap model answers once, or k times for a verifier that
//	    is a scoring.Sampler (scoring.Agreement): one request with
//	    llms.WithN(k) where the provider returns several choices and bills
//	    the prompt once (OpenAI), else k concurrent requests. All k are
//	    reserved before any is sent; each is settled on its own.
//	 2. Verify: the verifier returns a doubt in [0, 1]. A verifier error (or
//	    a doubt that is not a number in [0, 1]) never fails the call: the call
//	    is escalated, as if the doubt were 1, and the error is reported.
//	 3. Decide: a doubt at or above the escalation threshold escalates. The
//	    threshold is configured (WithEscalationThreshold) or calibrated
//	    (WithEscalationShare), rises with budget utilization by the Router's
//	    threshold schedule, and can be set per call
//	    (ContextWithEscalationThreshold).
//	 4. Escalate: the capable model's call is reserved like any other; one the
//	    budget cannot afford, or that fails, leaves the cheap answer in place
//	    (reported in CallReport.Escalation). A cascade therefore never costs
//	    more than the cheap calls' and the capable call's worst cases, and never
//	    more than the budget.
//
// Streaming: the cheap answer is buffered (still counted and cut at its
// output cap) and replayed to the caller's streaming functions once it is
// accepted, so the caller never sees an answer that is then replaced; an
// escalated answer streams directly. Time to first token is therefore the
// cheap call's whole latency plus the verifier's.
type cascade struct {
	v         scoring.Verifier
	name      string
	samples   int     // answers the verifier judges (Sampler), ≥ 1
	threshold float64 // the escalation threshold
	bypass    float64 // score at or above which a call skips the cascade; 0: never
}

// Escalation says why a cascade did not return the capable model's answer
// although it escalated.
type Escalation string

// Escalation outcomes.
const (
	// EscalationUnaffordable: the budget could not afford the capable
	// model's call; the cheap answer was returned.
	EscalationUnaffordable Escalation = "unaffordable"
	// EscalationFailed: the capable model failed; the cheap answer was
	// returned.
	EscalationFailed Escalation = "failed"
)

// AttemptStep says what an attempt was for.
type AttemptStep string

// Attempt steps.
const (
	// StepAnswer: the call's answer (a cascade's cheap answer included).
	StepAnswer AttemptStep = "answer"
	// StepSample: one of several answers sampled for a scoring.Sampler.
	StepSample AttemptStep = "sample"
	// StepJudge: a judge verifier's model call.
	StepJudge AttemptStep = "judge"
	// StepEscalation: a cascade's call to the capable model.
	StepEscalation AttemptStep = "escalation"
	// StepFailover: the cheap model answering after the capable one failed.
	StepFailover AttemptStep = "failover"
)

type escalationThresholdKey struct{}

// ContextWithEscalationThreshold returns a copy of ctx whose calls to a
// cascade escalate at doubt t (in [0, 1]) instead of the Router's threshold;
// the budget's schedule still raises it as the budget is used up. A value
// outside [0, 1] is ignored.
func ContextWithEscalationThreshold(ctx context.Context, t float64) context.Context {
	return context.WithValue(ctx, escalationThresholdKey{}, t)
}

// escalationThreshold is the threshold a call's doubt is compared with.
func (r *Router) escalationThreshold(ctx context.Context, st budget.State) float64 {
	t := r.cascade.threshold
	if v, ok := ctx.Value(escalationThresholdKey{}).(float64); ok && v >= 0 && v <= 1 {
		t = v
	}
	return r.raise(t, st)
}

// cascadeCall answers a call the policies sent to the cheap model first.
func (r *Router) cascadeCall(ctx context.Context, rep *CallReport, in *RouteInput) (*llms.ContentResponse, error) {
	c := r.cascade
	rep.Verifier, rep.EscalationThreshold = c.name, r.escalationThreshold(ctx, in.Budget)

	// Sample.
	s, err := r.sample(ctx, rep, in)
	if err != nil {
		if s.reserved == 0 || !r.failover || !failsOver(err, rep.Attempts[len(rep.Attempts)-1].ErrClass) {
			return nil, err
		}
		// The cheap model failed in a way the capable one may not: escalate,
		// as failover does.
		return r.escalate(ctx, rep, in, nil, err)
	}
	rep.Decision = DecisionCheap

	// Verify (a JudgeVerifier makes its model call through the Router).
	in.Request.ToolSchemas = toolSchemas(in.co)
	doubt, verr := c.v.Verify(context.WithValue(ctx, judgeKey{}, &judgeRun{r: r, rep: rep}), in.Request, s.answers)
	if verr == nil && !(doubt >= 0 && doubt <= 1) {
		verr = fmt.Errorf("baar: verifier %s returned doubt %v, not in [0, 1]", c.name, doubt)
	}
	if verr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rep.VerifyErr, doubt = verr, 1
	}
	rep.Doubt = doubt

	// Decide.
	if doubt < rep.EscalationThreshold {
		return s.accept(ctx, in)
	}
	return r.escalate(ctx, rep, in, &s, nil)
}

// escalate asks the capable model. When it cannot (the budget refuses, or it
// fails) the cheap answer s stands; without one (the cheap model failed with
// cheapErr) the call fails.
func (r *Router) escalate(ctx context.Context, rep *CallReport, in *RouteInput, s *samples, cheapErr error) (*llms.ContentResponse, error) {
	rep.Escalated = true
	h, err := r.reserve(ctx, in, r.capable)
	if err != nil {
		if s == nil {
			return nil, fmt.Errorf("baar: %s failed (%w); escalation to %s refused: %w", r.cheap.Name, cheapErr, r.capable.Name, err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rep.Escalation = EscalationUnaffordable
		if !errors.Is(err, ErrBudgetExceeded) {
			rep.Escalation = EscalationFailed
		}
		return s.accept(ctx, in)
	}
	h.a.Step = StepEscalation
	resp, err := r.attempt(ctx, rep, in, h)
	var si *StreamInterruptedError
	switch {
	case err == nil:
		rep.Decision = DecisionEscalated
		if in.Conversation != "" && r.sticky != nil {
			// An escalated conversation stays on the capable model.
			r.sticky.pin(in.Conversation)
		}
		return resp, nil
	case s == nil, errors.As(err, &si), ctx.Err() != nil:
		// No cheap answer to fall back on, part of the capable answer
		// already reached the caller, or the caller gave up.
		return nil, err
	}
	rep.Decision = DecisionCheap
	rep.Tier, rep.Model = TierCheap, s.model
	rep.Escalation = EscalationFailed
	return s.accept(ctx, in)
}

// samples are a cascade's cheap answers.
type samples struct {
	resps    []*llms.ContentResponse // one per request
	answers  []scoring.Answer        // one per answer, in order
	choices  []*llms.ContentChoice   // the choice of each answer
	replays  []*replay               // per answer when streamed separately
	reserved int                     // holds made
	model    string
	sampled  bool // the Router sampled k answers for a scoring.Sampler
	// stream and reasoning are the caller's streaming functions.
	stream    func(context.Context, []byte) error
	reasoning func(context.Context, []byte, []byte) error
}

// oneSample backs the slices of samples for one answer.
type oneSample struct {
	resps   [1]*llms.ContentResponse
	answers [1]scoring.Answer
	choices [1]*llms.ContentChoice
	replays [1]*replay
}

// sample makes the cheap model's attempts of a cascade: one, or k for a
// Sampler. Every hold is reserved before the first request is sent.
func (r *Router) sample(ctx context.Context, rep *CallReport, in *RouteInput) (samples, error) {
	s := samples{model: r.cheap.Name, stream: in.co.StreamingFunc, reasoning: in.co.StreamingReasoningFunc}
	// One allocation for the common case of one answer (appends grow past it).
	one := new(oneSample)
	s.resps, s.answers, s.choices, s.replays = one.resps[:0], one.answers[:0], one.choices[:0], one.replays[:0]
	k := r.cascade.samples
	if in.co.N > 1 || in.co.CandidateCount > 1 {
		k = 1 // the caller asked for several answers: they are the samples
	}
	s.sampled = k > 1
	switch {
	case k > 1 && r.cheap.Provider == "openai":
		// One request for k choices: the prompt is billed once. Not streamed
		// (the choices' chunks would interleave); the kept answer is
		// replayed.
		sin := in.withChoices(k)
		h, err := r.reserve(ctx, sin, r.cheap)
		if err != nil {
			return s, err
		}
		s.reserved, h.a.Step, h.stream, h.reasoning = 1, StepSample, nil, nil
		resp, err := r.attempt(ctx, rep, sin, h)
		if err != nil {
			return s, err
		}
		s.add(resp, nil)
	case k > 1:
		if err := r.sampleEach(ctx, rep, in, k, &s); err != nil {
			return s, err
		}
	default:
		h, err := r.reserve(ctx, in, r.cheap)
		if err != nil {
			return s, err
		}
		s.reserved = 1
		var rp *replay
		if h.streaming() {
			rp = &replay{}
			h.stream, h.reasoning = rp.recorders(h.stream, h.reasoning)
		}
		resp, err := r.attempt(ctx, rep, in, h)
		if err != nil {
			return s, err
		}
		s.add(resp, rp)
	}
	if len(s.answers) == 0 {
		return s, fmt.Errorf("baar: %s returned no answer", r.cheap.Name)
	}
	return s, nil
}

// sampleEach reserves k cheap calls, then makes them concurrently. Calls the
// budget cannot afford are not made; at least one must be.
func (r *Router) sampleEach(ctx context.Context, rep *CallReport, in *RouteInput, k int, s *samples) error {
	holds := make([]*hold, 0, k)
	for range k {
		h, err := r.reserve(ctx, in, r.cheap)
		if err != nil {
			if len(holds) == 0 {
				return err
			}
			break
		}
		h.a.Step = StepSample
		holds = append(holds, h)
	}
	s.reserved = len(holds)
	subs := make([]CallReport, len(holds))
	resps := make([]*llms.ContentResponse, len(holds))
	errs := make([]error, len(holds))
	rps := make([]*replay, len(holds))
	var wg sync.WaitGroup
	for i, h := range holds {
		if h.streaming() {
			rps[i] = &replay{}
			h.stream, h.reasoning = rps[i].recorders(h.stream, h.reasoning)
		}
		wg.Go(func() { resps[i], errs[i] = r.attempt(ctx, &subs[i], in, h) })
	}
	wg.Wait()
	var firstErr error
	for i := range holds {
		rep.Estimated += subs[i].Estimated
		rep.Cost += subs[i].Cost
		rep.Attempts = append(rep.Attempts, subs[i].Attempts...)
		rep.Tier, rep.Model = subs[i].Tier, subs[i].Model
		if errs[i] != nil {
			if firstErr == nil {
				firstErr = errs[i]
			}
			continue
		}
		s.add(resps[i], rps[i])
	}
	if len(s.answers) == 0 {
		return firstErr
	}
	return nil
}

// add records the answers of one response.
func (s *samples) add(resp *llms.ContentResponse, rp *replay) {
	s.resps = append(s.resps, resp)
	for _, c := range resp.Choices {
		if c == nil {
			continue
		}
		s.answers = append(s.answers, answerOf(c))
		s.choices = append(s.choices, c)
		s.replays = append(s.replays, rp)
	}
}

// accept returns the cheap answer: for a Sampler, the one scoring.Majority
// keeps; else the response as the model gave it. A buffered stream is
// replayed to the caller's streaming functions first.
func (s *samples) accept(ctx context.Context, in *RouteInput) (*llms.ContentResponse, error) {
	i, resp := 0, s.resps[0]
	if s.sampled && len(s.answers) > 1 {
		// The Router's own samples (k choices or k requests): the caller
		// asked for one answer, the majority's.
		i, _ = scoring.Majority(in.Request, s.answers)
		resp = &llms.ContentResponse{Choices: []*llms.ContentChoice{s.choices[i]}}
	}
	if s.stream == nil && s.reasoning == nil {
		return resp, nil
	}
	var err error
	if rp := s.replays[i]; rp != nil {
		err = rp.play(ctx, s.stream, s.reasoning)
	} else {
		err = replayChoice(ctx, s.choices[i], s.stream, s.reasoning)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// answerOf is what a verifier sees of a choice.
func answerOf(c *llms.ContentChoice) scoring.Answer {
	a := scoring.Answer{Text: c.Content, FinishReason: c.StopReason}
	for _, tc := range c.ToolCalls {
		if tc.FunctionCall != nil {
			a.ToolCalls = append(a.ToolCalls, scoring.ToolCall{Name: tc.FunctionCall.Name, Arguments: tc.FunctionCall.Arguments})
		}
	}
	if c.FuncCall != nil {
		a.ToolCalls = append(a.ToolCalls, scoring.ToolCall{Name: c.FuncCall.Name, Arguments: c.FuncCall.Arguments})
	}
	return a
}

// withChoices returns a copy of in that asks for k choices (llms.WithN),
// without streaming.
func (in *RouteInput) withChoices(k int) *RouteInput {
	c := *in
	co := *in.co
	co.N, co.StreamingFunc, co.StreamingReasoningFunc = k, nil, nil
	c.co = &co
	c.opts = append(append(make([]llms.CallOption, 0, len(in.opts)+3), in.opts...),
		llms.WithN(k), llms.WithStreamingFunc(nil), llms.WithStreamingReasoningFunc(nil))
	c.have = [2]bool{}
	return &c
}

// replay buffers a streamed answer until a cascade accepts it.
type replay struct {
	mu     sync.Mutex
	events []streamEvent
}

type streamEvent struct {
	reasoning, chunk []byte
	fromRF           bool // from the reasoning function
}

// recorders returns streaming functions that record into rp in place of f
// and rf (nil stays nil).
func (rp *replay) recorders(f func(context.Context, []byte) error, rf func(context.Context, []byte, []byte) error) (func(context.Context, []byte) error, func(context.Context, []byte, []byte) error) {
	var g func(context.Context, []byte) error
	var rg func(context.Context, []byte, []byte) error
	if f != nil {
		g = func(_ context.Context, chunk []byte) error {
			rp.add(streamEvent{chunk: clone(chunk)})
			return nil
		}
	}
	if rf != nil {
		rg = func(_ context.Context, reasoning, chunk []byte) error {
			rp.add(streamEvent{reasoning: clone(reasoning), chunk: clone(chunk), fromRF: true})
			return nil
		}
	}
	return g, rg
}

func (rp *replay) add(e streamEvent) {
	rp.mu.Lock()
	rp.events = append(rp.events, e)
	rp.mu.Unlock()
}

// play sends the recorded chunks to f and rf, in order.
func (rp *replay) play(ctx context.Context, f func(context.Context, []byte) error, rf func(context.Context, []byte, []byte) error) error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for _, e := range rp.events {
		var err error
		if e.fromRF {
			err = rf(ctx, e.reasoning, e.chunk)
		} else {
			err = f(ctx, e.chunk)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// replayChoice streams a choice that was not streamed: its reasoning, then
// its content, each as one chunk.
func replayChoice(ctx context.Context, c *llms.ContentChoice, f func(context.Context, []byte) error, rf func(context.Context, []byte, []byte) error) error {
	if rf != nil {
		if c.ReasoningContent != "" {
			if err := rf(ctx, []byte(c.ReasoningContent), nil); err != nil {
				return err
			}
		}
		if f == nil {
			return rf(ctx, nil, []byte(c.Content))
		}
	}
	if f != nil && c.Content != "" {
		return f(ctx, []byte(c.Content))
	}
	return nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// calibrateEscalation returns the doubt at or above which about share of
// samples escalate, by the verifier's doubts about them.
func calibrateEscalation(ctx context.Context, v scoring.Verifier, share float64, samples []EscalationSample) (float64, error) {
	doubts := make([]float64, 0, len(samples))
	for i, s := range samples {
		if len(s.Answers) == 0 {
			return 0, fmt.Errorf("sample %d has no answer", i)
		}
		req := scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: s.Prompt}}}
		answers := make([]scoring.Answer, len(s.Answers))
		for j, a := range s.Answers {
			answers[j] = scoring.Answer{Text: a, FinishReason: "stop"}
		}
		d, err := v.Verify(ctx, req, answers)
		if err != nil {
			return 0, fmt.Errorf("sample %d: %w", i, err)
		}
		if !(d >= 0 && d <= 1) {
			return 0, fmt.Errorf("sample %d: doubt %v not in [0, 1]", i, d)
		}
		doubts = append(doubts, d)
	}
	return scoring.ThresholdForShare(doubts, share)
}

// EscalationSample is a typical prompt of the application's traffic with the
// cheap model's answer to it (several for a scoring.Sampler), for
// WithEscalationShare.
type EscalationSample struct {
	Prompt  string
	Answers []string
}

// verifierName is v's name for reports: its Name, else "custom".
func verifierName(v scoring.Verifier) string {
	if n, ok := v.(scoring.Named); ok && n.Name() != "" {
		return n.Name()
	}
	return "custom"
}

// newCascade builds the cascade of c, or nil.
func newCascade(c *config) (*cascade, error) {
	if c.cascade == nil {
		return nil, nil
	}
	cc := &cascade{v: c.cascade, name: verifierName(c.cascade), samples: 1, threshold: c.escalationThreshold, bypass: c.cascadeBypass}
	if sm, ok := c.cascade.(scoring.Sampler); ok {
		cc.samples = max(1, sm.Samples())
	}
	if c.escalationShare != nil {
		t, err := calibrateEscalation(context.Background(), c.cascade, c.escalationShare.share, c.escalationShare.samples)
		if err != nil {
			return nil, fmt.Errorf("baar: WithEscalationShare: %w", err)
		}
		cc.threshold = t
	}
	return cc, nil
}
