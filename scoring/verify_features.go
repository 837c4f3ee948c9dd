package scoring

import (
	"bytes"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"unicode/utf8"
)

// Answer feature indices. Each feature reads a checkable fact of the answer
// (with the question's numbers), not its style: a final answer in any
// marker style, arithmetic in any common notation. All are bounded.
const (
	vNoFinal          = iota // 1 if no final answer is found
	vNotMarked               // 1 if the final answer has no explicit marker
	vFinalNotNumber          // 1 if the question has numbers and the final answer is not one
	vFinalFraction           // 1 if the final answer is not an integer, and every question number is or the question asks "how many"
	vFinalNotLast            // 1 if the final answer differs from the last computed value
	vLogFalse                // log1p(false equations)
	vFalseShare              // false equations / equations
	vUnused                  // share of the question's distinct numbers the answer never writes
	vLogSteps                // log1p(true equations), capped at 16
	vLogHedge                // log1p(distinct hedging words)
	vLogBacktrack            // log1p(distinct backtracking words)
	vRepeat                  // share of the answer's lines that repeat an earlier line
	vLogLength               // log1p(bytes / 100), bytes capped at 64 KiB
	vAbrupt                  // 1 if the answer has no marked final answer and its last line ends mid-sentence
	vLogNewOperands          // log1p(operands neither the question's, nor written in an earlier equation, nor a common constant), capped at 16
	vLogUnusedResults        // log1p(distinct results of equations, the last aside, that no later equation uses)
	numVerifyFeatures
)

// verifyFeatureNames names the features in weights files, in index order.
var verifyFeatureNames = [numVerifyFeatures]string{
	"no_final", "not_marked", "final_not_number", "final_fraction", "final_not_last",
	"log_false_equations", "false_share", "unused_question_numbers", "log_steps",
	"log_hedge", "log_backtrack", "repeat_share", "log_length", "abrupt_end",
	"log_new_operands", "log_unused_results",
}

// Hard checks: facts that set a floor under the doubt whatever the rest of
// the answer says.
type hardChecks struct {
	empty     bool // no text and no tool call
	truncated bool // the finish reason says the output limit cut it
	refusal   bool // the answer opens with a refusal
	badJSON   bool // JSON was asked for and the text does not parse
	badTool   bool // a tool call names no offered tool, or its arguments do not parse or fit the schema
	falseEq   bool // at least one false equation
	claims    bool // the answer asserts its own correctness (see claimWords)
}

// Verifier word classes (bit set per vocabulary bucket).
const (
	vwHedge uint8 = 1 << iota
	vwBacktrack
	vwClaim
	vwNumber // number words of a question, see numberWords
)

var verifyWords = []struct {
	class uint8
	words []string
}{
	{vwHedge, []string{"approximately", "approx", "roughly", "about", "probably", "maybe", "perhaps",
		"assume", "assuming", "assumption", "likely", "unclear", "ambiguous", "estimate", "guess",
		"unsure", "round", "rounded", "rounding", "cannot", "can't", "impossible", "unknown"}},
	{vwBacktrack, []string{"wait", "actually", "mistake", "oops", "correction", "corrected",
		"incorrect", "wrong", "apologize", "apologies", "recalculate", "reconsider", "however",
		"instead", "error", "mistaken", "misread", "revisit"}},
	// Words with which an answer vouches for itself. They feed no feature:
	// sentences carrying them are removed and the answer judged again, and
	// the higher doubt kept, so vouching can never lower a doubt.
	{vwClaim, []string{"verified", "verify", "verifying", "correct", "correctly", "confidence",
		"confident", "certain", "certainly", "sure", "guaranteed", "guarantee", "definitely",
		"checked", "check", "double", "accurate", "accurately", "trust", "reviewed",
		"validated", "proven", "undoubtedly", "absolutely", "right"}},
}

// claimWords are the words of class vwClaim.
var claimWords = func() []string {
	for _, vw := range verifyWords {
		if vw.class == vwClaim {
			return vw.words
		}
	}
	panic("scoring: no claim words")
}()

