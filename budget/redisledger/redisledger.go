package redisledger

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baarcore/baar/budget"
)

// MaxLimit is the largest limit (and reservation) a Redis ledger accepts:
// 2^53 nano-dollars, about $9 million, the largest integer the scripts'
// Lua numbers compare exactly.
const MaxLimit budget.Amount = 1 << 53

// maxCommit is the largest amount a Commit records: 2^62 nano-dollars.
const maxCommit budget.Amount = 1 << 62

// lateSettleRetention is how long an expired reservation is remembered for
// a late settlement.
const lateSettleRetention = 24 * time.Hour

// Ledger is a [budget.Ledger] kept in Redis, shared by every process that
// uses the same Redis and budget name. It enforces a [budget.Limits]: a
// global budget and budgets per key chosen through the context
// ([budget.ContextWithKey]), a calendar window, and reservation leases.
//
// Each operation is one Lua script, so the check and the reservation of both
// the global and the key's budget are one atomic step for all processes.
// The budget's keys share the hash tag {baar:<name>}, so they live in one
// slot of a Redis Cluster.
//
// A reservation is leased ([budget.Limits.Lease]). One still open when its
// lease expires — its holder died, or is very slow — is charged as spent at
// its full amount by the next operation; a settlement arriving later (within
// a day) corrects the charge to the actual amount. Leases and windows follow
// the clock of the process making each call ([budget.Limits.Now]): keep the
// machines' clocks synchronized.
//
// A budget has an identity, its epoch, drawn at its first use and part of
// every reservation's ID. A ledger that has seen the budget never resumes
// from a lost state: when the budget's keys vanish (FLUSHALL, eviction, a
// restart without persistence), or its reservations roll back (a failover
// to a replica that missed them), its operations fail with [ErrStateLost]
// until the budget is re-initialized on purpose ([Reinitialize]); and no
// settlement of a reservation from the budget's earlier life touches one
// of the new. A process that never saw the budget cannot tell a lost one
// from a new one: it starts one.
//
// Reserve is idempotent: each call sends a random request token, and the
// budget remembers the reservation made for it during its lease. So
// go-redis's retries of a command whose reply was lost (Options.MaxRetries,
// 3 by default), and a request the network delivers twice or late, reserve
// at most once; a request older than a lease (by the clock of the process
// that last swept the budget) is refused, reserving nothing. Commit and
// Cancel are idempotent by nature. Any MaxRetries is safe.
//
// Every error of Redis itself — unreachable, timed out, or an answer that is
// not what the scripts return — matches [budget.ErrUnavailable], so that
// callers fail closed; the ledger works again as soon as Redis answers
// (go-redis reconnects). Ledger is safe for concurrent use.
type Ledger struct {
	c      redis.UniversalClient
	name   string
	prefix string
	keys   []string
	limit  budget.Amount
	pol    budget.Limits

	cfg      config
	warnings []string

	mu     sync.Mutex // guards epoch, hw and alerts
	epoch  uint32     // the budget's identity as last seen; 0: none yet
	hw     uint64     // the highest sequence number issued to this Ledger in epoch
	alerts []uint32   // the alert thresholds in ppm (SetAlerts)
}

var (
	_ budget.Ledger  = (*Ledger)(nil)
	_ budget.Alerter = (*Ledger)(nil)
)

