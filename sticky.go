package baar

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Sticky-conversation defaults.
const (
	// DefaultStickyTTL is how long a conversation stays on the capable model
	// after it was last answered there.
	DefaultStickyTTL = 30 * time.Minute
	// DefaultStickyCacheSize is how many conversations the Router remembers.
	DefaultStickyCacheSize = 10_000
)

// StickyConversations bounds stickiness: once a conversation
// (ContextWithConversation) has been answered by the capable model, its later
// calls stay there. Zero fields take the defaults.
type StickyConversations struct {
	// TTL is how long a conversation stays after it was last answered by the
	// capable model (default DefaultStickyTTL; negative: no time limit).
	TTL time.Duration
	// MaxSteps is how many further calls it stays for (0: no limit).
	MaxSteps int
	// CacheSize is how many conversations the Router remembers, least
	// recently used first out (default DefaultStickyCacheSize).
	CacheSize int
	// Disabled turns stickiness off.
	Disabled bool
}

// sticky remembers the conversations answered by the capable model (LRU).
type sticky struct {
	ttl   time.Duration
	steps int
	size  int
	now   func() time.Time

	mu    sync.Mutex
	ll    *list.List
	items map[string]*list.Element
}

type stickyEntry struct {
	id    string
	until time.Time // zero: no time limit
	left  int       // steps left; -1: no limit
}

func newSticky(c StickyConversations) *sticky {
	if c.Disabled {
		return nil
	}
	ttl := c.TTL
	switch {
	case ttl == 0:
		ttl = DefaultStickyTTL
	case ttl < 0:
		ttl = 0 // no time limit
	}
	size := c.CacheSize
	if size == 0 {
		size = DefaultStickyCacheSize
	}
	return &sticky{ttl: ttl, steps: c.MaxSteps, size: size, now: time.Now, ll: list.New(), items: make(map[string]*list.Element)}
}

func (s *sticky) Route(_ context.Context, in *RouteInput, current Route) (Route, error) {
	if in.Conversation == "" || current.Tier == TierCapable {
		return current, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[in.Conversation]
	if !ok {
		return current, nil
	}
	e := el.Value.(*stickyEntry)
	if (!e.until.IsZero() && s.now().After(e.until)) || e.left == 0 {
		s.ll.Remove(el)
		delete(s.items, in.Conversation)
		return current, nil
	}
	if e.left > 0 {
		e.left--
	}
	s.ll.MoveToFront(el)
	return Route{Tier: TierCapable, Policy: PolicySticky, Reason: "conversation already on the capable model"}, nil
}

// pin records that conversation id was answered by the capable model.
func (s *sticky) pin(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &stickyEntry{id: id, left: -1}
	if s.ttl > 0 {
		e.until = s.now().Add(s.ttl)
	}
	if s.steps > 0 {
		e.left = s.steps
	}
	if el, ok := s.items[id]; ok {
		el.Value = e
		s.ll.MoveToFront(el)
		return
	}
	s.items[id] = s.ll.PushFront(e)
	for s.ll.Len() > s.size {
		last := s.ll.Back()
		s.ll.Remove(last)
		delete(s.items, last.Value.(*stickyEntry).id)
	}
}
