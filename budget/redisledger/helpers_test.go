package redisledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/redisledger"
)

// The helpers shared by the tests of the package.

// redisClient returns a client of the Redis at BAAR_REDIS_ADDR (default
// 127.0.0.1:6379). When nothing answers there the test is skipped, or fails
// when BAAR_REQUIRE_REDIS=1 (as in CI).
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	addr := os.Getenv("BAAR_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, PoolSize: 128})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if os.Getenv("BAAR_REQUIRE_REDIS") == "1" {
			t.Fatalf("BAAR_REQUIRE_REDIS=1 but no Redis answers at %s: %v", addr, err)
		}
		t.Skipf("no Redis at %s (%v): start one or set BAAR_REDIS_ADDR; set BAAR_REQUIRE_REDIS=1 to fail instead", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// budgetName returns a fresh budget name whose keys are deleted when the
// test ends.
func budgetName(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	name := fmt.Sprintf("test-%s-%x", strings.ReplaceAll(t.Name(), "/", "-"), rand.Uint64())
	budgetNameCleanup(t, c, name)
	return name
}

// budgetNameCleanup deletes the keys of the budget name when the test ends.
func budgetNameCleanup(t testing.TB, c redis.UniversalClient, name string) {
	t.Cleanup(func() { redisledger.Delete(context.Background(), c, name) })
}

func u64s(n uint64) string { return strconv.FormatUint(n, 10) }

func newLedger(t testing.TB, c redis.UniversalClient, name string, limit budget.Amount, p budget.Limits) *redisledger.Ledger {
	t.Helper()
	l, err := redisledger.New(c, name, limit, p)
	require.NoError(t, err)
	return l
}

// fakeRedis serves answer to every command it reads, until the test ends.
func fakeRedis(t *testing.T, answer string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					// One answer per command ('*' starts each command).
					for _, b := range buf[:n] {
						if b == '*' {
							if _, err := conn.Write([]byte(answer)); err != nil {
								return
							}
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dropKeys deletes every key of the budget name, as a FLUSHALL, an eviction
// or a restart without persistence would.
func dropKeys(t *testing.T, c *redis.Client, name string) {
	t.Helper()
	keys, err := c.Keys(context.Background(), "{baar:"+name+"}*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	require.NoError(t, c.Del(context.Background(), keys...).Err())
}

// requireLost checks that err is the refusal of a budget whose state was
// lost, naming the way out.
func requireLost(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, budget.ErrUnavailable)
	assert.ErrorIs(t, err, redisledger.ErrStateLost)
	assert.Contains(t, err.Error(), "redisledger.Reinitialize")
}
