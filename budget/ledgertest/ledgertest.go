// Package ledgertest checks that a [budget.Ledger] enforces a
// [budget.Limits]: budgets per key chosen through the context, calendar
// windows, leases, refusals of amounts beyond any budget, and the hard cap
// under concurrency. Every store of the budget package and its
// subpackages runs it, like testing/slogtest for slog handlers; so should
// every third-party ledger. It needs nothing but the standard library.
package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York, whatever the machine has

	"github.com/baarcore/baar/budget"
)

// Clock is an injected clock ([budget.Limits.Now]): tests move it instead of
// sleeping. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Opener opens a fresh, empty ledger with a global limit and a policy, for
// one test; it closes it when the test ends.
type Opener func(t *testing.T, limit budget.Amount, p budget.Limits) budget.Ledger

// unsettledLister is implemented by ledgers that list their unsettled
// reservations.
type unsettledLister interface {
	Unsettled(context.Context) ([]budget.Reservation, error)
}

// unsettled lists l's unsettled reservations, or returns errNoList when l
// cannot list them.
func unsettled(l budget.Ledger, ctx context.Context) ([]budget.Reservation, error) {
	u, ok := l.(unsettledLister)
	if !ok {
		return nil, errNoList
	}
	return u.Unsettled(ctx)
}

var errNoList = errors.New("the ledger does not list unsettled reservations")

// stateOf reads l's state for ctx.
func stateOf(t *testing.T, l budget.Ledger, ctx context.Context) budget.State {
	t.Helper()
	s, err := l.State(ctx)
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	return s
}

// noErr fails the test now when err is not nil.
func noErr(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", fmt.Sprintf(what, args...), err)
	}
}

// isErr reports an error unless errors.Is(err, target).
func isErr(t testing.TB, err, target error, what string, args ...any) bool {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want one matching %v", fmt.Sprintf(what, args...), err, target)
		return false
	}
	return true
}

// equal reports an error unless got and want are deeply equal.
func equal[T any](t testing.TB, got, want T, what string, args ...any) bool {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %+v, want %+v", fmt.Sprintf(what, args...), got, want)
		return false
	}
	return true
}

// exceeded returns the *budget.ExceededError of err, failing the test now
// when there is none.
func exceeded(t testing.TB, err error, what string, args ...any) *budget.ExceededError {
	t.Helper()
	var ex *budget.ExceededError
	if !errors.As(err, &ex) {
		t.Fatalf("%s: got error %v, want a *budget.ExceededError", fmt.Sprintf(what, args...), err)
	}
	if !errors.Is(err, budget.ErrExceeded) {
		t.Errorf("%s: %v does not match budget.ErrExceeded", fmt.Sprintf(what, args...), err)
	}
	return ex
}

// Run checks the policy semantics of the ledgers open returns: scopes
// (global and per-key budgets, atomic across both), windows (daily in
// America/New_York, settlements applied to their own window), leases
// (expired reservations charged as spent, late settlements correcting the
// charge), settlement rules, a concurrent storm, rate limits ([RunRates])
// and alert marks ([RunAlerts]: the ledgers must implement
// [budget.Alerter]). Ledgers that have an Unsettled method also have it
// checked.
func Run(t *testing.T, open Opener) {
	t.Run("scopes", func(t *testing.T) { checkScopes(t, open) })
	t.Run("no key budget", func(t *testing.T) { checkNoKeyBudget(t, open) })
	t.Run("windows", func(t *testing.T) { checkWindows(t, open) })
	t.Run("leases", func(t *testing.T) { checkLeases(t, open) })
	t.Run("negative commit", func(t *testing.T) { checkNegativeCommit(t, open) })
	t.Run("saturated reservation", func(t *testing.T) { checkSaturatedReservation(t, open) })
	t.Run("storm", func(t *testing.T) { checkStorm(t, open) })
	t.Run("rates", func(t *testing.T) { RunRates(t, open) })
	t.Run("alerts", func(t *testing.T) { RunAlerts(t, open) })
}

