package baartest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// NetCounter counts the network activity of the HTTP clients it hands out:
// connection attempts (dials) and host-name resolutions (look-ups). Use it to
// prove that a code path makes no network call at all:
//
//	var nc baartest.NetCounter
//	llm, _ := openai.New(openai.WithToken("t"), openai.WithHTTPClient(nc.HTTPClient()))
//	... // a call refused locally
//	// nc.Dials() == 0 && nc.Lookups() == 0
//
// Every dial of a host name (such as "localhost" or "api.openai.com") first
// counts one look-up, whether or not it succeeds, then resolves the name with
// its own Go resolver, whose connections to DNS servers are counted by
// [NetCounter.DNSDials]. Dialing an IP literal (127.0.0.1) does no look-up.
// Proxies from the environment are not used, so dials go to the target.
//
// The zero value is ready to use; a NetCounter is safe for concurrent use and
// must not be copied after first use.
type NetCounter struct {
	dials, lookups, dnsDials atomic.Int64

	once     sync.Once
	dialer   *net.Dialer
	resolver *net.Resolver
	client   *http.Client
}

func (n *NetCounter) init() {
	n.once.Do(func() {
		n.dialer = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		n.resolver = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
				n.dnsDials.Add(1)
				return n.dialer.DialContext(ctx, network, address)
			},
		}
		var tr *http.Transport
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			tr = dt.Clone()
		} else {
			tr = &http.Transport{ForceAttemptHTTP2: true, MaxIdleConns: 100, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
		}
		tr.Proxy = nil
		tr.DialContext = n.DialContext
		tr.DialTLSContext = nil
		n.client = &http.Client{Transport: tr}
	})
}

// HTTPClient returns the counter's HTTP client (always the same one); every
// connection it opens goes through [NetCounter.DialContext].
func (n *NetCounter) HTTPClient() *http.Client {
	n.init()
	return n.client
}

// Transport returns the counter's HTTP transport, for wrapping.
func (n *NetCounter) Transport() http.RoundTripper {
	n.init()
	return n.client.Transport
}

// Dials is the number of connection attempts made through the counter (calls
// of DialContext), successful or not.
func (n *NetCounter) Dials() int64 { return n.dials.Load() }

// Lookups is the number of host-name resolutions attempted, successful or not.
func (n *NetCounter) Lookups() int64 { return n.lookups.Load() }

// DNSDials is the number of connections the counter's resolver opened to DNS
// servers (names found in /etc/hosts need none).
func (n *NetCounter) DNSDials() int64 { return n.dnsDials.Load() }

// Total is Dials + Lookups + DNSDials: zero means no network activity.
func (n *NetCounter) Total() int64 { return n.Dials() + n.Lookups() + n.DNSDials() }

// DialContext dials address (host:port) on network, counting the dial and,
// for a host name, the look-up. It tries the resolved addresses in order.
func (n *NetCounter) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	n.init()
	n.dials.Add(1)
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return n.dialer.DialContext(ctx, network, address)
	}
	n.lookups.Add(1)
	ipNet := "ip"
	switch network {
	case "tcp4", "udp4":
		ipNet = "ip4"
	case "tcp6", "udp6":
		ipNet = "ip6"
	}
	addrs, err := n.resolver.LookupNetIP(ctx, ipNet, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if len(addrs) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
	}
	var errs []error
	for _, a := range addrs {
		conn, err := n.dialer.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}
