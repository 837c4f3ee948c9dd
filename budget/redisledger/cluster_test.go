//go:build unix

package redisledger_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/ledgertest"
	"github.com/baarcore/baar/budget/redisledger"
)

// TestCluster runs the ledger on a Redis Cluster of three masters, each
// with a replica, started by the test: every operation works (the
// conformance kit, also with WithReplicas), a budget's keys share one slot,
// and a master killed in the middle of calls loses no acknowledged spend:
// calls fail closed until its replica is promoted and a replica is back.
func TestCluster(t *testing.T) {
	nodes := startCluster(t, 3)
	var addrs []string
	for _, s := range nodes {
		addrs = append(addrs, s.addr())
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1, MaxRedirects: 3})
	t.Cleanup(func() { cc.Close() })
	ctx := context.Background()

	t.Run("conformance", func(t *testing.T) {
		ledgertest.Run(t, func(t *testing.T, limit budget.Amount, p budget.Limits) budget.Ledger {
			l, err := redisledger.New(cc, budgetName(t, cc), limit, p, quiet)
			require.NoError(t, err)
			assert.Empty(t, l.Warnings())
			return l
		})
	})
	t.Run("conformance, replicas confirm", func(t *testing.T) {
		ledgertest.Run(t, func(t *testing.T, limit budget.Amount, p budget.Limits) budget.Ledger {
			l, err := redisledger.New(cc, budgetName(t, cc), limit, p, quiet, redisledger.WithReplicas(1, 2*time.Second))
			require.NoError(t, err)
			return l
		})
	})

	t.Run("one slot", func(t *testing.T) {
		name := budgetName(t, cc)
		clk := ledgertest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		l, err := redisledger.New(cc, name, budget.Dollar, budget.Limits{KeyLimit: budget.Dollar, Lease: time.Second,
			Now: clk.Now, Window: budget.Window{Period: budget.Daily}}, quiet)
		require.NoError(t, err)
		_, err = l.Reserve(budget.ContextWithKey(ctx, "u"), budget.Cent)
		require.NoError(t, err)
		clk.Add(time.Minute)
		_, err = l.Reserve(ctx, budget.Cent)
		require.NoError(t, err)
		keys, err := redisledger.Keys(ctx, cc, name)
		require.NoError(t, err)
		require.Len(t, keys, 10, "%q", keys) // epoch gen seq open lease tok tokx tokmin w x
		want, err := cc.ClusterKeySlot(ctx, "{baar:"+name+"}").Result()
		require.NoError(t, err)
		for _, k := range keys {
			slot, err := cc.ClusterKeySlot(ctx, k).Result()
			require.NoError(t, err)
			assert.Equal(t, want, slot, k)
		}
		n, err := redisledger.Delete(ctx, cc, name)
		require.NoError(t, err)
		assert.Equal(t, int64(len(keys)), n)
	})

	t.Run("failover", func(t *testing.T) {
		name := budgetName(t, cc)
		l, err := redisledger.New(cc, name, 1000*budget.Dollar, budget.Limits{}, quiet, redisledger.WithReplicas(1, 500*time.Millisecond))
		require.NoError(t, err)
		master, err := cc.MasterForKey(ctx, "{baar:"+name+"}")
		require.NoError(t, err)
		var victim *redisServer
		for _, s := range nodes {
			if s.addr() == master.Options().Addr {
				victim = s
			}
		}
		require.NotNil(t, victim)

		var acked, failed atomic.Int64 // cents acknowledged; calls failed
		var unsure atomic.Int64        // cents of commits that failed: maybe recorded
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					r, err := l.Reserve(ctx, budget.Cent)
					if err == nil {
						err = l.Commit(ctx, r, budget.Cent)
						if err == nil {
							acked.Add(1)
							continue
						}
						unsure.Add(1)
					}
					if !errors.Is(err, budget.ErrUnavailable) {
						t.Errorf("a call failed otherwise than closed: %v", err)
					}
					if errors.Is(err, redisledger.ErrStateLost) {
						t.Errorf("acknowledged state lost: %v", err)
					}
					failed.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		time.Sleep(300 * time.Millisecond)
		before := acked.Load()
		require.Positive(t, before)
		victim.kill()
		// Its replica is promoted (after cluster-node-timeout); meanwhile
		// calls fail closed.
		require.Eventually(t, func() bool {
			cc.ReloadState(ctx)
			m, err := cc.MasterForKey(ctx, "{baar:"+name+"}")
			return err == nil && m.Options().Addr != victim.addr() && m.Ping(ctx).Err() == nil
		}, 20*time.Second, 50*time.Millisecond, "the replica was not promoted")
		assert.Positive(t, failed.Load(), "calls fail closed while the slot has no master")
		// The old master comes back, as a replica of the new one.
		victim.restart(t)
		deadline := time.Now().Add(20 * time.Second)
		for mark := acked.Load(); acked.Load() < mark+20; {
			require.True(t, time.Now().Before(deadline), "no call succeeded after the failover (%d failed)", failed.Load())
			time.Sleep(50 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		st, err := l.State(ctx)
		require.NoError(t, err)
		t.Logf("acknowledged %d calls (%d before the kill), %d failed closed, %d commits unsure; spent %v, reserved %v",
			acked.Load(), before, failed.Load(), unsure.Load(), st.Spent, st.Reserved)
		assert.GreaterOrEqual(t, st.Spent, budget.Amount(acked.Load())*budget.Cent, "no acknowledged spend is lost")
		assert.LessOrEqual(t, st.Spent, budget.Amount(acked.Load()+unsure.Load())*budget.Cent, "nothing is counted twice")
	})
}
