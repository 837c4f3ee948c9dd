package scoring

import (
	"math"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// The vocabulary model hashes each lower-cased word into one of vocabSize
// buckets (FNV-1a, folded).
const (
	vocabBits = 16
	vocabSize = 1 << vocabBits
	vocabMask = vocabSize - 1
)

// Feature indices. Every feature is bounded: lengths and counts enter through
// log1p of capped or de-duplicated counts, shares are in [0,1], so padding a
// prompt with filler or repeating words cannot push a feature without limit.
const (
	fLogWords        = iota // log1p(distinct words) of the last user message
	fAvgWordLen             // mean letters per word, capped at 12
	fLongWordFrac           // share of distinct words with ≥ 9 letters
	fCapFrac                // share of words that start with a capital
	fLogNumbers             // log1p(numbers), capped
	fLogDistinctNums        // log1p(distinct numbers)
	fNumDensity             // numbers per word, capped at 1
	fLogOps                 // log1p(arithmetic operators), capped
	fLogMoney               // log1p($ and % signs), capped
	fLogMath                // log1p(math notation: ^ \ √ ∑ Greek …), capped
	fLogCode                // log1p(code punctuation and indented lines), capped
	fCodeFence              // 1 if the message has a ``` fence
	fLogLines               // log1p(non-empty lines), capped
	fLogSentences           // log1p(sentences), capped
	fLogQuestions           // log1p(question marks), capped
	fChoices                // 1 if the message lists ≥ 2 lettered choices
	fCueSteps               // distinct multi-step / quantity cue words, log1p
	fCueExplain             // distinct explain / analyse / prove cue words, log1p
	fCueConstraint          // distinct constraint cue words, log1p
	fCueNegation            // distinct negation cue words, log1p
	fStartsFactual          // first word is what/who/when/where/which/define/name/list
	fStartsReason           // first word is how/why/explain/prove/derive/compare/…
	fDomain                 // mean learned vocabulary weight over distinct words
	fDomainCover            // share of distinct words the vocabulary knows
	fDomainGap              // gap rate expected under the inferred domain (domain.go)
	fLogHistory             // log1p(bytes of the earlier messages / 4), capped
	fLogTurns               // log1p(earlier user and assistant turns)
	fLogSystem              // log1p(bytes of system messages / 4), capped
	fLogTools               // log1p(tools offered)
	fLogToolCalls           // log1p(tool calls and results so far)
	fLogAttachments         // log1p(attachments)
	numFeatures
)

// featureNames names the features in weights files, in index order.
var featureNames = [numFeatures]string{
	"log_words", "avg_word_len", "long_word_frac", "cap_frac", "log_numbers",
	"log_distinct_numbers", "number_density", "log_operators", "log_money",
	"log_math", "log_code", "code_fence", "log_lines", "log_sentences",
	"log_questions", "choices", "cue_steps", "cue_explain", "cue_constraint",
	"cue_negation", "starts_factual", "starts_reason", "domain", "domain_cover", "domain_gap",
	"log_history", "log_turns", "log_system", "log_tools", "log_tool_calls",
	"log_attachments",
}

// Word classes (bit set per vocabulary bucket).
const (
	cSteps uint8 = 1 << iota
	cExplain
	cConstraint
	cNegation
	cFactualStart
	cReasonStart
	// cStop marks function words and pleasantries: they do not count
	// toward the length feature, so padding with chit-chat adds little.
	cStop
	// cScorer marks vocabulary that addresses a router or scorer ("route",
	// "gpt", "ignore", "complexity", …). Such words are ignored by every
	// feature, so instructions aimed at the scorer add nothing to the score.
	cScorer
)

var classWords = []struct {
	class uint8
	words []string
}{
	{cStop, []string{"a", "an", "the", "and", "or", "but", "so", "to", "of", "in", "on", "at",
		"for", "with", "by", "from", "as", "is", "are", "was", "were", "be", "been", "it", "its",
		"this", "that", "these", "those", "i", "me", "my", "you", "your", "we", "our", "he",
		"she", "they", "them", "his", "her", "their", "do", "does", "did", "have", "has", "had",
		"will", "would", "can", "could", "may", "might", "just", "really", "very", "also",
		"too", "much", "please", "thanks", "thank", "kindly", "appreciate", "hope", "lovely",
		"nice", "great", "good", "day", "help", "hello", "hi", "hey", "sorry", "okay", "ok",
		"sure", "well", "oh", "um", "lol", "note", "fyi", "btw", "regards", "cheers"}},
	{cSteps, []string{"then", "after", "before", "each", "every", "per", "total", "remaining",
		"left", "twice", "half", "times", "more", "less", "than", "if", "how", "many", "much",
		"average", "rate", "percent", "ratio", "difference", "sum", "altogether", "combined",
		"respectively", "initially", "first", "second", "third", "finally", "next", "until",
		"while", "during", "week", "weeks", "hours", "minutes", "cost", "costs", "profit"}},
	{cExplain, []string{"why", "explain", "prove", "proof", "derive", "analyze", "analyse",
		"compare", "evaluate", "justify", "design", "implement", "optimize", "optimise",
		"reason", "reasoning", "infer", "implies", "implication", "consequence", "therefore",
		"assume", "suppose", "hypothesis", "argument", "critique", "tradeoffs"}},
	{cConstraint, []string{"must", "exactly", "least", "most", "without", "only", "should",
		"ensure", "format", "json", "limit", "constraint", "constraints", "require",
		"requires", "required", "maximum", "minimum", "within", "strictly"}},
	{cNegation, []string{"not", "no", "never", "except", "cannot", "false", "neither", "nor",
		"none", "incorrect", "least", "unlikely", "invalid"}},
	{cFactualStart, []string{"what", "who", "when", "where", "which", "define", "name", "list", "translate"}},
	{cReasonStart, []string{"how", "why", "explain", "prove", "derive", "compare", "show",
		"suppose", "assume", "let", "given", "if", "consider", "find", "calculate", "compute",
		"solve", "determine", "write", "implement", "design"}},
	{cScorer, []string{"ignore", "disregard", "route", "routing", "router", "routed",
		"score", "scorer", "scoring", "classify", "classifier", "complex", "complexity",
		"complicated", "difficult", "difficulty", "hardest", "maximally", "capable",
		"powerful", "premium", "expensive", "advanced", "gpt", "claude", "opus", "sonnet",
		"gemini", "llm", "instruction", "instructions", "prompt", "previous", "override",
		"priority", "tier", "escalate", "architecture", "sophisticated", "intricate",
		"nuanced", "deeply", "thorough", "thoroughly", "comprehensive", "expert", "step",
		"steps"}},
}

// wordClass maps a vocabulary bucket to its class bits. Built once at init.
var wordClass [vocabSize]uint8

func init() {
	for _, cw := range classWords {
		for _, w := range cw.words {
			wordClass[bucketOf(w)] |= cw.class
		}
	}
	// A scorer-directed word is only that: drop its other classes ("rate",
	// "maximum", "step" would otherwise count as cues).
	for i, c := range wordClass {
		if c&cScorer != 0 {
			wordClass[i] = cScorer
		}
	}
}

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// Words hash by a rotate-xor chain over their lower-cased bytes (short
// dependency chain: the scan is the scorer's hot loop), mixed at the end by
// a Fibonacci multiply whose top vocabBits bits are the bucket.
func mixByte(h uint32, c byte) uint32 { return bits.RotateLeft32(h, 5) ^ uint32(c) }

func fold(h uint32) uint32 { return (h * 0x9e3779b1) >> (32 - vocabBits) }

// lowerTab maps an ASCII letter to its lower case, other ASCII bytes to 0
// and bytes ≥ 0x80 (multi-byte runes) to 1.
var lowerTab = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byte(c)
		t[c-'a'+'A'] = byte(c)
	}
	for c := 0x80; c < 256; c++ {
		t[c] = 1
	}
	return t
}()

