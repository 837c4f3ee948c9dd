package pgledger_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/pgledger"
)

// pgServer is a throwaway PostgreSQL server: its own data directory and
// port, run as the user postgres when the test runs as root.
type pgServer struct {
	bin, dir string
	port     int
	cred     *syscall.Credential
	cmd      *exec.Cmd
}

// newPGServer initializes a server in a temporary directory. Without the
// PostgreSQL binaries the test is skipped, or fails in CI.
func newPGServer(t *testing.T) *pgServer {
	bin := ""
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) > 0 {
		bin = filepath.Dir(m[len(m)-1])
	} else if p, err := exec.LookPath("initdb"); err == nil {
		bin = filepath.Dir(p)
	}
	if bin == "" {
		if os.Getenv("CI") == "true" || os.Getenv("BAAR_REQUIRE_POSTGRES") == "1" {
			t.Fatal("the PostgreSQL server binaries (initdb, postgres) are not installed")
		}
		t.Skip("the PostgreSQL server binaries (initdb, postgres) are not installed")
	}
	dir, err := os.MkdirTemp("", "pgledger-server-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &pgServer{bin: bin, dir: dir}
	if os.Geteuid() == 0 { // postgres refuses to run as root
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "running as root needs the user postgres")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		require.NoError(t, os.Chown(dir, uid, gid))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.port = ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "-N")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	out, err := initdb.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(s.kill)
	return s
}

func (s *pgServer) dsn() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(s.port) + "/postgres?sslmode=disable&connect_timeout=1"
}

// start starts the server and waits until it accepts connections (after
// crash recovery, if it crashed).
func (s *pgServer) start(t *testing.T) {
	log, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer log.Close()
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"), "-p", strconv.Itoa(s.port),
		"-k", s.dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c", "synchronous_commit=on",
		"-c", "shared_buffers=16MB", "-c", "max_connections=30")
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	require.NoError(t, s.cmd.Start())
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := pgx.Connect(context.Background(), s.dsn())
		if err == nil {
			c.Close(context.Background())
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			t.Fatalf("the server did not start: %v\n%s", err, b)
		}
	}
}

// kill crashes the server: it stops the postmaster (so that it forks no
// more), then kills it and every child (backends, WAL writer, …) with
// SIGKILL, and waits until they are gone. PostgreSQL's children each lead
// their own process group, hence the walk of /proc.
func (s *pgServer) kill() {
	if s.cmd == nil {
		return
	}
	pm := s.cmd.Process.Pid
	syscall.Kill(pm, syscall.SIGSTOP)
	pids := append(childrenOf(pm), pm)
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	s.cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if !slices.ContainsFunc(pids, alive) {
			break
		}
	}
	s.cmd = nil
}

// procStat returns the state and parent of process pid, from /proc.
func procStat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold anything
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 2 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != 'Z'
}

// childrenOf returns the processes whose parent is ppid.
func childrenOf(ppid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, parent, ok := procStat(pid); ok && parent == ppid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// The database server is killed (SIGKILL, all its processes) in the middle
// of a storm and restarted: every acknowledged commit survived (it is in
// the settlements table with its amount), operations failed closed
// meanwhile, and the spend never passed the cap.
func TestServerKilledMidStorm(t *testing.T) {
	srv := newPGServer(t)
	srv.start(t)
	cfg, err := pgxpool.ParseConfig(srv.dsn())
	require.NoError(t, err)
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	defer pool.Close()
	const schema = "baar budget"
	require.NoError(t, pgledger.Migrate(context.Background(), pool, schema))
	limit := 100 * budget.Dollar
	l := newLedger(t, pool, schema, "storm", limit, budget.Limits{KeyLimit: limit / 2, Lease: time.Hour}, pgledger.WithTimeout(2*time.Second))

	var (
		mu       sync.Mutex
		acked    = map[uint64]budget.Amount{} // acknowledged commits
		failures atomic.Int64
		stop     atomic.Bool
	)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			ctx := budget.ContextWithKey(context.Background(), "k"+strconv.Itoa(g%4))
			for !stop.Load() {
				r, err := l.Reserve(ctx, callCost)
				if err != nil {
					if !assert.ErrorIs(t, err, budget.ErrUnavailable) {
						return
					}
					failures.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				actual := callCost/2 + budget.Amount(rand.Int64N(int64(callCost/2)))
				for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(10 * time.Millisecond) {
					err := l.Commit(context.Background(), r, actual) // retried: a settled one is a no-op
					if err == nil {
						break
					}
					if !assert.ErrorIs(t, err, budget.ErrUnavailable) || !assert.True(t, time.Now().Before(deadline)) {
						return
					}
					failures.Add(1)
				}
				mu.Lock()
				acked[r.ID] = actual
				mu.Unlock()
			}
		})
	}
	waitFor := func(n int) {
		for deadline := time.Now().Add(60 * time.Second); count() < n; time.Sleep(5 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "stuck at %d acknowledged commits", count())
		}
	}
	waitFor(300)
	srv.kill()
	before, failed := count(), failures.Load()
	for deadline := time.Now().Add(20 * time.Second); failures.Load() < failed+16; time.Sleep(10 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "operations fail while the server is down")
	}
	srv.start(t)
	waitFor(before + 300)
	stop.Store(true)
	wg.Wait()
	require.Positive(t, failures.Load(), "the kill happened mid-storm")

	ctx := context.Background()
	st, err := l.State(ctx)
	require.NoError(t, err)
	var sum budget.Amount
	for _, a := range acked {
		sum += a
	}
	t.Logf("%d acknowledged commits (%v), %d failed operations; state %+v", len(acked), sum, failures.Load(), st)
	assert.GreaterOrEqual(t, st.Spent, sum, "no acknowledged spend is lost")
	assert.LessOrEqual(t, st.Spent+st.Reserved, limit)

	recorded := map[uint64]budget.Amount{}
	var id, amount, total int64
	rows, err := pool.Query(ctx, "SELECT reservation, amount FROM "+pgx.Identifier{schema, "settlements"}.Sanitize()+" WHERE kind = 'commit'")
	require.NoError(t, err)
	_, err = pgx.ForEachRow(rows, []any{&id, &amount}, func() error { recorded[uint64(id)] = budget.Amount(amount); return nil })
	require.NoError(t, err)
	for id, a := range acked {
		if !assert.Equal(t, a, recorded[id], "acknowledged commit of reservation %d", id) {
			break
		}
	}
	require.NoError(t, pool.QueryRow(ctx, "SELECT coalesce(sum(amount), 0)::bigint FROM "+pgx.Identifier{schema, "settlements"}.Sanitize()).Scan(&total))
	assert.Equal(t, st.Spent, budget.Amount(total), "the settlements add up to the spend")
	open, err := l.Unsettled(ctx)
	require.NoError(t, err)
	var held budget.Amount
	for _, r := range open {
		held += r.Amount
	}
	assert.Equal(t, st.Reserved, held, "what is still reserved are reservations whose answer the crash lost")
}
