package main

import (
	"context"
	"errors"
	"math"
	"strings"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

// unpricedModel is a model name no price table holds.
const unpricedModel = "acme-unpriced-9000"

// unknownPrice: a tier whose model has no price must make New fail, naming
// the model and WithPrice; nothing is ever priced at $0 by default.
func unknownPrice(ctx context.Context, e *env, o *outcome) {
	o.noSpend = true
	if _, ok := budget.Lookup(unpricedModel); ok {
		o.failf("precondition: %q has a price in the table", unpricedModel)
		return
	}
	for _, tc := range []struct {
		tier           string
		cheap, capable string
	}{
		{"cheap", unpricedModel, e.c.capableModel},
		{"capable", e.c.cheapModel, unpricedModel},
	} {
		r, err := e.newRouterNamed(tc.cheap, tc.capable, &baartest.Model{}, &baartest.Model{}, e.c.budgetUSD,
			baar.WithPrice("some-other-model", budget.Price{Input: 1, Output: 1}))
		switch {
		case err == nil:
			o.failf("New accepted an unpriced %s model (router %p)", tc.tier, r.router)
		case !strings.Contains(err.Error(), unpricedModel) || !strings.Contains(err.Error(), "WithPrice"):
			o.failf("New's error for an unpriced %s model does not name the model and WithPrice: %v", tc.tier, err)
		}
	}
	_, err := e.newRouter(&baartest.Model{}, &baartest.Model{}, e.c.budgetUSD, baar.WithPrice(unpricedModel, budget.Price{Input: math.NaN(), Output: 1}))
	if err == nil {
		o.failf("New accepted a NaN price")
	}
	_, err = e.newRouter(&baartest.Model{}, &baartest.Model{}, e.c.budgetUSD, baar.WithPrice(unpricedModel, budget.Price{Input: -1, Output: 1}))
	if err == nil {
		o.failf("New accepted a negative price")
	}
	o.notef("New fails for an unpriced cheap or capable model, naming it and WithPrice; NaN and negative prices are refused")
}

// unknownOverride: a call that overrides the model with llms.WithModel to an
// unpriced one is refused before any request.
func unknownOverride(ctx context.Context, e *env, o *outcome) {
	srv := baartest.NewServer()
	defer srv.Close()
	g, err := e.httpRig(srv, e.c.budgetUSD)
	if err != nil {
		o.failf("New: %v", err)
		return
	}
	for _, p := range []string{easyPrompts[0], hardPrompts[0]} {
		_, err := g.router.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, p)}, llms.WithModel(unpricedModel))
		switch {
		case err == nil:
			o.failf("a call to the unpriced %q was made", unpricedModel)
		case !errors.Is(err, baar.ErrInvalidRequest):
			o.failf("want ErrInvalidRequest, got %v", err)
		case !strings.Contains(err.Error(), unpricedModel):
			o.failf("the error does not name the model: %v", err)
		}
	}
	if n := srv.Requests(); n != 0 {
		o.failf("the provider received %d requests", n)
	}
	o.notef("llms.WithModel(%q) refused with ErrInvalidRequest, 0 requests", unpricedModel)
	st := g.ledger.verify(o, false)
	verifyAccounting(o, g.calls.tally(), srv.Requests(), st)
	o.spend(st.Spent.USD(), g.capUSD)
}

// zeroPrices: free models (every price 0) are allowed; their calls succeed
// and the spend stays $0.
func zeroPrices(ctx context.Context, e *env, o *outcome) {
	srv := baartest.NewServer(baartest.WithMaxOutput())
	defer srv.Close()
	free := budget.Price{Input: 0, Output: 0}
	g, err := e.httpRig(srv, e.c.budgetUSD, baar.WithPrice(e.c.cheapModel, free), baar.WithPrice(e.c.capableModel, free))
	if err != nil {
		o.failf("New with free models: %v", err)
		return
	}
	const calls = 50
	answered := 0
	for i := range calls {
		_, err := g.router.GenerateContent(ctx, stormPrompt(i))
		if err != nil {
			o.failf("call %d: %v", i, err)
			continue
		}
		answered++
	}
	st := g.ledger.verify(o, false)
	if st.Spent != 0 {
		o.failf("free calls spent %s", st.Spent)
	}
	if g.router.Remaining() != g.router.Budget() {
		o.failf("remaining %v ≠ budget %v after free calls", g.router.Remaining(), g.router.Budget())
	}
	t := g.calls.tally()
	verifyAccounting(o, t, srv.Requests(), st)
	o.notef("%d/%d free calls answered (%d cheap, %d capable), $0 spent", answered, calls, t.byTier[baar.TierCheap], t.byTier[baar.TierCapable])
	o.spend(st.Spent.USD(), g.capUSD)
}

// zeroBudget: a $0 budget refuses every priced call with no dial and no DNS
// look-up, even towards a host that does not exist.
func zeroBudget(ctx context.Context, e *env, o *outcome) {
	var nc baartest.NetCounter
	mk := func(model string) (llms.Model, error) {
		return openai.New(openai.WithToken("baar-stress"), openai.WithModel(model),
			openai.WithBaseURL("http://kill-switch.baar.invalid/v1"), openai.WithHTTPClient(nc.HTTPClient()))
	}
	cheap, err := mk(e.c.cheapModel)
	if err != nil {
		o.failf("openai.New: %v", err)
		return
	}
	capable, err := mk(e.c.capableModel)
	if err != nil {
		o.failf("openai.New: %v", err)
		return
	}
	g, err := e.newRouter(cheap, capable, 0)
	if err != nil {
		o.failf("New with a $0 budget: %v", err)
		return
	}
	free := e.cheapPrice.Input == 0 && e.cheapPrice.Output == 0 && e.capablePrice.Input == 0 && e.capablePrice.Output == 0
	if free {
		o.failf("precondition: both models are free, a $0 budget refuses nothing")
		return
	}
	refused := 0
	for _, p := range []string{easyPrompts[0], hardPrompts[0], hardPrompts[1]} {
		_, err := g.router.GenerateContent(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, p)})
		switch {
		case !errors.Is(err, baar.ErrBudgetExceeded):
			o.failf("want ErrBudgetExceeded, got %v", err)
		case !llms.IsQuotaExceededError(err):
			o.failf("llms.IsQuotaExceededError does not hold: %v", err)
		default:
			refused++
		}
	}
	_, err = g.router.Call(ctx, "Say hello.")
	if !errors.Is(err, baar.ErrBudgetExceeded) {
		o.failf("Call: want ErrBudgetExceeded, got %v", err)
	} else {
		refused++
	}
	if nc.Total() != 0 {
		o.failf("network activity: %d dials, %d look-ups, %d DNS dials", nc.Dials(), nc.Lookups(), nc.DNSDials())
	}
	st := g.ledger.verify(o, false)
	verifyAccounting(o, g.calls.tally(), nc.Dials(), st)
	o.notef("%d calls refused towards kill-switch.baar.invalid: 0 dials, 0 DNS look-ups", refused)
	o.spend(st.Spent.USD(), 0)
}
