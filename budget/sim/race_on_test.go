//go:build race

package sim

// raceEnabled: the race detector slows the ledgers about tenfold, so the
// fixed seeds run fewer steps under it.
const raceEnabled = true
