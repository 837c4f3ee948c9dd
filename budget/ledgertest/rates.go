package ledgertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baarcore/baar/budget"
)

// RunRates checks the rate limits of the ledgers open returns
// ([budget.Limits.Rates] and [budget.Limits.KeyRates]): a per-minute limit
// stops a storm of concurrent calls, windows reset at the minute boundary of
// the injected clock while a settlement applies to its own minute, and a
// reservation holds every limit (main budgets and rates, global and the
// key's) or none, a refusal naming the limit that refused.
func RunRates(t *testing.T, open Opener) {
	t.Run("minute storm", func(t *testing.T) { checkRatesMinuteStorm(t, open) })
	t.Run("minute boundary", func(t *testing.T) { checkRatesMinuteBoundary(t, open) })
	t.Run("all or nothing", func(t *testing.T) { checkRatesAllOrNothing(t, open) })
}

// checkRatesMinuteStorm is the "minute storm" check of RunRates.
func checkRatesMinuteStorm(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	const cent = dollar / 100
	bg := context.Background()
	noon := time.Date(2025, 6, 2, 12, 0, 30, 0, time.UTC)
	clk := NewClock(noon)
	l := open(t, 500*dollar, budget.Limits{
		Window:   budget.Window{Period: budget.Monthly},
		KeyRates: []budget.Rate{{Limit: dollar, Period: budget.Minutely}, {Limit: 50 * dollar, Period: budget.Daily}},
		Now:      clk.Now,
	})
	ctx := budget.ContextWithKey(bg, "runaway")
	var mu sync.Mutex
	var granted int
	var refusals []error
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.Reserve(ctx, 10*cent)
			if err == nil {
				err = l.Commit(bg, r, 10*cent)
			}
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				granted++
			} else {
				refusals = append(refusals, err)
			}
		}()
	}
	wg.Wait()
	equal(t, granted, 10, "calls of 10¢ granted under $1 per minute")
	for _, err := range refusals {
		ex := exceeded(t, err, "a refusal of the storm")
		equal(t, [3]any{ex.Key, ex.Rate, ex.Period}, [3]any{"runaway", true, budget.Minutely}, "the refusal names the key's minute limit")
		equal(t, ex.Resets, time.Date(2025, 6, 2, 12, 1, 0, 0, time.UTC), "the refusal says when the window resets")
		if !strings.Contains(err.Error(), "per minute") {
			t.Errorf("the refusal %q does not name its period", err)
		}
	}
	equal(t, stateOf(t, l, bg), budget.State{Limit: 500 * dollar, Spent: dollar}, "the global budget saw $1")
	clk.Add(30 * time.Second)
	_, err := l.Reserve(ctx, dollar)
	noErr(t, err, "the next minute grants $1 again")
}