// checkScopes is the "scopes" check of Run.
func checkScopes(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	bg := context.Background()
	l := open(t, 10*dollar, budget.Limits{KeyLimit: 3 * dollar, KeyLimits: map[string]budget.Amount{"vip": 8 * dollar, "blocked": 0}})
	u1 := budget.ContextWithKey(bg, "user-1")

	r1, err := l.Reserve(u1, 2*dollar)
	noErr(t, err, "reserving $2 for user-1")
	// The key's budget refuses: nothing is held anywhere.
	_, err = l.Reserve(u1, 2*dollar)
	ex := exceeded(t, err, "reserving $2 more for user-1")
	equal(t, *ex, budget.ExceededError{Limit: 3 * dollar, Reserved: 2 * dollar, Requested: 2 * dollar, Key: "user-1"}, "the key's budget refuses, and says so")
	if !strings.Contains(err.Error(), `"user-1"`) {
		t.Errorf("the refusal %q does not name the key", err)
	}
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar, Reserved: 2 * dollar}, "no partial reservation")
	equal(t, stateOf(t, l, u1), budget.State{Limit: 3 * dollar, Reserved: 2 * dollar}, "the binding budget of user-1 is its own")

	// Other keys have their own budgets; a blocked key gets nothing.
	_, err = l.Reserve(budget.ContextWithKey(bg, "blocked"), 1)
	exceeded(t, err, "reserving for a blocked key")
	rv, err := l.Reserve(budget.ContextWithKey(bg, "vip"), 7*dollar)
	noErr(t, err, "reserving $7 for vip")
	// Now the global budget binds: 1 left.
	_, err = l.Reserve(budget.ContextWithKey(bg, "user-2"), 2*dollar)
	ex = exceeded(t, err, "reserving $2 for user-2 with $1 left")
	equal(t, ex.Limit, 10*dollar, "refused by the global budget")
	equal(t, stateOf(t, l, budget.ContextWithKey(bg, "user-2")), budget.State{Limit: 10 * dollar, Reserved: 9 * dollar}, "the global budget binds user-2")

	noErr(t, l.Commit(bg, r1, dollar), "commit")
	noErr(t, l.Cancel(bg, rv), "cancel")
	equal(t, stateOf(t, l, u1), budget.State{Limit: 3 * dollar, Spent: dollar}, "user-1 after its commit")
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar, Spent: dollar}, "global after the settlements")
	// Settling twice is a no-op; a foreign reservation is invalid.
	noErr(t, l.Commit(bg, r1, 5*dollar), "settling twice")
	isErr(t, l.Cancel(bg, budget.Reservation{ID: 99, Amount: 1}), budget.ErrInvalid, "cancelling a reservation never issued")
	isErr(t, l.Cancel(bg, budget.Reservation{ID: 0}), budget.ErrInvalid, "cancelling reservation 0")
	_, err = l.Reserve(bg, -1)
	isErr(t, err, budget.ErrInvalid, "reserving a negative amount")
}

// checkNoKeyBudget is the "no key budget" check of Run.
func checkNoKeyBudget(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	bg := context.Background()
	l := open(t, dollar, budget.Limits{})
	ctx := budget.ContextWithKey(bg, "anyone")
	_, err := l.Reserve(ctx, dollar)
	noErr(t, err, "reserving the whole budget with a key that has no budget")
	equal(t, stateOf(t, l, ctx), budget.State{Limit: dollar, Reserved: dollar}, "the global budget binds")
}

// checkWindows is the "windows" check of Run.
func checkWindows(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	bg := context.Background()
	ny, err := time.LoadLocation("America/New_York")
	noErr(t, err, "loading America/New_York")
	clk := NewClock(time.Date(2025, 3, 9, 23, 0, 0, 0, ny))
	l := open(t, 10*dollar, budget.Limits{KeyLimit: 5 * dollar, Window: budget.Window{Period: budget.Daily, Location: ny}, Now: clk.Now})
	u := budget.ContextWithKey(bg, "u")
	old, err := l.Reserve(u, 4*dollar)
	noErr(t, err, "reserving before midnight")
	if old.Generation == 0 {
		t.Errorf("a windowed reservation has generation 0")
	}
	spent, err := l.Reserve(bg, 5*dollar)
	noErr(t, err, "reserving $5")
	noErr(t, l.Commit(bg, spent, 5*dollar), "commit")
	_, err = l.Reserve(bg, 2*dollar)
	exceeded(t, err, "reserving $2 with $1 left")

	clk.Add(time.Hour) // midnight in New York: a new day
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar}, "a new day, globally")
	equal(t, stateOf(t, l, u), budget.State{Limit: 5 * dollar}, "a new day, for the key")
	r, err := l.Reserve(u, 5*dollar)
	noErr(t, err, "reserving the key's whole new day")
	equal(t, r.Generation, old.Generation+1, "the next day's generation")

	// The old reservation settles into its own day, not today.
	noErr(t, l.Commit(bg, old, 4*dollar), "settling yesterday's reservation")
	equal(t, stateOf(t, l, u), budget.State{Limit: 5 * dollar, Reserved: 5 * dollar}, "today's key budget is untouched")
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar, Reserved: 5 * dollar}, "today's global budget is untouched")
	noErr(t, l.Commit(bg, r, 3*dollar), "commit")
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar, Spent: 3 * dollar}, "today's spend")
}

