package baar

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/scoring"
)

// A Policy takes part in choosing the tier of a call. The Router asks its
// policies in a fixed order, each seeing the route chosen so far; the budget
// has the last word (see the order below). A Policy may keep the route,
// change its tier, or refuse the call by returning an error (wrap
// ErrTaskRejected for a refusal by policy): a refused call reaches no provider.
//
// Order (every call):
//
//  1. "threshold": score ≥ effective threshold → capable, else cheap.
//  2. "sticky": a conversation (ContextWithConversation) already answered by
//     the capable model stays there (WithStickyConversations bounds it).
//  3. "value-gate" (WithValueFunc): value < estimated cost × alpha → rejected
//     (unless the reject-rate clamp sends it to the cheap model); value <
//     the capable model's estimated cost → cheap.
//  4. "exploration" (WithExploration): a capable route goes to the cheap
//     model with the configured probability.
//  5. the user's policies (WithPolicy), in the order given: they have the
//     last word on the tier.
//  6. the budget (not a policy): an unaffordable capable route is
//     downgraded, an unaffordable cheap one refused.
//
// Policies must be safe for concurrent use and fast: they run on every call.
type Policy interface {
	Route(ctx context.Context, in *RouteInput, current Route) (Route, error)
}

// PolicyFunc adapts a function to a Policy.
type PolicyFunc func(ctx context.Context, in *RouteInput, current Route) (Route, error)

// Route calls f.
func (f PolicyFunc) Route(ctx context.Context, in *RouteInput, current Route) (Route, error) {
	return f(ctx, in, current)
}

// Route is a routing choice: a tier, and which policy chose it and why.
type Route struct {
	// Tier is TierCheap or TierCapable.
	Tier string
	// Policy names the policy that set the tier ("threshold", "sticky",
	// "value-gate", "exploration", or the name given to WithPolicy).
	Policy string
	// Reason is a short, low-cardinality explanation (never prompt text).
	Reason string
}

// RouteInput is what a Policy sees of a call. It carries no prompt text
// beyond the scoring.Request.
type RouteInput struct {
	// Request is the call as the scorer saw it: messages, tools offered,
	// tool calls so far, attachments.
	Request scoring.Request
	// Score is the complexity score (NaN if the scorer failed); Threshold the
	// effective threshold.
	Score, Threshold float64
	// Budget is the ledger's state when the call started.
	Budget budget.State
	// Conversation is the id given with ContextWithConversation, if any.
	Conversation string

	r     *Router
	msgs  []llms.MessageContent
	co    *llms.CallOptions
	plans [2]callPlan
	have  [2]bool
}

// Depth is the number of messages in the conversation.
func (in *RouteInput) Depth() int { return len(in.Request.Messages) }

// Estimate returns the worst-case cost in USD of sending the call to tier
// (TierCheap or TierCapable): what the Router would reserve.
func (in *RouteInput) Estimate(tier string) (float64, error) {
	t := in.r.cheap
	if tier == TierCapable {
		t = in.r.capable
	} else if tier != TierCheap {
		return 0, fmt.Errorf("baar: unknown tier %q", tier)
	}
	p, err := in.plan(t)
	if err != nil {
		return 0, err
	}
	return p.est.USD(), nil
}

// plan returns t's worst case for this call, computed once per tier (the
// policies' estimates and the reservation share it).
func (in *RouteInput) plan(t *tier) (callPlan, error) {
	i := 0
	if t == in.r.capable {
		i = 1
	}
	if !in.have[i] {
		p, err := in.r.plan(t, in.msgs, in.co)
		if err != nil {
			return p, err
		}
		in.plans[i], in.have[i] = p, true
	}
	return in.plans[i], nil
}

// decide runs the policies in order.
func (r *Router) decide(ctx context.Context, in *RouteInput) (Route, error) {
	route := Route{}
	for _, p := range r.policies {
		next, err := p.Route(ctx, in, route)
		if err != nil {
			return route, err
		}
		if next.Tier != TierCheap && next.Tier != TierCapable {
			return route, fmt.Errorf("baar: a policy chose the unknown tier %q", next.Tier)
		}
		route = next
	}
	return route, nil
}

// thresholdPolicy is the score-versus-threshold rule.
type thresholdPolicy struct{}

