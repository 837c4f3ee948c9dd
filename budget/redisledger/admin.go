package redisledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/baarcore/baar/budget"
)

// An operator's functions: re-initialize a budget whose state was lost,
// list and delete a budget's keys.

// Reinitialize marks the budget name of the Redis client c re-initialized
// on purpose, under a new epoch: the operator's answer to ledgers failing
// with [ErrStateLost]. The budget's state in Redis, whatever survived (all
// of it after a restore, nothing after a flush), becomes the truth; every
// ledger of the budget, in every process, adopts it at its next operation.
// Reservations issued before cannot be settled any more (their settlement
// returns an error matching [budget.ErrInvalid]) unless they survived in
// Redis; to start again from $0, [Delete] the budget first.
func Reinitialize(ctx context.Context, c redis.UniversalClient, name string) error {
	if err := checkName(c, name); err != nil {
		return err
	}
	err := reinitScript.Run(ctx, c, []string{"{baar:" + name + "}:epoch"}, strconv.FormatUint(uint64(newEpoch()), 10)).Err()
	if err != nil {
		return fmt.Errorf("redisledger reinitialize: %w: %w", budget.ErrUnavailable, err)
	}
	return nil
}

// Keys returns the keys of the budget name in the Redis client c, in no
// order: {baar:<name>}:epoch, :gen, :seq and :tokmin (which never expire),
// :open and :lease (while reservations are open), :tok and :tokx (the
// request tokens of the reservations made within a lease),
// :w:<generation> (a window's sums, which expire a day after the window
// ends) and :x:<epoch>:<seq> (expired reservations, kept a day). In a Redis Cluster, they are read from the
// master serving the budget's slot.
func Keys(ctx context.Context, c redis.UniversalClient, name string) ([]string, error) {
	if err := checkName(c, name); err != nil {
		return nil, err
	}
	node, err := nodeOf(ctx, c, name)
	if err != nil {
		return nil, err
	}
	var keys []string
	iter := node.Scan(ctx, 0, globEscape("{baar:"+name+"}")+":*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("redisledger keys: %w: %w", budget.ErrUnavailable, err)
	}
	return keys, nil
}

// Delete deletes the keys of the budget name in the Redis client c (see
// [Keys]) and returns how many it deleted. The budget is gone: ledgers that
// saw it fail with [ErrStateLost] until it is re-initialized
// ([Reinitialize]), and ledgers that did not start it again from $0. Keys
// created by a ledger's operation running meanwhile may survive it.
func Delete(ctx context.Context, c redis.UniversalClient, name string) (int64, error) {
	keys, err := Keys(ctx, c, name)
	if err != nil {
		return 0, err
	}
	var n int64
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 512)]
		keys = keys[len(batch):]
		d, err := c.Del(ctx, batch...).Result() // one slot: one command
		n += d
		if err != nil {
			return n, fmt.Errorf("redisledger delete: %w: %w", budget.ErrUnavailable, err)
		}
	}
	return n, nil
}

// nodeOf returns the client to scan for the budget's keys: in a cluster,
// the master serving their slot.
func nodeOf(ctx context.Context, c redis.UniversalClient, name string) (redis.Cmdable, error) {
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return c, nil
	}
	node, err := cc.MasterForKey(ctx, "{baar:"+name+"}")
	if err != nil {
		return nil, fmt.Errorf("redisledger: %w: finding the budget's node: %w", budget.ErrUnavailable, err)
	}
	return node, nil
}

// globEscape escapes the characters special in a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
