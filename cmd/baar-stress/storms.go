package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

// Concurrency storm settings.
const (
	// stormShare is the share of a storm's calls whose worst case the storm's
	// cap covers (at most the --budget): the rest must be refused.
	stormShare = 4
	// stormPromptTokens is a generous input size of the storm prompts, used
	// only to size the cap.
	stormPromptTokens = 80
	// httpStormMax bounds the goroutines of the storm over real HTTP (one
	// connection each).
	httpStormMax = 1_000
	// failureRate is the share of provider requests that fail in the
	// random-failure storms.
	failureRate = 0.3
)

// stormCap is the cap of a storm of n calls: the --budget, lowered to the
// worst case of n/stormShare cheap calls so that most calls must be refused.
func (e *env) stormCap(n int) float64 {
	tight := float64(n/stormShare) * e.worstCase(e.cheapPrice, stormPromptTokens)
	if tight <= 0 || tight >= e.c.budgetUSD {
		return e.c.budgetUSD
	}
	// Round up to a nano-dollar so the cap is exact.
	a, err := budget.FromUSD(tight)
	if err != nil {
		return e.c.budgetUSD
	}
	return a.USD()
}

// stormPrompt is the i-th storm prompt: the calibration sample in turn, so
// about a fifth of the calls want the capable model.
func stormPrompt(i int) []llms.MessageContent {
	all := len(easyPrompts) + len(hardPrompts)
	k := i % all
	p := ""
	if k < len(easyPrompts) {
		p = easyPrompts[k]
	} else {
		p = hardPrompts[k-len(easyPrompts)]
	}
	return []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, p)}
}

// stormSpec describes a storm against baartest.Model providers.
type stormSpec struct {
	// provider configures the fake model of a tier.
	provider func(m *baartest.Model, seed uint64)
	// callTimeout, when > 0, is each call's context timeout (stalls).
	callTimeout time.Duration
	// stalls: every provider request stalls, so calls must time out.
	stalls bool
	// overrun: the provider reports more than max_tokens; the truth must be
	// recorded (spend may pass the cap) and every later call refused.
	overrun bool
	// source is the UsageSource every successful attempt must have.
	source baar.UsageSource
	// injected: the provider fails at random with injectedError values.
	injected bool
}

// stormStats are the outcomes of a storm's calls as the callers saw them.
type stormStats struct {
	ok, refused, injected, timedOut, other atomic.Int64
	maxLatency                             atomic.Int64
	firstOther                             atomic.Value
}

// storm runs n goroutines, each making one call through call once all are
// started, and classifies the errors.
func storm(ctx context.Context, n int, timeout time.Duration, call func(ctx context.Context, i int) error) *stormStats {
	s := &stormStats{}
	var wg sync.WaitGroup
	startLine := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startLine
			cctx := ctx
			if timeout > 0 {
				var cancel context.CancelFunc
				cctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			t0 := time.Now()
			err := call(cctx, i)
			d := int64(time.Since(t0))
			for {
				m := s.maxLatency.Load()
				if d <= m || s.maxLatency.CompareAndSwap(m, d) {
					break
				}
			}
			var inj *injectedError
			switch {
			case err == nil:
				s.ok.Add(1)
			case errors.Is(err, baar.ErrBudgetExceeded):
				s.refused.Add(1)
			case errors.As(err, &inj):
				s.injected.Add(1)
			case timeout > 0 && errors.Is(err, context.DeadlineExceeded):
				s.timedOut.Add(1)
			default:
				s.other.Add(1)
				s.firstOther.CompareAndSwap(nil, err.Error())
			}
		}()
	}
	close(startLine)
	wg.Wait()
	return s
}

// injectedError is a provider error planted by a random-failure storm. It
// wraps an error shaped like a real provider's, so the Router classifies it
// as it would classify the real one.
type injectedError struct{ err error }

func (e *injectedError) Error() string { return e.err.Error() }
func (e *injectedError) Unwrap() error { return e.err }

// injectedFailures are the provider errors of the random-failure storms, in
// the shapes langchaingo's clients return them.
var injectedFailures = []func() error{
	func() error {
		return &llms.Error{Code: llms.ErrCodeRateLimit, Provider: "openai", Message: "Rate limit reached for requests"}
	},
	func() error { return errors.New("API returned unexpected status code: 500: The server had an error") },
	func() error { return errors.New("API returned unexpected status code: 503: The server is overloaded") },
	func() error {
		return errors.New("API returned unexpected status code: 401: Incorrect API key provided")
	},
	func() error {
		return &llms.Error{Code: llms.ErrCodeInvalidRequest, Provider: "openai", Message: "invalid request"}
	},
	func() error {
		//lint:ignore ST1005 net/http's own error text, as providers return it
		return fmt.Errorf("Post \"https://api.example/v1/chat/completions\": read tcp: %w", syscall.ECONNRESET)
	},
	func() error {
		//lint:ignore ST1005 net/http's own error text, as providers return it
		return fmt.Errorf("Post \"https://api.example/v1/chat/completions\": %w", context.DeadlineExceeded)
	},
}

