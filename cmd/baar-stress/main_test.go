package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/internal/cli"
	"github.com/baarcore/baar/scoring"
)

// stormGoroutines is the storm size of the in-process suite: the default
// 10,000, scaled down under the race detector.
func stormGoroutines() int {
	if raceEnabled {
		return 2_000
	}
	return defaultGoroutines
}

// knownScorerWeakness lists the checks that fail today because the default
// scorer can be gamed at the sample-calibrated threshold (reported to the
// scoring owners): they may FAIL, but only because an attack lifted an easy
// prompt to the threshold. Any other failure in them still fails the test.
var knownScorerWeakness = map[string]bool{}

func runJSON(t *testing.T, c *config) (report, error) {
	t.Helper()
	var out bytes.Buffer
	c.jsonOut = true
	err := runConfig(context.Background(), c, &out)
	var rep report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	return rep, err
}

// quickLimit is --quick in tests: 5 s is the tool's promise on a quiet
// machine; shared CI runners (and the race detector) need slack.
func quickLimit() string {
	if raceEnabled {
		return "30s"
	}
	return "15s"
}

func defaultConfig(t *testing.T, args ...string) *config {
	t.Helper()
	c, err := parse(append([]string{"--goroutines", strconv.Itoa(stormGoroutines()), "--quick", quickLimit(), "--check-timeout", "60s"}, args...), os.Stderr)
	require.NoError(t, err)
	return c
}

// TestSuitePasses runs the whole suite in-process with the default
// configuration, as CI does: every check passes (but the known scorer
// weaknesses, which may fail only for that reason), within 60 s.
func TestSuitePasses(t *testing.T) {
	start := time.Now()
	c := defaultConfig(t)
	rep, err := runJSON(t, c)
	wall := time.Since(start)

	require.Len(t, rep.Checks, len(suite()), "every check ran")
	assert.Equal(t, stormGoroutines(), rep.Config.Goroutines)
	if !raceEnabled {
		assert.GreaterOrEqual(t, rep.Config.Goroutines, 10_000)
	}
	known := 0
	for _, r := range rep.Checks {
		if r.Result == pass {
			assert.Empty(t, r.Failures, r.Check)
			continue
		}
		if knownScorerWeakness[r.Check] {
			known++
			for _, f := range r.Failures {
				assert.Contains(t, f, "to the threshold", "%s may fail only because an attack lifted an easy prompt: %s", r.Check, f)
			}
			t.Logf("known scorer weakness: %s: %s", r.Check, r.Detail)
			continue
		}
		assert.Equal(t, pass, r.Result, "%s: %s", r.Check, r.Detail)
	}
	assert.Equal(t, len(rep.Checks)-known, rep.Passed)
	if known > 0 {
		assert.ErrorIs(t, err, errFailed)
	} else {
		assert.NoError(t, err)
	}
	if !raceEnabled {
		assert.Less(t, wall, 60*time.Second, "CI runs the suite in ≤ 60 s")
	}
	t.Logf("suite: %d checks in %v", len(rep.Checks), wall.Round(time.Millisecond))

	byName := map[string]result{}
	for _, r := range rep.Checks {
		byName[r.Check] = r
	}
	// Spot checks on what the rows say.
	assert.Contains(t, byName["storms/usage-inflated"].Detail, "overrun recorded")
	for _, r := range rep.Checks {
		if r.Check != "storms/usage-inflated" && !r.NoSpend {
			assert.LessOrEqual(t, r.Spent, r.Cap, r.Check)
		}
	}
	assert.Contains(t, byName["games/disguised-hard"].Detail, "PASS = answered under the cap")
	assert.Contains(t, byName["prices/zero-budget"].Detail, "0 dials, 0 DNS look-ups")
}

// liar is a ledger that never refuses: it records spend and reservations
// truthfully but lets every reservation through, as a broken shared ledger
// might.
type liar struct {
	mu                     sync.Mutex
	limit, spent, reserved budget.Amount
	next                   uint64
}

func (l *liar) Reserve(_ context.Context, amount budget.Amount) (budget.Reservation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	l.reserved += amount
	return budget.Reservation{ID: l.next, Amount: amount}, nil
}

func (l *liar) Commit(_ context.Context, r budget.Reservation, actual budget.Amount) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reserved -= r.Amount
	l.spent += actual
	return nil
}

func (l *liar) Cancel(_ context.Context, r budget.Reservation) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reserved -= r.Amount
	return nil
}

