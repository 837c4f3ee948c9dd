package pgledger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baarcore/baar/budget"
)

// DefaultTimeout bounds each round trip of a ledger to PostgreSQL when no
// [WithTimeout] is given.
const DefaultTimeout = 5 * time.Second

// maxTextLen is the longest budget key, label or budget name a ledger
// accepts, in bytes (as budget's own ledgers).
const maxTextLen = 1024

// maxBatch is the largest number of operations sent in one round trip.
const maxBatch = 1024

// lateSettleRetention is how long an expired reservation is remembered for
// a late settlement (as budget's own ledgers).
const lateSettleRetention = 24 * time.Hour

// Ledger is a [budget.Ledger] kept in PostgreSQL, shared by every process
// that uses the same database, schema and budget name. It enforces a
// [budget.Limits]: a global budget and budgets per key chosen through the
// context ([budget.ContextWithKey]), a calendar window, and reservation
// leases.
//
// # Batches
//
// Operations that arrive together are sent together: one call of the
// schema's apply function, one transaction, one commit (group commit, as
// [budget.File]). The function takes the budget's row lock, charges the
// reservations whose lease expired, then decides each operation in arrival
// order, each accepted or refused on its own, and writes the result; a
// reservation holds the global and the key's budget, or neither. An
// operation is answered only after the transaction's COMMIT returned, so
// with synchronous_commit on an acknowledged operation survives a crash of
// the database server (see docs/postgres.md for replicas).
//
// # Leases and failures
//
// A reservation is leased ([budget.Limits.Lease]). One still open when its
// lease expires — its holder died, or is very slow — is charged as spent at
// its full amount by the budget's next batch; a settlement arriving later
// (within a day) corrects the charge. Leases and windows follow the clock of
// the process making each call ([budget.Limits.Now]): keep the machines'
// clocks synchronized.
//
// Every error of the database — unreachable, timed out, an error answer, or
// an answer the function cannot have given — matches [budget.ErrUnavailable],
// so that callers fail closed; the ledger works again as soon as the
// database answers (the pool reconnects). A Reserve that fails so may still
// have reserved (the commit happened, its answer was lost): its lease
// charges it.
//
// # Records
//
// Unless [WithoutSettlements] is given, every settlement and lease expiry
// is recorded in the schema's settlements table (key, window generation,
// label, amounts, time, reservation ID), for operators to see who spent
// what with SQL.
//
// Ledger is safe for concurrent use.
type Ledger struct {
	pool    *pgxpool.Pool
	schema  string
	name    string
	call    string // the SQL calling the schema's apply function
	limit   budget.Amount
	pol     budget.Limits
	record  bool
	timeout time.Duration

	rates  []int64 // the limits of p.Rates, then of p.KeyRates
	alerts []int32 // the alert thresholds in ppm, set once by SetAlerts

	mu      sync.Mutex // guards queue, leading and alerts
	queue   []*op
	leading bool
}

var (
	_ budget.Ledger  = (*Ledger)(nil)
	_ budget.Alerter = (*Ledger)(nil)
)

// Option configures a [Ledger].
type Option func(*Ledger)

// WithoutSettlements turns off the settlements table: settlements are
// applied to the budgets but not recorded one by one.
func WithoutSettlements() Option { return func(l *Ledger) { l.record = false } }

// WithTimeout bounds each round trip to the database (default
// [DefaultTimeout]); an operation whose batch takes longer fails with an
// error matching [budget.ErrUnavailable]. A d ≤ 0 is ignored.
func WithTimeout(d time.Duration) Option {
	return func(l *Ledger) {
		if d > 0 {
			l.timeout = d
		}
	}
}

// New returns the ledger of the budget name in schema, with the global limit
// and policy p. The schema must have been created by [Migrate]; several
// budgets may share it. The limit and policy are not stored in the
// database: every process sharing the budget should give the same ones.
//
// New reads the schema's version. It returns an error matching
// [ErrSchemaVersion] when the schema is not at [SchemaVersion] (from the
// future, or not migrated), [budget.ErrUnavailable] when the database
// cannot be reached, and [budget.ErrInvalid] when pool is nil, schema or
// name is empty or too long, or limit or p is invalid.
func New(ctx context.Context, pool *pgxpool.Pool, schema, name string, limit budget.Amount, p budget.Limits, opts ...Option) (*Ledger, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: pgledger: nil pool", budget.ErrInvalid)
	}
	if err := checkSchema(schema); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%w: pgledger: empty budget name", budget.ErrInvalid)
	}
	if err := checkText("budget name", name); err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, fmt.Errorf("%w: pgledger: budget limit %v is negative", budget.ErrInvalid, limit)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	l := &Ledger{
		pool: pool, schema: schema, name: name, limit: limit, pol: p, record: true, timeout: DefaultTimeout,
		call: "SELECT status, id, gen, spent, reserved, key_spent, key_reserved, rate, hold_key, key_limit, fired FROM " +
			ident(schema, "apply") + "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
	}
	for _, rs := range [2][]budget.Rate{p.Rates, p.KeyRates} {
		for _, r := range rs {
			l.rates = append(l.rates, int64(r.Limit))
		}
	}
	for _, o := range opts {
		if o != nil {
			o(l)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	v, err := schemaVersion(ctx, pool, schema)
	if err != nil {
		return nil, unavailable("reading the schema version", err)
	}
	if v != SchemaVersion {
		return nil, &SchemaError{Schema: schema, Version: v}
	}
	return l, nil
}

// checkText reports an error matching [budget.ErrInvalid] for a text
// PostgreSQL cannot store as is, or longer than maxTextLen.
func checkText(what, s string) error {
	if len(s) > maxTextLen || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return fmt.Errorf("%w: pgledger: %s %.64q must be UTF-8 without NUL, of at most %d bytes", budget.ErrInvalid, what, s, maxTextLen)
	}
	return nil
}

