package redisledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baarcore/baar/budget"
)

// Option configures a Ledger (see [New]).
type Option interface{ apply(*config) }

type config struct {
	replicas int
	wait     time.Duration
	logger   *slog.Logger
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithReplicas makes every operation return only once n replicas of the
// Redis primary holding the budget confirm its writes (WAIT n timeout), so
// that a failover to any of them loses no acknowledged spend. An operation
// whose writes are not confirmed within timeout returns an error matching
// [budget.ErrUnavailable]; its writes stay on the primary (a reservation
// whose confirmation failed is cancelled at once, or else charged when its
// lease expires). With n = 0 (the default), operations return once the
// primary has applied them, and a failover loses what the replica had not
// received yet (see docs/budgets.md). It needs a *redis.Client (including a
// failover client) or a *redis.ClusterClient.
func WithReplicas(n int, timeout time.Duration) Option {
	return optionFunc(func(c *config) { c.replicas, c.wait = n, timeout })
}

// WithLogger sets where New reports the Redis settings that put the
// budget at risk (see [Ledger.Warnings]); the default is slog.Default().
// A nil logger reports nothing.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
	})
}

// configTimeout bounds New's reading of the Redis settings.
const configTimeout = time.Second

// errNotReplicated is the cause of an operation whose writes the replicas
// did not confirm in time.
var errNotReplicated = errors.New("the replicas did not confirm the write in time")

// node returns the client of the Redis primary holding the budget: c, or in
// a cluster the master serving the budget's slot.
func (l *Ledger) node(ctx context.Context) (*redis.Client, error) {
	switch c := l.c.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, l.prefix)
	}
	return nil, fmt.Errorf("%T cannot wait for replicas", l.c)
}

// runConfirmed runs script on the budget's primary, then waits until the
// replicas confirm its writes. v is the script's answer, also when its
// writes are not confirmed.
func (l *Ledger) runConfirmed(ctx context.Context, script *redis.Script, args ...any) (v any, err error) {
	node, err := l.node(ctx)
	if err != nil {
		return nil, err
	}
	conn := node.Conn()
	defer conn.Close()
	if v, err = script.Run(ctx, conn, l.keys, args...).Result(); err != nil {
		if cc, ok := l.c.(*redis.ClusterClient); ok && !isScriptError(err) {
			cc.ReloadState(ctx) // the slot may have moved (a failover): look again next time
		}
		return nil, err
	}
	n, err := conn.Wait(ctx, l.cfg.replicas, l.cfg.wait).Result()
	switch {
	case err != nil:
		return v, fmt.Errorf("%w: %w", errNotReplicated, err)
	case n < int64(l.cfg.replicas):
		return v, fmt.Errorf("%w: %d of %d confirmed within %v", errNotReplicated, n, l.cfg.replicas, l.cfg.wait)
	}
	return v, nil
}

// Warnings returns what New found at risk in the settings of the budget's
// Redis: eviction allowed, no persistence or snapshots only, an append-only
// file never fsynced, or settings it could not read (CONFIG refused). It is
// empty when the settings are the recommended ones (docs/budgets.md).
func (l *Ledger) Warnings() []string { return l.warnings }

// checkConfig reads the budget's Redis settings and returns the warnings.
// It never fails: a refused CONFIG is a warning.
func (l *Ledger) checkConfig() []string {
	ctx, cancel := context.WithTimeout(context.Background(), configTimeout)
	defer cancel()
	var node redis.Cmdable = l.c
	if cc, ok := l.c.(*redis.ClusterClient); ok {
		n, err := cc.MasterForKey(ctx, l.prefix)
		if err != nil {
			return []string{fmt.Sprintf("the Redis settings were not checked (%v): see docs/budgets.md for the recommended ones", err)}
		}
		node = n
	}
	get := map[string]string{}
	for _, p := range []string{"maxmemory-policy", "appendonly", "appendfsync", "save"} {
		m, err := node.ConfigGet(ctx, p).Result()
		if err != nil {
			return []string{fmt.Sprintf("the Redis settings were not checked (CONFIG GET %s: %v): see docs/budgets.md for the recommended ones", p, err)}
		}
		get[p] = m[p]
	}
	var w []string
	if p := get["maxmemory-policy"]; p != "noeviction" {
		w = append(w, fmt.Sprintf("maxmemory-policy is %s: Redis may evict budget keys, and the budget fails closed (a lost state); set noeviction", p))
	}
	switch {
	case get["appendonly"] != "yes" && strings.TrimSpace(get["save"]) == "":
		w = append(w, "no persistence (appendonly no, no save points): a Redis restart loses every budget, which then fails closed; set appendonly yes")
	case get["appendonly"] != "yes":
		w = append(w, fmt.Sprintf("persistence by snapshots only (save %q): a Redis restart loses the spend since the last snapshot; set appendonly yes", get["save"]))
	case get["appendfsync"] == "no":
		w = append(w, "appendfsync no: a crash of the machine loses the writes the system had not flushed (about 30 s); set appendfsync everysec or always")
	}
	return w
}

// notConfirmed is the error of an operation whose writes were applied
// but not confirmed by the replicas.
func (l *Ledger) notConfirmed(op string, err error) error {
	return fmt.Errorf("redisledger %s: %w: budget %q: %w", op, budget.ErrUnavailable, l.name, err)
}

// isScriptError reports whether err is an error the scripts raise.
func isScriptError(err error) bool { return strings.HasPrefix(err.Error(), lostPrefix) }