// New returns the ledger of the budget name in the Redis client c, with the
// global limit and policy p, and the options opts. The limit and policy are
// not stored in Redis: every process sharing the budget should give the
// same ones.
//
// New reads the settings of the Redis holding the budget (CONFIG GET, for at
// most a second) and reports those that put the budget at risk through the
// logger ([WithLogger]) and [Ledger.Warnings]; it does not fail when Redis
// refuses CONFIG or does not answer.
//
// It returns an error matching [budget.ErrInvalid] when c is nil, name is
// empty or holds '{' or '}', a limit is negative or above [MaxLimit], p is
// invalid, or [WithReplicas] is given a negative count or timeout or a
// client of another type than *redis.Client and *redis.ClusterClient.
func New(c redis.UniversalClient, name string, limit budget.Amount, p budget.Limits, opts ...Option) (*Ledger, error) {
	if err := checkName(c, name); err != nil {
		return nil, err
	}
	if err := checkLimit("budget limit", limit); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := checkLimit("per-key budget limit", p.KeyLimit); err != nil {
		return nil, err
	}
	for k, l := range p.KeyLimits {
		if err := checkLimit(fmt.Sprintf("budget limit of key %q", k), l); err != nil {
			return nil, err
		}
	}
	for _, r := range append(slices.Clone(p.Rates), p.KeyRates...) {
		if err := checkLimit("rate limit", r.Limit); err != nil {
			return nil, err
		}
	}
	cfg := config{logger: slog.Default()}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if cfg.replicas < 0 || cfg.wait < 0 {
		return nil, fmt.Errorf("%w: redisledger: waiting for %d replicas for %v", budget.ErrInvalid, cfg.replicas, cfg.wait)
	}
	if cfg.replicas > 0 {
		switch c.(type) {
		case *redis.Client, *redis.ClusterClient:
		default:
			return nil, fmt.Errorf("%w: redisledger: a %T cannot wait for replicas", budget.ErrInvalid, c)
		}
	}
	prefix := "{baar:" + name + "}"
	l := &Ledger{
		c: c, name: name, prefix: prefix, limit: limit, pol: p, cfg: cfg,
		keys: []string{prefix + ":gen", prefix + ":seq", prefix + ":open", prefix + ":lease", prefix + ":epoch",
			prefix + ":tok", prefix + ":tokx", prefix + ":tokmin"},
	}
	l.warnings = l.checkConfig()
	for _, w := range l.warnings {
		cfg.logger.Warn("redisledger: "+w, "budget", name)
	}
	return l, nil
}

// checkName reports an error matching budget.ErrInvalid for a nil client
// or a name that cannot name a budget.
func checkName(c redis.UniversalClient, name string) error {
	switch {
	case c == nil:
		return fmt.Errorf("%w: redisledger: nil Redis client", budget.ErrInvalid)
	case name == "" || strings.ContainsAny(name, "{}"):
		return fmt.Errorf("%w: redisledger: budget name %q must be non-empty, without braces", budget.ErrInvalid, name)
	}
	return nil
}

func checkLimit(what string, l budget.Amount) error {
	if l < 0 || l > MaxLimit {
		return fmt.Errorf("%w: redisledger: %s %v is outside [$0, %v]", budget.ErrInvalid, what, l, MaxLimit)
	}
	return nil
}

// Name returns the budget's name.
func (l *Ledger) Name() string { return l.name }

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

func ms(t time.Time) string      { return strconv.FormatInt(t.UnixMilli(), 10) }
func amt(a budget.Amount) string { return strconv.FormatInt(int64(a), 10) }
func u64(n uint64) string        { return strconv.FormatUint(n, 10) }

var retentionMS = strconv.FormatInt(lateSettleRetention.Milliseconds(), 10)

// ErrStateLost is matched, with [budget.ErrUnavailable], by the errors of
// a ledger whose budget state in Redis was lost since it last saw it: its
// keys were flushed or evicted, Redis restarted without persistence or
// failed over to a replica that had not received the latest writes, or the
// budget was deleted. The ledger fails closed until the budget is
// re-initialized on purpose with [Reinitialize].
var ErrStateLost = errors.New("budget state lost")

// lostPrefix starts the error the scripts raise when the state was lost.
const lostPrefix = "BAARLOST "

// unavailable wraps an error of Redis.
func (l *Ledger) unavailable(op string, err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), lostPrefix); ok {
		msg, _, _ = strings.Cut(msg, " script:")
		return fmt.Errorf("redisledger %s: %w: %w: budget %q: %s; once the state is restored, or to accept what is left of it, re-initialize the budget on purpose with redisledger.Reinitialize (see docs/budgets.md)",
			op, budget.ErrUnavailable, ErrStateLost, l.name, msg)
	}
	return fmt.Errorf("redisledger %s: %w: %w", op, budget.ErrUnavailable, err)
}

// seqBits is the width of a reservation's sequence number in its ID; the
// 24 bits above it hold the epoch, so that no reservation of a budget's
// earlier life, or of another, has the ID of one of this life.
const seqBits = 40

// newEpoch draws a random epoch in [1, 2^24).
func newEpoch() uint32 { return 1 + rand.Uint32N(1<<24-1) }