// checkRatesMinuteBoundary is the "minute boundary" check of RunRates.
func checkRatesMinuteBoundary(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	const cent = dollar / 100
	bg := context.Background()
	noon := time.Date(2025, 6, 2, 12, 0, 30, 0, time.UTC)
	clk := NewClock(noon)
	l := open(t, 100*dollar, budget.Limits{Rates: []budget.Rate{{Limit: dollar, Period: budget.Minutely}}, Now: clk.Now})
	a, err := l.Reserve(bg, 60*cent)
	noErr(t, err, "reserve a")
	b, err := l.Reserve(bg, 40*cent)
	noErr(t, err, "reserve b")
	noErr(t, l.Commit(bg, b, 40*cent), "commit b")
	_, err = l.Reserve(bg, 1)
	ex := exceeded(t, err, "reserving past $1 in a minute")
	equal(t, [3]any{ex.Key, ex.Rate, ex.Period}, [3]any{"", true, budget.Minutely}, "refused by the global minute limit")
	equal(t, [3]budget.Amount{ex.Limit, ex.Spent, ex.Reserved}, [3]budget.Amount{dollar, 40 * cent, 60 * cent}, "the minute's figures")

	clk.Add(29*time.Second + 999*time.Millisecond) // 12:00:59.999
	_, err = l.Reserve(bg, 1)
	exceeded(t, err, "reserving just before the minute ends")
	clk.Add(time.Millisecond) // 12:01:00: a new minute
	c, err := l.Reserve(bg, 50*cent)
	noErr(t, err, "reserving in the next minute")
	// a settles into its own minute: the new one keeps its room.
	noErr(t, l.Commit(bg, a, 60*cent), "settling a, made in the previous minute")
	d, err := l.Reserve(bg, 50*cent)
	noErr(t, err, "the new minute's other half")
	_, err = l.Reserve(bg, 1)
	exceeded(t, err, "the new minute is full")
	noErr(t, l.Cancel(bg, c), "cancel c")
	noErr(t, l.Commit(bg, d, 50*cent), "commit d")
	equal(t, stateOf(t, l, bg), budget.State{Limit: 100 * dollar, Spent: 150 * cent}, "the main budget never resets")
	clk.Add(time.Hour)
	_, err = l.Reserve(bg, dollar)
	noErr(t, err, "an hour later, a whole minute's limit")
}

// checkRatesAllOrNothing is the "all or nothing" check of RunRates.
func checkRatesAllOrNothing(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	const cent = dollar / 100
	bg := context.Background()
	noon := time.Date(2025, 6, 2, 12, 0, 30, 0, time.UTC)
	clk := NewClock(noon)
	l := open(t, 100*dollar, budget.Limits{
		KeyLimit: 10 * dollar,
		Rates:    []budget.Rate{{Limit: 2 * dollar, Period: budget.Minutely}},
		KeyRates: []budget.Rate{{Limit: dollar, Period: budget.Minutely}, {Limit: 3 * dollar, Period: budget.Hourly}},
		Now:      clk.Now,
	})
	u, v, w := budget.ContextWithKey(bg, "u"), budget.ContextWithKey(bg, "v"), budget.ContextWithKey(bg, "w")
	ru, err := l.Reserve(u, dollar)
	noErr(t, err, "u reserves its minute's $1")
	_, err = l.Reserve(u, 50*cent)
	ex := exceeded(t, err, "u reserves more in the same minute")
	equal(t, [4]any{ex.Key, ex.Rate, ex.Period, ex.Limit}, [4]any{"u", true, budget.Minutely, dollar}, "refused by u's minute limit")
	equal(t, stateOf(t, l, bg), budget.State{Limit: 100 * dollar, Reserved: dollar}, "nothing held by the refusal")
	rv, err := l.Reserve(v, dollar)
	noErr(t, err, "v reserves $1: the global minute is full")
	_, err = l.Reserve(w, cent)
	ex = exceeded(t, err, "w reserves in a full global minute")
	equal(t, [4]any{ex.Key, ex.Rate, ex.Period, ex.Limit}, [4]any{"", true, budget.Minutely, 2 * dollar}, "refused by the global minute limit")
	equal(t, stateOf(t, l, w), budget.State{Limit: 10 * dollar}, "w's budget holds nothing")
	noErr(t, l.Commit(bg, ru, dollar), "commit u")
	noErr(t, l.Commit(bg, rv, dollar), "commit v")

	// u's hour: $1 a minute, $3 an hour.
	for i := range 2 {
		clk.Add(time.Minute)
		r, err := l.Reserve(u, dollar)
		noErr(t, err, "u, minute %d", i+2)
		noErr(t, l.Commit(bg, r, dollar), "commit")
	}
	clk.Add(time.Minute)
	_, err = l.Reserve(u, 50*cent)
	ex = exceeded(t, err, "u's fourth dollar in the hour")
	equal(t, [4]any{ex.Key, ex.Rate, ex.Period, ex.Spent}, [4]any{"u", true, budget.Hourly, 3 * dollar}, "refused by u's hourly limit")
	if !strings.Contains(err.Error(), "per hour") {
		t.Errorf("the refusal %q does not name its period", err)
	}
	_, err = l.Reserve(w, dollar)
	noErr(t, err, "w still has its minute and its hour")
	equal(t, stateOf(t, l, u), budget.State{Limit: 10 * dollar, Spent: 3 * dollar}, "u's main budget")
	clk.Add(time.Hour)
	_, err = l.Reserve(u, dollar)
	noErr(t, err, "u's next hour")
}