// checkLeases is the "leases" check of Run.
func checkLeases(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	bg := context.Background()
	clk := NewClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	l := open(t, 10*dollar, budget.Limits{KeyLimit: 5 * dollar, Lease: time.Minute, Now: clk.Now})
	u := budget.ContextWithKey(bg, "u")
	a, err := l.Reserve(u, 4*dollar)
	noErr(t, err, "reserve a")
	b, err := l.Reserve(bg, 3*dollar)
	noErr(t, err, "reserve b")
	clk.Add(59 * time.Second)
	c, err := l.Reserve(bg, dollar)
	noErr(t, err, "reserve c")
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar, Reserved: 8 * dollar}, "before the leases expire")

	clk.Add(2 * time.Second) // a and b expire: charged as spent
	z, err := l.Reserve(bg, 0)
	noErr(t, err, "reserving $0")
	noErr(t, l.Cancel(bg, z), "cancel")
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar, Spent: 7 * dollar, Reserved: dollar}, "expired reservations are charged as spent")
	equal(t, stateOf(t, l, u), budget.State{Limit: 5 * dollar, Spent: 4 * dollar}, "and so to their key")
	if list, err := unsettled(l, bg); !errors.Is(err, errNoList) {
		noErr(t, err, "Unsettled")
		equal(t, list, []budget.Reservation{a, b, c}, "unsettled, expired ones included")
	}

	// Late settlements correct the charge.
	noErr(t, l.Commit(bg, a, dollar), "late commit of a")
	noErr(t, l.Cancel(bg, b), "late cancel of b")
	noErr(t, l.Commit(bg, c, dollar), "commit c")
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar, Spent: 2 * dollar}, "late settlements correct the charge")
	equal(t, stateOf(t, l, u), budget.State{Limit: 5 * dollar, Spent: dollar}, "and the key's")
	if list, err := unsettled(l, bg); !errors.Is(err, errNoList) {
		noErr(t, err, "Unsettled")
		equal(t, len(list), 0, "nothing unsettled")
	}
	noErr(t, l.Commit(bg, a, 9*dollar), "settled: no-op")
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar, Spent: 2 * dollar}, "a second settlement changes nothing")
}

// checkNegativeCommit is the "negative commit" check of Run.
func checkNegativeCommit(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	bg := context.Background()
	l := open(t, 10*dollar, budget.Limits{})
	r, err := l.Reserve(bg, 2*dollar)
	noErr(t, err, "reserve")
	isErr(t, l.Commit(bg, r, -1), budget.ErrInvalid, "committing a negative amount")
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar, Spent: 2 * dollar}, "settled at the reserved amount")
	r2, err := l.Reserve(bg, 2*dollar)
	noErr(t, err, "reserve")
	isErr(t, l.Commit(bg, budget.Reservation{ID: r2.ID, Amount: 3}, 1), budget.ErrInvalid, "wrong amount")
	isErr(t, l.Commit(bg, budget.Reservation{ID: r2.ID, Amount: r2.Amount, Generation: 5}, 1), budget.ErrInvalid, "wrong generation")
	noErr(t, l.Commit(bg, r2, 1), "commit")
}

// checkSaturatedReservation is the "saturated reservation" check of Run.
func checkSaturatedReservation(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	bg := context.Background()
	// An amount beyond what any store represents (a worst case that
	// saturated at budget.MaxAmount) is a refusal like any other, not
	// an invalid input: every budget is smaller.
	l := open(t, 10*dollar, budget.Limits{KeyLimit: 3 * dollar})
	held, err := l.Reserve(bg, dollar)
	noErr(t, err, "reserve")
	for _, amount := range []budget.Amount{budget.MaxAmount, 1<<62 + 1, 1<<53 + 1} {
		for _, ctx := range []context.Context{bg, budget.ContextWithKey(bg, "u")} {
			_, err := l.Reserve(ctx, amount)
			ex := exceeded(t, err, "reserving %v", amount)
			if errors.Is(err, budget.ErrInvalid) {
				t.Errorf("reserving %v: %v matches budget.ErrInvalid", amount, err)
			}
			equal(t, ex.Requested, amount, "the refusal's requested amount")
			if ex.Requested <= ex.Limit {
				t.Errorf("reserving %v: refused by a budget of %v", amount, ex.Limit)
			}
		}
	}
	equal(t, stateOf(t, l, bg), budget.State{Limit: 10 * dollar, Reserved: dollar}, "nothing held")
	noErr(t, l.Commit(bg, held, dollar), "commit")
	_, err = l.Reserve(budget.ContextWithKey(bg, "u"), 3*dollar)
	noErr(t, err, "the budgets still grant what fits")
}

// checkStorm is the "storm" check of Run.
func checkStorm(t *testing.T, open Opener) {
	const dollar = budget.Dollar
	Storm(t, []budget.Ledger{open(t, 50*dollar, budget.Limits{KeyLimit: 10 * dollar})})
}