// bucketOf returns the vocabulary bucket of an already lower-cased word.
func bucketOf(w string) uint32 {
	h := uint32(0)
	for i := 0; i < len(w); i++ {
		h = mixByte(h, w[i])
	}
	return fold(h)
}

// textStats accumulates the statistics of one text in a single pass.
type textStats struct {
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
	scorerWords                                  int        // words of class cScorer
	segStart, segWords0, segHard                 int        // the current segment (guard.go): start, words before it, gHard words
	segClass                                     uint8      // its guard words' classes
	lastHigh                                     int        // 1 + the offset of the last byte ≥ 0x80 seen (0: none)
	drops                                        guardDrops // segments aimed at the scorer
	dom                                          *domainModel
	domBk                                        [domainMaxWords]uint32
	domN                                         int
	seen                                         [vocabSize / 64]uint64
	numSeen                                      [4]uint64
	vocab                                        []float32 // nil: no vocabulary model
	// buckets, when non-nil, receives each distinct non-scorer bucket (training).
	buckets *[]uint32
}

// Byte classes of the scan: scanClass maps every byte to the branch of scan
// that handles it, so the hot loop dispatches with one table read.
const (
	bcOther   uint8 = iota // ASCII with no role of its own: text on the line
	bcLetter               // A–Z, a–z: starts a word
	bcDigit                // 0–9: starts a number
	bcBlank                // ' ', '\t', '\r': may indent a line
	bcNewline              // '\n'
	bcHigh                 // ≥ 0x80: a multi-byte rune (or invalid UTF-8)
	bcPunct                // ASCII punctuation some feature counts
)

