package baar

import (
	"context"
	"fmt"

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

// PolicyName names a routing policy in routes, reports and telemetry: one of
// the built-in names below or the name given to WithPolicy.
type PolicyName string

// Names of the built-in policies.
const (
	PolicyThreshold   PolicyName = "threshold"
	PolicySticky      PolicyName = "sticky"
	PolicyValueGate   PolicyName = "value-gate"
	PolicyExploration PolicyName = "exploration"
)

// PolicyFunc adapts a function to a Policy.
type PolicyFunc func(ctx context.Context, in *RouteInput, current Route) (Route, error)

// Route calls f.
func (f PolicyFunc) Route(ctx context.Context, in *RouteInput, current Route) (Route, error) {
	return f(ctx, in, current)
}

// Route is a routing choice: a tier, and which policy chose it and why.
type Route struct {
	// Tier is TierCheap or TierCapable.
	Tier TierLabel
	// Policy names the policy that set the tier ("threshold", "sticky",
	// "value-gate", "exploration", or the name given to WithPolicy).
	Policy PolicyName
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

	r         *Router
	msgs      []llms.MessageContent
	opts      []llms.CallOption // the caller's, untouched
	co        *llms.CallOptions // opts applied
	sentBytes int64             // the text of the messages
	plans     [2]callPlan
	have      [2]bool
}

// Depth is the number of messages in the conversation.
func (in *RouteInput) Depth() int { return len(in.Request.Messages) }

// Estimate returns the worst-case cost in USD of sending the call to tier
// (TierCheap or TierCapable): what the Router would reserve.
func (in *RouteInput) Estimate(tier TierLabel) (float64, error) {
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
func (in *RouteInput) plan(t *tierModel) (callPlan, error) {
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

func (thresholdPolicy) Route(_ context.Context, in *RouteInput, _ Route) (Route, error) {
	if c := in.r.cascade; c != nil {
		// A cascade judges the answer, not the prompt: the cheap model
		// answers first, unless the score reaches the bypass bar.
		if c.bypass > 0 && in.Score >= c.bypass {
			return Route{Tier: TierCapable, Policy: PolicyThreshold, Reason: "score at or above the cascade's bypass"}, nil
		}
		return Route{Tier: TierCheap, Policy: PolicyThreshold, Reason: "cascade: the cheap model answers first"}, nil
	}
	if in.Score >= in.Threshold { // NaN (scorer failure) goes to the cheap model
		return Route{Tier: TierCapable, Policy: PolicyThreshold, Reason: "score at or above threshold"}, nil
	}
	return Route{Tier: TierCheap, Policy: PolicyThreshold, Reason: "score below threshold"}, nil
}

// namedPolicy gives a user's policy its name in reports.
type namedPolicy struct {
	name PolicyName
	p    Policy
}

func (n namedPolicy) Route(ctx context.Context, in *RouteInput, current Route) (Route, error) {
	next, err := n.p.Route(ctx, in, current)
	if err == nil && next.Tier != current.Tier && next.Policy == "" {
		next.Policy = n.name
	}
	return next, err
}
