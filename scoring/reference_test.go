package scoring

// This file keeps a frozen copy of the feature extraction as it was before
// the scan was optimised (the embedded weights were trained on it). The
// differential tests and FuzzExtractDifferential compare extract with
// refExtract bit for bit. Do not edit it to follow changes of features.go:
// a difference is a bug in features.go.

import (
	"math"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// refWordClass maps a vocabulary bucket to its class bits. Built once at init.
var refWordClass [vocabSize]uint8

func init() { // refWordClass
	for _, cw := range classWords {
		for _, w := range cw.words {
			refWordClass[refBucketOf(w)] |= cw.class
		}
	}
	// A scorer-directed word is only that: drop its other classes ("rate",
	// "maximum", "step" would otherwise count as cues).
	for i, c := range refWordClass {
		if c&cScorer != 0 {
			refWordClass[i] = cScorer
		}
	}
}

const (
	refFnvOffset = 2166136261
	refFnvPrime  = 16777619
)

// Words hash by a rotate-xor chain over their lower-cased bytes (short
// dependency chain: the scan is the scorer's hot loop), mixed at the end by
// a Fibonacci multiply whose top vocabBits bits are the bucket.
func refMixByte(h uint32, c byte) uint32 { return bits.RotateLeft32(h, 5) ^ uint32(c) }

func refFold(h uint32) uint32 { return (h * 0x9e3779b1) >> (32 - vocabBits) }

// refLowerTab maps an ASCII letter to its lower case, other ASCII bytes to 0
// and bytes ≥ 0x80 (multi-byte runes) to 1.
var refLowerTab = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byte(c)
		t[c-'a'+'A'] = byte(c)
	}
	for c := 0x80; c < 256; c++ {
		t[c] = 1
	}
	return t
}()

// refBucketOf returns the vocabulary bucket of an already lower-cased word.
func refBucketOf(w string) uint32 {
	h := uint32(0)
	for i := 0; i < len(w); i++ {
		h = refMixByte(h, w[i])
	}
	return refFold(h)
}

// refTextStats accumulates the statistics of one text in a single pass.
type refTextStats struct {
	words, distinct, content, letters, longWords int
	capWords                                     int
	started                                      bool
	numbers, distinctNums                        int
	ops, money, math, code, lines, sentences     int
	questions, choices, fence                    int
	cue                                          [4]int // steps, explain, constraint, negation
	firstClass                                   uint8
	domainSum                                    float64
	domainKnown                                  int
	dom                                          *domainModel
	domBk                                        [domainMaxWords]uint32
	domN                                         int
	seen                                         [vocabSize / 64]uint64
	numSeen                                      [4]uint64
	// buckets, when non-nil, receives each distinct non-scorer bucket (training).
	buckets *[]uint32
}

// scan reads s once. vocab may be nil (no vocabulary model).
func (st *refTextStats) scan(s string, vocab []float32) {
	lineStart := true
	lineHasText := false
	var prev byte = '\n'
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			if lineStart && i+1 < len(s) && (s[i+1] == '.' || s[i+1] == ')') && (i+2 >= len(s) || s[i+2] == ' ') && (c|0x20) >= 'a' && (c|0x20) <= 'e' {
				st.choices++
			}
			lineStart, lineHasText = false, true
			h := uint32(0)
			n := 0
			capital := c <= 'Z'
			for i < len(s) {
				l := refLowerTab[s[i]]
				if l > 1 {
					h = refMixByte(h, l)
					i++
					n++
					continue
				}
				if l == 0 {
					break
				}
				r, sz := utf8.DecodeRuneInString(s[i:])
				if !unicode.IsLetter(r) {
					break
				}
				for k := 0; k < sz; k++ {
					h = refMixByte(h, s[i+k])
				}
				i += sz
				n++
			}
			st.word(refFold(h), n, capital, vocab)
			prev = 'a'
			continue
		case c >= '0' && c <= '9':
			lineStart, lineHasText = false, true
			h := uint32(refFnvOffset)
			for i < len(s) {
				c = s[i]
				if c >= '0' && c <= '9' || (c == '.' || c == ',') && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
					h ^= uint32(c)
					h *= refFnvPrime
					i++
					continue
				}
				break
			}
			st.numbers++
			b := h & 255
			if st.numSeen[b>>6]&(1<<(b&63)) == 0 {
				st.numSeen[b>>6] |= 1 << (b & 63)
				st.distinctNums++
			}
			prev = '0'
			continue
		case c == '\n':
			if lineHasText {
				st.lines++
			}
			lineStart, lineHasText = true, false
		case c == ' ' || c == '\t' || c == '\r':
			if lineStart && (c == '\t' || i+1 < len(s) && s[i+1] == ' ') && i+2 < len(s) && s[i+2] != ' ' && s[i+2] != '\n' {
				// An indented line (tab or ≥ 2 spaces) reads as code or a list.
				st.code++
				lineStart = false
			}
		case c >= utf8.RuneSelf:
			r, sz := utf8.DecodeRuneInString(s[i:])
			lineStart, lineHasText = false, true
			if unicode.IsLetter(r) {
				if unicode.Is(unicode.Greek, r) {
					st.math++
				}
				// A word in another script: hash it like an ASCII word.
				h := uint32(0)
				n := 0
				for i < len(s) {
					r, sz = utf8.DecodeRuneInString(s[i:])
					if !unicode.IsLetter(r) {
						break
					}
					for k := 0; k < sz; k++ {
						h = refMixByte(h, s[i+k])
					}
					i += sz
					n++
				}
				st.word(refFold(h), n, unicode.IsUpper(r), vocab)
				prev = 'a'
				continue
			}
			if r >= 0x2200 && r <= 0x22FF || r == '×' || r == '÷' || r == '±' || r == '√' {
				st.math++
			}
			i += sz
			prev = 'x'
			continue
		default:
			lineStart, lineHasText = false, true
			switch c {
			case '+', '*', '=', '<', '>':
				st.ops++
			case '/':
				if prev == '0' || prev == ' ' {
					st.ops++
				}
			case '-':
				if prev == '0' || prev == ' ' && i+1 < len(s) && (s[i+1] == ' ' || s[i+1] >= '0' && s[i+1] <= '9') {
					st.ops++
				}
			case '$', '%':
				st.money++
			case '^', '\\':
				st.math++
			case '{', '}', ';':
				st.code++
			case '`':
				st.code++
				if i+2 < len(s) && s[i+1] == '`' && s[i+2] == '`' {
					st.fence = 1
				}
			case '?':
				st.questions++
				st.sentences++
			case '.', '!':
				if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n' {
					st.sentences++
				}
			}
		}
		prev = c
		i++
	}
	if lineHasText {
		st.lines++
	}
}

