// Package sim holds the deterministic simulation tests of the budget
// ledgers, in the manner of TigerBeetle's VOPR: seeded schedules of
// reserves, commits, cancels, crashes, restarts, lease expiries, clock jumps
// and window boundaries, with the faults of each ledger's store — those that
// lose acknowledged state included, answered by a simulated operator
// (budget.RecreateFile, redisledger.Reinitialize) — run against the real
// budget.Memory, budget.Scoped, budget.File and redisledger.Ledger,
// checking the budget invariants after every step.
//
// The package has no API: run its tests.
//
//	go test ./budget/sim -run TestSimulation            # the fixed seeds
//	go test ./budget/sim -run TestSimulation -seed 42   # replay one seed
//	go test ./budget/sim -run TestSimulation -sim.duration 1h
//
// See docs/simulation.md.
package sim