// isClaimWord reports whether w is one of claimWords, in any case: a word
// whose bucket holds a claim word may be another that shares it ("dropped"
// shares one), and vouching must not be read where there is none.
func isClaimWord(w string) bool {
	for _, c := range claimWords {
		if equalFold(w, c) {
			return true
		}
	}
	return false
}

// numberWords are the number words of a question and the value an answer
// writes for them.
var numberWords = map[string]float64{
	"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
	"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
	"fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
	"nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
	"seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
	"dozen": 12, "half": 2, "twice": 2, "double": 2, "triple": 3, "quarter": 4,
}

// verifyClass maps a vocabulary bucket to its verifier word classes.
var verifyClass [vocabSize]uint8

// classGroups has a bit for each group of 16 buckets, set when one of them
// has a class: 512 bytes that stay in the cache, read before the 64 KiB
// table, which most words (no class) then never touch.
var classGroups [vocabSize / 16 / 64]uint64

// verifyClassOf returns the verifier word classes of bucket b.
func verifyClassOf(b uint32) uint8 {
	g := b >> 4
	if classGroups[g>>6]&(1<<(g&63)) == 0 {
		return 0
	}
	return verifyClass[b]
}

func init() {
	set := func(b uint32, class uint8) {
		verifyClass[b] |= class
		classGroups[b>>10] |= 1 << ((b >> 4) & 63)
	}
	for _, vw := range verifyWords {
		for _, w := range vw.words {
			set(bucketOf(w), vw.class)
		}
	}
	for w := range numberWords {
		set(bucketOf(w), vwNumber)
	}
}

// refusals open an answer that declines the task.
var refusals = [...]string{"i cannot", "i can't", "i can not", "i'm unable", "i am unable",
	"as an ai", "i'm sorry, but", "i am sorry, but", "i won't", "i will not", "i'm not able", "i am not able"}

// refuses reports whether the first 120 bytes of text hold a refusal.
func refuses(text string) bool {
	var buf [120]byte
	n := copy(buf[:], text)
	for i := range n {
		buf[i] = lowerASCII(buf[i])
	}
	// One pass: a refusal can only start where its first letter is.
	for k := range n {
		for _, r := range refusalsFrom[buf[k]] {
			if bytes.HasPrefix(buf[k:n], r) {
				return true
			}
		}
	}
	return false
}

// refusalsFrom are the refusals by their first byte.
var refusalsFrom = func() (t [256][][]byte) {
	for _, r := range refusals {
		t[r[0]] = append(t[r[0]], []byte(r))
	}
	return t
}()

// Token kinds of the arithmetic scan.
const (
	tkNum   uint8 = iota
	tkOp          // + - * /
	tkLP          // (
	tkRP          // )
	tkEq          // =
	tkOpen        // <<
	tkClose       // >>
	tkBreak       // anything else: words, punctuation, line ends
)

type mtok struct {
	kind uint8
	op   byte
	pct  bool
	dec  int8
	val  float64
}

// maxTokens bounds the arithmetic tokens read from one answer.
const maxTokens = 4096

// scratch is the per-call working memory of the verifier, pooled.
type scratch struct {
	toks  []mtok
	qnums []float64 // distinct numbers of the question
	qidx  numSet    // qnums by value; val: the index in qnums
	qhit  []bool    // per qnums: the answer writes it (or it × 100)
	known numSet    // qnums and the numbers of the equations checked so far; val: the index of the step whose result it is, else -1
	steps []step    // results of the equations checked so far
	lines numSet    // hashes of the answer's lines (numSet.addKey)
	stack []float64
	ops   []byte
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{toks: make([]mtok, maxTokens), qnums: make([]float64, 0, 64),
		stack: make([]float64, 0, 16), ops: make([]byte, 0, 16),
		steps: make([]step, 0, 32)}
}}