func (st *refTextStats) word(b uint32, n int, capital bool, vocab []float32) {
	cls := refWordClass[b]
	if !st.started {
		st.started = true
		st.firstClass = cls
	}
	if cls&cScorer != 0 {
		return
	}
	st.words++
	if capital {
		st.capWords++
	}
	if n > 12 {
		n = 12
	}
	st.letters += n
	if st.seen[b>>6]&(1<<(b&63)) != 0 {
		return
	}
	st.seen[b>>6] |= 1 << (b & 63)
	st.distinct++
	if cls&cStop == 0 {
		st.content++
	}
	if n >= 9 {
		st.longWords++
	}
	if cls != 0 {
		for k := 0; k < 4; k++ {
			if cls&(1<<k) != 0 {
				st.cue[k]++
			}
		}
	}
	if st.dom != nil && cls&cStop == 0 && st.domN < domainMaxWords && refKnown(st.dom, b) {
		st.domBk[st.domN] = b
		st.domN++
	}
	if vocab != nil {
		if v := vocab[b]; v != 0 {
			st.domainSum += float64(v)
			st.domainKnown++
		}
	}
	if st.buckets != nil {
		*st.buckets = append(*st.buckets, b)
	}
}

func refLogCap(n, limit int) float64 {
	if n > limit {
		n = limit
	}
	return math.Log1p(float64(n))
}

// refFocusIndex is the message the features describe: the last user message,
// else the last message.
func refFocusIndex(msgs []Message) int {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == RoleHuman || msgs[i].Role == RoleGeneric {
			return i
		}
	}
	return len(msgs) - 1
}

// refExtract computes the features of req into f using vocab and dom (either
// may be nil). If buckets is non-nil it receives the distinct vocabulary
// buckets of the focus message.
func refExtract(req *Request, vocab []float32, dom *domainModel, f *[numFeatures]float64, buckets *[]uint32) {
	var st refTextStats
	st.buckets = buckets
	st.dom = dom
	fi := refFocusIndex(req.Messages)
	history, system, turns := 0, 0, 0
	for i, m := range req.Messages {
		switch {
		case i == fi:
			st.scan(m.Text, vocab)
		case m.Role == RoleSystem:
			system += len(m.Text)
		default:
			history += len(m.Text)
			if m.Role == RoleHuman || m.Role == RoleAI || m.Role == RoleGeneric {
				turns++
			}
		}
	}
	*f = [numFeatures]float64{}
	f[fLogWords] = refLogCap(st.content, 2000)
	if st.words > 0 {
		w := float64(st.words)
		f[fAvgWordLen] = float64(st.letters) / w
		f[fCapFrac] = float64(st.capWords) / w
		f[fNumDensity] = math.Min(1, float64(st.numbers)/w)
	} else if st.numbers > 0 {
		f[fNumDensity] = 1
	}
	if st.distinct > 0 {
		d := float64(st.distinct)
		f[fLongWordFrac] = float64(st.longWords) / d
		f[fDomain] = st.domainSum / d
		f[fDomainCover] = float64(st.domainKnown) / d
	}
	if dom != nil {
		f[fDomainGap] = refExpectedGap(dom, st.domBk[:st.domN])
	}
	// Repetition does not count: every count is scaled by the share of
	// distinct words, so a message repeated 50 times, or padded with the
	// same filler, has about the counts of the original.
	r := 1.0
	if st.words > 0 {
		r = float64(st.distinct) / float64(st.words)
	}
	eff := func(n, limit int) float64 {
		x := float64(n)
		if x > 1 {
			x = 1 + (x-1)*r
		}
		return math.Log1p(math.Min(x, float64(limit)))
	}
	f[fLogNumbers] = eff(st.numbers, 200)
	f[fLogDistinctNums] = refLogCap(st.distinctNums, 200)
	f[fLogOps] = eff(st.ops, 200)
	f[fLogMoney] = eff(st.money, 50)
	f[fLogMath] = eff(st.math, 100)
	f[fLogCode] = eff(st.code, 200)
	f[fCodeFence] = float64(st.fence)
	f[fLogLines] = eff(st.lines, 200)
	f[fLogSentences] = eff(st.sentences, 100)
	f[fLogQuestions] = eff(st.questions, 20)
	if st.choices >= 2 {
		f[fChoices] = 1
	}
	for k := 0; k < 4; k++ {
		f[fCueSteps+k] = refLogCap(st.cue[k], 10)
	}
	if st.firstClass&cFactualStart != 0 {
		f[fStartsFactual] = 1
	}
	if st.firstClass&cReasonStart != 0 {
		f[fStartsReason] = 1
	}
	f[fLogHistory] = refLogCap(history/4, 100000)
	f[fLogTurns] = refLogCap(turns, 100)
	f[fLogSystem] = refLogCap(system/4, 100000)
	f[fLogTools] = refLogCap(len(req.Tools), 100)
	f[fLogToolCalls] = refLogCap(max(req.ToolCalls, 0), 100)
	f[fLogAttachments] = refLogCap(max(req.Attachments, 0), 100)
}