// RunAlerts checks the alert marks of the ledgers open returns, which must
// implement [budget.Alerter]: every threshold of the global budget and of a
// key's budget is reported once by the settlement whose spend reached it,
// never by a cancellation nor again in the same window, and again in the
// next window.
func RunAlerts(t *testing.T, open Opener) {
	t.Run("thresholds", func(t *testing.T) { checkAlertsThresholds(t, open) })
	t.Run("storm", func(t *testing.T) { checkAlertsStorm(t, open) })
}

// checkAlertsThresholds is the "thresholds" check of RunAlerts.
func checkAlertsThresholds(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	const cent = dollar / 100
	bg := context.Background()
	clk := NewClock(time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC))
	l := open(t, 10*dollar, budget.Limits{KeyLimit: 4 * dollar, Window: budget.Window{Period: budget.Monthly}, Now: clk.Now})
	a := alerter(t, l)
	isErr(t, a.SetAlerts([]float64{0, 0.5}), budget.ErrInvalid, "a threshold of 0")
	isErr(t, a.SetAlerts([]float64{1.5}), budget.ErrInvalid, "a threshold above 1")
	noErr(t, a.SetAlerts([]float64{0.8, 0.5}), "SetAlerts")
	noErr(t, a.SetAlerts([]float64{0.5, 0.8}), "SetAlerts again, the same thresholds")
	june := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	u := budget.ContextWithKey(bg, "u")
	spend := func(ctx context.Context, amount budget.Amount, want ...budget.Crossing) {
		t.Helper()
		r, err := l.Reserve(ctx, amount)
		noErr(t, err, "reserve %v", amount)
		got, err := a.CommitWithAlerts(bg, r, amount)
		noErr(t, err, "commit %v", amount)
		sameCrossings(t, got, want, "crossings of a commit of %v", amount)
	}
	cross := func(key string, th float64, spent, limit budget.Amount, start time.Time) budget.Crossing {
		return budget.Crossing{Key: key, Period: budget.Monthly, Window: start, Threshold: th, Spent: spent, Limit: limit}
	}
	spend(bg, 3*dollar)
	spend(u, 250*cent, cross("", 0.5, 550*cent, 10*dollar, june), cross("u", 0.5, 250*cent, 4*dollar, june))
	spend(u, dollar, cross("u", 0.8, 350*cent, 4*dollar, june))
	r, err := l.Reserve(bg, dollar)
	noErr(t, err, "reserve")
	noErr(t, l.Cancel(bg, r), "a cancellation spends nothing")
	spend(bg, 149*cent)
	spend(bg, cent, cross("", 0.8, 8*dollar, 10*dollar, june))
	spend(u, 50*cent)       // u at $4 of $4, global at $8.50: nothing new
	clk.Add(12 * time.Hour) // July: the marks start again
	july := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	spend(u, 2*dollar, cross("u", 0.5, 2*dollar, 4*dollar, july))
	spend(bg, 6*dollar, cross("", 0.5, 8*dollar, 10*dollar, july), cross("", 0.8, 8*dollar, 10*dollar, july))
	// A plain Commit sets the marks too.
	r, err = l.Reserve(u, 2*dollar)
	noErr(t, err, "reserve")
	noErr(t, l.Commit(bg, r, 2*dollar), "commit")
	spend(u, 0)
}