var scanClass = func() (t [256]uint8) {
	for c := 0x80; c < 256; c++ {
		t[c] = bcHigh
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = bcLetter
		t[c-'a'+'A'] = bcLetter
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = bcDigit
	}
	t[' '], t['\t'], t['\r'] = bcBlank, bcBlank, bcBlank
	t['\n'] = bcNewline
	for _, c := range []byte("+*=<>/-$%^\\{};`?.!()[]") {
		t[c] = bcPunct
	}
	return t
}()

// Numbers are told apart by the low byte of their FNV-1a hash, which
// depends only on the low bytes of the offset and the prime.
const (
	fnvOffset8 = uint8(fnvOffset & 0xff)
	fnvPrime8  = uint8(fnvPrime & 0xff)
)

func isDigit(c byte) bool { return c-'0' <= 9 }

// scan reads s once. vocab may be nil (no vocabulary model).
//
// scan is the scorer's hot loop and stays one function on purpose: the
// word branch (hashing 8 letters at a time and the inlined word count) runs
// for most bytes of a prompt, and keeping it, the line state (lineStart,
// lineHasText) and prev in one frame lets them live in registers rather
// than in st. The rarer branches are already methods (newWord, guardHit,
// punct, scanRune, segEnd); what is left is the byte dispatch itself.
func (st *textStats) scan(s string, vocab []float32) {
	st.vocab = vocab
	lineStart := true
	lineHasText := false
	var prev byte = '\n'
	for i := 0; i < len(s); {
		c := s[i]
		k := scanClass[c]
		if k == bcLetter {
			if lineStart {
				if i+1 < len(s) && (s[i+1] == '.' || s[i+1] == ')') && (i+2 >= len(s) || s[i+2] == ' ') && (c|0x20) >= 'a' && (c|0x20) <= 'e' {
					st.choices++
				}
				lineStart = false
			}
			lineHasText = true
			// The ASCII letters of the word, lower-cased: 8 at a time
			// while 8 bytes remain, then one at a time. end is the byte
			// after them (0 at the end of s).
			capital := int(c>>5&1 ^ 1) // A–Z have bit 5 clear
			h := uint32(0)
			j := i
			var end byte
			for {
				if j+8 > len(s) {
					for j < len(s) {
						l := lowerTab[s[j]]
						if l <= 1 {
							end = s[j]
							break
						}
						h = mixByte(h, l)
						j++
					}
					break
				}
				x := load64(s, j)
				n := asciiLetters8(x)
				if n < 8 {
					h = bits.RotateLeft32(h, 5*n) ^ hashLetters(x, n)
					j += n
					end = byte(x >> (8 * uint(n) & 63))
					break
				}
				h = bits.RotateLeft32(h, 8) ^ hashLetters8(x)
				j += 8
			}
			n := j - i
			if end >= utf8.RuneSelf {
				st.lastHigh = j + 1
				h, n, j = wordTail(s, j, h, n)
				end = 0
				if j < len(s) {
					end = s[j]
				}
			}
			// st.word, inlined: most words are repeats.
			b := fold(h)
			cls := wordClass[b]
			if !st.started {
				st.started = true
				st.firstClass = cls
			}
			if cls&cScorer == 0 {
				st.words++
				st.capWords += capital
				st.letters += min(n, 12)
				if st.seen[b>>6]&(1<<(b&63)) == 0 {
					st.newWord(b, n, cls)
				}
			} else {
				st.scorerWords++
			}
			if guardMark[b>>6]&(1<<(b&63)) != 0 {
				st.guardHit(h, b)
			}
			// A blank after a word needs no more than this.
			prev = 'a'
			if end == ' ' {
				prev = ' '
				j++
			}
			i = j
			continue
		}
		switch k {
		case bcBlank:
			if lineStart && (c == '\t' || i+1 < len(s) && s[i+1] == ' ') && i+2 < len(s) && s[i+2] != ' ' && s[i+2] != '\n' {
				// An indented line (tab or ≥ 2 spaces) reads as code or a list.
				st.code++
				lineStart = false
			}
			prev = c
			i++
		case bcDigit:
			lineStart, lineHasText = false, true
			h := fnvOffset8
			for i < len(s) {
				c = s[i]
				if isDigit(c) || (c == '.' || c == ',') && i+1 < len(s) && isDigit(s[i+1]) {
					h = (h ^ c) * fnvPrime8
					i++
					continue
				}
				break
			}
			st.numbers++
			if st.numSeen[h>>6]&(1<<(h&63)) == 0 {
				st.numSeen[h>>6] |= 1 << (h & 63)
				st.distinctNums++
			}
			prev = '0'
		case bcNewline:
			if lineHasText {
				st.lines++
			}
			st.segEnd(s, i+1)
			lineStart, lineHasText = true, false
			prev = c
			i++
		case bcPunct:
			lineStart, lineHasText = false, true
			st.punct(s, i, prev)
			prev = c
			i++
		case bcOther:
			lineStart, lineHasText = false, true
			prev = c
			i++
		default: // bcHigh
			lineStart, lineHasText = false, true
			st.lastHigh = i + 1
			i, prev = st.scanRune(s, i)
		}
	}
	if lineHasText {
		st.lines++
	}
	st.segEnd(s, len(s))
}