func refKnown(d *domainModel, b uint32) bool { return d.off[b+1] > d.off[b] }

func refExpectedGap(d *domainModel, bk []uint32) float64 {
	var s [domainMaxClasses]float64
	k := len(d.classes)
	for _, b := range bk {
		lo, hi := d.off[b], d.off[b+1]
		cls, val := d.cls[lo:hi], d.val[lo:hi]
		for j, c := range cls {
			s[c] += float64(val[j])
		}
	}
	nk := float64(len(bk))
	best := math.Inf(-1)
	for c := 0; c < k; c++ {
		s[c] += d.prior[c] + nk*d.base[c]
		if s[c] > best {
			best = s[c]
		}
	}
	var z, g float64
	for c := 0; c < k; c++ {
		x := s[c] - best
		if x < -40 { // exp(-40) ≈ 4e-18: negligible
			continue
		}
		e := math.Exp(x)
		z += e
		g += e * d.classes[c].Gap
	}
	return g / z
}

// refRaw is Model.raw computed with refExtract and refGuardDrops: the lower
// of the logits of req and of req without the segments of its focus message
// aimed at the scorer.
func (m *Model) refRaw(req *Request) float64 {
	var f [numFeatures]float64
	refExtract(req, m.vocab, m.dom, &f, nil)
	z := m.rawFeatures(&f)
	if len(req.Messages) == 0 {
		return z
	}
	fi := refFocusIndex(req.Messages)
	d := refGuardDrops(req.Messages[fi].Text)
	if d.n == 0 {
		return z
	}
	r := *req
	r.Messages = append([]Message(nil), req.Messages...)
	r.Messages[fi].Text = d.strip(req.Messages[fi].Text)
	refExtract(&r, m.vocab, m.dom, &f, nil)
	return min(z, m.rawFeatures(&f))
}

// refGuardDrops is the guard's segmentation written plainly (the scan
// interleaves it with the features): segments end after '.', '!' or '?'
// before a blank, a newline or the end, after '\n', ')', ']', '}' and '>',
// and before '(', '[', '{' and '<'. Plain words are maximal runs of ASCII
// letters with no byte >= 0x80 next to them; a digit, a byte >= 0x80 or a
// plain content word gives the segment content.
func refGuardDrops(s string) guardDrops {
	var d guardDrops
	seg := guardSeg{}
	end := func(i int) {
		d.close(&seg, i)
		seg = guardSeg{start: i}
	}
	isLetter := func(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isLetter(c):
			j := i
			var lower []byte
			for j < len(s) && isLetter(s[j]) {
				lower = append(lower, s[j]|0x20)
				j++
			}
			var next byte
			if j < len(s) {
				next = s[j]
			}
			if next < 0x80 && (i == 0 || s[i-1] < 0x80) {
				h := chainHash(string(lower))
				b := refBucketOf(string(lower))
				seg.word(h, b, refWordClass[b], next)
			} else {
				seg.content = true
			}
			i = j
			continue
		case c >= 0x80 || c >= '0' && c <= '9':
			seg.content = true
		case c == '.' || c == '!' || c == '?':
			if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n' {
				end(i + 1)
			}
		case c == '\n' || c == ')' || c == ']' || c == '}' || c == '>':
			end(i + 1)
		case c == '(' || c == '[' || c == '{' || c == '<':
			end(i)
		}
		i++
	}
	end(len(s))
	return d
}