// checkAlertsStorm is the "storm" check of RunAlerts.
func checkAlertsStorm(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	Alerts(t, []budget.Ledger{open(t, 10*dollar, budget.Limits{KeyLimit: 5 * dollar})}, 200)
}

// Alerts commits, from n goroutines, 5¢ each on ledgers sharing one budget
// (a global limit of $10 and $5 per key, as [RunAlerts] opens it), half
// of them for key "k", through ledgers that implement [budget.Alerter] with
// thresholds 0.5, 0.8 and 0.95; and checks that each threshold of each
// budget crossed was reported exactly once, by the commit that reached it.
func Alerts(t *testing.T, ledgers []budget.Ledger, n int) {
	const cent = budget.Dollar / 100
	bg := context.Background()
	ths := []float64{0.5, 0.8, 0.95}
	for _, l := range ledgers {
		noErr(t, alerter(t, l).SetAlerts(ths), "SetAlerts")
	}
	var mu sync.Mutex
	var got []budget.Crossing
	var spent, kspent budget.Amount // what the commits spent: the ledgers start empty
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := ledgers[i%len(ledgers)]
			ctx, keyed := bg, (i/len(ledgers))%2 == 0
			if keyed {
				ctx = budget.ContextWithKey(bg, "k")
			}
			r, err := l.Reserve(ctx, 5*cent)
			if err != nil {
				exceeded(t, err, "reserve")
				return
			}
			cs, err := alerter(t, l).CommitWithAlerts(bg, r, 5*cent)
			noErr(t, err, "commit")
			mu.Lock()
			got = append(got, cs...)
			spent += 5 * cent
			if keyed {
				kspent += 5 * cent
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	equal(t, stateOf(t, ledgers[0], bg).Spent, spent, "the global budget's spend")
	var want []budget.Crossing
	for _, s := range []struct {
		key          string
		spent, limit budget.Amount
	}{{"", spent, 10 * budget.Dollar}, {"k", kspent, 5 * budget.Dollar}} {
		for _, th := range ths {
			if float64(s.spent) >= th*float64(s.limit) {
				want = append(want, budget.Crossing{Key: s.key, Threshold: th, Limit: s.limit})
			}
		}
	}
	seen := make(map[string]int)
	for _, c := range got {
		seen[fmt.Sprintf("%q %v", c.Key, c.Threshold)]++
		if float64(c.Spent) < c.Threshold*float64(c.Limit) || float64(c.Spent-5*cent) >= c.Threshold*float64(c.Limit) {
			t.Errorf("crossing %+v: not reached by the commit of 5¢ that reported it", c)
		}
	}
	for _, w := range want {
		if n := seen[fmt.Sprintf("%q %v", w.Key, w.Threshold)]; n != 1 {
			t.Errorf("threshold %v of budget %q reported %d times, want once", w.Threshold, w.Key, n)
		}
	}
	equal(t, len(got), len(want), "crossings reported (spent $%v globally, $%v by k)", spent.USD(), kspent.USD())
}

// alerter returns l as a budget.Alerter, failing the test when it is not one.
func alerter(t testing.TB, l budget.Ledger) budget.Alerter {
	t.Helper()
	a, ok := l.(budget.Alerter)
	if !ok {
		t.Fatalf("%T does not implement budget.Alerter", l)
	}
	return a
}

// sameCrossings reports an error unless got and want hold the same crossings
// (in any order), windows compared as instants and Generation ignored.
func sameCrossings(t testing.TB, got, want []budget.Crossing, what string, args ...any) {
	t.Helper()
	norm := func(cs []budget.Crossing) []string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = fmt.Sprintf("%q %v %d %v: %v of %v", c.Key, c.Period, c.Window.Unix(), c.Threshold, c.Spent, c.Limit)
		}
		slices.Sort(out)
		return out
	}
	equal(t, norm(got), norm(want), what, args...)
}
