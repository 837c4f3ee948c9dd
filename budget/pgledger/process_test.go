package pgledger_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
)

// The shared budget of the multi-process tests: every process opens its
// ledger with these figures. A call reserves callCost and spends between
// half of it and all of it.
var (
	procCap      = 20 * budget.Cent
	procKeyLimit = procCap / 2
	callCost     = 2100 * budget.MicroDollar
)

// childSpec tells a child process (TestChild) what to do.
type childSpec struct {
	DSN, Schema, Name string
	Key               string        // the budget key of its calls; "" for none
	Log               string        // where it appends "key actual id" per acknowledged commit
	Latency           time.Duration // of each call between reserve and commit
	Lease             time.Duration
	Start             string // when set: say ready (Start.ready.Key), then wait for this file
}

func (s childSpec) limits() budget.Limits {
	return budget.Limits{KeyLimit: procKeyLimit, Lease: s.Lease}
}

// TestChild is the body of the child processes of the multi-process tests;
// it is skipped unless BAAR_PGLEDGER_CHILD holds a childSpec. It makes calls
// (reserve, wait Latency, commit) from 8 goroutines until the budget
// refuses, appending each acknowledged commit to the log after Commit
// returned, one write per line (a kill -9 loses no logged line).
func TestChild(t *testing.T) {
	raw := os.Getenv("BAAR_PGLEDGER_CHILD")
	if raw == "" {
		t.Skip("a child of the multi-process tests")
	}
	var spec childSpec
	require.NoError(t, json.Unmarshal([]byte(raw), &spec))
	pool, err := pgxpool.New(context.Background(), spec.DSN)
	require.NoError(t, err)
	defer pool.Close()
	l := newLedger(t, pool, spec.Schema, spec.Name, procCap, spec.limits())
	logf, err := os.OpenFile(spec.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer logf.Close()
	ctx := budget.ContextWithKey(context.Background(), spec.Key)
	if spec.Start != "" {
		// Say ready, then wait for the siblings: on a loaded machine a
		// process that starts late would find the budget spent.
		require.NoError(t, os.WriteFile(spec.Start+".ready."+spec.Key, nil, 0o600))
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(spec.Start); err == nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "no start signal")
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				r, err := l.Reserve(ctx, callCost)
				if errors.Is(err, budget.ErrExceeded) {
					return
				}
				if !assert.NoError(t, err) {
					return
				}
				time.Sleep(spec.Latency)
				actual := callCost/2 + budget.Amount(rand.Int64N(int64(callCost/2)+1))
				if !assert.NoError(t, l.Commit(context.Background(), r, actual)) {
					return
				}
				_, err = fmt.Fprintf(logf, "%s %d %d\n", spec.Key, actual, r.ID)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
}

// startChild starts a child process running TestChild on spec.
func startChild(t *testing.T, spec childSpec) *exec.Cmd {
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BAAR_PGLEDGER_CHILD="+string(raw))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	return cmd
}

// logged sums the costs logged by children in log, in all and by key.
func logged(t *testing.T, log string) (sum budget.Amount, calls int, byKey map[string]budget.Amount) {
	byKey = map[string]budget.Amount{}
	f, err := os.Open(log)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, byKey
	}
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), " ")
		require.True(t, ok, sc.Text())
		amount, _, _ := strings.Cut(rest, " ")
		n, err := strconv.ParseInt(amount, 10, 64)
		require.NoError(t, err)
		sum += budget.Amount(n)
		calls++
		byKey[key] += budget.Amount(n)
	}
	return sum, calls, byKey
}