// wrote notes that the answer writes v: a question number v, or v / 100
// (a percentage written both ways), is used.
func (sc *scratch) wrote(v float64) {
	if len(sc.qhit) == 0 {
		return
	}
	if i, ok := sc.qidx.find(v); ok {
		sc.qhit[i] = true
	}
	if i, ok := sc.qidx.find(v / 100); ok {
		sc.qhit[i] = true
	}
}

// answerFacts are the features and hard checks of one answer.
type answerFacts struct {
	f    [numVerifyFeatures]float64
	hard hardChecks
}

// questionNumbers collects the distinct numbers of the last user message:
// numerals, and number words as the value an answer would write.
func questionNumbers(req *Request, out []float64) (nums []float64, allInt, count bool) {
	q := ""
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == RoleHuman || req.Messages[i].Role == RoleGeneric {
			q = req.Messages[i].Text
			break
		}
	}
	if len(q) > answerWindow {
		q = q[:answerWindow]
	}
	allInt = true
	count = lastIndexFold(q, "how many") >= 0
	for i := 0; i < len(q) && len(out) < 64; {
		c := q[i]
		switch {
		case isDigit(c) && (i == 0 || lowerTab[q[i-1]] <= 1 && !isDigit(q[i-1]) && q[i-1] != '.'):
			nt, ok := readNumber(q, i)
			if !ok {
				i++
				continue
			}
			v := nt.value
			if v != math.Trunc(v) {
				allInt = false
			}
			out = addDistinct(out, v)
			if nt.percent {
				out = addDistinct(out, v/100)
			}
			i = nt.end
		case lowerTab[c] > 1:
			j := i
			h := uint32(0)
			for j < len(q) && lowerTab[q[j]] > 1 {
				h = mixByte(h, lowerTab[q[j]])
				j++
			}
			if verifyClassOf(fold(h))&vwNumber != 0 {
				if v, ok := numberWords[strings.ToLower(q[i:j])]; ok {
					out = addDistinct(out, v)
				}
			}
			i = j
		default:
			i++
		}
	}
	return out, allInt, count
}

func addDistinct(s []float64, v float64) []float64 {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// answerFactsOf reads the features and hard checks of a against req.
func answerFactsOf(req *Request, a *Answer, sc *scratch) answerFacts {
	var af answerFacts
	text := a.Text
	if len(text) > answerWindow {
		text = text[len(text)-answerWindow:]
	}
	af.hard.truncated = truncated(a.FinishReason)
	af.hard.badTool = badToolCalls(req, a.ToolCalls)
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		af.hard.empty = len(a.ToolCalls) == 0
		af.f[vNoFinal], af.f[vNotMarked] = 1, 1
		return af
	}
	if req.JSONMode && len(a.ToolCalls) == 0 {
		af.hard.badJSON = !validJSONAnswer(trimmed)
	}
	af.hard.refusal = refuses(trimmed)

	qnums, qInt, qCount := questionNumbers(req, sc.qnums[:0])
	sc.qnums = qnums
	nq := len(qnums)
	sc.qidx.reset()
	sc.qhit = sc.qhit[:0]
	for i, v := range qnums {
		sc.qidx.add(v, int32(i))
		sc.qhit = append(sc.qhit, false)
	}
	eq := scanAnswer(text, sc, &af)
	unused := 0
	for _, hit := range sc.qhit {
		if !hit {
			unused++
		}
	}
	if nq > 0 {
		af.f[vUnused] = float64(unused) / float64(nq)
	}

	fa := extractFinal(text)
	af.f[vNoFinal] = b2f(fa.kind == markNone)
	af.f[vNotMarked] = b2f(fa.kind != markExplicit)
	if fa.kind != markNone {
		fv, num := finalValue(fa.raw)
		af.f[vFinalNotNumber] = b2f(nq > 0 && !num)
		af.f[vFinalFraction] = b2f(num && (qInt && nq > 0 || qCount) && fv != math.Trunc(fv))
		af.f[vFinalNotLast] = b2f(num && eq.n > 0 && !sameValue(fv, eq.last))
	}
	if fa.kind != markExplicit {
		af.f[vAbrupt] = b2f(endsMidSentence(trimmed))
	}
	af.f[vLogFalse] = math.Log1p(float64(eq.false))
	af.f[vLogNewOperands] = math.Log1p(float64(min(eq.newOperands, 16)))
	af.f[vLogUnusedResults] = math.Log1p(float64(eq.unusedResults))
	if eq.n > 0 {
		af.f[vFalseShare] = float64(eq.false) / float64(eq.n)
	}
	af.f[vLogSteps] = math.Log1p(float64(min(eq.n-eq.false, 16)))
	af.f[vLogLength] = math.Log1p(float64(len(text)) / 100)
	af.hard.falseEq = eq.false > 0
	return af
}

