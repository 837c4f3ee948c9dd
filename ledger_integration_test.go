package baar_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/pgledger"
	"github.com/baarcore/baar/budget/redisledger"
	"github.com/baarcore/baar/internal/tcpproxy"
)

// The shared budget of the multi-process tests: every process opens its
// ledger with these figures. One call costs at most lgCallCost (a 1000-token
// output cap at $2 per million, plus a short prompt).
var (
	lgPrice    = budget.Price{Input: 1, Output: 2, MaxOutputTokens: 1000}
	lgCap      = 20 * budget.Cent // $0.20
	lgKeyLimit = lgCap / 2
	lgCallCost = 2100 * budget.MicroDollar
	lgPolicy   = budget.Limits{KeyLimit: lgKeyLimit}
)

// lgRouter is a Router over m (both tiers, at lgPrice) accounting in l.
func lgRouter(t testing.TB, m llms.Model, l budget.Ledger, opts ...baar.Option) *baar.Router {
	t.Helper()
	r, err := baar.New(baar.Tier{Model: m, Name: "lg-cheap"}, baar.Tier{Model: m, Name: "lg-capable"},
		append([]baar.Option{baar.WithPrice("lg-cheap", lgPrice), baar.WithPrice("lg-capable", lgPrice), baar.WithLedger(l)}, opts...)...)
	require.NoError(t, err)
	return r
}

func lgMessages(i int) []llms.MessageContent {
	return []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "question "+strconv.Itoa(i))}
}

// lgRedis returns a client of the Redis at BAAR_REDIS_ADDR (default
// 127.0.0.1:6379) and its address; it skips the test when nothing answers,
// or fails it when BAAR_REQUIRE_REDIS=1.
func lgRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	addr := os.Getenv("BAAR_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if os.Getenv("BAAR_REQUIRE_REDIS") == "1" {
			t.Fatalf("BAAR_REQUIRE_REDIS=1 but no Redis answers at %s: %v", addr, err)
		}
		t.Skipf("no Redis at %s (%v): start one or set BAAR_REDIS_ADDR; set BAAR_REQUIRE_REDIS=1 to fail instead", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, addr
}

// lgRedisName returns a fresh budget name whose keys are deleted at the end.
func lgRedisName(t testing.TB, c *redis.Client) string {
	name := fmt.Sprintf("baar-test-%x", rand.Uint64())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, "{baar:"+name+"}*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return name
}

// lgPostgres returns the DSN of the test PostgreSQL (BAAR_POSTGRES_DSN, by
// default the local database test) and a pool of it; it skips the test when
// nothing answers, or fails it when BAAR_REQUIRE_POSTGRES=1.
func lgPostgres(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	dsn := os.Getenv("BAAR_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		if os.Getenv("BAAR_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("BAAR_REQUIRE_POSTGRES=1 but no PostgreSQL answers at %s: %v", dsn, err)
		}
		t.Skipf("no PostgreSQL at %s (%v): start one or set BAAR_POSTGRES_DSN; set BAAR_REQUIRE_POSTGRES=1 to fail instead", dsn, err)
	}
	t.Cleanup(pool.Close)
	return dsn, pool
}

