package sim

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baarcore/baar/budget"
)

// recorder is a testing.TB whose Fatal ends the run by a panic that
// mutantRun recovers, keeping the message.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.msg = fmt.Sprint(args...); panic(r) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}

// mutant is a Scoped ledger with a deliberate bug, on every Nth call of
// the operation it breaks.
type mutant struct {
	*budget.Scoped
	bug string
	n   int
}

func (m *mutant) Reserve(ctx context.Context, amount budget.Amount) (budget.Reservation, error) {
	m.n++
	if m.bug == "double-reserve" && m.n%50 == 0 {
		m.Scoped.Reserve(ctx, amount) // an orphan nobody will settle
	}
	return m.Scoped.Reserve(ctx, amount)
}

func (m *mutant) Commit(ctx context.Context, r budget.Reservation, actual budget.Amount) error {
	m.n++
	switch {
	case m.bug == "forget-commit" && m.n%50 == 0:
		return m.Scoped.Cancel(ctx, r)
	case m.bug == "cancel-then-commit" && m.n%20 == 0:
		m.Scoped.Cancel(ctx, r) // the commit lands on a released reservation: dropped
	}
	return m.Scoped.Commit(ctx, r, actual)
}

// TestSimulationCatchesBrokenLedgers runs the simulation on ledgers with a
// bug each, and checks that it fails naming the violated invariant: the
// checks can fail.
func TestSimulationCatchesBrokenLedgers(t *testing.T) {
	for _, tc := range []struct {
		bug, want string
	}{
		{bug: "over-admit", want: "exceeds the limit"},
		{bug: "forget-commit", want: "acknowledged spend lost"},
		{bug: "double-reserve", want: "phantom charge"},
		{bug: "cancel-then-commit", want: "acknowledged spend lost"},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			cfg := config{kind: "mutant", steps: 20000, procs: 2, crashPm: 50, keys: true, window: true, leases: true, lease: time.Minute}
			rec := &recorder{TB: t}
			func() {
				defer func() {
					if v := recover(); v != nil && v != rec {
						panic(v)
					}
				}()
				newWorld(rec, 1, cfg, func(w *world) target {
					limit := w.limit
					if tc.bug == "over-admit" {
						limit += limit / 2
					}
					led, err := budget.NewScoped(limit, w.lim)
					if err != nil {
						t.Fatal(err)
					}
					return &mutantTarget{scopedTarget{w: w, led: led}, &mutant{Scoped: led, bug: tc.bug}}
				}).run()
			}()
			if !strings.Contains(rec.msg, tc.want) {
				t.Fatalf("the simulation of a ledger with bug %s reported %q, want %q", tc.bug, rec.msg, tc.want)
			}
			if !strings.Contains(rec.msg, "replay: go test ./budget/sim") {
				t.Errorf("the failure does not say how to replay it:\n%s", rec.msg)
			}
		})
	}
}

// mutantTarget runs the simulation on a mutant, auditing the ledger below.
type mutantTarget struct {
	scopedTarget
	m *mutant
}

func (m *mutantTarget) ledger(int) budget.Ledger { return m.m }