// Storm runs concurrent reserve/commit/cancel on ledgers sharing one budget
// (a global limit of $50 and $10 per key, as Run opens it) from 16
// goroutines with four keys, and checks that no budget ever exceeded its
// limit and that the spend adds up.
func Storm(t *testing.T, ledgers []budget.Ledger) {
	if len(ledgers) == 0 {
		t.Fatal("Storm: no ledger")
	}
	l := ledgers[0]
	bg := context.Background()
	var mu sync.Mutex
	var total budget.Amount
	perKey := map[string]budget.Amount{}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			led := ledgers[g%len(ledgers)]
			key := fmt.Sprintf("k%d", g%4)
			ctx := budget.ContextWithKey(bg, key)
			for range 150 {
				amt := budget.Amount(rng.IntN(int(budget.Dollar)))
				r, err := led.Reserve(ctx, amt)
				if errors.Is(err, budget.ErrExceeded) {
					continue
				}
				if err != nil {
					t.Errorf("Reserve: %v", err)
					return
				}
				s, err := led.State(ctx)
				if err != nil {
					t.Errorf("State: %v", err)
				} else if s.Spent+s.Reserved > s.Limit {
					t.Errorf("spent %v + reserved %v exceed the limit %v", s.Spent, s.Reserved, s.Limit)
				}
				if rng.IntN(4) == 0 {
					if err := led.Cancel(bg, r); err != nil {
						t.Errorf("Cancel: %v", err)
					}
					continue
				}
				actual := budget.Amount(rng.Int64N(int64(amt) + 1))
				if err := led.Commit(bg, r, actual); err != nil {
					t.Errorf("Commit: %v", err)
				}
				mu.Lock()
				total += actual
				perKey[key] += actual
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s := stateOf(t, l, bg)
	equal(t, s.Spent, total, "the spend adds up")
	equal(t, s.Reserved, 0, "nothing reserved")
	if s.Spent > s.Limit {
		t.Errorf("spent %v above the limit %v", s.Spent, s.Limit)
	}
	for k, v := range perKey {
		ks := stateOf(t, l, budget.ContextWithKey(bg, k))
		if ks.Limit == 10*budget.Dollar { // the key binds
			equal(t, ks.Spent, v, "key %s's spend", k)
			if ks.Spent > ks.Limit {
				t.Errorf("key %s spent %v above its limit %v", k, ks.Spent, ks.Limit)
			}
		}
	}
}

// Alternate returns a ledger that sends each operation to the next of
// ledgers, which share one budget (two processes, two connections), so
// that each must see what the others wrote: Run(t, opener returning
// Alternate(a, b)) checks a store shared. Its Unsettled method lists the
// unsettled reservations of the next ledger that lists them.
func Alternate(ledgers ...budget.Ledger) budget.Ledger {
	return &alternating{ls: ledgers}
}

// alternating sends each operation to the next of its ledgers.
type alternating struct {
	mu sync.Mutex
	n  int
	ls []budget.Ledger
}

func (a *alternating) next() budget.Ledger {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return a.ls[a.n%len(a.ls)]
}

func (a *alternating) Reserve(ctx context.Context, x budget.Amount) (budget.Reservation, error) {
	return a.next().Reserve(ctx, x)
}

func (a *alternating) Commit(ctx context.Context, r budget.Reservation, x budget.Amount) error {
	return a.next().Commit(ctx, r, x)
}

func (a *alternating) Cancel(ctx context.Context, r budget.Reservation) error {
	return a.next().Cancel(ctx, r)
}

func (a *alternating) State(ctx context.Context) (budget.State, error) { return a.next().State(ctx) }

func (a *alternating) Unsettled(ctx context.Context) ([]budget.Reservation, error) {
	return unsettled(a.next(), ctx)
}

// SetAlerts sets thresholds on every ledger that is a [budget.Alerter]; it
// fails when none is.
func (a *alternating) SetAlerts(thresholds []float64) error {
	n := 0
	for _, l := range a.ls {
		if al, ok := l.(budget.Alerter); ok {
			if err := al.SetAlerts(thresholds); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return errNoAlerts
	}
	return nil
}

// CommitWithAlerts commits through the next ledger, with its alerts when it
// is a [budget.Alerter].
func (a *alternating) CommitWithAlerts(ctx context.Context, r budget.Reservation, x budget.Amount) ([]budget.Crossing, error) {
	l := a.next()
	if al, ok := l.(budget.Alerter); ok {
		return al.CommitWithAlerts(ctx, r, x)
	}
	return nil, l.Commit(ctx, r, x)
}

var errNoAlerts = errors.New("no ledger keeps alert marks")
