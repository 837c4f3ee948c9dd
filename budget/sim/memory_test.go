package sim

import (
	"context"

	"github.com/baarcore/baar/budget"
)

// memoryTarget is a budget.Memory shared by every simulated process of one
// program: a crash abandons the process's calls, the ledger lives on. A
// Memory has no keys, windows nor leases; an abandoned reservation stays
// reserved.
type memoryTarget struct{ led *budget.Memory }

func newMemoryTarget(w *world) target {
	led, err := budget.NewMemory(w.limit)
	if err != nil {
		w.t.Fatal(err)
	}
	return &memoryTarget{led: led}
}

func (m *memoryTarget) ledger(int) budget.Ledger { return m.led }
func (m *memoryTarget) restart(int)              {}
func (m *memoryTarget) arm(*world) string        { return "" }
func (m *memoryTarget) quiesce(*world)           {}
func (m *memoryTarget) close()                   {}

// fault raises the limit of a nearly spent budget, as an operator does
// (SetLimit): a Memory never resets.
func (m *memoryTarget) fault(w *world) string {
	st, _ := m.led.State(context.Background())
	if st.Remaining() > w.limit/10 || w.limit > 1<<50 {
		return ""
	}
	if err := m.led.SetLimit(2 * w.limit); err != nil {
		w.t.Fatal(err)
	}
	w.limit *= 2
	return "limit-raised"
}

func (m *memoryTarget) audit(string) (budget.State, bool, error) {
	st, err := m.led.State(context.Background())
	return st, true, err
}

// scopedTarget is a budget.Scoped shared by every simulated process of one
// program, with keys, a daily window and leases.
type scopedTarget struct {
	w   *world
	led *budget.Scoped
}

func newScopedTarget(w *world) target {
	led, err := budget.NewScoped(w.limit, w.lim)
	if err != nil {
		w.t.Fatal(err)
	}
	return &scopedTarget{w: w, led: led}
}

func (s *scopedTarget) ledger(int) budget.Ledger { return s.led }
func (s *scopedTarget) restart(int)              {}
func (s *scopedTarget) arm(*world) string        { return "" }
func (s *scopedTarget) fault(*world) string      { return "" }
func (s *scopedTarget) quiesce(*world)           {}
func (s *scopedTarget) close()                   {}

// audit reads key's budget through State, which shows the budget that
// binds: a key's figures are hidden while the global budget has less room.
// The key limits differ from the global one, so Limit tells them apart.
func (s *scopedTarget) audit(key string) (budget.State, bool, error) {
	st, err := s.led.State(budget.ContextWithKey(context.Background(), key))
	return st, key == "" || st.Limit == s.w.limitOf(key), err
}
