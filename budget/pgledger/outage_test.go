package pgledger_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/pgledger"
	"github.com/baarcore/baar/internal/tcpproxy"
)

// guardedCall is a call guarded by l as a router makes it: the provider is
// called only once the reservation is granted.
func guardedCall(ctx context.Context, l budget.Ledger, provider *atomic.Int64) error {
	r, err := l.Reserve(ctx, callCost)
	if err != nil {
		return err
	}
	provider.Add(1)
	return l.Commit(context.Background(), r, callCost/2)
}

// startProxy is a tcpproxy to upstream, closed when the test ends.
func startProxy(t *testing.T, upstream string) *tcpproxy.Proxy {
	p, err := tcpproxy.Start(upstream)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// The database becomes unreachable mid-run: every operation fails closed
// with an error matching ErrUnavailable (never ErrExceeded) and no provider
// call is made; the ledger works again as soon as the database is back.
func TestUnreachableFailsClosed(t *testing.T) {
	direct := testPool(t)
	schema := freshSchema(t, direct)
	cfg, err := pgxpool.ParseConfig(dsn())
	require.NoError(t, err)
	px := startProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", uint16(px.Port())
	cfg.ConnConfig.ConnectTimeout = 300 * time.Millisecond
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	defer pool.Close()
	ctx := budget.ContextWithKey(context.Background(), "u")
	l := newLedger(t, pool, schema, "down", procCap, budget.Limits{KeyLimit: procKeyLimit}, pgledger.WithTimeout(time.Second))

	var provider atomic.Int64
	for range 5 {
		require.NoError(t, guardedCall(ctx, l, &provider))
	}
	open, err := l.Reserve(ctx, callCost)
	require.NoError(t, err)

	px.Cut()
	var wg sync.WaitGroup
	for range 8 { // concurrent callers share failing batches
		wg.Go(func() {
			err := guardedCall(ctx, l, &provider)
			assert.ErrorIs(t, err, budget.ErrUnavailable)
			assert.NotErrorIs(t, err, budget.ErrExceeded)
		})
	}
	wg.Wait()
	assert.Equal(t, int64(5), provider.Load(), "no provider call while the database is unreachable")
	_, err = l.State(ctx)
	assert.ErrorIs(t, err, budget.ErrUnavailable)
	assert.ErrorIs(t, l.Commit(ctx, open, callCost), budget.ErrUnavailable)
	_, err = l.Unsettled(ctx)
	assert.ErrorIs(t, err, budget.ErrUnavailable)

	px.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := guardedCall(ctx, l, &provider)
		if err == nil {
			break
		}
		require.ErrorIs(t, err, budget.ErrUnavailable)
		require.True(t, time.Now().Before(deadline), "no recovery: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
	assert.Equal(t, int64(6), provider.Load(), "service resumed")
	require.NoError(t, l.Commit(ctx, open, callCost), "the reservation made before the outage settles")
	st, err := l.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: procKeyLimit, Spent: 6*callCost/2 + callCost}, st)
}