// finalValue reads a final answer as a number.
func finalValue(raw string) (float64, bool) {
	s := stripMarkup(strings.TrimSpace(raw))
	if _, ok := optionLetter(s); ok {
		return 0, false
	}
	if i := strings.LastIndexByte(s, '='); i >= 0 && hasDigit(s[i+1:]) {
		s = s[i+1:]
	}
	return leadingValue(s)
}

// sameValue reports whether two computed values are equal up to float error.
func sameValue(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b))
}

// endsMidSentence reports whether text stops without closing its sentence:
// its last character is a letter, a digit or a joining mark.
func endsMidSentence(text string) bool {
	r, _ := utf8.DecodeLastRuneInString(text)
	switch {
	case r < utf8.RuneSelf && (lowerTab[byte(r)] > 1 || isDigit(byte(r))):
		return true
	case r == ',' || r == '+' || r == '-' || r == '*' || r == '/' || r == '=' || r == '(' || r == '$' || r == '<':
		return true
	}
	return false
}

// equations summarizes the equations of an answer.
type equations struct {
	n, false int
	last     float64 // right-hand side of the last equation
	// newOperands counts the operands the derivation brings in (see
	// follow), unusedResults the results no later equation uses.
	newOperands, unusedResults int
}

// step is the result of one checked equation: its value and the index of
// the first equation that gave it, and the index of the last equation
// that used it as an operand (-1: none).
type step struct {
	val        float64
	at, usedAt int
}

// scanAnswer reads text once: it notes which question numbers it writes,
// counts hedging and backtracking words and notes self-vouching, counts
// repeated lines, and tokenizes the arithmetic, which it then checks.
func scanAnswer(text string, sc *scratch, af *answerFacts) equations {
	s := answerScan{text: text, sc: sc, toks: sc.toks[:maxTokens]}
	sc.lines.reset()
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ': // the most common byte: nothing to do
			i++
		case c == '\n':
			s.endLine(i)
			s.push(tkBreak, 0)
			i++
		case isDigit(c) || c == '.' && i+1 < len(text) && isDigit(text[i+1]) && (i == 0 || !isDigit(text[i-1])):
			i = s.number(i)
		case lowerTab[c] > 1:
			i = s.word(i)
		case c >= utf8.RuneSelf:
			i = s.rune(i)
		default:
			i = s.symbol(i)
		}
	}
	s.endLine(len(text))
	s.push(tkBreak, 0)
	af.f[vLogHedge] = math.Log1p(float64(s.nh))
	af.f[vLogBacktrack] = math.Log1p(float64(s.nb))
	if s.nlines > 0 {
		af.f[vRepeat] = float64(s.repeats) / float64(s.nlines)
	}
	af.hard.claims = s.claims
	return checkEquations(s.toks[:s.nt], sc)
}

// answerScan is the state of scanAnswer. Each method reads one token at
// text[i] and returns the offset after it.
type answerScan struct {
	text            string
	sc              *scratch
	toks            []mtok // maxTokens long; the first nt are the tokens
	nt              int
	lineStart       int
	nlines, repeats int
	hedge, back     [4]uint32 // distinct buckets seen, up to 4 each
	nh, nb          int
	claims          bool
}