// splitmix64 is a seeded hash for reproducible random failures.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// randomFailures returns an ErrFunc failing about rate of the calls, chosen by
// seed and the call number.
func randomFailures(seed uint64, rate float64) func(int64, *llms.CallOptions) error {
	return func(call int64, _ *llms.CallOptions) error {
		h := splitmix64(seed ^ uint64(call)*0x2545f4914f6cdd1d)
		if float64(h>>11)/float64(1<<53) >= rate {
			return nil
		}
		return &injectedError{injectedFailures[splitmix64(h)%uint64(len(injectedFailures))]()}
	}
}

// unbilled are the error classes the Router documents as never billed: their
// reservation is released.
var unbilled = map[baar.ErrorClass]bool{
	baar.ClassAuth: true, baar.ClassBadRequest: true, baar.ClassRateLimit: true,
	baar.ClassQuota: true, baar.ClassConnect: true, baar.ClassBudget: true,
}

// verifyAttempts checks each attempt's settlement against the Router's
// contract: a success settles from the provider's usage (or at the
// reservation when the usage is missing or invalid), never above the
// reservation unless overrun; a failure is released when it cannot have been
// billed and settled at the reservation otherwise. It also checks that no
// call was granted after the recorded spend passed the cap.
func verifyAttempts(o *outcome, recs []callRecord, source baar.UsageSource, overrun bool) {
	bad := map[string]int{}
	example := map[string]string{}
	note := func(kind, ex string) {
		bad[kind]++
		if _, ok := example[kind]; !ok {
			example[kind] = ex
		}
	}
	for _, r := range recs {
		if r.spentBefore > r.budget && len(r.attempts) > 0 {
			note("a call made after the spend passed the cap reached the provider", fmt.Sprintf("spent %s of %s", usd(r.spentBefore), usd(r.budget)))
		}
		for _, a := range r.attempts {
			switch {
			case a.errClass == "":
				if source != "" && a.usageSource != source {
					note("success settled from the wrong source", fmt.Sprintf("%s, want %s", a.usageSource, source))
				}
				if !overrun && a.cost > a.reserved*(1+1e-9) {
					note("success settled above its reservation", fmt.Sprintf("%s > %s", usd(a.cost), usd(a.reserved)))
				}
			case unbilled[a.errClass]:
				if a.cost != 0 || a.usageSource != "none" {
					note("unbillable failure charged", fmt.Sprintf("%s charged %s (%s)", a.errClass, usd(a.cost), a.usageSource))
				}
			default:
				if a.cost < a.reserved*(1-1e-9) || a.cost > a.reserved*(1+1e-9) || a.usageSource != "reservation" {
					note("billable failure not settled at its reservation", fmt.Sprintf("%s: %s of %s (%s)", a.errClass, usd(a.cost), usd(a.reserved), a.usageSource))
				}
			}
		}
	}
	for kind, n := range bad {
		o.failf("%d× %s (e.g. %s)", n, kind, example[kind])
	}
}

// modelStorm is a storm of --goroutines calls against baartest.Model
// providers configured by spec.
func modelStorm(spec stormSpec) func(ctx context.Context, e *env, o *outcome) {
	return func(ctx context.Context, e *env, o *outcome) {
		cheap := &baartest.Model{Name: e.c.cheapModel}
		capable := &baartest.Model{Name: e.c.capableModel}
		spec.provider(cheap, e.c.seed)
		spec.provider(capable, e.c.seed+1)
		n := e.c.goroutines
		capUSD := e.stormCap(n)
		g, err := e.newRouter(cheap, capable, capUSD)
		if err != nil {
			o.failf("New: %v", err)
			return
		}
		s := storm(ctx, n, spec.callTimeout, func(ctx context.Context, i int) error {
			_, err := g.router.GenerateContent(ctx, stormPrompt(i))
			return err
		})
		if ctx.Err() != nil {
			o.failf("stopped: %v", ctx.Err())
		}
		stormVerdict(o, e, g, s, n, spec, cheap.Calls()+capable.Calls())
		if spec.overrun {
			// One more call: the spend is past the cap, so it must be refused
			// without reaching the provider.
			before := cheap.Calls() + capable.Calls()
			_, err := g.router.GenerateContent(ctx, stormPrompt(0))
			if !errors.Is(err, baar.ErrBudgetExceeded) {
				o.failf("a call after the storm was not refused: %v", err)
			}
			if after := cheap.Calls() + capable.Calls(); after != before {
				o.failf("a refused call after the storm reached the provider")
			}
		}
	}
}

