package main

import (
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

// rig is a Router with its witness ledger and report collector.
type rig struct {
	router *baar.Router
	ledger *witness
	calls  *collector
	capUSD float64
}

// newRouter builds a Router over cheap and capable with the configured
// models, prices and output cap, a fresh ledger of capUSD (wrapped by the
// test hook, then by a witness), the calibrated threshold and a report
// collector. extra options are applied last.
func (e *env) newRouter(cheap, capable llms.Model, capUSD float64, extra ...baar.Option) (*rig, error) {
	return e.newRouterNamed(e.c.cheapModel, e.c.capableModel, cheap, capable, capUSD, extra...)
}

// newRouterNamed is newRouter with other tier model names.
func (e *env) newRouterNamed(cheapName, capableName string, cheap, capable llms.Model, capUSD float64, extra ...baar.Option) (*rig, error) {
	limit, err := budget.FromUSD(capUSD)
	if err != nil {
		return nil, err
	}
	mem, err := budget.NewMemory(limit)
	if err != nil {
		return nil, err
	}
	var l budget.Ledger = mem
	if e.c.wrapLedger != nil {
		l = e.c.wrapLedger(l)
	}
	w := &witness{inner: l, limit: limit}
	col := &collector{}
	opts := []baar.Option{
		baar.WithLedger(w),
		baar.WithMaxOutputTokens(e.c.maxOutput),
		baar.WithComplexityThreshold(e.threshold),
		baar.WithReportFunc(col.add),
	}
	if e.c.cheapPrice != nil {
		opts = append(opts, baar.WithPrice(e.c.cheapModel, *e.c.cheapPrice))
	}
	if e.c.capablePrice != nil {
		opts = append(opts, baar.WithPrice(e.c.capableModel, *e.c.capablePrice))
	}
	if e.c.scorer != nil {
		opts = append(opts, baar.WithScorer(e.c.scorer))
	}
	opts = append(opts, extra...)
	r, err := baar.New(
		baar.Tier{Model: cheap, Name: cheapName},
		baar.Tier{Model: capable, Name: capableName},
		opts...)
	if err != nil {
		return nil, err
	}
	return &rig{router: r, ledger: w, calls: col, capUSD: capUSD}, nil
}

// openaiModel is langchaingo's real openai client for model, pointed at srv.
func openaiModel(srv *baartest.Server, model string, extra ...openai.Option) (llms.Model, error) {
	opts := append([]openai.Option{openai.WithToken("baar-stress"), openai.WithBaseURL(srv.URL()), openai.WithModel(model)}, extra...)
	return openai.New(opts...)
}

// httpRig is a Router over langchaingo's openai client for both tiers,
// against one simulator.
func (e *env) httpRig(srv *baartest.Server, capUSD float64, extra ...baar.Option) (*rig, error) {
	cheap, err := openaiModel(srv, e.c.cheapModel)
	if err != nil {
		return nil, err
	}
	capable, err := openaiModel(srv, e.c.capableModel)
	if err != nil {
		return nil, err
	}
	return e.newRouter(cheap, capable, capUSD, extra...)
}