// Name returns the budget's name.
func (l *Ledger) Name() string { return l.name }

// Schema returns the name of the budget's schema.
func (l *Ledger) Schema() string { return l.schema }

func (l *Ledger) now() time.Time {
	if l.pol.Now != nil {
		return l.pol.Now()
	}
	return time.Now()
}

func (l *Ledger) lease() time.Duration {
	if l.pol.Lease > 0 {
		return l.pol.Lease
	}
	return budget.DefaultLease
}

// unavailable wraps an error of the database.
func unavailable(what string, err error) error {
	return fmt.Errorf("pgledger: %s: %w: %w", what, budget.ErrUnavailable, err)
}

// Reserve implements [budget.Ledger.Reserve] for the global budget and the
// budget of ctx's key, if it has one; a refusal by the key's budget wraps
// an *[budget.ExceededError] carrying that budget's figures. The label of
// ctx ([ContextWithLabel]) is kept with the reservation for the settlements
// table.
//
// It returns ctx.Err() without reserving when ctx is already done, an error
// matching [budget.ErrUnavailable] when ctx ends while the operation waits
// for its batch (nothing is reserved) or the database fails, and one
// matching [budget.ErrInvalid] for a negative amount, or a key or label
// that is not UTF-8, holds NUL or is longer than 1 KiB.
func (l *Ledger) Reserve(ctx context.Context, amount budget.Amount) (budget.Reservation, error) {
	if err := ctx.Err(); err != nil {
		return budget.Reservation{}, err
	}
	if amount < 0 {
		return budget.Reservation{}, fmt.Errorf("%w: reservation amount %v is negative", budget.ErrInvalid, amount)
	}
	key, keyLimit, err := l.keyOf(ctx)
	if err != nil {
		return budget.Reservation{}, err
	}
	label := LabelFromContext(ctx)
	if err := checkText("label", label); err != nil {
		return budget.Reservation{}, err
	}
	now := l.now()
	gen, _ := l.pol.Window.Bounds(now)
	o := &op{kind: opReserve, ctx: ctx, now: now.UnixMilli(), gen: gen, key: key, keyLimit: keyLimit,
		amount: amount, expiry: now.Add(l.lease()).UnixMilli(), label: label, rateGens: l.rateGens(now, key)}
	l.do(o)
	return o.res, o.err
}

// rateGens returns the window generations at now of the rate limits that
// apply to key's calls (0 for the key's when key is "").
func (l *Ledger) rateGens(now time.Time, key string) []int64 {
	if len(l.rates) == 0 {
		return nil
	}
	gs := make([]int64, 0, len(l.rates))
	for i, rs := range [2][]budget.Rate{l.pol.Rates, l.pol.KeyRates} {
		for _, r := range rs {
			g := uint64(0)
			if i == 0 || key != "" {
				g, _ = r.Window(l.pol.Window.Location).Bounds(now)
			}
			gs = append(gs, int64(g))
		}
	}
	return gs
}

// keyOf returns ctx's key and the limit of its main budget (-1 when it has
// rate limits only), or "" when it has no budget.
func (l *Ledger) keyOf(ctx context.Context) (string, budget.Amount, error) {
	key, _ := budget.KeyFromContext(ctx)
	if !l.pol.Scoped(key) {
		return "", 0, nil
	}
	keyLimit, ok := l.pol.KeyLimitOf(key)
	if !ok {
		keyLimit = -1
	}
	if err := checkText("budget key", key); err != nil {
		return "", 0, err
	}
	return key, keyLimit, nil
}

