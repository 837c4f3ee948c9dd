//go:build unix

package redisledger_test

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget/redisledger"
)

// Redis servers started by the tests themselves (a primary and a replica,
// a cluster), on loopback; Unix only (signals).

// redisServer is a redis-server process started by a test on a free port
// of loopback, with its files in a temporary directory; it is killed when
// the test ends.
type redisServer struct {
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// needRedisServer skips the test when redis-server (and redis-cli, which
// creates clusters) is not installed, or fails it when BAAR_REQUIRE_REDIS=1
// (as in CI).
func needRedisServer(t *testing.T) {
	t.Helper()
	for _, cmd := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(cmd); err != nil {
			if os.Getenv("BAAR_REQUIRE_REDIS") == "1" {
				t.Fatalf("BAAR_REQUIRE_REDIS=1 but %s is not installed", cmd)
			}
			t.Skipf("%s is not installed: install it, or set BAAR_REQUIRE_REDIS=1 to fail instead", cmd)
		}
	}
}

// startRedis starts a redis-server with the settings args (without
// persistence unless args set it) and waits until it answers.
func startRedis(t *testing.T, args ...string) *redisServer {
	t.Helper()
	needRedisServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &redisServer{port: ln.Addr().(*net.TCPAddr).Port, dir: t.TempDir()}
	require.NoError(t, ln.Close())
	all := append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
		"--repl-diskless-sync-delay", "0"}, args...)
	s.args = all
	s.cmd = exec.Command("redis-server", all...)
	require.NoError(t, s.cmd.Start())
	t.Cleanup(s.kill)
	s.waitUp(t)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// kill kills the server at once (SIGKILL), as a crash would.
func (s *redisServer) kill() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// client returns a client of the server, closed when the test ends.
func (s *redisServer) client(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.addr(), DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 2 * time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// quiet is the option of ledgers whose warnings the test does not read.
var quiet = redisledger.WithLogger(nil)

// link is a TCP proxy between a replica and its primary: hold stops the
// primary's stream from reaching the replica (a replication lag, or a
// partition), cut drops the link.
type link struct {
	ln    net.Listener
	held  atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

// newLink proxies a port of loopback to target until the test ends.
func newLink(t *testing.T, target string) *link {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := &link{ln: ln}
	t.Cleanup(l.cut)
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				down.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, down, up)
			l.mu.Unlock()
			go io.Copy(up, down)
			go func() {
				buf := make([]byte, 32<<10)
				for {
					for l.held.Load() {
						time.Sleep(5 * time.Millisecond)
					}
					n, err := up.Read(buf)
					if n > 0 && !l.held.Load() {
						_, err = down.Write(buf[:n])
					} else if n > 0 {
						return // read while held: drop the link rather than deliver late
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l
}

func (l *link) port() int { return l.ln.Addr().(*net.TCPAddr).Port }

// cut closes the link and every connection through it.
func (l *link) cut() {
	l.ln.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

// restart starts the killed server again, on its port, with its files.
func (s *redisServer) restart(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command("redis-server", s.args...)
	require.NoError(t, s.cmd.Start())
	s.waitUp(t)
}

// waitUp waits until the server answers.
func (s *redisServer) waitUp(t *testing.T) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; {
		require.True(t, time.Now().Before(deadline), "redis-server on port %d did not start", s.port)
		time.Sleep(10 * time.Millisecond)
	}
}

// startCluster starts a Redis Cluster of masters masters, each with one
// replica, and waits until it serves every slot.
func startCluster(t *testing.T, masters int) []*redisServer {
	t.Helper()
	needRedisServer(t)
	var nodes []*redisServer
	args := []string{"redis-cli", "--cluster", "create"}
	for range 2 * masters {
		s := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--appendonly", "yes")
		nodes = append(nodes, s)
		args = append(args, s.addr())
	}
	out, err := exec.Command(args[0], append(args[1:], "--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, s := range nodes {
		waitClusterOK(t, s)
	}
	return nodes
}

// waitClusterOK waits until s sees every slot served.
func waitClusterOK(t *testing.T, s *redisServer) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	require.Eventually(t, func() bool {
		info, err := c.ClusterInfo(context.Background()).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok")
	}, 20*time.Second, 50*time.Millisecond, "the cluster did not come up on port %d", s.port)
}
