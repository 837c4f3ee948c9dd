package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// check is one adversarial scenario. run fills the outcome: Result is FAIL as
// soon as one of its conditions fails (see outcome.failf).
type check struct {
	name  string
	tried string
	run   func(ctx context.Context, e *env, o *outcome)
}

// outcome collects a check's verdict while it runs. It is safe for concurrent
// use (checks report from many goroutines).
type outcome struct {
	mu       sync.Mutex
	failures []string
	notes    []string
	spent    float64
	cap      float64
	noSpend  bool
}

// failf records a failed condition.
func (o *outcome) failf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failures = append(o.failures, fmt.Sprintf(format, args...))
}

// notef records an observation for the detail column.
func (o *outcome) notef(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.notes = append(o.notes, fmt.Sprintf(format, args...))
}

// spend records the spend against the cap for the table.
func (o *outcome) spend(spent, cap float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.spent, o.cap = spent, cap
}

func (o *outcome) result(c check, d time.Duration) result {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := result{Check: c.name, Tried: c.tried, Result: pass, Spent: o.spent, Cap: o.cap, NoSpend: o.noSpend, Seconds: d.Seconds()}
	parts := o.notes
	if len(o.failures) > 0 {
		r.Result = fail
		r.Failures = append([]string(nil), o.failures...)
		parts = append(append([]string(nil), o.failures...), o.notes...)
	}
	r.Detail = strings.Join(parts, "; ")
	return r
}
