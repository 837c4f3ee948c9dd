package scoring

import "math"

// numSetSlots is the size of a numSet's table; it holds at most
// numSetSlots/4 numbers, so probes stay short.
const numSetSlots = 1024

// numSet is a set of numbers with an int32 per number, for the verifier's
// scans: adding and finding take constant time, where a list would make an
// answer of many equations quadratic. Numbers are equal when they agree to
// about 11 significant digits (numKey), so that 0.07 × 100 finds 7. Reset
// empties it in constant time. The zero value is empty and ready.
type numSet struct {
	gen  uint32
	n    int
	slot [numSetSlots]numSlot
}

type numSlot struct {
	gen uint32
	val int32
	key uint64
}

// reset empties s.
func (s *numSet) reset() {
	s.n = 0
	s.gen++
	if s.gen == 0 { // wrapped: stamps of 2^32 resets ago would read as current
		clear(s.slot[:])
		s.gen = 1
	}
}

// numKey is v's key: its bits rounded to 36 of the 52 bits of mantissa
// (relative precision 1.5e-11), with -0 as 0.
func numKey(v float64) uint64 {
	if v == 0 {
		return 0
	}
	const low = 16
	return (math.Float64bits(v) + 1<<(low-1)) &^ (1<<low - 1)
}

// probe returns the slot of key, or the empty slot where it would go.
func (s *numSet) probe(key uint64) *numSlot {
	if s.gen == 0 {
		s.gen = 1
	}
	i := (key * 0x9E3779B97F4A7C15) >> (64 - 10) // 10 = log2(numSetSlots)
	for {
		sl := &s.slot[i]
		if sl.gen != s.gen || sl.key == key {
			return sl
		}
		i = (i + 1) & (numSetSlots - 1)
	}
}

// find returns the value stored with v.
func (s *numSet) find(v float64) (int32, bool) {
	sl := s.probe(numKey(v))
	return sl.val, sl.gen == s.gen
}

// hasKey reports whether s holds key, a key of addKey.
func (s *numSet) hasKey(key uint64) bool { return s.probe(key).gen == s.gen }

// has reports whether v is in s.
func (s *numSet) has(v float64) bool {
	_, ok := s.find(v)
	return ok
}

// add puts v in s with val unless it is there or s is full; it reports
// whether it did.
func (s *numSet) add(v float64, val int32) bool { return s.addKey(numKey(v), val) }

// addKey is add for a key that is not a number's (a hash, used as is).
func (s *numSet) addKey(key uint64, val int32) bool {
	sl := s.probe(key)
	if sl.gen == s.gen || s.n >= numSetSlots/4 {
		return false
	}
	*sl = numSlot{gen: s.gen, val: val, key: key}
	s.n++
	return true
}

// result makes v the result of step idx, adding v when it is not there (and
// s is not full), unless v already is a step's result. It reports whether
// it did.
func (s *numSet) result(v float64, idx int32) bool {
	key := numKey(v)
	sl := s.probe(key)
	switch {
	case sl.gen == s.gen && sl.val >= 0: // already a result
		return false
	case sl.gen == s.gen:
		sl.val = idx
	case s.n < numSetSlots/4:
		*sl = numSlot{gen: s.gen, val: idx, key: key}
		s.n++
	default:
		return false
	}
	return true
}
