package sim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// proxyFault is what the proxy does to the next ledger command (an EVAL or
// EVALSHA: one ledger operation).
type proxyFault uint8

const (
	pass        proxyFault = iota
	dropRequest            // the connection dies before Redis sees the command
	dropReply              // Redis runs the command; the connection dies before the reply
	holdRequest            // the connection dies; the command reaches Redis later, on another connection
	delay                  // the command is forwarded after a few milliseconds
)

// proxy is a TCP proxy on loopback between go-redis and Redis that injects
// the faults of a network into the ledger's commands. It reads the client's
// commands one by one (RESP arrays), so that a fault armed by the scheduler
// hits exactly the next ledger operation; every fault that drops a
// connection does so only once the command's fate is settled (not sent,
// or run: the proxy waits for the reply of an ECHO it sends after it), so
// that a seed's history does not depend on timing.
type proxy struct {
	ln    net.Listener
	redis string

	mu    sync.Mutex
	armed proxyFault
	conns map[*pconn]struct{}
	held  [][]byte
	fence int
	wg    sync.WaitGroup
}

// pconn is one proxied connection.
type pconn struct {
	c, s  net.Conn
	once  sync.Once
	mu    sync.Mutex
	fence string // set: swallow the replies up to this ECHO, then close
}

func (pc *pconn) close() {
	pc.once.Do(func() {
		pc.c.Close()
		pc.s.Close()
	})
}

func newProxy(redisAddr string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, redis: redisAddr, conns: make(map[*pconn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.redis)
		if err != nil {
			c.Close()
			continue
		}
		pc := &pconn{c: c, s: s}
		p.mu.Lock()
		p.conns[pc] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.up(pc)
		go p.down(pc)
	}
}

// arm sets the fault of the next ledger command.
func (p *proxy) arm(f proxyFault) {
	p.mu.Lock()
	p.armed = f
	p.mu.Unlock()
}

// take returns the armed fault for a command named name, disarming it.
func (p *proxy) take(name string) proxyFault {
	if !strings.EqualFold(name, "evalsha") && !strings.EqualFold(name, "eval") {
		return pass
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.armed
	p.armed = pass
	return f
}

func (p *proxy) nextFence() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fence++
	return fmt.Sprintf("baar-sim-fence-%d", p.fence)
}

// echo returns the RESP command ECHO msg.
func echo(msg string) []byte {
	return fmt.Appendf(nil, "*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n", len(msg), msg)
}

// up forwards the client's commands to Redis, applying the armed fault.
func (p *proxy) up(pc *pconn) {
	defer p.wg.Done()
	defer p.forget(pc)
	br := bufio.NewReader(pc.c)
	for {
		cmd, name, err := readCommand(br)
		if err != nil {
			pc.close()
			return
		}
		switch p.take(name) {
		case delay:
			time.Sleep(time.Duration(1+len(cmd)%3) * time.Millisecond)
		case dropRequest:
			pc.close()
			return
		case holdRequest:
			p.mu.Lock()
			p.held = append(p.held, cmd)
			p.mu.Unlock()
			pc.close()
			return
		case dropReply:
			f := p.nextFence()
			pc.mu.Lock()
			pc.fence = f
			pc.mu.Unlock()
			if _, err := pc.s.Write(append(cmd, echo(f)...)); err != nil {
				pc.close()
			}
			return // down closes the connection once Redis ran the command
		}
		if _, err := pc.s.Write(cmd); err != nil {
			pc.close()
			return
		}
	}
}

// down forwards Redis's replies to the client, or swallows them up to the
// fence and closes the connection.
func (p *proxy) down(pc *pconn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	var swallowed []byte
	for {
		n, err := pc.s.Read(buf)
		if n > 0 {
			pc.mu.Lock()
			f := pc.fence
			pc.mu.Unlock()
			if f == "" {
				if _, werr := pc.c.Write(buf[:n]); werr != nil {
					pc.close()
					return
				}
			} else if swallowed = append(swallowed, buf[:n]...); bytes.Contains(swallowed, []byte(f)) {
				pc.close()
				return
			}
		}
		if err != nil {
			pc.close()
			return
		}
	}
}

func (p *proxy) forget(pc *pconn) {
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}

// disconnect closes every proxied connection.
func (p *proxy) disconnect() {
	p.mu.Lock()
	conns := make([]*pconn, 0, len(p.conns))
	for pc := range p.conns {
		conns = append(conns, pc)
	}
	p.mu.Unlock()
	for _, pc := range conns {
		pc.close()
	}
}

// release delivers the held commands to Redis, each on a new connection,
// waiting until Redis ran it. It returns how many it delivered.
func (p *proxy) release() (int, error) {
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.mu.Unlock()
	for _, cmd := range held {
		if err := p.deliver(cmd); err != nil {
			return 0, err
		}
	}
	return len(held), nil
}

func (p *proxy) deliver(cmd []byte) error {
	s, err := net.DialTimeout("tcp", p.redis, 2*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(5 * time.Second))
	f := p.nextFence()
	if _, err := s.Write(append(cmd, echo(f)...)); err != nil {
		return err
	}
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(f)) {
		n, err := s.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return fmt.Errorf("delivering a held command: %w", err)
		}
	}
	return nil
}

func (p *proxy) close() {
	p.ln.Close()
	p.disconnect()
	p.wg.Wait()
}

// readCommand reads one RESP command (an array of bulk strings) and
// returns its bytes and its name.
func readCommand(br *bufio.Reader) (raw []byte, name string, err error) {
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, "", err
	}
	if len(line) < 4 || line[0] != '*' {
		return nil, "", errors.New("proxy: not a RESP array")
	}
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil || n < 1 {
		return nil, "", errors.New("proxy: bad RESP array length")
	}
	raw = line
	for i := range n {
		h, err := br.ReadBytes('\n')
		if err != nil {
			return nil, "", err
		}
		if len(h) < 4 || h[0] != '$' {
			return nil, "", errors.New("proxy: not a RESP bulk string")
		}
		l, err := strconv.Atoi(string(h[1 : len(h)-2]))
		if err != nil || l < 0 {
			return nil, "", errors.New("proxy: bad RESP bulk length")
		}
		data := make([]byte, l+2)
		if _, err := io.ReadFull(br, data); err != nil {
			return nil, "", err
		}
		if i == 0 {
			name = string(data[:l])
		}
		raw = append(append(raw, h...), data...)
	}
	return raw, name, nil
}