// lgPostgresSchema returns a fresh, migrated schema, dropped at the end.
func lgPostgresSchema(t testing.TB, pool *pgxpool.Pool) string {
	schema := fmt.Sprintf("baar_router_test_%x", rand.Uint32())
	require.NoError(t, pgledger.Migrate(context.Background(), pool, schema))
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`) })
	return schema
}

// lgOpen opens the ledger named by spec: "file:<path>",
// "redis:<addr>/<name>" or "postgres:<schema>/<name>" (on
// BAAR_POSTGRES_DSN).
func lgOpen(t testing.TB, spec string) budget.Ledger {
	t.Helper()
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "file":
		f, err := budget.OpenFile(arg, lgCap, lgPolicy)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return f
	case "redis":
		addr, name, _ := strings.Cut(arg, "/")
		c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 16})
		t.Cleanup(func() { c.Close() })
		l, err := redisledger.New(c, name, lgCap, lgPolicy)
		require.NoError(t, err)
		return l
	case "postgres":
		schema, name, _ := strings.Cut(arg, "/")
		_, pool := lgPostgres(t)
		l, err := pgledger.New(context.Background(), pool, schema, name, lgCap, lgPolicy)
		require.NoError(t, err)
		return l
	}
	t.Fatalf("bad ledger spec %q", spec)
	return nil
}

// TestLedgerChild is the body of the child processes of the multi-process
// tests; it is skipped unless BAAR_LEDGER_CHILD names a ledger. It calls a
// FullOutput fake through a Router from 8 goroutines until the budget
// refuses, appending the cost of each settled call to BAAR_LEDGER_CHILD_LOG
// after its settlement returned.
func TestLedgerChild(t *testing.T) {
	spec := os.Getenv("BAAR_LEDGER_CHILD")
	if spec == "" {
		t.Skip("a child of the multi-process ledger tests")
	}
	latency, _ := time.ParseDuration(os.Getenv("BAAR_LEDGER_CHILD_LATENCY"))
	logf, err := os.OpenFile(os.Getenv("BAAR_LEDGER_CHILD_LOG"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer logf.Close()
	var mu sync.Mutex
	key := os.Getenv("BAAR_LEDGER_CHILD_KEY")
	m := &baartest.Model{FullOutput: true, Latency: latency}
	r := lgRouter(t, m, lgOpen(t, spec), baar.WithReportFunc(func(_ context.Context, rep *baar.CallReport) {
		var settled budget.Amount
		for _, a := range rep.Attempts {
			if a.SettleErr == nil {
				c, err := budget.FromUSD(a.Cost)
				require.NoError(t, err)
				settled += c
			}
		}
		if settled > 0 {
			mu.Lock()
			fmt.Fprintf(logf, "%s %d\n", key, settled) // unbuffered: survives kill -9
			mu.Unlock()
		}
	}))
	ctx := baar.ContextWithBudgetKey(context.Background(), key)
	if start := os.Getenv("BAAR_LEDGER_CHILD_START"); start != "" {
		// Say ready, then wait for the siblings: on a loaded machine a
		// process that starts late would find the budget spent.
		require.NoError(t, os.WriteFile(start+".ready."+key, nil, 0o600))
		deadline := time.Now().Add(time.Minute)
		for _, err := os.Stat(start); err != nil; _, err = os.Stat(start) {
			require.True(t, time.Now().Before(deadline), "no start signal")
			time.Sleep(5 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				_, err := r.GenerateContent(ctx, lgMessages(g*1000+i))
				if errors.Is(err, baar.ErrBudgetExceeded) {
					return
				}
				if !assert.NoError(t, err) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// lgChild starts a child process running TestLedgerChild on spec.
func lgChild(t *testing.T, spec, key, log string, latency time.Duration) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestLedgerChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BAAR_LEDGER_CHILD="+spec, "BAAR_LEDGER_CHILD_KEY="+key,
		"BAAR_LEDGER_CHILD_LOG="+log, "BAAR_LEDGER_CHILD_LATENCY="+latency.String())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	return cmd
}

// lgLogged sums the costs logged by children in log, in all and by key.
func lgLogged(t *testing.T, log string) (sum budget.Amount, calls int, byKey map[string]budget.Amount) {
	byKey = map[string]budget.Amount{}
	f, err := os.Open(log)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, byKey
	}
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		require.NotEmpty(t, fields)
		n, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
		require.NoError(t, err)
		sum += budget.Amount(n)
		calls++
		if len(fields) == 2 {
			byKey[fields[0]] += budget.Amount(n)
		}
	}
	return sum, calls, byKey
}

// testMultiProcess runs three processes hammering one shared budget, each
// with its own key, and checks the caps.
func testMultiProcess(t *testing.T, spec string) {
	log := filepath.Join(t.TempDir(), "costs.log")
	start := filepath.Join(t.TempDir(), "start")
	t.Setenv("BAAR_LEDGER_CHILD_START", start)
	var cmds []*exec.Cmd
	for i := range 3 {
		// Calls that take a little time interleave the three processes even
		// on a loaded machine.
		cmds = append(cmds, lgChild(t, spec, "proc-"+strconv.Itoa(i), log, 2*time.Millisecond))
	}
	// Start them at once when every child has opened its ledger.
	require.Eventually(t, func() bool {
		ready, _ := filepath.Glob(start + ".ready.*")
		return len(ready) == len(cmds)
	}, time.Minute, 5*time.Millisecond, "the children are ready")
	require.NoError(t, os.WriteFile(start, nil, 0o600))
	for _, c := range cmds {
		require.NoError(t, c.Wait())
	}
	l := lgOpen(t, spec)
	ctx := context.Background()
	st, err := l.State(ctx)
	require.NoError(t, err)
	logged, calls, byKey := lgLogged(t, log)
	t.Logf("%d calls, %v spent of %v; by key %v", calls, st.Spent, st.Limit, byKey)
	assert.LessOrEqual(t, st.Spent, lgCap, "the global cap holds across processes")
	assert.Zero(t, st.Reserved)
	assert.Equal(t, logged, st.Spent, "every settled call is recorded")
	assert.Greater(t, st.Spent, lgCap-2*lgCallCost, "the budget was used up")
	// Each key may spend half the budget, so at least two processes spent
	// it. All three usually do, but neither flock nor a store promises
	// fairness: under the race detector a process can be starved.
	assert.GreaterOrEqual(t, len(byKey), 2)
	for k, spent := range byKey {
		assert.LessOrEqual(t, spent, lgKeyLimit, "the cap of %s holds", k)
		ks, err := l.State(baar.ContextWithBudgetKey(ctx, k))
		require.NoError(t, err)
		assert.LessOrEqual(t, ks.Spent+ks.Reserved, ks.Limit, "the binding budget of %s", k)
	}
}

func TestMultiProcessFileBudget(t *testing.T) {
	skipNoFlock(t)
	testMultiProcess(t, "file:"+filepath.Join(t.TempDir(), "budget.journal"))
}

func TestMultiProcessPostgresBudget(t *testing.T) {
	_, pool := lgPostgres(t)
	testMultiProcess(t, "postgres:"+lgPostgresSchema(t, pool)+"/shared")
}

func TestMultiProcessRedisBudget(t *testing.T) {
	c, addr := lgRedis(t)
	testMultiProcess(t, "redis:"+addr+"/"+lgRedisName(t, c))
}

func skipNoFlock(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("the file ledger needs flock")
	}
}

// testKill9 kills a process in the middle of its calls, then runs another
// to the end: no settled spend is lost, and the cap holds with the dead
// process's reservations still counted.
func testKill9(t *testing.T, spec string) {
	log := filepath.Join(t.TempDir(), "costs.log")
	victim := lgChild(t, spec, "", log, 30*time.Millisecond) // no key: the global budget alone
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, n, _ := lgLogged(t, log)
		if n >= 10 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the child made no calls")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, victim.Process.Kill()) // SIGKILL
	err := victim.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "killed")

	l := lgOpen(t, spec)
	ctx := context.Background()
	st, err := l.State(ctx)
	require.NoError(t, err)
	logged, calls, _ := lgLogged(t, log)
	t.Logf("killed after %d settled calls: %v spent, %v reserved", calls, st.Spent, st.Reserved)
	assert.GreaterOrEqual(t, st.Spent, logged, "no settled spend is lost")
	assert.LessOrEqual(t, st.Spent+st.Reserved, lgCap)
	assert.LessOrEqual(t, st.Reserved, 8*lgCallCost, "at most the dead process's 8 calls in flight")

	require.NoError(t, lgChild(t, spec, "", log, 0).Wait())
	st2, err := l.State(ctx)
	require.NoError(t, err)
	logged2, _, _ := lgLogged(t, log)
	assert.GreaterOrEqual(t, st2.Spent, logged2)
	assert.Equal(t, st.Reserved, st2.Reserved, "the orphans still count until their lease expires")
	assert.LessOrEqual(t, st2.Spent+st2.Reserved, lgCap)
	assert.Greater(t, st2.Spent+st2.Reserved, lgCap-2*lgCallCost, "the survivor used the rest")
}

func TestKill9FileBudget(t *testing.T) {
	skipNoFlock(t)
	testKill9(t, "file:"+filepath.Join(t.TempDir(), "budget.journal"))
}

func TestKill9PostgresBudget(t *testing.T) {
	_, pool := lgPostgres(t)
	testKill9(t, "postgres:"+lgPostgresSchema(t, pool)+"/shared")
}

func TestKill9RedisBudget(t *testing.T) {
	c, addr := lgRedis(t)
	testKill9(t, "redis:"+addr+"/"+lgRedisName(t, c))
}

// redisServer is a redis-server child process on a fixed port, keeping its
// data in dir (append-only file, fsynced at every write) across restarts:
// a budget whose state a restart loses fails closed.
type redisServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

func (s *redisServer) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", s.dir, "--daemonize", "no")
	require.NoError(t, s.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; {
		require.True(t, time.Now().Before(deadline), "redis-server did not start")
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// TestRedisOutage stops the budget's Redis in the middle of a run: calls
// fail closed with no provider call, and succeed again once it is back.
func TestRedisOutage(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("BAAR_REQUIRE_REDIS") == "1" {
			t.Fatal("BAAR_REQUIRE_REDIS=1 but redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &redisServer{port: ln.Addr().(*net.TCPAddr).Port, dir: t.TempDir()}
	require.NoError(t, ln.Close())
	srv.start(t)
	t.Cleanup(srv.stop)

	c := redis.NewClient(&redis.Options{Addr: srv.addr(), DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	l, err := redisledger.New(c, "outage", lgCap, lgPolicy)
	require.NoError(t, err)
	m := &baartest.Model{FullOutput: true}
	r := lgRouter(t, m, l)
	ctx := baar.ContextWithBudgetKey(context.Background(), "u")
	for i := range 5 {
		_, err := r.GenerateContent(ctx, lgMessages(i))
		require.NoError(t, err)
	}
	require.Equal(t, int64(5), m.Calls())

	srv.stop()
	for i := range 5 {
		_, err := r.GenerateContent(ctx, lgMessages(i))
		require.Error(t, err)
		assert.ErrorIs(t, err, baar.ErrLedgerUnavailable)
		assert.ErrorIs(t, err, budget.ErrUnavailable)
		assert.NotErrorIs(t, err, baar.ErrBudgetExceeded)
	}
	assert.Equal(t, int64(5), m.Calls(), "no provider call while the budget store is down")

	srv.start(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := r.GenerateContent(ctx, lgMessages(0))
		if err == nil {
			break
		}
		require.ErrorIs(t, err, budget.ErrUnavailable)
		require.True(t, time.Now().Before(deadline), "no recovery: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
	assert.Equal(t, int64(6), m.Calls(), "service resumed")
}

// A Router over a PostgreSQL budget whose database becomes unreachable fails
// closed, with no provider call, and works again when it is back.
func TestPostgresOutageThroughTheRouter(t *testing.T) {
	dsn, pool := lgPostgres(t)
	schema := lgPostgresSchema(t, pool)
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	upstream := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	p, err := tcpproxy.Start(upstream)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", uint16(p.Port())
	cfg.ConnConfig.ConnectTimeout = time.Second
	viaProxy, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(viaProxy.Close)
	l, err := pgledger.New(context.Background(), viaProxy, schema, "outage", lgCap, lgPolicy, pgledger.WithTimeout(2*time.Second))
	require.NoError(t, err)
	m := &baartest.Model{FullOutput: true}
	r := lgRouter(t, m, l)
	ctx := context.Background()
	_, err = r.GenerateContent(ctx, lgMessages(0))
	require.NoError(t, err)
	require.EqualValues(t, 1, m.Calls())

	p.Cut()
	for i := range 3 {
		_, err = r.GenerateContent(ctx, lgMessages(i))
		require.ErrorIs(t, err, baar.ErrLedgerUnavailable, "fails closed")
	}
	assert.EqualValues(t, 1, m.Calls(), "no provider call while the budget is unreachable")

	p.Restore()
	require.Eventually(t, func() bool {
		_, err := r.GenerateContent(ctx, lgMessages(9))
		return err == nil
	}, 20*time.Second, 100*time.Millisecond, "resumes when the database is back")
	st, err := l.State(ctx)
	require.NoError(t, err)
	// Both answered calls, nothing else (the second may have had its output
	// cap fitted around a reservation orphaned by the cut).
	assert.Greater(t, st.Spent, lgCallCost)
	assert.LessOrEqual(t, st.Spent, 2*lgCallCost)
	assert.LessOrEqual(t, st.Spent+st.Reserved, lgCap)
}
