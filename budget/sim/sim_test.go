package sim

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	seedFlag  = flag.Uint64("seed", 0, "run only this simulation seed (replays a failure exactly)")
	durFlag   = flag.Duration("sim.duration", 0, "long run: run each selected ledger on fresh seeds for this long")
	stepsFlag = flag.Int("sim.steps", 0, "steps per seed (0: the default of each ledger)")
	knownFlag = flag.Bool("sim.known", false, "also run the faults of known, not yet fixed, bugs")
)

// fixedSeeds are the seeds CI runs.
var fixedSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8}

// simulation is one ledger's simulation: its config and its target.
type simulation struct {
	name string
	cfg  config
	mk   func(w *world) target
	// bug, for a simulation of faults the ledger does not survive yet,
	// names the bug; it is skipped unless -sim.known.
	bug string
	// steps is the number of steps of each fixed seed.
	steps int
	// redis: the ledger needs Redis (mk is then set by the test).
	redis bool
}

func simulations() []simulation {
	return []simulation{
		{name: "memory", steps: 20000, mk: newMemoryTarget,
			cfg: config{procs: 3, crashPm: 5, limit: 50_000_000, faults: true, faultPct: 2}},
		{name: "scoped", steps: 20000, mk: newScopedTarget,
			cfg: config{procs: 3, crashPm: 50, keys: true, window: true, leases: true, lease: time.Minute}},
		{name: "file", steps: 4000, mk: newFileTarget,
			cfg: fileConfig(false)},
		{name: "file-lossy", steps: 4000, mk: newFileTarget, cfg: fileConfig(true)},
		{name: "redis", steps: 1500, redis: true, cfg: redisConfig(false)},
		{name: "redis-lossy", steps: 1500, redis: true, cfg: redisConfig(true)},
		{name: "redis-retries", steps: 1500, redis: true, cfg: redisRetries()},
	}
}

func redisRetries() config {
	c := redisConfig(false)
	c.retries = true
	return c
}

func redisConfig(lossy bool) config {
	return config{procs: 3, crashPm: 20, keys: true, window: true, leases: true, lease: time.Minute,
		faults: true, faultPct: 4, lossy: lossy}
}

func fileConfig(lossy bool) config {
	return config{procs: 3, crashPm: 20, keys: true, window: true, leases: true, lease: time.Minute,
		faults: true, faultPct: 4, lossy: lossy}
}

func TestSimulation(t *testing.T) {
	for _, s := range simulations() {
		t.Run(s.name, func(t *testing.T) {
			if s.bug != "" && !*knownFlag {
				t.Skipf("known bug, fix pending: %s (run with -sim.known to reproduce)", s.bug)
			}
			if s.redis {
				s.mk = newRedisTarget(redisAddr(t))
			}
			runSimulation(t, s)
		})
	}
}

// runSimulation runs s on the fixed seeds, on -seed, or on fresh seeds for
// -sim.duration, and logs what it exercised.
func runSimulation(t *testing.T, s simulation) {
	cfg := s.cfg
	cfg.kind = s.name
	cfg.steps = s.steps
	cfg.known = s.bug != ""
	if raceEnabled {
		cfg.steps /= 10
	}
	if *stepsFlag > 0 {
		cfg.steps = *stepsFlag
	}
	var total stats
	start := time.Now()
	one := func(seed uint64) {
		w := newWorld(t, seed, cfg, s.mk)
		w.run()
		total.add(&w.st)
		if *seedFlag != 0 {
			t.Logf("%s seed %d: history %016x", s.name, seed, w.digest)
		}
	}
	switch {
	case *seedFlag != 0:
		one(*seedFlag)
	case *durFlag > 0:
		base := rand.Uint64() >> 1
		t.Logf("%s: long run from seed %d", s.name, base)
		for seed := base; time.Since(start) < *durFlag; seed++ {
			one(seed)
		}
	default:
		for _, seed := range fixedSeeds {
			one(seed)
		}
	}
	el := time.Since(start)
	t.Logf("%s: %d steps in %v (%.0f steps/s): %d reserves (%d refused, %d failed closed), %d commits, %d cancels, %d crashes, %d clock moves, %d windows, %d hidden key reads, %d settlements of an earlier life",
		s.name, total.steps, el.Round(time.Millisecond), float64(total.steps)/el.Seconds(),
		total.reserves, total.refusals, total.failClosed, total.commits, total.cancels, total.crashes, total.clock, total.windows, total.hidden, total.stale)
	if len(total.faults) > 0 {
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(total.faults)) {
			fmt.Fprintf(&b, " %s=%d", k, total.faults[k])
		}
		t.Logf("%s: faults:%s", s.name, b.String())
	}
}