// policyThreshold is the threshold policy's name in reports and telemetry.
const policyThreshold = "threshold"

func (thresholdPolicy) Route(_ context.Context, in *RouteInput, _ Route) (Route, error) {
	if in.Score >= in.Threshold { // NaN (scorer failure) goes to the cheap model
		return Route{Tier: TierCapable, Policy: policyThreshold, Reason: "score at or above threshold"}, nil
	}
	return Route{Tier: TierCheap, Policy: policyThreshold, Reason: "score below threshold"}, nil
}

// namedPolicy gives a user's policy its name in reports.
type namedPolicy struct {
	name string
	p    Policy
}

func (n namedPolicy) Route(ctx context.Context, in *RouteInput, current Route) (Route, error) {
	next, err := n.p.Route(ctx, in, current)
	if err == nil && next.Tier != current.Tier && next.Policy == "" {
		next.Policy = n.name
	}
	return next, err
}

// WithPolicy adds a routing policy under a name (used in reports, spans and
// the telemetry log). User policies run after the built-in ones, in the order
// given, and have the last word on the tier (the budget still downgrades and
// refuses). Examples: tool calls always to the capable model; images never to
// the cheap one.
func WithPolicy(name string, p Policy) Option {
	return optionFunc(func(c *config) {
		if p == nil || name == "" {
			c.fail("baar: WithPolicy(%q, %v): a policy needs a name and must not be nil", name, p)
			return
		}
		c.policies = append(c.policies, namedPolicy{name: name, p: p})
	})
}

// ErrTaskRejected is matched by calls a policy refused (the value gate's
// *TaskRejectedError included). No provider is contacted.
var ErrTaskRejected = errors.New("baar: task rejected")

// TaskRejectedError is the value gate's refusal: the task's estimated value
// is below its estimated cost × alpha. Amounts are in USD.
type TaskRejectedError struct {
	Value float64
	Cost  float64
	Alpha float64
	Tier  string
}

// Error implements error.
func (e *TaskRejectedError) Error() string {
	return fmt.Sprintf("baar: task rejected: its value %s is below %.2f × its estimated cost %s on the %s model",
		usd(e.Value), e.Alpha, usd(e.Cost), e.Tier)
}

// Is reports whether target is ErrTaskRejected.
func (e *TaskRejectedError) Is(target error) bool { return target == ErrTaskRejected }

// ValueFunc estimates what a task is worth, in USD.
type ValueFunc func(ctx context.Context, req scoring.Request) (usd float64, err error)

// Value-gate defaults (the Python Baar-Core's).
const (
	DefaultValueAlpha         = 0.3
	DefaultMinGatedCalls      = 20
	DefaultMaxRejectRate      = 0.5
	DefaultStickyTTL          = 30 * time.Minute
	DefaultStickyConversation = 10_000
)

// ValueGate is the value gate's configuration; zero fields take the defaults.
type ValueGate struct {
	// Alpha: a task worth less than its estimated cost × Alpha is rejected
	// (default 0.3).
	Alpha float64
	// MinGated is the number of gated calls before the reject-rate clamp
	// applies (default 20); MaxRejectRate the highest share of gated calls
	// that may be rejected (default 0.5): past it, a call that would be
	// rejected goes to the cheap model instead.
	MinGated      int
	MaxRejectRate float64
}

// WithValueFunc enables the value gate with value function f and defaults
// (alpha 0.3, clamp after 20 gated calls at a 50% reject rate).
func WithValueFunc(f ValueFunc) Option { return WithValueGate(f, ValueGate{}) }

// WithValueGate enables the value gate with value function f and g.
func WithValueGate(f ValueFunc, g ValueGate) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.fail("baar: WithValueFunc(nil)")
			return
		}
		if g.Alpha == 0 {
			g.Alpha = DefaultValueAlpha
		}
		if g.MinGated == 0 {
			g.MinGated = DefaultMinGatedCalls
		}
		if g.MaxRejectRate == 0 {
			g.MaxRejectRate = DefaultMaxRejectRate
		}
		if !finite(g.Alpha) || g.Alpha < 0 || g.MinGated < 0 || !finite(g.MaxRejectRate) || g.MaxRejectRate < 0 || g.MaxRejectRate > 1 {
			c.fail("baar: WithValueGate: alpha must be finite and ≥ 0, MinGated ≥ 0, MaxRejectRate in [0, 1]")
			return
		}
		c.valueGate = &valueGate{f: f, g: g}
	})
}

