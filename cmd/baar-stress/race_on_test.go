//go:build race

package main

// raceEnabled: the race detector slows the storms about tenfold, so the
// in-process suite scales them down (the default run keeps 10,000).
const raceEnabled = true
