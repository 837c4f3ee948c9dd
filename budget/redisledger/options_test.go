//go:build unix

package redisledger_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/redisledger"
)

// New reports the settings that put a budget at risk, through the logger
// and Warnings, and never fails because of them, nor because CONFIG is
// refused.
func TestNewChecksTheRedisSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // substrings, one per warning
	}{
		{"recommended", []string{"--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"}, nil},
		{"no persistence, eviction", []string{"--maxmemory-policy", "allkeys-lru"}, []string{"maxmemory-policy is allkeys-lru", "no persistence"}},
		{"snapshots only", []string{"--save", "60 1"}, []string{"snapshots only"}},
		{"never fsynced", []string{"--appendonly", "yes", "--appendfsync", "no"}, []string{"appendfsync no"}},
		{"CONFIG refused", []string{"--rename-command", "CONFIG", ""}, []string{"not checked"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startRedis(t, tc.args...)
			var logs bytes.Buffer
			l, err := redisledger.New(s.client(t), "b", budget.Dollar, budget.Limits{},
				redisledger.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			require.NoError(t, err)
			w := l.Warnings()
			require.Len(t, w, len(tc.want), "%q", w)
			for i, want := range tc.want {
				assert.Contains(t, w[i], want)
				assert.Contains(t, logs.String(), want)
			}
			assert.Equal(t, len(tc.want), strings.Count(logs.String(), "level=WARN"))
			_, err = l.Reserve(context.Background(), budget.Cent)
			assert.NoError(t, err, "a warning never stops the ledger")
		})
	}
	// No Redis: New does not fail (operations will), and says it could not
	// check.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	l, err := redisledger.New(c, "b", budget.Dollar, budget.Limits{}, quiet)
	require.NoError(t, err)
	require.Len(t, l.Warnings(), 1)
	assert.Contains(t, l.Warnings()[0], "not checked")
}

// A primary with a replica, the replica stopped (a replication lag) while
// calls go on, then the primary lost and the replica promoted: with
// WithReplicas no acknowledged spend is lost (the calls the replica could
// not confirm failed closed); without it, what the replica had not received
// is lost, and the ledger that was acknowledged it fails closed.
func TestReplicaPromotedLosesNoConfirmedSpend(t *testing.T) {
	ctx := context.Background()
	primary := startRedis(t)
	lk := newLink(t, primary.addr())
	replica := startRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(lk.port()))
	rc := replica.client(t)
	require.Eventually(t, func() bool {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 10*time.Second, 20*time.Millisecond, "the replica did not sync")

	// Clients that follow the failover, as a Sentinel client would.
	target := primary.addr()
	var mu sync.Mutex
	follow := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: "budget-primary", MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
			Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
				mu.Lock()
				addr := target
				mu.Unlock()
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}})
		t.Cleanup(func() { c.Close() })
		return c
	}
	sync1, err := redisledger.New(follow(), "sync", 10*budget.Dollar, budget.Limits{}, quiet,
		redisledger.WithReplicas(1, 2*time.Second)) // slack for a loaded machine
	require.NoError(t, err)
	async, err := redisledger.New(follow(), "async", 10*budget.Dollar, budget.Limits{}, quiet)
	require.NoError(t, err)
	spend := func(l *redisledger.Ledger, a budget.Amount) error {
		r, err := l.Reserve(ctx, a)
		if err != nil {
			return err
		}
		return l.Commit(ctx, r, a)
	}
	require.NoError(t, spend(sync1, budget.Dollar))
	require.NoError(t, spend(async, budget.Dollar))
	require.NoError(t, primary.client(t).Wait(ctx, 1, 5*time.Second).Err())

	lk.held.Store(true) // the replica lags
	err = spend(sync1, 2*budget.Dollar)
	require.ErrorIs(t, err, budget.ErrUnavailable, "not confirmed: not acknowledged")
	require.NoError(t, spend(async, 2*budget.Dollar), "acknowledged by the primary alone")

	primary.kill()
	lk.cut()
	require.NoError(t, rc.SlaveOf(ctx, "NO", "ONE").Err())
	mu.Lock()
	target = replica.addr()
	mu.Unlock()

	_, err = sync1.State(ctx)
	require.ErrorIs(t, err, budget.ErrUnavailable, "no replica left to confirm: it fails closed")
	replica2 := startRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(replica.port))
	r2 := replica2.client(t)
	require.Eventually(t, func() bool {
		info, err := r2.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 10*time.Second, 20*time.Millisecond, "the new replica did not sync")
	st, err := sync1.State(ctx)
	require.NoError(t, err, "a replica is back")
	assert.Equal(t, budget.State{Limit: 10 * budget.Dollar, Spent: budget.Dollar}, st, "every acknowledged dollar is there")
	_, err = async.State(ctx)
	assert.ErrorIs(t, err, redisledger.ErrStateLost, "the $2 acknowledged without the replica are lost, and the ledger says so")
	fresh, err := redisledger.New(rc, "async", 10*budget.Dollar, budget.Limits{}, quiet)
	require.NoError(t, err)
	st, err = fresh.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.Dollar, st.Spent, "what a process that never saw the budget finds")
}
