package pgledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/ledgertest"
	"github.com/baarcore/baar/budget/pgledger"
)

// dsn returns the DSN of the test database: BAAR_POSTGRES_DSN, by default
// the local server's database test.
func dsn() string {
	if s := os.Getenv("BAAR_POSTGRES_DSN"); s != "" {
		return s
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// requirePostgres skips the test when skip is given, or fails it when
// BAAR_REQUIRE_POSTGRES=1 (as in CI).
func requirePostgres(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("BAAR_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("BAAR_REQUIRE_POSTGRES=1 but %s", msg)
	}
	t.Skipf("%s: start PostgreSQL or set BAAR_POSTGRES_DSN; set BAAR_REQUIRE_POSTGRES=1 to fail instead", msg)
}

// testPool returns a pool of the test database. When nothing answers the
// test is skipped, or fails when BAAR_REQUIRE_POSTGRES=1.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn())
	require.NoError(t, err)
	cfg.MaxConns = 16
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		requirePostgres(t, "no PostgreSQL answers at %s (%v)", dsn(), err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// freshSchema returns the name of a new schema, migrated, dropped when the
// test ends. Its name needs quoting.
func freshSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	name := fmt.Sprintf("baar test %s %x", strings.ReplaceAll(t.Name(), "/", "."), rand.Uint32())
	if len(name) > 63 {
		name = fmt.Sprintf("baar test %x %s", rand.Uint32(), t.Name()[len(t.Name())-40:])
	}
	name = strings.ToValidUTF8(name, "")
	t.Cleanup(func() { dropSchema(t, pool, name) })
	require.NoError(t, pgledger.Migrate(context.Background(), pool, name))
	return name
}

func dropSchema(t testing.TB, pool *pgxpool.Pool, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("dropping schema %q: %v", name, err)
	}
}

func newLedger(t testing.TB, pool *pgxpool.Pool, schema, name string, limit budget.Amount, p budget.Limits, opts ...pgledger.Option) *pgledger.Ledger {
	t.Helper()
	l, err := pgledger.New(context.Background(), pool, schema, name, limit, p, opts...)
	require.NoError(t, err)
	return l
}

func TestConformance(t *testing.T) {
	pool := testPool(t)
	ledgertest.Run(t, func(t *testing.T, limit budget.Amount, p budget.Limits) budget.Ledger {
		return newLedger(t, pool, freshSchema(t, pool), "conformance", limit, p)
	})
}

// TestSharedStorm runs the conformance storm on two ledgers of one budget,
// each with its own pool, next to another budget of the same schema, which
// is left untouched.
func TestSharedStorm(t *testing.T) {
	p1, p2 := testPool(t), testPool(t)
	schema := freshSchema(t, p1)
	bg := context.Background()
	other := newLedger(t, p1, schema, "other", budget.Dollar, budget.Limits{})
	r, err := other.Reserve(bg, budget.Cent)
	require.NoError(t, err)
	p := budget.Limits{KeyLimit: 10 * budget.Dollar}
	ledgertest.Storm(t, []budget.Ledger{
		newLedger(t, p1, schema, "shared", 50*budget.Dollar, p),
		newLedger(t, p2, schema, "shared", 50*budget.Dollar, p, pgledger.WithoutSettlements()),
	})
	st, err := other.State(bg)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: budget.Dollar, Reserved: budget.Cent}, st, "the other budget is untouched")
	require.NoError(t, other.Cancel(bg, r))
}

// TestSharedAlerts commits from 1,000 goroutines through two ledgers of one
// budget, each with its own pool: each threshold is reported once in all.
func TestSharedAlerts(t *testing.T) {
	p1, p2 := testPool(t), testPool(t)
	schema := freshSchema(t, p1)
	p := budget.Limits{KeyLimit: 5 * budget.Dollar}
	ledgertest.Alerts(t, []budget.Ledger{
		newLedger(t, p1, schema, "shared", 10*budget.Dollar, p),
		newLedger(t, p2, schema, "shared", 10*budget.Dollar, p),
	}, 1000)
}
