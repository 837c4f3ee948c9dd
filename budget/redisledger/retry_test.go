package redisledger_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/redisledger"
)

// replyDropper is a TCP proxy to Redis that loses the replies of the next
// scripts it is told to: it forwards the command, waits until Redis has
// answered it (so the script ran), and closes the client's connection
// without the answer, as a network failing at the worst moment does. It
// relays one command, then one reply, at a time (go-redis does not pipeline
// single commands).
type replyDropper struct {
	ln      net.Listener
	redis   string
	drops   atomic.Int32 // replies of scripts still to lose
	dropped atomic.Int32 // replies of scripts lost
	wg      sync.WaitGroup
}

func newReplyDropper(t *testing.T, redisAddr string) *replyDropper {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &replyDropper{ln: ln, redis: redisAddr}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.relay(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *replyDropper) addr() string { return p.ln.Addr().String() }

func (p *replyDropper) relay(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.redis)
	if err != nil {
		return
	}
	defer s.Close()
	cr, sr := bufio.NewReader(c), bufio.NewReader(s)
	for {
		cmd, name, err := readCommand(cr)
		if err != nil {
			return
		}
		if _, err := s.Write(cmd); err != nil {
			return
		}
		reply, err := readReply(sr)
		if err != nil {
			return
		}
		if (name == "EVALSHA" || name == "EVAL") && p.drops.Add(-1) >= 0 {
			p.dropped.Add(1)
			return // the script ran; its answer is lost with the connection
		}
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

// readCommand reads one RESP command (an array of bulk strings) and
// returns its bytes and its name in upper case.
func readCommand(r *bufio.Reader) (raw []byte, name string, err error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, "", err
	}
	if len(line) < 3 || line[0] != '*' {
		return nil, "", fmt.Errorf("not a command: %q", line)
	}
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil {
		return nil, "", err
	}
	raw = line
	for i := range n {
		hdr, err := r.ReadBytes('\n')
		if err != nil {
			return nil, "", err
		}
		size, err := strconv.Atoi(string(hdr[1 : len(hdr)-2]))
		if err != nil || hdr[0] != '$' || size < 0 {
			return nil, "", fmt.Errorf("not a bulk string: %q", hdr)
		}
		arg := make([]byte, size+2)
		if _, err := io.ReadFull(r, arg); err != nil {
			return nil, "", err
		}
		if i == 0 {
			name = strings.ToUpper(string(arg[:size]))
		}
		raw = append(append(raw, hdr...), arg...)
	}
	return raw, name, nil
}

// readReply reads one RESP2 reply and returns its bytes.
func readReply(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 {
		return nil, fmt.Errorf("short reply line %q", line)
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		size, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil || size < 0 {
			return line, err
		}
		body := make([]byte, size+2)
		_, err = io.ReadFull(r, body)
		return append(line, body...), err
	case '*':
		n, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return nil, err
		}
		raw := line
		for range max(n, 0) {
			el, err := readReply(r)
			if err != nil {
				return nil, err
			}
			raw = append(raw, el...)
		}
		return raw, nil
	}
	return nil, errors.New("unknown RESP2 reply type " + strconv.Quote(string(line[:1])))
}

// TestReserveRetriedAfterLostReply is the regression test of a Reserve
// whose answer was lost: go-redis (MaxRetries 3, its default) sends the
// script again, and the budget must hold one reservation, not an orphan
// that nobody can settle and its lease charges in full.
func TestReserveRetriedAfterLostReply(t *testing.T) {
	direct := redisClient(t)
	name := budgetName(t, direct)
	px := newReplyDropper(t, direct.Options().Addr)
	c := redis.NewClient(&redis.Options{Addr: px.addr(), Protocol: 2, DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	t.Cleanup(func() { c.Close() })
	now := time.Date(2026, time.March, 2, 10, 0, 0, 0, time.UTC)
	lim := budget.Limits{Lease: time.Minute, Now: func() time.Time { return now }}
	l, err := redisledger.New(c, name, 1_000, lim, redisledger.WithLogger(nil))
	require.NoError(t, err)
	auditor := newLedger(t, direct, name, 1_000, lim)
	ctx := context.Background()

	px.drops.Store(1)
	r, err := l.Reserve(ctx, 300)
	require.NoError(t, err, "go-redis retries the script once its reply is lost")
	require.Equal(t, int32(1), px.dropped.Load(), "the first reply was lost")
	st, err := auditor.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.Amount(300), st.Reserved, "the retried Reserve reserved again")

	require.NoError(t, l.Commit(ctx, r, 120))
	st, err = auditor.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: 1_000, Spent: 120}, st)

	// The next Reserve is a new request: it reserves anew, and its lost
	// reply is retried as well; its lease then charges it.
	px.drops.Store(1)
	r2, err := l.Reserve(ctx, 200)
	require.NoError(t, err)
	require.NotEqual(t, r.ID, r2.ID)
	require.Equal(t, int32(2), px.dropped.Load())
	assert.Len(t, tokens(t, direct, name), 2, "a token is remembered for its lease, settled or not")
	now = now.Add(2 * time.Minute)
	st, err = auditor.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: 1_000, Spent: 320}, st, "one reservation of 200 charged by its lease")
	assert.Empty(t, tokens(t, direct, name), "tokens are forgotten when their lease ends")
}

// TestReserveOlderThanALease checks that a Reserve whose token the budget
// may have forgotten — its lease ended by the clock of another process,
// which swept it — is refused rather than served twice: a request
// delivered that late, or from a process whose clock is a lease behind,
// reserves nothing.
func TestReserveOlderThanALease(t *testing.T) {
	c := redisClient(t)
	name := budgetName(t, c)
	now := time.Date(2026, time.March, 2, 10, 0, 0, 0, time.UTC)
	behind := now
	l := newLedger(t, c, name, 1_000, budget.Limits{Lease: time.Minute, Now: func() time.Time { return now }})
	late := newLedger(t, c, name, 1_000, budget.Limits{Lease: time.Minute, Now: func() time.Time { return behind }})
	ctx := context.Background()

	_, err := l.Reserve(ctx, 100)
	require.NoError(t, err)
	now = now.Add(time.Minute)
	st, err := l.State(ctx) // sweeps: the lease and its token end
	require.NoError(t, err)
	require.Equal(t, budget.State{Limit: 1_000, Spent: 100}, st)

	_, err = late.Reserve(ctx, 50)
	require.ErrorIs(t, err, budget.ErrUnavailable)
	assert.Contains(t, err.Error(), "older than a lease")
	behind = now.Add(-time.Minute + time.Millisecond)
	r, err := late.Reserve(ctx, 50)
	require.NoError(t, err, "a clock less than a lease behind is served")
	require.NoError(t, late.Cancel(ctx, r))
	st, err = l.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, budget.State{Limit: 1_000, Spent: 100}, st)
}

// tokens returns the request tokens the budget remembers.
func tokens(t *testing.T, c *redis.Client, name string) []string {
	t.Helper()
	toks, err := c.HKeys(context.Background(), "{baar:"+name+"}:tok").Result()
	require.NoError(t, err)
	n, err := c.ZCard(context.Background(), "{baar:"+name+"}:tokx").Result()
	require.NoError(t, err)
	require.Equal(t, int64(len(toks)), n, "every token has its expiry")
	return toks
}