// valueGate is the value-gate policy; its counters are shared by all calls.
type valueGate struct {
	f ValueFunc
	g ValueGate

	mu       sync.Mutex
	gated    int64
	rejected int64
}

func (v *valueGate) Route(ctx context.Context, in *RouteInput, current Route) (Route, error) {
	value, err := v.f(ctx, in.Request)
	if err != nil {
		return current, fmt.Errorf("baar: value function: %w", err)
	}
	if !finite(value) {
		return current, fmt.Errorf("baar: value function returned %v", value)
	}
	cost, err := in.Estimate(current.Tier)
	if err != nil {
		return current, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gated++
	if value < cost*v.g.Alpha {
		if v.gated > int64(v.g.MinGated) && float64(v.rejected+1)/float64(v.gated) > v.g.MaxRejectRate {
			return Route{Tier: TierCheap, Policy: "value-gate", Reason: "reject-rate clamp"}, nil
		}
		v.rejected++
		return current, &TaskRejectedError{Value: value, Cost: cost, Alpha: v.g.Alpha, Tier: current.Tier}
	}
	if current.Tier == TierCapable {
		capCost := cost
		if value < capCost {
			return Route{Tier: TierCheap, Policy: "value-gate", Reason: "value below the capable model's cost"}, nil
		}
	}
	return current, nil
}

// GateCounts returns the value gate's counters: calls gated and rejected.
func (r *Router) GateCounts() (gated, rejected int64) {
	if r.gate == nil {
		return 0, 0
	}
	r.gate.mu.Lock()
	defer r.gate.mu.Unlock()
	return r.gate.gated, r.gate.rejected
}

// WithExploration sends a call that would go to the capable model to the
// cheap one with probability rate (in [0, 1]), recorded as "exploration", so
// the cheap model's answers can be compared. The draws are a deterministic
// sequence for a given seed (the n-th call routed to capable gets the n-th
// draw), and safe under concurrency.
func WithExploration(rate float64, seed int64) Option {
	return optionFunc(func(c *config) {
		if !finite(rate) || rate < 0 || rate > 1 {
			c.fail("baar: WithExploration(%v): the rate must be in [0, 1]", rate)
			return
		}
		c.exploration = &exploration{rate: rate, seed: uint64(seed)}
	})
}

type exploration struct {
	rate float64
	seed uint64
	n    atomic.Uint64
}

func (e *exploration) Route(_ context.Context, _ *RouteInput, current Route) (Route, error) {
	if current.Tier != TierCapable || e.rate == 0 {
		return current, nil
	}
	if draw(e.seed, e.n.Add(1)) < e.rate {
		return Route{Tier: TierCheap, Policy: "exploration", Reason: "explored the cheap model"}, nil
	}
	return current, nil
}

// draw is the n-th uniform number in [0, 1) of the sequence seed (splitmix64).
func draw(seed, n uint64) float64 {
	z := seed + n*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// conversationKey is the context key of ContextWithConversation.
type conversationKey struct{}

// ContextWithConversation returns a copy of ctx naming the conversation (an
// agent run, a chat session) a call belongs to. Once a conversation has been
// answered by the capable model, its later calls stay there (see
// WithStickyConversations), so an agent does not flip models mid-task; the
// budget may still downgrade them.
func ContextWithConversation(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, conversationKey{}, id)
}

// ConversationFromContext returns the conversation id carried by ctx.
func ConversationFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(conversationKey{}).(string)
	return id, ok && id != ""
}

// WithStickyConversations bounds stickiness: a conversation stays on the
// capable model for at most ttl after it was last answered there (0: no time
// limit) and at most steps further calls (0: no limit); the Router remembers
// at most size conversations, least recently used first out (default 10,000;
// a negative size disables stickiness). Without this option conversations
// stay for 30 minutes, with no step limit.
func WithStickyConversations(ttl time.Duration, steps, size int) Option {
	return optionFunc(func(c *config) {
		if ttl < 0 || steps < 0 {
			c.fail("baar: WithStickyConversations: ttl and steps must be ≥ 0")
			return
		}
		c.sticky = stickyConfig{ttl: ttl, steps: steps, size: size, set: true}
	})
}

