package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/redisledger"
)

// redisAddr returns the address of the Redis at BAAR_REDIS_ADDR (default
// 127.0.0.1:6379). When nothing answers there the test is skipped, or
// fails when BAAR_REQUIRE_REDIS=1 (as in CI).
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("BAAR_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("BAAR_REQUIRE_REDIS") == "1" {
			t.Fatalf("BAAR_REQUIRE_REDIS=1 but no Redis answers at %s: %v", addr, err)
		}
		t.Skipf("no Redis at %s (%v): start one or set BAAR_REDIS_ADDR; set BAAR_REQUIRE_REDIS=1 to fail instead", addr, err)
	}
	return addr
}

// redisTarget is one budget in Redis shared by the simulated processes,
// each with its own client and connection pool reaching Redis through a
// fault-injecting proxy: lost requests and replies, delays, disconnects,
// commands held and delivered later on another connection (reordered);
// and, among the faults a ledger can only detect, the loss of the
// budget's keys (Redis restarted empty, or evicting them).
type redisTarget struct {
	w       *world
	addr    string
	name    string
	direct  *redis.Client // to Redis itself: the auditor, state loss, cleanup
	px      *proxy
	clients []*redis.Client
	procs   []*redisledger.Ledger
	auditor *redisledger.Ledger
	// lost is set from a state loss until the operator re-initializes the
	// budget; a process crashing meanwhile starts only then (see open).
	lost bool
}

func newRedisTarget(addr string) func(w *world) target {
	return func(w *world) target {
		r := &redisTarget{w: w, addr: addr, name: fmt.Sprintf("sim-%d-%x", w.seed, rand.Uint64())}
		r.direct = redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
		w.t.Cleanup(func() {
			r.dropKeys()
			r.direct.Close()
		})
		px, err := newProxy(addr)
		if err != nil {
			w.t.Fatal(err)
		}
		r.px = px
		r.warm()
		r.clients = make([]*redis.Client, w.cfg.procs)
		r.procs = make([]*redisledger.Ledger, w.cfg.procs)
		for p := range r.procs {
			r.open(p)
		}
		// The auditor reads Redis directly with an unreachable global
		// limit, so that State shows each key's own figures.
		if r.auditor, err = redisledger.New(r.direct, r.name, redisledger.MaxLimit, w.lim); err != nil {
			w.t.Fatal(err)
		}
		return r
	}
}

// warm loads the ledger's scripts into Redis, so that no EVALSHA of the
// run meets NOSCRIPT: the same seed then sends the same commands whatever
// Redis ran before.
func (r *redisTarget) warm() {
	l, err := redisledger.New(r.direct, r.name+"-warm", 1, budget.Limits{})
	if err != nil {
		r.w.t.Fatal(err)
	}
	ctx := context.Background()
	res, err := l.Reserve(ctx, 1)
	if err == nil {
		err = l.Commit(ctx, res, 1)
	}
	if err == nil {
		_, err = l.State(ctx)
	}
	if err != nil {
		r.w.t.Fatalf("loading the ledger's scripts: %v", err)
	}
	r.delKeys("{baar:" + r.name + "-warm}*")
}

// open starts process p: a new client and ledger, which reads its budget
// (so that it has seen the budget's identity, as a router does when it
// reports its budget at start). While the budget's state is lost, the
// process starts only once the operator has answered: a process that never
// saw the budget cannot tell a lost budget from a new one and starts a new
// one (docs/budgets.md), which no ledger can detect.
func (r *redisTarget) open(p int) {
	if r.lost {
		r.clients[p], r.procs[p] = nil, nil
		return
	}
	retries := -1
	if r.w.cfg.retries {
		retries = 0 // go-redis's default: 3 retries
	}
	r.clients[p] = redis.NewClient(&redis.Options{
		Addr:            r.px.addr(),
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      retries,
		PoolSize:        2,
		DialTimeout:     2 * time.Second,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
	})
	l, err := redisledger.New(r.clients[p], r.name, r.w.limit, r.w.lim, redisledger.WithLogger(nil))
	if err != nil {
		r.w.t.Fatal(err)
	}
	r.procs[p] = l
	r.px.arm(pass)
	if _, err := l.State(context.Background()); err != nil {
		r.w.t.Fatalf("process %d reading its budget at start: %v", p, err)
	}
}

func (r *redisTarget) ledger(p int) budget.Ledger {
	if r.procs[p] == nil {
		return downLedger{fmt.Errorf("%w: process %d waits for the operator to start", budget.ErrUnavailable, p)}
	}
	return r.procs[p]
}

func (r *redisTarget) restart(p int) {
	if r.clients[p] != nil {
		r.clients[p].Close()
	}
	r.open(p)
}

// recover re-initializes the budget on purpose (redisledger.Reinitialize),
// as the operator does once ledgers fail with ErrStateLost: what is left
// in Redis (nothing, after the keys were lost) becomes the budget, and the
// processes that waited start.
func (r *redisTarget) recover(w *world) string {
	if err := redisledger.Reinitialize(context.Background(), r.direct, r.name); err != nil {
		w.t.Fatalf("re-initializing the budget: %v", err)
	}
	r.lost = false
	for p := range r.procs {
		if r.procs[p] == nil {
			r.open(p)
		}
	}
	return "operator-reinitialize"
}

func (r *redisTarget) audit(key string) (budget.State, bool, error) {
	st, err := r.auditor.State(budget.ContextWithKey(context.Background(), key))
	return st, true, err
}

// arm chooses the fate of the next ledger command.
func (r *redisTarget) arm(w *world) string {
	f, kind := pass, ""
	switch n := w.rng.IntN(100); {
	case n < 25:
		f, kind = dropRequest, "lost-request"
	case n < 55:
		f, kind = dropReply, "lost-reply"
	case n < 75:
		f, kind = holdRequest, "held-request"
	default:
		f, kind = delay, "delay"
	}
	r.px.arm(f)
	return kind
}

// fault disconnects every client, delivers the held commands late (after
// the operations that followed them: reordered), or loses the budget's
// keys.
func (r *redisTarget) fault(w *world) string {
	switch n := w.rng.IntN(100); {
	case w.cfg.lossy && n < 20:
		r.dropKeys()
		r.lost = true
		w.stateLost()
		return "state-loss"
	case n < 60:
		r.px.disconnect()
		return "disconnect"
	default:
		if n, err := r.px.release(); err != nil {
			w.t.Fatal(err)
		} else if n > 0 {
			return "late-delivery"
		}
	}
	return ""
}

func (r *redisTarget) quiesce(w *world) {
	r.px.arm(pass)
	if _, err := r.px.release(); err != nil {
		w.t.Fatal(err)
	}
}

func (r *redisTarget) close() {
	r.px.close()
	for _, c := range r.clients {
		if c != nil {
			c.Close()
		}
	}
}

// dropKeys deletes the budget's keys.
func (r *redisTarget) dropKeys() { r.delKeys("{baar:" + r.name + "}*") }

func (r *redisTarget) delKeys(pattern string) {
	ctx := context.Background()
	var keys []string
	iter := r.direct.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		r.direct.Del(ctx, keys...)
	}
}