func (s *answerScan) push(kind, op byte) { s.add(mtok{kind: kind, op: op}) }

// add appends t to the tokens, merging runs of breaks, up to maxTokens.
func (s *answerScan) add(t mtok) {
	if s.nt >= len(s.toks) || t.kind == tkBreak && s.nt > 0 && s.toks[s.nt-1].kind == tkBreak {
		return
	}
	s.toks[s.nt] = t
	s.nt++
}

// endLine counts the line ending at end, and whether it repeats an earlier
// one (lines under 8 bytes do not count).
func (s *answerScan) endLine(end int) {
	line := strings.TrimSpace(s.text[s.lineStart:end])
	s.lineStart = end + 1
	if len(line) < 8 {
		return
	}
	s.nlines++
	h := maphash.String(lineSeed, line)
	if s.sc.lines.hasKey(h) {
		s.repeats++
		return
	}
	s.sc.lines.addKey(h, 0) // the first numSetSlots/4 distinct lines
}

// number reads a number; digits inside a word ("h2o") are part of it.
func (s *answerScan) number(i int) int {
	text := s.text
	if i > 0 && lowerTab[text[i-1]] > 1 { // "x2", "h2o": part of a word
		j := i
		for j < len(text) && (isDigit(text[j]) || lowerTab[text[j]] > 1) {
			j++
		}
		s.push(tkBreak, 0)
		return max(j, i+1)
	}
	nt, ok := readNumber(text, i)
	if !ok {
		j := i
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		s.push(tkBreak, 0)
		return max(j, i+1)
	}
	s.sc.wrote(nt.value)
	s.add(mtok{kind: tkNum, val: nt.value, pct: nt.percent, dec: int8(min(nt.decimals, 20))})
	if j := nt.end; j < len(text) && lowerTab[text[j]] > 1 && text[j] != 'x' && text[j] != 'X' { // "3rd", "10am"
		s.push(tkBreak, 0)
	}
	return nt.end
}

// word reads a word: "x" alone is a multiplication; other words break an
// expression and may hedge, backtrack or vouch.
func (s *answerScan) word(i int) int {
	text := s.text
	j := i
	h := uint32(0)
	for j < len(text) {
		c := wordTab[text[j]]
		if c == 0 {
			break
		}
		h = mixByte(h, c)
		j++
	}
	if j-i == 1 && (text[i] == 'x' || text[i] == 'X') {
		s.push(tkOp, '*')
		return j
	}
	b := fold(h)
	cls := verifyClassOf(b)
	if cls == 0 { // most words: no class
		s.push(tkBreak, 0)
		return j
	}
	if cls&vwHedge != 0 && s.nh < len(s.hedge) && !seenBucket(s.hedge[:s.nh], b) {
		s.hedge[s.nh] = b
		s.nh++
	}
	if cls&vwBacktrack != 0 && s.nb < len(s.back) && !seenBucket(s.back[:s.nb], b) {
		s.back[s.nb] = b
		s.nb++
	}
	if cls&vwClaim != 0 && isClaimWord(text[i:j]) {
		s.claims = true
	}
	s.push(tkBreak, 0)
	return j
}

// wordTab maps the bytes of a word to what its hash mixes (a letter to its
// lower case, the apostrophe to itself), every other byte to 0.
var wordTab = func() (t [256]byte) {
	for c := range 256 {
		if lowerTab[c] > 1 {
			t[c] = lowerTab[c]
		}
	}
	t['\''] = '\''
	return t
}()

// rune reads a multi-byte rune: Unicode operators, currency signs (which
// an expression skips, like '$'), or a break.
func (s *answerScan) rune(i int) int {
	r, size := utf8.DecodeRuneInString(s.text[i:])
	switch r {
	case '×', '·', '⋅':
		s.push(tkOp, '*')
	case '÷':
		s.push(tkOp, '/')
	case '−':
		s.push(tkOp, '-')
	case '€', '£', '¥', '\u00a0':
	default:
		s.push(tkBreak, 0)
	}
	return i + size
}