type stickyConfig struct {
	ttl         time.Duration
	steps, size int
	set         bool
}

// sticky remembers the conversations answered by the capable model (LRU).
type sticky struct {
	ttl   time.Duration
	steps int
	size  int
	now   func() time.Time

	mu    sync.Mutex
	ll    *list.List
	items map[string]*list.Element
}

type stickyEntry struct {
	id    string
	until time.Time // zero: no time limit
	left  int       // steps left; -1: no limit
}

func newSticky(c stickyConfig) *sticky {
	if !c.set {
		c = stickyConfig{ttl: DefaultStickyTTL, size: DefaultStickyConversation}
	}
	if c.size == 0 {
		c.size = DefaultStickyConversation
	}
	if c.size < 0 {
		return nil
	}
	return &sticky{ttl: c.ttl, steps: c.steps, size: c.size, now: time.Now, ll: list.New(), items: make(map[string]*list.Element)}
}

func (s *sticky) Route(_ context.Context, in *RouteInput, current Route) (Route, error) {
	if in.Conversation == "" || current.Tier == TierCapable {
		return current, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[in.Conversation]
	if !ok {
		return current, nil
	}
	e := el.Value.(*stickyEntry)
	if (!e.until.IsZero() && s.now().After(e.until)) || e.left == 0 {
		s.ll.Remove(el)
		delete(s.items, in.Conversation)
		return current, nil
	}
	if e.left > 0 {
		e.left--
	}
	s.ll.MoveToFront(el)
	return Route{Tier: TierCapable, Policy: "sticky", Reason: "conversation already on the capable model"}, nil
}

// pin records that conversation id was answered by the capable model.
func (s *sticky) pin(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &stickyEntry{id: id, left: -1}
	if s.ttl > 0 {
		e.until = s.now().Add(s.ttl)
	}
	if s.steps > 0 {
		e.left = s.steps
	}
	if el, ok := s.items[id]; ok {
		el.Value = e
		s.ll.MoveToFront(el)
		return
	}
	s.items[id] = s.ll.PushFront(e)
	for s.ll.Len() > s.size {
		last := s.ll.Back()
		s.ll.Remove(last)
		delete(s.items, last.Value.(*stickyEntry).id)
	}
}

// len is the number of conversations remembered.
func (s *sticky) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ll.Len()
}

// CalibrateAlpha returns the value gate's alpha that would reject about
// targetRejectRate (in [0, 1]) of tasks whose value/cost ratios are given.
// With source "percentile" it is the targetRejectRate quantile of the ratios
// (exact, as RouteLLM calibrates thresholds); with "median" it is
// 2 × targetRejectRate × the median ratio, a robust choice when few samples
// are at hand (the two agree when ratios are uniform on [0, 2 × median]).
func CalibrateAlpha(ratios []float64, targetRejectRate float64, source string) (float64, error) {
	if !finite(targetRejectRate) || targetRejectRate < 0 || targetRejectRate > 1 {
		return 0, fmt.Errorf("baar: CalibrateAlpha: target reject rate %v not in [0, 1]", targetRejectRate)
	}
	clean := make([]float64, 0, len(ratios))
	for _, x := range ratios {
		if finite(x) && x >= 0 {
			clean = append(clean, x)
		}
	}
	if len(clean) == 0 {
		return 0, errors.New("baar: CalibrateAlpha: no finite, non-negative ratios")
	}
	switch source {
	case "percentile", "":
		// The threshold below which about targetRejectRate of samples fall:
		// scoring.ThresholdForShare gives the value ≥ which a share falls.
		t, err := scoring.ThresholdForShare(clean, 1-targetRejectRate)
		if err != nil {
			return 0, err
		}
		return t, nil
	case "median":
		m, err := scoring.ThresholdForShare(clean, 0.5)
		if err != nil {
			return 0, err
		}
		return 2 * targetRejectRate * m, nil
	}
	return 0, fmt.Errorf("baar: CalibrateAlpha: unknown source %q (percentile or median)", source)
}