// punct counts the ASCII punctuation s[i]; prev is the byte before it as
// scan sees it.
func (st *textStats) punct(s string, i int, prev byte) {
	switch c := s[i]; c {
	case '+', '*', '=':
		st.ops++
	case '<':
		st.ops++
		st.segEnd(s, i)
	case '>':
		st.ops++
		st.segEnd(s, i+1)
	case '(', '[':
		st.segEnd(s, i)
	case ')', ']':
		st.segEnd(s, i+1)
	case '/':
		if prev == '0' || prev == ' ' {
			st.ops++
		}
	case '-':
		if prev == '0' || prev == ' ' && i+1 < len(s) && (s[i+1] == ' ' || isDigit(s[i+1])) {
			st.ops++
		}
	case '$', '%':
		st.money++
	case '^', '\\':
		st.math++
	case '{', '}', ';':
		st.code++
		if c == '{' {
			st.segEnd(s, i)
		} else if c == '}' {
			st.segEnd(s, i+1)
		}
	case '`':
		st.code++
		if i+2 < len(s) && s[i+1] == '`' && s[i+2] == '`' {
			st.fence = 1
		}
	case '?':
		st.questions++
		st.sentences++
		if guardSepAfter(s, i) {
			st.segEnd(s, i+1)
		}
	case '.', '!':
		if guardSepAfter(s, i) {
			st.sentences++
			st.segEnd(s, i+1)
		}
	}
}

// load64 reads s[i:i+8] as a little-endian word; i+8 ≤ len(s).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

const (
	ones8 = 0x0101010101010101
	high8 = 0x8080808080808080
)

// asciiLetters8 returns how many of the bytes of x, from the lowest, are
// ASCII letters before the first byte that is not (8: all are).
func asciiLetters8(x uint64) int {
	// A byte is a letter when it is < 0x80 and, with the case bit set, in
	// 0x61..0x7a. The sums carry out of a byte only from bytes ≥ 0x80,
	// which are not letters: the bytes below the first non-letter are
	// judged correctly.
	z := x | 0x20*ones8
	lt := ^(z + (0x80-0x61)*ones8) // high bit: z < 0x61
	gt := z + (0x80-0x7b)*ones8    // high bit: z > 0x7a
	return bits.TrailingZeros64((lt|gt|x)&high8) >> 3
}

// Lower-cased ASCII letters are 0x60 | x with x = c & 0x1f, so the
// rotate-xor chain of a run of them splits into a constant part (letterC)
// and the chain of their 5-bit codes, which do not overlap when rotated by
// multiples of 5: the chain of 8 codes is a 40-bit number built in three
// shift-or steps, folded to 32 bits.

// letterC[k] is the chain of k bytes 0x60.
var letterC = func() (t [9]uint32) {
	h := uint32(0)
	for k := 1; k <= 8; k++ {
		h = mixByte(h, 0x60)
		t[k] = h
	}
	return t
}()