// Commit implements [budget.Ledger.Commit]. Committing a reservation whose
// lease expired corrects its charge to actual. Spent saturates at
// [budget.MaxAmount]. A negative actual settles r at its reserved amount
// and returns an error matching [budget.ErrInvalid]. ctx is not consulted:
// a settlement waits for its batch, which [WithTimeout] bounds.
func (l *Ledger) Commit(ctx context.Context, r budget.Reservation, actual budget.Amount) error {
	_, err := l.CommitWithAlerts(ctx, r, actual)
	return err
}

// SetAlerts implements [budget.Alerter.SetAlerts]. The marks are rows of
// the schema's alerts table, inserted by the commit that reached them in
// its transaction: every process sharing the budget should set the same
// thresholds.
func (l *Ledger) SetAlerts(thresholds []float64) error {
	ppm, err := budget.AlertLevels(thresholds)
	if err != nil {
		return err
	}
	as := make([]int32, len(ppm))
	for i, p := range ppm {
		as[i] = int32(p)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.alerts != nil && !slices.Equal(l.alerts, as) {
		return fmt.Errorf("%w: pgledger: the ledger's alert thresholds are already set to other values", budget.ErrInvalid)
	}
	l.alerts = as
	return nil
}

// CommitWithAlerts implements [budget.Alerter.CommitWithAlerts]:
// [Ledger.Commit] that also returns the thresholds of the global budget's
// and the key's main limits that the commit's spend reached first in its
// window, whichever process reached it.
func (l *Ledger) CommitWithAlerts(_ context.Context, r budget.Reservation, actual budget.Amount) ([]budget.Crossing, error) {
	billed := actual
	if actual < 0 {
		billed = r.Amount
	}
	o, err := l.settle(opCommit, r, billed)
	if err == nil && actual < 0 {
		err = fmt.Errorf("%w: committed amount %v is negative (reservation %d settled at its reserved %v)", budget.ErrInvalid, actual, r.ID, r.Amount)
	}
	if o == nil {
		return nil, err
	}
	return o.crossings, err
}

// Cancel implements [budget.Ledger.Cancel]. Cancelling a reservation whose
// lease expired refunds its charge. ctx is not consulted.
func (l *Ledger) Cancel(_ context.Context, r budget.Reservation) error {
	_, err := l.settle(opCancel, r, 0)
	return err
}

func (l *Ledger) settle(kind opKind, r budget.Reservation, actual budget.Amount) (*op, error) {
	if r.ID == 0 || r.ID > maxInt64 || r.Generation > maxInt64 || r.Amount < 0 {
		return nil, notIssued(r)
	}
	o := &op{kind: kind, now: l.now().UnixMilli(), id: r.ID, gen: r.Generation, amount: r.Amount, actual: actual}
	l.do(o)
	return o, o.err
}

const maxInt64 = 1<<63 - 1

func notIssued(r budget.Reservation) error {
	return fmt.Errorf("%w: reservation %d of %v (generation %d) was not issued by this ledger", budget.ErrInvalid, r.ID, r.Amount, r.Generation)
}

// State implements [budget.Ledger.State]: the state of the budget that binds
// calls made with ctx, the one with the least remaining among the global
// budget and the budget of ctx's key. It charges the reservations whose
// lease expired first.
func (l *Ledger) State(ctx context.Context) (budget.State, error) {
	if err := ctx.Err(); err != nil {
		return budget.State{}, err
	}
	key, keyLimit, err := l.keyOf(ctx)
	if err != nil {
		return budget.State{}, err
	}
	now := l.now()
	gen, _ := l.pol.Window.Bounds(now)
	o := &op{kind: opState, ctx: ctx, now: now.UnixMilli(), gen: gen, key: key, keyLimit: keyLimit}
	l.do(o)
	return o.st, o.err
}

// Unsettled returns the reservations of the budget not yet settled by any
// process, in ID order, those whose lease expired included (they count as
// spent until settled, for a day). It is how an operator finds what a
// crashed process left, to settle it with Commit or Cancel.
func (l *Ledger) Unsettled(ctx context.Context) ([]budget.Reservation, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	rows, err := l.pool.Query(ctx, "SELECT id, amount, gen FROM "+ident(l.schema, "holds")+" WHERE budget = $1 ORDER BY id", l.name)
	if err != nil {
		return nil, unavailable("listing unsettled reservations", err)
	}
	defer rows.Close()
	var rs []budget.Reservation
	for rows.Next() {
		var id, amount, gen int64
		if err := rows.Scan(&id, &amount, &gen); err != nil {
			return nil, unavailable("listing unsettled reservations", err)
		}
		if id < 1 || amount < 0 || gen < 0 {
			return nil, fmt.Errorf("pgledger: %w: reservation %d of %d in generation %d", budget.ErrUnavailable, id, amount, gen)
		}
		rs = append(rs, budget.Reservation{ID: uint64(id), Amount: budget.Amount(amount), Generation: uint64(gen)})
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("listing unsettled reservations", err)
	}
	return rs, nil
}