// symbol reads one ASCII byte that is no letter, digit or line break.
func (s *answerScan) symbol(i int) int {
	text := s.text
	switch c := text[i]; {
	case c == '+' || c == '-' || c == '*' || c == '/':
		s.push(tkOp, c)
	case c == '(':
		s.push(tkLP, 0)
	case c == ')':
		s.push(tkRP, 0)
	case c == '=':
		s.push(tkEq, 0)
	case c == '<' && i+1 < len(text) && text[i+1] == '<':
		s.push(tkOpen, 0)
		return i + 2
	case c == '>' && i+1 < len(text) && text[i+1] == '>':
		s.push(tkClose, 0)
		return i + 2
	case c == ' ' || c == '\t' || c == '\r' || c == '$':
	default:
		s.push(tkBreak, 0)
	}
	return i + 1
}

// lineSeed hashes lines to find repeats within one answer.
var lineSeed = maphash.MakeSeed()

func seenBucket(s []uint32, b uint32) bool {
	for _, x := range s {
		if x == b {
			return true
		}
	}
	return false
}

func isExprTok(k uint8) bool { return k <= tkRP }

// checkEquations checks each "left = right" of toks where either side has
// an operator: "a op b = c" in any notation, including calculator
// annotations "<<a*b=c>>" (whose right side follows the annotation).
//
// It also follows the derivation (see follow): which operands are new to it
// and which results lead nowhere.
func checkEquations(toks []mtok, sc *scratch) equations {
	var eq equations
	sc.known.reset()
	for _, v := range sc.qnums {
		sc.known.add(v, -1)
	}
	sc.steps = sc.steps[:0]
	var prevL, prevR []mtok
	var prevOK, prevValid bool
	var prevRV float64
	for i, t := range toks {
		if t.kind != tkEq {
			continue
		}
		// Left: the longest expression ending just before '='.
		s := i
		for s > 0 && isExprTok(toks[s-1].kind) {
			s--
		}
		// Right: the expression after '=', past a calculator annotation.
		r := i + 1
		if r < len(toks) && toks[r].kind == tkOpen {
			for r < len(toks) && toks[r].kind != tkClose {
				r++
			}
			r++
		}
		e := r
		for e < len(toks) && isExprTok(toks[e].kind) {
			e++
		}
		left, right := trimExpr(toks[s:i]), trimExpr(toks[r:e])
		if len(left) == 0 || len(right) == 0 {
			continue
		}
		if !hasOp(left) && !hasOp(right) {
			continue
		}
		// A calculator annotation repeats the equation before it
		// ("9 * 2 = <<9*2=18>>18"): judged once.
		if !sameToks(left, prevL) || !sameToks(right, prevR) {
			prevL, prevR = left, right
			prevOK, prevRV, prevValid = sidesAgree(left, right, sc)
		}
		ok, rv, valid := prevOK, prevRV, prevValid
		if !valid {
			continue
		}
		eq.n++
		if !ok {
			eq.false++
		}
		eq.last = rv
		follow(&eq, left, right, rv, sc)
	}
	eq.unusedResults = unusedResults(sc.steps, eq.last)
	return eq
}

// follow records equation number eq.n-1 (left = right, of result rv) in the
// derivation: it counts its new operands (neither a number of the question,
// nor one written in an earlier equation, nor a common constant: a
// conversion, a restated given, or a number from nowhere), marks the
// earlier results it uses, and notes its numbers and result. A result
// (other than the last) that no later equation uses led nowhere: a worked
// answer that reaches its result from the givens has none. Fitted on
// RouteLLM's GSM8K answers, results leading nowhere raise the doubt and new
// operands lower it (correct answers convert and restate more), which is
// why their count is capped: like true steps, added work lowers a doubt
// only so far.
func follow(eq *equations, left, right []mtok, rv float64, sc *scratch) {
	at := eq.n - 1
	for _, x := range left {
		if x.kind != tkNum {
			continue
		}
		i, known := sc.known.find(x.val)
		switch {
		case !known:
			if !sc.known.has(x.val*100) && !commonConstant(x.val) {
				eq.newOperands++
			}
		case i >= 0 && sc.steps[i].at < at:
			sc.steps[i].usedAt = at
		}
	}
	if sc.known.result(rv, int32(len(sc.steps))) {
		sc.steps = append(sc.steps, step{val: rv, at: at, usedAt: -1})
	}
	// Its numbers are known from now on.
	for _, side := range [2][]mtok{left, right} {
		for _, x := range side {
			if x.kind == tkNum {
				sc.known.add(x.val, -1)
			}
		}
	}
}