func (l *liar) State(context.Context) (budget.State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return budget.State{Limit: l.limit, Spent: l.spent, Reserved: l.reserved}, nil
}

func lyingLedger(l budget.Ledger) budget.Ledger {
	st, err := l.State(context.Background())
	if err != nil {
		panic(err)
	}
	return &liar{limit: st.Limit}
}

// TestLyingLedgerFails plants a ledger that never refuses: the storms must
// catch it (spend over the cap, nothing refused) and the run must fail.
func TestLyingLedgerFails(t *testing.T) {
	c := defaultConfig(t, "--only", "storms/(max-output|usage-missing)|prices/unknown-override")
	c.wrapLedger = lyingLedger
	rep, err := runJSON(t, c)
	require.ErrorIs(t, err, errFailed)
	require.Len(t, rep.Checks, 3)
	for _, r := range rep.Checks {
		if strings.HasPrefix(r.Check, "storms/") {
			assert.Equal(t, fail, r.Result, r.Check)
			assert.Greater(t, r.Spent, r.Cap, r.Check)
			assert.Contains(t, r.Detail, "> cap", r.Check)
			assert.Contains(t, r.Detail, "no call was refused", r.Check)
		} else {
			assert.Equal(t, pass, r.Result, "%s does not depend on refusals: %s", r.Check, r.Detail)
		}
	}
	assert.Equal(t, 2, rep.Failed)
	assert.Equal(t, 1, cli.Exit(name, err, &bytes.Buffer{}))
}

// TestGameableScorerFails swaps in a scorer that rates length: padding and
// stuffing must be caught.
func TestGameableScorerFails(t *testing.T) {
	c := defaultConfig(t, "--only", "games/(calibration|padding|keyword-stuffing)")
	c.scorer = scoring.ScorerFunc(func(_ context.Context, req scoring.Request) (float64, error) {
		n := 0
		for _, m := range req.Messages {
			n += len(m.Text)
		}
		return min(1, float64(n)/2000), nil
	})
	rep, err := runJSON(t, c)
	require.ErrorIs(t, err, errFailed)
	require.Len(t, rep.Checks, 3)
	for _, r := range rep.Checks {
		switch r.Check {
		case "games/calibration":
			assert.Equal(t, pass, r.Result, "length does tell the sample's hard prompts apart: %s", r.Detail)
		default:
			assert.Equal(t, fail, r.Result, r.Check)
			assert.Contains(t, r.Detail, "lifted", r.Check)
		}
	}
}

// TestConstantScorerFailsCalibration: a scorer that cannot tell anything
// apart makes the games meaningless, and the calibration row says so.
func TestConstantScorerFailsCalibration(t *testing.T) {
	c := defaultConfig(t, "--only", "games/calibration")
	c.scorer = scoring.ScorerFunc(func(context.Context, scoring.Request) (float64, error) { return 0.5, nil })
	rep, err := runJSON(t, c)
	require.ErrorIs(t, err, errFailed)
	require.Len(t, rep.Checks, 1)
	assert.Equal(t, fail, rep.Checks[0].Result)
}

// TestHungCheckIsFail: a check that never returns is a FAIL row after the
// time limit, and the run goes on.
func TestHungCheckIsFail(t *testing.T) {
	c := defaultConfig(t, "--check-timeout", "100ms")
	e, err := newEnv(context.Background(), c)
	require.NoError(t, err)
	release := make(chan struct{})
	defer close(release)
	start := time.Now()
	r := e.runCheck(context.Background(), check{name: "hang", tried: "block", run: func(context.Context, *env, *outcome) { <-release }})
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, fail, r.Result)
	assert.Contains(t, r.Detail, "hung")

	r = e.runCheck(context.Background(), check{name: "slow", tried: "honours ctx", run: func(ctx context.Context, _ *env, _ *outcome) { <-ctx.Done() }})
	assert.Equal(t, fail, r.Result)
	assert.Contains(t, r.Detail, "time limit")
}

// TestPanicIsFail: a check that panics is a FAIL row naming the panic.
func TestPanicIsFail(t *testing.T) {
	e, err := newEnv(context.Background(), defaultConfig(t))
	require.NoError(t, err)
	r := e.runCheck(context.Background(), check{name: "boom", run: func(context.Context, *env, *outcome) {
		var m map[string]int
		//lint:ignore SA5000 the check must panic
		m["x"]++
	}})
	assert.Equal(t, fail, r.Result)
	assert.Contains(t, r.Detail, "panic")
}