// chain40 returns the chain of the 8 byte codes of x (each < 32), the
// first byte rotated by 35, without the reduction to 32 bits.
func chain40(x uint64) uint64 {
	p := (x&0x001f001f001f001f)<<5 | (x>>8)&0x001f001f001f001f
	q := (p&0x000003ff000003ff)<<10 | (p>>16)&0x000003ff000003ff
	return (q&0xfffff)<<20 | q>>32
}

// hashLetters8 is the chain of the 8 ASCII letters of x, lower-cased.
func hashLetters8(x uint64) uint32 {
	t := chain40(x & (0x1f * ones8))
	return letterC[8] ^ uint32(t) ^ uint32(t>>32)
}

// hashLetters is the chain of the first k < 8 bytes of x, ASCII letters,
// lower-cased. Shifting them to the top drops the bytes after them and
// gives each its rotation in a chain of k.
func hashLetters(x uint64, k int) uint32 {
	if k == 0 {
		return 0
	}
	t := chain40(x << ((64 - 8*uint(k)) & 63) & (0x1f * ones8))
	return letterC[k&7] ^ uint32(t) ^ uint32(t>>32)
}

// wordTail continues a word at s[i], a byte ≥ 0x80, after its ASCII start:
// letters of any script extend it (ASCII ones lower-cased, others hashed as
// their UTF-8 bytes). It returns the hash, the letter count and the index
// after the word.
func wordTail(s string, i int, h uint32, n int) (uint32, int, int) {
	for i < len(s) {
		l := lowerTab[s[i]]
		if l > 1 {
			h = mixByte(h, l)
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
			h = mixByte(h, s[i+k])
		}
		i += sz
		n++
	}
	return h, n, i
}

// scanRune handles the multi-byte rune (or invalid byte) at s[i]: a word
// in another script, or a math symbol. It returns the index after it and
// the byte scan treats as the previous one.
func (st *textStats) scanRune(s string, i int) (int, byte) {
	r, sz := utf8.DecodeRuneInString(s[i:])
	if unicode.IsLetter(r) {
		if unicode.Is(unicode.Greek, r) {
			st.math++
		}
		// A word in another script: hash it like an ASCII word. ASCII
		// letters inside it are hashed as they are, and its capital flag
		// is that of the rune that ends it (as the weights were trained).
		h := uint32(0)
		n := 0
		for i < len(s) {
			r, sz = utf8.DecodeRuneInString(s[i:])
			if !unicode.IsLetter(r) {
				break
			}
			for k := 0; k < sz; k++ {
				h = mixByte(h, s[i+k])
			}
			i += sz
			n++
		}
		st.word(fold(h), n, unicode.IsUpper(r))
		return i, 'a'
	}
	if r >= 0x2200 && r <= 0x22FF || r == '×' || r == '÷' || r == '±' || r == '√' {
		st.math++
	}
	return i + sz, 'x'
}

// word counts one word of bucket b with n letters.
func (st *textStats) word(b uint32, n int, capital bool) {
	cls := wordClass[b]
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
	st.letters += min(n, 12)
	if st.seen[b>>6]&(1<<(b&63)) != 0 {
		return
	}
	st.newWord(b, n, cls)
}

// newWord counts the first occurrence of a word of bucket b and class cls.
func (st *textStats) newWord(b uint32, n int, cls uint8) {
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
	if st.dom != nil && cls&cStop == 0 && st.domN < domainMaxWords && st.dom.known(b) {
		st.domBk[st.domN] = b
		st.domN++
	}
	if st.vocab != nil {
		if v := st.vocab[b]; v != 0 {
			st.domainSum += float64(v)
			st.domainKnown++
		}
	}
	if st.buckets != nil {
		*st.buckets = append(*st.buckets, b)
	}
}

func logCap(n, limit int) float64 {
	if n > limit {
		n = limit
	}
	if uint(n) < uint(len(log1pTab)) {
		return log1pTab[n]
	}
	return math.Log1p(float64(n))
}

// log1pTab[n] is math.Log1p(float64(n)): most counts are small integers,
// and a table read gives the very same float.
var log1pTab = func() (t [256]float64) {
	for n := range t {
		t[n] = math.Log1p(float64(n))
	}
	return t
}()

// log1p is math.Log1p(x), from log1pTab when x is a small integer.
func log1p(x float64) float64 {
	if n := int(x); float64(n) == x && uint(n) < uint(len(log1pTab)) {
		return log1pTab[n]
	}
	return math.Log1p(x)
}