// unusedResults counts the results no later equation used, the last
// result aside (it is the answer's).
func unusedResults(steps []step, last float64) int {
	n := 0
	for _, s := range steps {
		if s.usedAt < 0 && !sameValue(s.val, last) {
			n++
		}
	}
	return n
}

// commonConstant reports the numbers an answer may bring without the
// question giving them: small counts and the factors of common units
// (12 months or a dozen, 24 hours, 30 or 31 days, 52 weeks, 60 minutes,
// 100 percent or cents, 365 days, 1000).
func commonConstant(v float64) bool {
	switch v {
	case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 24, 30, 31, 52, 60, 100, 365, 1000:
		return true
	}
	return false
}

// sameToks reports whether two expressions are written alike.
func sameToks(a, b []mtok) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// trimExpr drops what cannot start or end an expression (a closing
// parenthesis or binary operator in front, an operator behind) and
// parentheses left unbalanced at the ends: "(9*2" → "9*2", "18)" → "18".
func trimExpr(t []mtok) []mtok {
	for len(t) > 0 && (t[0].kind == tkRP || t[0].kind == tkOp && t[0].op != '-') {
		t = t[1:]
	}
	for len(t) > 0 && t[len(t)-1].kind == tkOp {
		t = t[:len(t)-1]
	}
	depth := 0
	for _, x := range t {
		switch x.kind {
		case tkLP:
			depth++
		case tkRP:
			depth--
		}
	}
	for depth > 0 && len(t) > 0 && t[0].kind == tkLP {
		t = t[1:]
		depth--
	}
	for depth < 0 && len(t) > 0 && t[len(t)-1].kind == tkRP {
		t = t[:len(t)-1]
		depth++
	}
	return t
}

func hasPercent(t []mtok) bool {
	for _, x := range t {
		if x.pct {
			return true
		}
	}
	return false
}

func hasOp(t []mtok) bool {
	for i, x := range t {
		if x.kind == tkOp && i > 0 {
			return true
		}
	}
	return false
}

// sidesAgree evaluates both sides, reading percentages as hundredths or as
// plain numbers (writers use both), and reports whether any reading makes
// them equal, within the precision the written side shows. rv is the right
// side as written ("20%" is 20), as a final answer would be read.
func sidesAgree(left, right []mtok, sc *scratch) (ok bool, rv float64, valid bool) {
	var lv, rvs [2]float64
	var lok, rok [2]bool
	lv[0], lok[0] = evalExpr(left, true, sc)
	rvs[0], rok[0] = evalExpr(right, true, sc)
	lv[1], lok[1], rvs[1], rok[1] = lv[0], lok[0], rvs[0], rok[0]
	if hasPercent(left) {
		lv[1], lok[1] = evalExpr(left, false, sc)
	}
	if hasPercent(right) {
		rvs[1], rok[1] = evalExpr(right, false, sc)
	}
	if !lok[0] || !rok[0] {
		return false, 0, false
	}
	tol := func(side []mtok) float64 {
		if len(side) == 1 && side[0].dec > 0 {
			return 0.5*math.Pow(10, -float64(side[0].dec)) + 1e-9
		}
		return 0
	}
	tl, tr := tol(left), tol(right)
	for a := 0; a < 2; a++ {
		for b := 0; b < 2; b++ {
			if !lok[a] || !rok[b] {
				continue
			}
			d := math.Abs(lv[a] - rvs[b])
			if sameValue(lv[a], rvs[b]) || d <= max(tl, tr) {
				return true, rvs[1], true
			}
		}
	}
	return false, rvs[1], true
}