// Three processes hammer one budget, each with its own key: the global and
// key caps hold, and every acknowledged commit is counted.
func TestMultiProcess(t *testing.T) {
	pool := testPool(t)
	spec := childSpec{DSN: dsn(), Schema: freshSchema(t, pool), Name: "shared", Log: filepath.Join(t.TempDir(), "costs.log"),
		Start: filepath.Join(t.TempDir(), "start"), Latency: 2 * time.Millisecond}
	var cmds []*exec.Cmd
	for i := range 3 {
		s := spec
		s.Key = "proc-" + strconv.Itoa(i)
		cmds = append(cmds, startChild(t, s))
	}
	// Start them at once when every child has opened its ledger.
	require.Eventually(t, func() bool {
		ready, _ := filepath.Glob(spec.Start + ".ready.*")
		return len(ready) == len(cmds)
	}, time.Minute, 5*time.Millisecond, "the children are ready")
	require.NoError(t, os.WriteFile(spec.Start, nil, 0o600))
	for _, c := range cmds {
		require.NoError(t, c.Wait())
	}
	l := newLedger(t, pool, spec.Schema, spec.Name, procCap, spec.limits())
	ctx := context.Background()
	st, err := l.State(ctx)
	require.NoError(t, err)
	sum, calls, byKey := logged(t, spec.Log)
	t.Logf("%d calls, %v spent of %v; by key %v", calls, st.Spent, st.Limit, byKey)
	assert.LessOrEqual(t, st.Spent, procCap, "the global cap holds across processes")
	assert.Zero(t, st.Reserved)
	assert.Equal(t, sum, st.Spent, "every acknowledged commit is counted, once")
	assert.Greater(t, st.Spent, procCap-2*callCost, "the budget was used up")
	// Each key may spend half the budget, so at least two processes spent
	// it; fairness between processes is not promised.
	assert.GreaterOrEqual(t, len(byKey), 2)
	for k, spent := range byKey {
		assert.LessOrEqual(t, spent, procKeyLimit, "the cap of %s holds", k)
	}
	// The operator's view: spend by key from the settlements table.
	rows, err := pool.Query(ctx, "SELECT key, sum(amount)::bigint FROM "+pgx.Identifier{spec.Schema, "settlements"}.Sanitize()+
		" WHERE budget = $1 GROUP BY key", spec.Name)
	require.NoError(t, err)
	recorded := map[string]budget.Amount{}
	var k string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { recorded[k] = budget.Amount(n); return nil })
	require.NoError(t, err)
	assert.Equal(t, byKey, recorded)
}

// A client process killed (SIGKILL) in the middle of its calls: no
// acknowledged spend is lost, its open reservations hold the budget until
// their lease expires, then are charged as spent; a survivor uses the rest
// and the cap holds throughout.
func TestKill9Client(t *testing.T) {
	pool := testPool(t)
	const lease = 3 * time.Second
	spec := childSpec{DSN: dsn(), Schema: freshSchema(t, pool), Name: "kill", Log: filepath.Join(t.TempDir(), "costs.log"),
		Latency: 30 * time.Millisecond, Lease: lease}
	victim := startChild(t, spec)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, n, _ := logged(t, spec.Log); n >= 10 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the child made no calls")
	}
	require.NoError(t, victim.Process.Kill())
	var exit *exec.ExitError
	require.ErrorAs(t, victim.Wait(), &exit, "killed")
	killedAt := time.Now()

	l := newLedger(t, pool, spec.Schema, spec.Name, procCap, spec.limits())
	ctx := context.Background()
	st, err := l.State(ctx)
	require.NoError(t, err)
	sum, calls, _ := logged(t, spec.Log)
	t.Logf("killed after %d acknowledged calls: %v spent, %v reserved", calls, st.Spent, st.Reserved)
	assert.GreaterOrEqual(t, st.Spent, sum, "no acknowledged spend is lost")
	assert.LessOrEqual(t, st.Spent+st.Reserved, procCap)
	require.Positive(t, st.Reserved, "the victim died with calls in flight")
	assert.LessOrEqual(t, st.Reserved, 8*callCost, "at most the victim's 8 calls in flight")
	orphans, err := l.Unsettled(ctx)
	require.NoError(t, err)
	var held budget.Amount
	for _, r := range orphans {
		held += r.Amount
	}
	assert.Equal(t, st.Reserved, held, "Unsettled lists the orphans")

	time.Sleep(time.Until(killedAt.Add(lease + 100*time.Millisecond)))
	st2, err := l.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: procCap, Spent: st.Spent + st.Reserved}, st2, "the leases charged the orphans")

	survivor := spec
	survivor.Latency = 0
	require.NoError(t, startChild(t, survivor).Wait())
	st3, err := l.State(ctx)
	require.NoError(t, err)
	sum3, _, _ := logged(t, spec.Log)
	assert.Equal(t, sum3+st.Reserved+(st.Spent-sum), st3.Spent, "the survivor's commits and the charged orphans")
	assert.Zero(t, st3.Reserved)
	assert.LessOrEqual(t, st3.Spent, procCap)
	assert.Greater(t, st3.Spent, procCap-2*callCost, "the survivor used the rest")
}
