package pgledger_test

import (
	"context"
	"fmt"
	"sync"
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

// Concurrent and repeated migrations of one schema apply each version once.
func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool) // migrated once already
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { assert.NoError(t, pgledger.Migrate(ctx, pool, schema)) })
	}
	wg.Wait()
	var n, v int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*), max(version) FROM "+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&n, &v))
	assert.Equal(t, pgledger.SchemaVersion, n)
	assert.Equal(t, pgledger.SchemaVersion, v)

	// A new schema migrated by many processes at once.
	fresh := schema + "'2"
	t.Cleanup(func() { dropSchema(t, pool, fresh) })
	for range 4 {
		wg.Go(func() { assert.NoError(t, pgledger.Migrate(ctx, pool, fresh)) })
	}
	wg.Wait()
	newLedger(t, pool, fresh, "b", budget.Dollar, budget.Limits{})
}

// A schema migrated by a newer version of the package is refused by New and
// by Migrate, with a message saying what to do.
func TestSchemaFromTheFuture(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	ctx := context.Background()
	_, err := pool.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "schema_version"}.Sanitize()+" (version) VALUES ($1)", pgledger.SchemaVersion+1)
	require.NoError(t, err)

	_, err = pgledger.New(ctx, pool, schema, "b", budget.Dollar, budget.Limits{})
	require.ErrorIs(t, err, pgledger.ErrSchemaVersion)
	var se *pgledger.SchemaError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, pgledger.SchemaError{Schema: schema, Version: pgledger.SchemaVersion + 1}, *se)
	assert.Contains(t, err.Error(), fmt.Sprintf("newer than the version %d this package knows", pgledger.SchemaVersion))
	assert.NotErrorIs(t, err, budget.ErrUnavailable)

	err = pgledger.Migrate(ctx, pool, schema)
	require.ErrorIs(t, err, pgledger.ErrSchemaVersion)
	assert.NotErrorIs(t, err, budget.ErrUnavailable)
}

func TestNotMigrated(t *testing.T) {
	pool := testPool(t)
	_, err := pgledger.New(context.Background(), pool, "baar test never migrated", "b", budget.Dollar, budget.Limits{})
	require.ErrorIs(t, err, pgledger.ErrSchemaVersion)
	assert.Contains(t, err.Error(), "run pgledger.Migrate first")
}

func TestNewInvalid(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	require.NoError(t, err) // connects lazily
	defer pool.Close()
	for name, f := range map[string]func() error{
		"nil pool":     func() error { _, err := pgledger.New(ctx, nil, "s", "a", 1, budget.Limits{}); return err },
		"empty schema": func() error { _, err := pgledger.New(ctx, pool, "", "a", 1, budget.Limits{}); return err },
		"long schema": func() error {
			_, err := pgledger.New(ctx, pool, string(make([]byte, 64)), "a", 1, budget.Limits{})
			return err
		},
		"dollar tag":    func() error { _, err := pgledger.New(ctx, pool, "a$pgledger$b", "a", 1, budget.Limits{}); return err },
		"NUL in schema": func() error { _, err := pgledger.New(ctx, pool, "a\x00b", "a", 1, budget.Limits{}); return err },
		"empty name":    func() error { _, err := pgledger.New(ctx, pool, "s", "", 1, budget.Limits{}); return err },
		"bad name":      func() error { _, err := pgledger.New(ctx, pool, "s", "\xff", 1, budget.Limits{}); return err },
		"negative":      func() error { _, err := pgledger.New(ctx, pool, "s", "a", -1, budget.Limits{}); return err },
		"policy":        func() error { _, err := pgledger.New(ctx, pool, "s", "a", 1, budget.Limits{Lease: -1}); return err },
		"migrate nil":   func() error { return pgledger.Migrate(ctx, nil, "s") },
		"migrate name":  func() error { return pgledger.Migrate(ctx, pool, "") },
	} {
		err := f()
		assert.ErrorIs(t, err, budget.ErrInvalid, name)
		assert.NotErrorIs(t, err, budget.ErrUnavailable, name)
	}
	_, err = pgledger.New(ctx, pool, "s", "a", 1, budget.Limits{})
	assert.ErrorIs(t, err, budget.ErrUnavailable, "New reads the schema version")
	assert.ErrorIs(t, pgledger.Migrate(ctx, pool, "s"), budget.ErrUnavailable)
}

// Keys and labels PostgreSQL cannot store as text are refused up front:
// one of them in a batch must not fail the others.
func TestInvalidKeysAndLabels(t *testing.T) {
	pool := testPool(t)
	l := newLedger(t, pool, freshSchema(t, pool), "b", budget.Dollar, budget.Limits{KeyLimit: budget.Cent})
	bg := context.Background()
	for _, ctx := range []context.Context{
		budget.ContextWithKey(bg, "a\x00b"),
		budget.ContextWithKey(bg, "\xff"),
		budget.ContextWithKey(bg, string(make([]byte, 2000))),
		pgledger.ContextWithLabel(bg, "m\x00"),
	} {
		_, err := l.Reserve(ctx, 1)
		assert.ErrorIs(t, err, budget.ErrInvalid)
	}
	_, err := l.State(budget.ContextWithKey(bg, "\xff"))
	assert.ErrorIs(t, err, budget.ErrInvalid)
	r, err := l.Reserve(budget.ContextWithKey(bg, "ключ ✓"), budget.Cent)
	require.NoError(t, err)
	require.NoError(t, l.Commit(bg, r, budget.Cent))
	assert.ErrorIs(t, l.Commit(bg, budget.Reservation{ID: 1 << 63, Amount: 1}, 1), budget.ErrInvalid)
	assert.ErrorIs(t, l.Commit(bg, budget.Reservation{ID: 1, Amount: 1, Generation: 1 << 63}, 1), budget.ErrInvalid)
}