// evalExpr evaluates an arithmetic expression of tokens with the usual
// precedence, unary minus and parentheses; pct reads "a%" as a/100.
func evalExpr(t []mtok, pct bool, sc *scratch) (float64, bool) {
	if len(t) == 1 && t[0].kind == tkNum { // a lone number, the usual right side
		v := t[0].val
		if pct && t[0].pct {
			v /= 100
		}
		return v, true
	}
	e := exprStack{vals: sc.stack[:0], ops: sc.ops[:0]}
	v, ok := e.eval(t, pct)
	sc.stack, sc.ops = e.vals[:0], e.ops[:0]
	return v, ok
}

// exprStack holds the operand and operator stacks of a shunting-yard
// evaluation. Operators are '+', '-', '*', '/', 'n' (unary minus) and '('.
type exprStack struct {
	vals []float64
	ops  []byte
}

// opPrec is the precedence of an operator on the stack; '(' binds least.
func opPrec(op byte) int {
	switch op {
	case '+', '-':
		return 1
	case '*', '/':
		return 2
	case 'n': // unary minus
		return 3
	}
	return 0
}

// eval evaluates the tokens t on the stacks.
func (e *exprStack) eval(t []mtok, pct bool) (float64, bool) {
	expectOperand := true
	for _, x := range t {
		switch x.kind {
		case tkNum:
			if !expectOperand {
				return 0, false
			}
			v := x.val
			if pct && x.pct {
				v /= 100
			}
			e.vals = append(e.vals, v)
			expectOperand = false
		case tkOp:
			if expectOperand {
				if x.op != '-' {
					return 0, false
				}
				e.ops = append(e.ops, 'n')
				continue
			}
			if !e.reduce(opPrec(x.op)) {
				return 0, false
			}
			e.ops = append(e.ops, x.op)
			expectOperand = true
		case tkLP:
			if !expectOperand {
				return 0, false
			}
			e.ops = append(e.ops, '(')
		case tkRP:
			if expectOperand || !e.reduce(0) || len(e.ops) == 0 {
				return 0, false
			}
			e.ops = e.ops[:len(e.ops)-1] // the '('
		default:
			return 0, false
		}
	}
	if expectOperand || !e.reduce(0) || len(e.ops) > 0 {
		return 0, false
	}
	if len(e.vals) != 1 || math.IsNaN(e.vals[0]) || math.IsInf(e.vals[0], 0) {
		return 0, false
	}
	return e.vals[0], true
}

// reduce applies the operators on top of the stack down to a '(' or to one
// that binds less tightly than prec; false if one cannot be applied.
func (e *exprStack) reduce(prec int) bool {
	for len(e.ops) > 0 && e.ops[len(e.ops)-1] != '(' && opPrec(e.ops[len(e.ops)-1]) >= prec {
		if !e.apply() {
			return false
		}
	}
	return true
}

// apply pops the top operator and applies it to its operands; false if they
// are missing or it divides by zero.
func (e *exprStack) apply() bool {
	op := e.ops[len(e.ops)-1]
	e.ops = e.ops[:len(e.ops)-1]
	if op == 'n' {
		if len(e.vals) < 1 {
			return false
		}
		e.vals[len(e.vals)-1] = -e.vals[len(e.vals)-1]
		return true
	}
	if len(e.vals) < 2 {
		return false
	}
	a, b := e.vals[len(e.vals)-2], e.vals[len(e.vals)-1]
	e.vals = e.vals[:len(e.vals)-1]
	switch op {
	case '+':
		a += b
	case '-':
		a -= b
	case '*':
		a *= b
	case '/':
		if b == 0 {
			return false
		}
		a /= b
	}
	e.vals[len(e.vals)-1] = a
	return true
}