func TestTableOutput(t *testing.T) {
	c := defaultConfig(t, "--only", "prices/")
	var out bytes.Buffer
	require.NoError(t, runConfig(context.Background(), c, &out))
	s := out.String()
	for _, want := range []string{"CHECK", "TRIED", "RESULT", "SPENT / CAP", "prices/zero-budget", "PASS", "$0.000000 / $0.000000", "4 passed, 0 failed"} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, fail)
}

func TestUsageErrors(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{"--budget", "-1"},
		{"--budget", "NaN"},
		{"--budget", "0"},
		{"--cheap-price", "1"},
		{"--cheap-price", "a,b"},
		{"--capable-price", "-1,2"},
		{"--max-output", "0"},
		{"--goroutines", "1"},
		{"--quick", "0s"},
		{"--check-timeout", "-1s"},
		{"--only", "("},
		{"--only", "no-such-check"},
		{"--cheap-model", "acme-unpriced-9000"},
		{"--capable-model", ""},
		{"extra"},
		{"--no-such-flag"},
	} {
		var out, errOut bytes.Buffer
		err := run(ctx, args, &out, &errOut)
		var ue *cli.UsageError
		assert.True(t, errors.As(err, &ue), "%v: %v", args, err)
		assert.Empty(t, out.String(), "%v: no check ran", args)
		assert.Equal(t, 2, cli.Exit(name, err, &errOut), "%v", args)
	}
	for _, help := range []string{"-h", "--help"} {
		var out, errOut bytes.Buffer
		err := run(ctx, []string{help}, &out, &errOut)
		assert.Equal(t, 0, cli.Exit(name, err, &errOut), help)
		assert.Contains(t, errOut.String(), "-cheap-price", help)
		assert.NotContains(t, errOut.String(), "help requested", help)
	}
	var out, errOut bytes.Buffer

	// An unpriced model is fine with a price.
	c, err := parse([]string{"--cheap-model", "acme-unpriced-9000", "--cheap-price", "0.1, 0.4", "--only", "prices/zero-budget"}, &errOut)
	require.NoError(t, err)
	require.NotNil(t, c.cheapPrice)
	assert.Equal(t, budget.Price{Input: 0.1, Output: 0.4, Source: "--cheap-price"}, *c.cheapPrice)
	assert.NoError(t, runConfig(ctx, c, &out))
}

// TestExitStatus runs the command's main in a child process with a lying
// ledger planted: it must exit 1.
func TestExitStatus(t *testing.T) {
	if os.Getenv("BAAR_STRESS_CHILD") == "liar" {
		// quickLimit: this test is about the exit status, not how fast a
		// loaded machine answers.
		c, err := parse([]string{"--only", "storms/max-output", "--goroutines", "200", "--quick", quickLimit()}, os.Stderr)
		if err != nil {
			os.Exit(3)
		}
		c.wrapLedger = lyingLedger
		os.Exit(cli.Exit(name, runConfig(context.Background(), c, os.Stdout), os.Stderr))
	}
	if os.Getenv("BAAR_STRESS_CHILD") == "honest" {
		os.Exit(cli.Exit(name, run(context.Background(), []string{"--only", "storms/max-output", "--goroutines", "200", "--quick", quickLimit()}, os.Stdout, os.Stderr), os.Stderr))
	}
	for mode, want := range map[string]int{"liar": 1, "honest": 0} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExitStatus$")
		cmd.Env = append(os.Environ(), "BAAR_STRESS_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		assert.Equal(t, want, code, "%s:\n%s", mode, out)
		if mode == "liar" {
			assert.Contains(t, string(out), "FAIL")
			assert.Contains(t, string(out), "some checks failed")
		}
	}
}

// TestProgress: the command reports each check on stderr as it runs (the
// suite takes seconds), the table stays on stdout.
func TestProgress(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"--only", "prices/(zero|zero-budget)$"}, &out, &errOut)
	require.NoError(t, err)
	assert.Equal(t, "baar-stress: [1/2] prices/zero … PASS", strings.SplitN(errOut.String(), " (", 2)[0])
	assert.Regexp(t, `(?m)^baar-stress: \[2/2\] prices/zero-budget … PASS \(\d`, errOut.String())
	assert.NotContains(t, out.String(), "[1/2]")
	assert.Contains(t, out.String(), "2 passed, 0 failed")
}