// The store holds any int64 amount: a reservation beyond a limit is a
// refusal (ErrExceeded), as in every ledger, and sums saturate at
// budget.MaxAmount instead of failing.
func TestSaturation(t *testing.T) {
	pool := testPool(t)
	ctx := context.Background()
	l := newLedger(t, pool, freshSchema(t, pool), "b", budget.Dollar, budget.Limits{})
	_, err := l.Reserve(ctx, budget.MaxAmount)
	var ex *budget.ExceededError
	require.ErrorAs(t, err, &ex)
	assert.Equal(t, budget.ExceededError{Limit: budget.Dollar, Requested: budget.MaxAmount}, *ex)
	assert.NotErrorIs(t, err, budget.ErrInvalid)

	r1, err := l.Reserve(ctx, budget.Cent)
	require.NoError(t, err)
	r2, err := l.Reserve(ctx, budget.Cent)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx, r1, budget.MaxAmount))
	require.NoError(t, l.Commit(ctx, r2, budget.MaxAmount), "saturates, nothing lost, nothing fails")
	st, err := l.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: budget.Dollar, Spent: budget.MaxAmount}, st)
	_, err = l.Reserve(ctx, 0)
	assert.ErrorIs(t, err, budget.ErrExceeded)

	big := newLedger(t, pool, freshSchema(t, pool), "big", budget.MaxAmount, budget.Limits{KeyLimit: budget.MaxAmount})
	kctx := budget.ContextWithKey(ctx, "k")
	r, err := big.Reserve(kctx, budget.MaxAmount)
	require.NoError(t, err)
	_, err = big.Reserve(kctx, 1)
	require.ErrorAs(t, err, &ex)
	assert.Equal(t, budget.MaxAmount, ex.Reserved)
	require.NoError(t, big.Cancel(ctx, r))
}

// settlementRow is a row of the settlements table.
type settlementRow struct {
	Reservation int64
	Key, Label  string
	Kind        string
	Reserved    int64
	Amount      int64
}

func settlements(t *testing.T, pool *pgxpool.Pool, schema, name string) []settlementRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT reservation, key, label, kind, reserved, amount FROM "+
		pgx.Identifier{schema, "settlements"}.Sanitize()+" WHERE budget = $1 ORDER BY at, reservation, kind", name)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[settlementRow])
	require.NoError(t, err)
	return out
}

// The settlements table records every change of spend with its key and
// label, and sums to the spend; WithoutSettlements records nothing.
func TestSettlementsTable(t *testing.T) {
	pool := testPool(t)
	schema := freshSchema(t, pool)
	bg := context.Background()
	clk := ledgertest.NewClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	p := budget.Limits{KeyLimit: budget.Dollar, Lease: time.Minute, Now: clk.Now}
	l := newLedger(t, pool, schema, "b", 10*budget.Dollar, p)
	ctx := pgledger.ContextWithLabel(budget.ContextWithKey(bg, "alice"), "gpt-4o")
	a, err := l.Reserve(ctx, 30*budget.Cent)
	require.NoError(t, err)
	b, err := l.Reserve(ctx, 20*budget.Cent)
	require.NoError(t, err)
	c, err := l.Reserve(bg, 5*budget.Cent)
	require.NoError(t, err)
	d, err := l.Reserve(bg, 7*budget.Cent)
	require.NoError(t, err)
	require.NoError(t, l.Commit(bg, a, 25*budget.Cent))
	require.NoError(t, l.Cancel(bg, b))
	clk.Add(2 * time.Minute) // c and d expire
	st, err := l.State(bg)
	require.NoError(t, err)
	require.Equal(t, 37*budget.Cent, st.Spent)
	require.NoError(t, l.Commit(bg, c, 2*budget.Cent)) // corrects the charge
	require.NoError(t, l.Cancel(bg, d))

	got := settlements(t, pool, schema, "b")
	want := []settlementRow{
		{int64(a.ID), "alice", "gpt-4o", "commit", int64(30 * budget.Cent), int64(25 * budget.Cent)},
		{int64(b.ID), "alice", "gpt-4o", "cancel", int64(20 * budget.Cent), 0},
		{int64(c.ID), "", "", "expire", int64(5 * budget.Cent), int64(5 * budget.Cent)},
		{int64(c.ID), "", "", "late commit", int64(5 * budget.Cent), int64(-3 * budget.Cent)},
		{int64(d.ID), "", "", "expire", int64(7 * budget.Cent), int64(7 * budget.Cent)},
		{int64(d.ID), "", "", "late cancel", int64(7 * budget.Cent), int64(-7 * budget.Cent)},
	}
	assert.Equal(t, want, got)
	var sum int64
	for _, s := range got {
		sum += s.Amount
	}
	st, err = l.State(bg)
	require.NoError(t, err)
	assert.Equal(t, int64(st.Spent), sum, "the settlements sum to the spend")

	quiet := newLedger(t, pool, schema, "quiet", budget.Dollar, budget.Limits{}, pgledger.WithoutSettlements())
	r, err := quiet.Reserve(bg, budget.Cent)
	require.NoError(t, err)
	require.NoError(t, quiet.Commit(bg, r, budget.Cent))
	assert.Empty(t, settlements(t, pool, schema, "quiet"))
}