// stormVerdict checks a storm's ledger, reports and provider counts.
func stormVerdict(o *outcome, e *env, g *rig, s *stormStats, n int, spec stormSpec, providerRequests int64) {
	st := g.ledger.verify(o, spec.overrun)
	t := g.calls.tally()
	verifyAccounting(o, t, providerRequests, st)
	verifyAttempts(o, g.calls.records(), spec.source, spec.overrun)
	if t.calls != n {
		o.failf("%d calls made, %d reported", n, t.calls)
	}
	if k := s.other.Load(); k > 0 {
		o.failf("%d calls failed with an unexpected error (e.g. %v)", k, s.firstOther.Load())
	}
	if spec.injected && s.injected.Load() == 0 {
		o.failf("no injected failure reached a caller: the storm did not fail anything")
	}
	if spec.stalls && s.timedOut.Load() == 0 {
		o.failf("no call timed out: the provider did not stall")
	}
	if lat := time.Duration(s.maxLatency.Load()); lat > spec.callTimeout+e.c.quick {
		o.failf("the slowest call took %v", lat.Round(time.Millisecond))
	}
	if st.Limit > 0 && s.refused.Load() == 0 && e.cheapPrice.Output+e.cheapPrice.Input > 0 {
		o.failf("no call was refused: the cap was not tight, the storm proved nothing")
	}
	if spec.overrun {
		// The truth must be recorded: settlements above their reservations
		// (verify checked that the ledger's spend is the sum of what the
		// provider reported). Whether the total passes the cap depends on
		// how many calls were in flight when the first inflated answer
		// settled, so it is reported, not required.
		if g.ledger.overCommitted.Load() == 0 {
			o.failf("no settlement above its reservation was recorded although the provider reported %d× the output cap", baartest.InflationFactor)
		} else {
			past := "within"
			if st.Spent > st.Limit {
				past = "past"
			}
			o.notef("overrun recorded: spent %s, %s the cap of %s (%d settlements above their reservation), %d reservations refused after, none granted",
				usd(st.Spent.USD()), past, usd(st.Limit.USD()), g.ledger.overCommitted.Load(), g.ledger.refusals.Load())
		}
	}
	o.notef("%d calls: %d answered, %d refused, %d injected failures, %d timed out; %d provider requests (%d cheap, %d capable), %d failovers, %d downgrades",
		n, s.ok.Load(), s.refused.Load(), s.injected.Load(), s.timedOut.Load(), providerRequests,
		t.byTier[baar.TierCheap], t.byTier[baar.TierCapable], t.decisions[baar.DecisionFailover], t.decisions[baar.DecisionDowngraded])
	o.spend(st.Spent.USD(), g.capUSD)
}

// httpStorm is a storm over langchaingo's openai client against the
// simulator failing at random (HTTP errors, resets, truncated bodies, stalls).
func httpStorm(ctx context.Context, e *env, o *outcome) {
	srv := baartest.NewServer(baartest.WithMaxOutput(), baartest.WithFailures(baartest.RandomFailures(e.c.seed, failureRate,
		baartest.FailRateLimit, baartest.FailQuota, baartest.FailServerError, baartest.FailUnavailable,
		baartest.FailUnauthorized, baartest.FailBadRequest, baartest.FailReset, baartest.FailTruncate, baartest.FailStall)))
	defer srv.Close()
	n := min(e.c.goroutines, httpStormMax)
	capUSD := e.stormCap(n)
	g, err := e.httpRig(srv, capUSD)
	if err != nil {
		o.failf("New: %v", err)
		return
	}
	const stall = 2 * time.Second
	s := storm(ctx, n, stall, func(ctx context.Context, i int) error {
		_, err := g.router.GenerateContent(ctx, stormPrompt(i))
		if err != nil && !errors.Is(err, baar.ErrBudgetExceeded) && !errors.Is(err, context.DeadlineExceeded) {
			// Provider errors over HTTP are the injected ones.
			return &injectedError{err}
		}
		return err
	})
	if ctx.Err() != nil {
		o.failf("stopped: %v", ctx.Err())
	}
	stormVerdict(o, e, g, s, n, stormSpec{callTimeout: stall, injected: true}, srv.Requests())
}