// identity returns the identity arguments of a script: the epoch seen (""
// if none), a candidate epoch for a budget's first use, and the highest
// sequence number issued in the epoch.
func (l *Ledger) identity() []any {
	l.mu.Lock()
	defer l.mu.Unlock()
	want := ""
	if l.epoch != 0 {
		want = strconv.FormatUint(uint64(l.epoch), 10)
	}
	return []any{want, strconv.FormatUint(uint64(newEpoch()), 10), u64(l.hw)}
}

// saw records that the budget's epoch is e (a script's answer), and that
// seq was issued in it (0: none). It returns the epoch, and false when e is
// not one.
func (l *Ledger) saw(e any, seq uint64) (uint64, bool) {
	var n uint64
	switch v := e.(type) {
	case string:
		var err error
		if n, err = strconv.ParseUint(v, 10, 32); err != nil {
			return 0, false
		}
	case int64:
		n = uint64(v)
	default:
		return 0, false
	}
	if n == 0 || n >= 1<<24 {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if uint32(n) != l.epoch {
		l.epoch, l.hw = uint32(n), 0 // the first, or one re-initialized on purpose
	}
	l.hw = max(l.hw, seq)
	return n, true
}

// requestToken draws the token of one Reserve call: 128 random bits, so
// that no two calls of any process share one while their reservations are
// open.
func requestToken() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// garbage is the error of an answer the scripts cannot have given.
func garbage(op string, v any) error {
	return fmt.Errorf("redisledger %s: %w: unexpected answer %.100v", op, budget.ErrUnavailable, v)
}

// Reserve implements [budget.Ledger.Reserve] for the global budget and the
// budget of ctx's key, if it has one; a refusal by the key's budget wraps an
// *[budget.ExceededError] carrying that budget's figures. It returns an
// error matching [budget.ErrInvalid] for a negative amount, without
// contacting Redis. An amount above MaxLimit exceeds every budget of the
// ledger: it is refused by the global budget, with its figures, as every
// ledger refuses it.
func (l *Ledger) Reserve(ctx context.Context, amount budget.Amount) (budget.Reservation, error) {
	if err := ctx.Err(); err != nil {
		return budget.Reservation{}, err
	}
	if amount < 0 {
		return budget.Reservation{}, fmt.Errorf("%w: reservation amount %v is negative", budget.ErrInvalid, amount)
	}
	if amount > MaxLimit {
		// The scripts compare doubles, exact up to MaxLimit only: refuse
		// here, with the global budget's figures, read without a key.
		st, err := l.State(budget.ContextWithKey(ctx, ""))
		if err != nil {
			return budget.Reservation{}, err
		}
		return budget.Reservation{}, st.CheckReserve(amount)
	}
	key, _ := budget.KeyFromContext(ctx)
	keyLimit, hasKey := l.pol.KeyLimitOf(key)
	if !hasKey {
		keyLimit = -1 // rate limits only, or no budget
	}
	if !l.pol.Scoped(key) {
		key = ""
	}
	now := l.now()
	gen, end := l.pol.Window.Bounds(now)
	ttl, ttlNext := "0", "0"
	if gen != 0 {
		keep := lateSettleRetention + l.lease()
		ttl = strconv.FormatInt((end.Sub(now) + keep).Milliseconds(), 10)
		// If another process has moved the budget to the next window (this
		// clock is a little behind), that window must live to its own end.
		_, next := l.pol.Window.Bounds(end)
		ttlNext = strconv.FormatInt((next.Sub(now) + keep).Milliseconds(), 10)
	}
	args := append([]any{l.prefix, ms(now), u64(gen), amt(amount), amt(l.limit),
		key, amt(keyLimit), ms(now.Add(l.lease())), retentionMS, ttl, ttlNext}, l.identity()...)
	// The request token makes the call idempotent: go-redis sends the same
	// arguments again when the reply is lost (MaxRetries), and the script
	// answers a token it has seen with the reservation it made then.
	args = append(args, requestToken())
	args = l.rateArgs(args, now, key, keyLimit)
	v, err := l.run(ctx, reserveScript, args...)
	if errors.Is(err, errNotReplicated) {
		// Held on the primary, not confirmed: give it back (best effort;
		// else its lease charges it).
		if r, perr := l.parseReserve(v, key, keyLimit, amount, gen, false); perr == nil {
			_, _ = l.settle(context.WithoutCancel(ctx), "cancel", r, false, 0)
		}
		return budget.Reservation{}, l.notConfirmed("reserve", err)
	}
	if err != nil {
		return budget.Reservation{}, l.unavailable("reserve", err)
	}
	return l.parseReserve(v, key, keyLimit, amount, gen, true)
}

// parseReserve reads the answer v of the reserve script; acked tells
// whether the reservation is acknowledged (its sequence number then holds
// the budget to it, see ident).
func (l *Ledger) parseReserve(v any, key string, keyLimit, amount budget.Amount, gen uint64, acked bool) (budget.Reservation, error) {
	a, ok := v.([]any)
	if !ok || len(a) < 4 {
		return budget.Reservation{}, garbage("reserve", v)
	}
	switch status, _ := a[0].(int64); {
	case status == 1 && len(a) == 4:
		seq, ok1 := a[1].(int64)
		g, ok2 := a[2].(int64)
		if !ok1 || !ok2 || seq < 1 || seq >= 1<<seqBits || g < 0 || uint64(g) < gen {
			return budget.Reservation{}, garbage("reserve", v)
		}
		hw := uint64(seq)
		if !acked {
			hw = 0
		}
		e, ok := l.saw(a[3], hw)
		if !ok {
			return budget.Reservation{}, garbage("reserve", v)
		}
		return budget.Reservation{ID: e<<seqBits | uint64(seq), Amount: amount, Generation: uint64(g)}, nil
	case status == 0 && len(a) == 5:
		if _, ok := l.saw(a[4], 0); !ok {
			return budget.Reservation{}, garbage("reserve", v)
		}
		scope, ok := a[1].(int64)
		spent, err1 := parseAmount(a[2])
		reserved, err2 := parseAmount(a[3])
		if !ok || scope < 0 || scope > 1 || err1 != nil || err2 != nil {
			return budget.Reservation{}, garbage("reserve", v)
		}
		_, end := l.pol.Window.Bounds(l.now())
		if scope == 1 {
			return budget.Reservation{}, fmt.Errorf("budget of key %q: %w", key,
				&budget.ExceededError{Limit: keyLimit, Spent: spent, Reserved: reserved, Requested: amount, Key: key,
					Period: l.pol.Window.Period, Resets: end})
		}
		return budget.Reservation{}, &budget.ExceededError{Limit: l.limit, Spent: spent, Reserved: reserved, Requested: amount,
			Period: l.pol.Window.Period, Resets: end}
	case status == 0 && len(a) == 6:
		if _, ok := l.saw(a[4], 0); !ok {
			return budget.Reservation{}, garbage("reserve", v)
		}
		scope, ok1 := a[1].(int64)
		j, ok2 := a[5].(int64)
		spent, err1 := parseAmount(a[2])
		reserved, err2 := parseAmount(a[3])
		nr := int64(len(l.pol.Rates) + len(l.pol.KeyRates))
		if !ok1 || !ok2 || scope != 2 || j < 1 || j > nr || err1 != nil || err2 != nil {
			return budget.Reservation{}, garbage("reserve", v)
		}
		return budget.Reservation{}, l.rateRefusal(int(j-1), key, spent, reserved, amount)
	}
	return budget.Reservation{}, garbage("reserve", v)
}

// parseAmount parses a figure the scripts return as a decimal string.
func parseAmount(v any) (budget.Amount, error) {
	s, ok := v.(string)
	if !ok {
		return 0, errors.New("not a string")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	return budget.Amount(max(n, 0)), nil
}

// Commit implements [budget.Ledger.Commit]. Committing a reservation whose
// lease expired corrects its charge to actual. A negative actual settles r
// at its reserved amount and returns an error matching [budget.ErrInvalid].
// An actual above maxCommit (about $4.6 billion) is recorded as maxCommit:
// it exhausts any budget this ledger accepts, and the stored sums stay
// within int64 (a commit that would overflow them fails, the reservation
// still open, before anything is written). ctx is used for the call to
// Redis only (the router gives one that is never cancelled).
func (l *Ledger) Commit(ctx context.Context, r budget.Reservation, actual budget.Amount) error {
	_, err := l.CommitWithAlerts(ctx, r, actual)
	return err
}

// CommitWithAlerts implements [budget.Alerter.CommitWithAlerts]:
// [Ledger.Commit] that also returns the thresholds of the global budget's
// and the key's main limits that the commit's spend reached first in its
// window, whichever process reached it: the marks are set by the commit's
// script, with its spend.
func (l *Ledger) CommitWithAlerts(ctx context.Context, r budget.Reservation, actual budget.Amount) ([]budget.Crossing, error) {
	billed := min(actual, maxCommit)
	if actual < 0 {
		billed = r.Amount
	}
	cs, err := l.settle(ctx, "commit", r, true, billed)
	if err != nil {
		return nil, err
	}
	if actual < 0 {
		return cs, fmt.Errorf("%w: committed amount %v is negative (reservation %d settled at its reserved %v)", budget.ErrInvalid, actual, r.ID, r.Amount)
	}
	return cs, nil
}

// SetAlerts implements [budget.Alerter.SetAlerts]. The marks are fields of
// the window's hash in Redis: every process sharing the budget should set
// the same thresholds.
func (l *Ledger) SetAlerts(thresholds []float64) error {
	ppm, err := budget.AlertLevels(thresholds)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.alerts != nil && !slices.Equal(l.alerts, ppm) {
		return fmt.Errorf("%w: redisledger: the ledger's alert thresholds are already set to other values", budget.ErrInvalid)
	}
	l.alerts = ppm
	return nil
}

// Cancel implements [budget.Ledger.Cancel]. Cancelling a reservation whose
// lease expired refunds its charge.
func (l *Ledger) Cancel(ctx context.Context, r budget.Reservation) error {
	_, err := l.settle(ctx, "cancel", r, false, 0)
	return err
}

func (l *Ledger) settle(ctx context.Context, op string, r budget.Reservation, commit bool, actual budget.Amount) ([]budget.Crossing, error) {
	epoch, seq := r.ID>>seqBits, r.ID&(1<<seqBits-1)
	if epoch == 0 || seq == 0 || r.Amount < 0 || r.Amount > MaxLimit {
		return nil, fmt.Errorf("%w: reservation %d of %v (generation %d) was not issued by this ledger", budget.ErrInvalid, r.ID, r.Amount, r.Generation)
	}
	c := "0"
	if commit {
		c = "1"
	}
	args := append([]any{l.prefix, u64(epoch), u64(seq), amt(r.Amount), u64(r.Generation), c, amt(actual)}, l.identity()...)
	l.mu.Lock()
	alerts := l.alerts
	l.mu.Unlock()
	if commit && len(alerts) > 0 {
		args = append(args, amt(l.limit))
		for _, p := range alerts {
			args = append(args, strconv.FormatUint(uint64(p), 10))
		}
	}
	v, err := l.run(ctx, settleScript, args...)
	if errors.Is(err, errNotReplicated) {
		return nil, l.notConfirmed(op, err)
	}
	if err != nil {
		return nil, l.unavailable(op, err)
	}
	if a, ok := v.([]any); ok && commit && len(alerts) > 0 {
		return l.parseMarks(op, v, a, alerts, r.Generation)
	}
	switch n, _ := v.(int64); {
	case n == 0 || n == 1 || n == 2:
		if _, ok := v.(int64); !ok {
			return nil, garbage(op, v)
		}
		return nil, nil
	case n == -1:
		return nil, fmt.Errorf("%w: reservation %d of %v (generation %d) was not issued by this ledger", budget.ErrInvalid, r.ID, r.Amount, r.Generation)
	}
	return nil, garbage(op, v)
}

// parseMarks reads the answer {status, spent, key spent, key, key limit,
// fired} of a commit with alert thresholds.
func (l *Ledger) parseMarks(op string, v any, a []any, alerts []uint32, gen uint64) ([]budget.Crossing, error) {
	if len(a) != 6 {
		return nil, garbage(op, v)
	}
	status, ok1 := a[0].(int64)
	spent, err1 := parseAmount(a[1])
	kspent, err2 := parseAmount(a[2])
	key, ok2 := a[3].(string)
	klimS, ok3 := a[4].(string)
	fired, ok4 := a[5].(int64)
	klim, err3 := strconv.ParseInt(klimS, 10, 64)
	if !ok1 || !ok2 || !ok3 || !ok4 || err1 != nil || err2 != nil || err3 != nil || (status != 1 && status != 2) ||
		fired < 0 || fired >= 1<<(2*len(alerts)) {
		return nil, garbage(op, v)
	}
	var cs []budget.Crossing
	for b := range 2 * len(alerts) {
		if fired&(1<<b) == 0 {
			continue
		}
		c := budget.Crossing{Period: l.pol.Window.Period, Window: l.pol.Window.Start(gen), Generation: gen,
			Threshold: float64(alerts[b%len(alerts)]) / 1e6, Spent: spent, Limit: l.limit}
		if b >= len(alerts) {
			c.Key, c.Spent, c.Limit = key, kspent, budget.Amount(klim)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// rateArgs appends to args the reserve script's rate-limit and alert
// arguments for a reservation at now for key (see reserveScript).
func (l *Ledger) rateArgs(args []any, now time.Time, key string, keyLimit budget.Amount) []any {
	n := len(l.pol.Rates) + len(l.pol.KeyRates)
	args = append(args, strconv.Itoa(n), strconv.Itoa(len(l.pol.Rates)))
	for i, rs := range [2][]budget.Rate{l.pol.Rates, l.pol.KeyRates} {
		for _, r := range rs {
			g, end := uint64(0), now
			if i == 0 || key != "" {
				g, end = r.Window(l.pol.Window.Location).Bounds(now)
			}
			ttl := (end.Sub(now) + l.lease()).Milliseconds()
			args = append(args, u64(g), amt(r.Limit), strconv.FormatInt(ttl, 10))
		}
	}
	l.mu.Lock()
	ext := n > 0 || len(l.alerts) > 0
	l.mu.Unlock()
	flag := "0"
	if ext {
		flag = "1"
	}
	return append(args, strconv.FormatInt(int64(keyLimit), 10), flag)
}

// rateRefusal returns the refusal of a reservation of amount for key by the
// rate limit of index i (in Rates, then KeyRates), with its window's
// figures.
func (l *Ledger) rateRefusal(i int, key string, spent, reserved, amount budget.Amount) error {
	var rate budget.Rate
	if i < len(l.pol.Rates) {
		rate, key = l.pol.Rates[i], ""
	} else {
		rate = l.pol.KeyRates[i-len(l.pol.Rates)]
	}
	_, end := rate.Window(l.pol.Window.Location).Bounds(l.now())
	ex := &budget.ExceededError{Limit: rate.Limit, Spent: spent, Reserved: reserved, Requested: amount, Key: key,
		Period: rate.Period, Rate: true, Resets: end}
	if key != "" {
		return fmt.Errorf("budget of key %q: %w", key, ex)
	}
	return ex
}

// State implements [budget.Ledger.State]: the state of the budget that binds
// calls made with ctx, the one with the least remaining among the global
// budget and the budget of ctx's key.
func (l *Ledger) State(ctx context.Context) (budget.State, error) {
	key, _ := budget.KeyFromContext(ctx)
	keyLimit, hasKey := l.pol.KeyLimitOf(key)
	if !hasKey {
		key = ""
	}
	now := l.now()
	gen, _ := l.pol.Window.Bounds(now)
	args := append([]any{l.prefix, ms(now), u64(gen), key, retentionMS}, l.identity()...)
	v, err := l.run(ctx, stateScript, args...)
	if errors.Is(err, errNotReplicated) {
		return budget.State{}, l.notConfirmed("state", err)
	}
	if err != nil {
		return budget.State{}, l.unavailable("state", err)
	}
	a, ok := v.([]any)
	if !ok || len(a) != 6 {
		return budget.State{}, garbage("state", v)
	}
	if _, ok := l.saw(a[5], 0); !ok {
		return budget.State{}, garbage("state", v)
	}
	var f [4]budget.Amount
	for i := range f {
		if f[i], err = parseAmount(a[i+1]); err != nil {
			return budget.State{}, garbage("state", v)
		}
	}
	if _, ok := a[0].(int64); !ok {
		return budget.State{}, garbage("state", v)
	}
	global := budget.State{Limit: l.limit, Spent: f[0], Reserved: f[1]}
	if hasKey {
		if k := (budget.State{Limit: keyLimit, Spent: f[2], Reserved: f[3]}); k.Remaining() < global.Remaining() {
			return k, nil
		}
	}
	return global, nil
}

// run runs script on the budget's keys; with WithReplicas, it returns once
// the replicas confirmed its writes (see runConfirmed).
func (l *Ledger) run(ctx context.Context, script *redis.Script, args ...any) (any, error) {
	if l.cfg.replicas > 0 {
		return l.runConfirmed(ctx, script, args...)
	}
	return script.Run(ctx, l.c, l.keys, args...).Result()
}