// focusIndex is the message the features describe: the last user message,
// else the last message.
func focusIndex(msgs []Message) int {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == RoleHuman || msgs[i].Role == RoleGeneric {
			return i
		}
	}
	return len(msgs) - 1
}

// extract computes the features of req into f using vocab and dom (either
// may be nil). If buckets is non-nil it receives the distinct vocabulary
// buckets of the focus message. It reports whether the focus message may
// hold segments addressed to the scorer (guardStrip).
func extract(req *Request, vocab []float32, dom *domainModel, f *[numFeatures]float64, buckets *[]uint32) {
	extractFocus(req, nil, vocab, dom, f, buckets, nil)
}

// extractFocus is extract with the focus message's text replaced by *focus
// when focus is non-nil. If drops is non-nil it receives the segments of the
// focus text aimed at the scorer (guard.go).
func extractFocus(req *Request, focus *string, vocab []float32, dom *domainModel, f *[numFeatures]float64, buckets *[]uint32, drops *guardDrops) {
	var st textStats
	st.buckets = buckets
	st.dom = dom
	conv := st.scanConversation(req, focus, vocab)
	*f = [numFeatures]float64{}
	st.textFeatures(f)
	conv.features(f, req)
	if drops != nil {
		*drops = st.drops
	}
}

// conversation is what the features read of the messages other than the
// focus: their sizes in bytes and the turns among them.
type conversation struct {
	history, system, turns int
}

// scanConversation scans the focus message (focus, when non-nil, stands in
// for its text) into st and measures the other messages.
func (st *textStats) scanConversation(req *Request, focus *string, vocab []float32) conversation {
	var c conversation
	fi := focusIndex(req.Messages)
	for i, m := range req.Messages {
		switch {
		case i == fi:
			if focus != nil {
				st.scan(*focus, vocab)
			} else {
				st.scan(m.Text, vocab)
			}
		case m.Role == RoleSystem:
			c.system += len(m.Text)
		default:
			c.history += len(m.Text)
			if m.Role == RoleHuman || m.Role == RoleAI || m.Role == RoleGeneric {
				c.turns++
			}
		}
	}
	return c
}

// textFeatures sets the features of the focus message from its statistics.
func (st *textStats) textFeatures(f *[numFeatures]float64) {
	f[fLogWords] = logCap(st.content, 2000)
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
	if st.dom != nil {
		f[fDomainGap] = st.dom.expectedGap(st.domBk[:st.domN])
	}
	st.countFeatures(f)
	if st.choices >= 2 {
		f[fChoices] = 1
	}
	for k := 0; k < 4; k++ {
		f[fCueSteps+k] = logCap(st.cue[k], 10)
	}
	if st.firstClass&cFactualStart != 0 {
		f[fStartsFactual] = 1
	}
	if st.firstClass&cReasonStart != 0 {
		f[fStartsReason] = 1
	}
}

// countFeatures sets the count features of the focus message. Repetition
// does not count: every count is scaled by the share of distinct words, so a
// message repeated 50 times, or padded with the same filler, has about the
// counts of the original.
func (st *textStats) countFeatures(f *[numFeatures]float64) {
	r := 1.0
	if st.words > 0 {
		r = float64(st.distinct) / float64(st.words)
	}
	eff := func(n, limit int) float64 {
		x := float64(n)
		if x > 1 {
			x = 1 + (x-1)*r
		}
		return log1p(math.Min(x, float64(limit)))
	}
	f[fLogNumbers] = eff(st.numbers, 200)
	f[fLogDistinctNums] = logCap(st.distinctNums, 200)
	f[fLogOps] = eff(st.ops, 200)
	f[fLogMoney] = eff(st.money, 50)
	f[fLogMath] = eff(st.math, 100)
	f[fLogCode] = eff(st.code, 200)
	f[fCodeFence] = float64(st.fence)
	f[fLogLines] = eff(st.lines, 200)
	f[fLogSentences] = eff(st.sentences, 100)
	f[fLogQuestions] = eff(st.questions, 20)
}

// features sets the features of the conversation around the focus message.
func (c conversation) features(f *[numFeatures]float64, req *Request) {
	f[fLogHistory] = logCap(c.history/4, 100000)
	f[fLogTurns] = logCap(c.turns, 100)
	f[fLogSystem] = logCap(c.system/4, 100000)
	f[fLogTools] = logCap(len(req.Tools), 100)
	f[fLogToolCalls] = logCap(max(req.ToolCalls, 0), 100)
	f[fLogAttachments] = logCap(max(req.Attachments, 0), 100)
}
