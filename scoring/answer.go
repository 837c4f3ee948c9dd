package scoring

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// answerWindow bounds the part of an answer searched for its final answer:
// the last 64 KiB (a final answer comes at the end), so extraction takes
// bounded time on huge input.
const answerWindow = 64 << 10

// maxAnswerLen bounds a normalized short-text answer, in bytes.
const maxAnswerLen = 200

// markerKind is how a final answer was marked.
type markerKind uint8

const (
	markNone       markerKind = iota // no final answer
	markLastNumber                   // the last number of the last line with a digit
	markShortText                    // the whole (short) answer
	markExplicit                     // "####", \boxed{}, "The answer is", "Answer:", "A:", "Final answer"
)

// finalAnswer is the final answer found in a text.
type finalAnswer struct {
	raw  string // as written, after the marker
	pos  int    // offset of raw in the text
	kind markerKind
}

// markers are the final-answer markers, lower case; a line's rightmost
// marker wins, and the answer is the rest of its line.
var markers = [...]string{"####", "final answer", "the answer is", "answer is", "answer:", "\\boxed{"}

// FinalAnswer returns the normalized final answer of an answer text (see
// NormalizeAnswer) and whether one was found. It looks, in order, for the
// last line carrying an explicit marker (any of "#### 18", "\boxed{18}",
// "The answer is 18", "Answer: 18", "A: 18", "Final answer: 18", in any
// case, with Markdown emphasis), else the last number of the last line that
// has a digit, else the whole text when it is short (at most 200 bytes).
// Only the last 64 KiB of text are searched. It never panics, whatever the
// input (invalid UTF-8 included).
func FinalAnswer(text string) (string, bool) {
	fa := extractFinal(text)
	if fa.kind == markNone {
		return "", false
	}
	n := NormalizeAnswer(fa.raw)
	return n, n != ""
}

// extractFinal finds the final answer of text.
func extractFinal(text string) finalAnswer {
	base := 0
	if len(text) > answerWindow {
		base = len(text) - answerWindow
		text = text[base:]
	}
	lastDigitLine := -1
	for end := len(text); end > 0; {
		start := strings.LastIndexByte(text[:end], '\n') + 1
		line := text[start:end]
		if raw, off, ok := markedAnswer(line); ok {
			return finalAnswer{raw: raw, pos: base + start + off, kind: markExplicit}
		}
		if lastDigitLine < 0 && hasDigit(line) {
			lastDigitLine = start
		}
		end = start - 1
	}
	if lastDigitLine >= 0 {
		line := text[lastDigitLine:]
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if s, e, ok := lastNumberSpan(line); ok {
			return finalAnswer{raw: line[s:e], pos: base + lastDigitLine + s, kind: markLastNumber}
		}
	}
	if t := strings.TrimSpace(text); t != "" && len(t) <= maxAnswerLen {
		return finalAnswer{raw: t, pos: base + strings.Index(text, t), kind: markShortText}
	}
	return finalAnswer{}
}

// markedAnswer returns the answer a line's rightmost marker introduces, and
// its offset in line.
func markedAnswer(line string) (string, int, bool) {
	best, bestEnd := -1, 0
	// Every marker holds '#', '\\' or "answer": a line with none has none
	// (one search instead of one per marker, on most lines).
	if strings.IndexByte(line, '#') >= 0 || strings.IndexByte(line, '\\') >= 0 || lastIndexFold(line, "answer") >= 0 {
		for _, m := range markers {
			if i := lastIndexFold(line, m); i >= 0 && i > best {
				best, bestEnd = i, i+len(m)
			}
		}
	}
	if best < 0 {
		// "A: 18" opens its line.
		t := strings.TrimLeft(line, " \t*>-")
		if len(t) >= 2 && (t[0] == 'A' || t[0] == 'a') && t[1] == ':' {
			best = len(line) - len(t)
			bestEnd = best + 2
		} else {
			return "", 0, false
		}
	}
	rest := line[bestEnd:]
	if strings.HasSuffix(line[best:bestEnd], "{") { // \boxed{…}
		if s, ok := braced(rest); ok {
			return s, bestEnd, true
		}
		return "", 0, false
	}
	// Skip what joins the marker to the answer: "is", ":", "=", emphasis.
	off := bestEnd
	for {
		t := strings.TrimLeft(rest, " \t*:=_")
		if len(t) >= 3 && equalFold(t[:3], "is ") {
			t = t[3:]
		}
		if len(t) == len(rest) {
			break
		}
		off += len(rest) - len(t)
		rest = t
	}
	// A nested \boxed{} wins: "Final answer: \boxed{18}".
	if i := strings.Index(rest, "\\boxed{"); i >= 0 {
		if s, ok := braced(rest[i+7:]); ok {
			return s, off + i + 7, true
		}
	}
	rest = cutSentence(rest)
	if strings.TrimSpace(rest) == "" {
		return "", 0, false
	}
	if line[best] == '#' && lowerTab[rest[0]] > 1 && strings.ContainsRune(strings.TrimSpace(rest), ' ') {
		return "", 0, false // a Markdown heading ("#### Step 2: …"), not "#### 18"
	}
	return rest, off, true
}

// braced returns the text up to the brace closing an opened one.
func braced(s string) (string, bool) {
	depth := 1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return s[:i], true
			}
		}
	}
	return "", false
}

// cutSentence cuts s at the end of its first sentence: a '.', '!' or '?'
// followed by a blank or the end, that is not a decimal point.
func cutSentence(s string) string {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', '!', '?', ';':
			if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t' || s[i+1] == '*' {
				return s[:i]
			}
		}
	}
	return s
}

// NormalizeAnswer reduces an answer to a canonical form, so that equal
// answers written differently compare equal:
//
//   - a number, with or without "$", thousands separators, a unit or a
//     trailing ".0", becomes its shortest decimal ("$1,250.00 per week" →
//     "1250"); a percentage loses its "%" ("50%" → "50"); a fraction or
//     \frac{a}{b} becomes its decimal value, and so does a mixed number
//     ("1 1/2" → "1.5"); after an "=" only the right-hand side counts;
//   - an option letter ("B", "(B)", "B) Paris", "B. Paris") becomes the
//     lower-case letter;
//   - other text is lower-cased, with LaTeX and Markdown markup and
//     surrounding punctuation removed, runs of blanks collapsed and the
//     result cut to 200 bytes at a rune boundary.
//
// It never panics, whatever the input (invalid UTF-8 included).
func NormalizeAnswer(s string) string {
	// Removing markup can reveal more ("!00" → "00" → "0"): repeat to a
	// fixed point, which a few rounds reach.
	for range 4 {
		n := normalizeOnce(s)
		if n == s {
			break
		}
		s = n
	}
	return s
}

func normalizeOnce(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > answerWindow {
		s = s[:answerWindow]
	}
	s = stripMarkup(s)
	if l, ok := optionLetter(s); ok {
		return string(rune(l))
	}
	if i := strings.LastIndexByte(s, '='); i >= 0 && hasDigit(s[i+1:]) {
		s = s[i+1:]
	}
	if v, ok := leadingValue(s); ok {
		return formatNumber(v)
	}
	return normalizeText(s)
}

// stripMarkup removes LaTeX and Markdown decoration around an answer.
func stripMarkup(s string) string {
	for {
		t := strings.TrimSpace(s)
		t = strings.Trim(t, "*_`\"'")
		t = strings.TrimSuffix(t, ".")
		t = strings.TrimPrefix(t, "\\(")
		t = strings.TrimSuffix(t, "\\)")
		t = strings.TrimPrefix(t, "\\[")
		t = strings.TrimSuffix(t, "\\]")
		if len(t) >= 2 && t[0] == '$' && t[len(t)-1] == '$' {
			t = t[1 : len(t)-1]
		}
		for _, p := range []string{"\\boxed{", "\\text{", "\\textbf{", "\\mathrm{"} {
			if strings.HasPrefix(t, p) && strings.HasSuffix(t, "}") {
				t = t[len(p) : len(t)-1]
			}
		}
		if t == s {
			return s
		}
		s = t
	}
}

// optionLetter recognizes an option letter A–J: alone, or as "(B)", "B)",
// "B." or "B:" possibly followed by the option's text.
func optionLetter(s string) (byte, bool) {
	if s == "" {
		return 0, false
	}
	t := s
	paren := t[0] == '('
	if paren {
		t = t[1:]
	}
	if t == "" {
		return 0, false
	}
	l := t[0] | 0x20
	if l < 'a' || l > 'j' {
		return 0, false
	}
	t = t[1:]
	switch {
	case t == "" && !paren:
		return l, true
	case t == "":
		return 0, false
	case paren:
		return l, t[0] == ')'
	case t[0] == ')' || t[0] == '.' || t[0] == ':':
		return l, len(t) == 1 || t[1] == ' '
	}
	return 0, false
}

// leadingValue reads the first number of s, as a fraction, a mixed number,
// \frac{a}{b} or a plain decimal, ignoring a currency sign and what follows.
func leadingValue(s string) (float64, bool) {
	if i := strings.Index(s, "\\frac{"); i >= 0 && !hasDigit(s[:i]) {
		t := s[i+6:]
		if a, ok := braced(t); ok {
			t = t[len(a)+1:]
			if strings.HasPrefix(t, "{") {
				if b, ok := braced(t[1:]); ok {
					x, ok1 := strictNumber(a)
					y, ok2 := strictNumber(b)
					if ok1 && ok2 && y != 0 {
						return x / y, true
					}
				}
			}
		}
	}
	i := 0
	for i < len(s) && !isDigit(s[i]) {
		if s[i] == '-' && i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == '$') {
			break
		}
		i++
	}
	if i == len(s) {
		return 0, false
	}
	if i > 0 && s[i-1] == '.' && (i == 1 || !isDigit(s[i-2])) { // ".5"
		i--
	}
	if i > 0 && !prefixIsNoise(s[:i]) {
		return 0, false
	}
	nt, ok := readNumber(s, i)
	if !ok {
		return 0, false
	}
	v, j := nt.value, nt.end
	// a/b or "a b/c".
	k := j
	for k < len(s) && s[k] == ' ' {
		k++
	}
	if k < len(s) && s[k] == '/' {
		if d, ok := readNumber(s, skipBlanks(s, k+1)); ok && d.value != 0 && !nt.percent {
			return v / d.value, true
		}
	}
	if k > j && k < len(s) && isDigit(s[k]) && nt.decimals == 0 {
		if a, ok := readNumber(s, k); ok && a.decimals == 0 {
			m := skipBlanks(s, a.end)
			if m < len(s) && s[m] == '/' {
				if b, ok := readNumber(s, skipBlanks(s, m+1)); ok && b.value > a.value && b.decimals == 0 {
					f := a.value / b.value
					if v < 0 {
						return v - f, true
					}
					return v + f, true
				}
			}
		}
	}
	return v, true
}

// prefixIsNoise reports whether what precedes an answer's number is only a
// currency sign, blanks, brackets or a short word or two ("about", "x =").
func prefixIsNoise(p string) bool {
	words := 0
	inWord := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if lowerTab[c] > 1 {
			if !inWord {
				words++
				inWord = true
			}
			continue
		}
		inWord = false
		switch {
		case c >= utf8.RuneSelf, c == ' ', c == '\t', c == '$', c == '(', c == ':', c == '~':
			// €, £, ¥ and the like, blanks, "($", "about:", "~"
		default:
			return false // "x^", "a+": an expression, not a number
		}
	}
	return words <= 2
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// strictNumber parses s as one number and nothing else (blanks aside).
func strictNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	nt, ok := readNumber(s, 0)
	if !ok || strings.TrimSpace(s[nt.end:]) != "" {
		return 0, false
	}
	return nt.value, true
}

// numTok is a number read from text.
type numTok struct {
	value    float64
	end      int  // offset after it (and its '%')
	decimals int  // digits after the decimal point
	percent  bool // followed by '%'
}

// readNumber reads a number at s[i]: an optional '-' and '$', digits with
// optional thousands separators (",ddd"), an optional decimal part, and an
// optional '%'. It rejects more than 30 significant characters.
func readNumber(s string, i int) (numTok, bool) {
	var b [40]byte
	n := 0
	if i < len(s) && s[i] == '-' {
		b[n] = '-'
		n++
		i++
	}
	if i < len(s) && s[i] == '$' {
		i++
	}
	start := i
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) { // ".5"
		b[n] = '0'
		n++
	}
	// mant and digits are the digits read as an integer, for the fast path
	// of parseDecimal.
	var mant uint64
	digits := 0
	for i < len(s) {
		c := s[i]
		switch {
		case isDigit(c):
			if n == len(b)-8 {
				return numTok{}, false
			}
			b[n] = c
			n++
			i++
			mant = mant*10 + uint64(c-'0')
			digits++
			continue
		case c == ',' && i > start && isDigit3(s, i+1) && (i+4 == len(s) || !isDigit(s[i+4])):
			i++
			continue
		}
		break
	}
	if i == start && (n == 0 || b[n-1] != '0') {
		return numTok{}, false
	}
	nt := numTok{}
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		b[n] = '.'
		n++
		i++
		for i < len(s) && isDigit(s[i]) {
			if n < len(b)-1 {
				b[n] = s[i]
				n++
				nt.decimals++
				mant = mant*10 + uint64(s[i]-'0')
				digits++
			}
			i++
		}
	}
	v, ok := parseDecimal(b[:n], nt.decimals, mant, digits)
	if !ok {
		return numTok{}, false
	}
	if i < len(s) && s[i] == '%' {
		nt.percent = true
		i++
	}
	nt.value, nt.end = v, i
	return nt, true
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseDecimal parses an optional '-', digits and an optional '.' with dec
// digits after it. When the digits fit in 2^53 and dec ≤ 22, one division
// of two exact values is the correctly rounded result, as ParseFloat's;
// otherwise it falls back to ParseFloat. mant and digits are b's digits
// read as an integer and their count (readNumber keeps them as it reads).
func parseDecimal(b []byte, dec int, mant uint64, digits int) (float64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if digits <= 15 && dec < len(pow10) {
		v := float64(mant) / pow10[dec]
		if neg {
			v = -v
		}
		return v, true
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func isDigit3(s string, i int) bool {
	return i+3 <= len(s) && isDigit(s[i]) && isDigit(s[i+1]) && isDigit(s[i+2])
}

// lastNumberSpan returns the span of the last number in line.
func lastNumberSpan(line string) (int, int, bool) {
	e := len(line)
	for e > 0 && !isDigit(line[e-1]) {
		e--
	}
	if e == 0 {
		return 0, 0, false
	}
	s := e
	for s > 0 && (isDigit(line[s-1]) || line[s-1] == '.' || line[s-1] == ',' && s >= 2 && isDigit(line[s-2])) {
		s--
	}
	for s < e && !isDigit(line[s]) { // a leading '.' or ','
		s++
	}
	if s > 0 && line[s-1] == '$' {
		s--
	}
	if s > 0 && line[s-1] == '-' && (s == 1 || line[s-2] == ' ' || line[s-2] == '(') {
		s--
	}
	if e < len(line) && line[e] == '%' {
		e++
	}
	return s, e, true
}

// formatNumber writes v as its shortest decimal, rounded to 12 significant
// digits so that 0.1+0.2 and 0.3 agree.
func formatNumber(v float64) string {
	if v == 0 {
		return "0"
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// normalizeText lower-cases s, drops punctuation at its ends, collapses
// blanks, and cuts it to maxAnswerLen bytes at a rune boundary.
func normalizeText(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if r < utf8.RuneSelf {
			b.WriteByte(byte(lowerASCII(byte(r))))
		} else {
			b.WriteRune(r)
		}
		if b.Len() >= maxAnswerLen {
			break
		}
	}
	t := b.String()
	if len(t) > maxAnswerLen {
		t = t[:maxAnswerLen]
		for len(t) > 0 && !utf8.ValidString(t) {
			t = t[:len(t)-1]
		}
	}
	return strings.TrimFunc(t, func(r rune) bool { return strings.ContainsRune(" .,;:!?\"'()[]{}*_`", r) })
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

// lastIndexFold is strings.LastIndex for an ASCII lower-case needle,
// ignoring ASCII case in s.
func lastIndexFold(s, needle string) int {
	n := len(needle)
	if n == 0 {
		return len(s)
	}
	lo, up := needle[0], needle[0]
	if lo >= 'a' && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	for i := len(s) - n; i >= 0; i-- {
		if c := s[i]; (c == lo || c == up) && equalFold(s[i+1:i+n], needle[1:]) {
			return i
		}
	}
	return -1
}

// equalFold reports whether s equals the ASCII lower-case t, ignoring ASCII
// case.
func equalFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != t[i] {
			return false
		}
	}
	return true
}

// Similarity returns how alike two long answers (code, prose) are, in
// [0, 1]: the Jaccard index of their sets of word bigrams, words being runs
// of letters, digits and '_' compared case-insensitively (at most the first
// 4,096 words of each). Bigrams keep local order, which matters for code and
// for reasoning, and ignore layout (indentation, line breaks, Markdown
// fences); the index is symmetric and 1 for equal texts. Two texts with
// fewer than two words each are compared by their words.
func Similarity(a, b string) float64 {
	sa, sb := shingles(a), shingles(b)
	if len(sa) == 0 && len(sb) == 0 {
		if normalizeText(a) == normalizeText(b) {
			return 1
		}
		return 0
	}
	inter := 0
	for h := range sa {
		if sb[h] {
			inter++
		}
	}
	union := len(sa) + len(sb) - inter
	if union == 0 {
		return 0
	}
	return float64(inter) / float64(union)
}

// shingles returns the hashed word bigrams of s (the single word when s has
// only one).
func shingles(s string) map[uint64]bool {
	const maxWords = 4096
	set := map[uint64]bool{}
	var prev, cur uint64
	words := 0
	inWord := false
	flush := func() {
		if !inWord {
			return
		}
		inWord = false
		words++
		if words > 1 {
			set[prev*0x9e3779b97f4a7c15^cur] = true
		}
		prev = cur
	}
	for i := 0; i < len(s) && words < maxWords; i++ {
		c := s[i]
		if c == '`' && strings.HasPrefix(s[i:], "```") && (i == 0 || s[i-1] == '\n') {
			flush()
			for i < len(s) && s[i] != '\n' { // a fence and its language tag
				i++
			}
			continue
		}
		if l := lowerTab[c]; l > 1 || isDigit(c) || c == '_' || c >= utf8.RuneSelf {
			if !inWord {
				inWord, cur = true, 14695981039346656037
			}
			if l > 1 {
				c = l
			}
			cur = (cur ^ uint64(c)) * 1099511628211
			continue
		}
		flush()
	}
	flush()
	if words == 1 {
		set[prev] = true
	}
	return set
}

// reactAction returns the tool and input of the action a ReAct step ends
// with ("Action: calculator" then "Action Input: 7 * 8", langchaingo's
// one-shot agent format), if text is such a step and not a final answer.
func reactAction(text string) (tool, input string, ok bool) {
	if strings.Contains(text, "Final Answer:") {
		return "", "", false
	}
	i := lastIndex(text, "\nAction:")
	if i < 0 {
		if !strings.HasPrefix(text, "Action:") {
			return "", "", false
		}
	} else {
		text = text[i+1:]
	}
	rest := text[len("Action:"):]
	nl := strings.IndexByte(rest, '\n')
	if nl < 0 {
		return "", "", false
	}
	tool = strings.TrimSpace(rest[:nl])
	rest = rest[nl+1:]
	if !strings.HasPrefix(rest, "Action Input:") || tool == "" {
		return "", "", false
	}
	input = rest[len("Action Input:"):]
	if j := strings.IndexByte(input, '\n'); j >= 0 {
		input = input[:j]
	}
	return tool, strings.TrimSpace(input), true
}

// lastIndex is strings.LastIndex by forward search: LastIndex scans back
// byte by byte, Index jumps with the vectorized byte search, and an answer
// rarely holds the needle even once.
func lastIndex(s, sub string) int {
	last := -1
	for off := 0; ; {
		i := strings.Index(s[off:], sub)
		if i < 0 {
			return last
		}
		last = off + i
		off = last + 1
	}
}

// actionOffered reports whether a ReAct action's tool is one the request
// offers: a tool of Request.Tools, or a name its messages list (the one-shot
// agent lists its tools in the prompt).
func actionOffered(req *Request, tool string) bool {
	if offered(req.Tools, tool) {
		return true
	}
	for _, m := range req.Messages {
		for s := m.Text; ; {
			i := strings.Index(s, tool)
			if i < 0 {
				break
			}
			end := i + len(tool)
			if (i == 0 || !wordByte(s[i-1])) && (end == len(s) || !wordByte(s[end])) {
				return true
			}
			s = s[end:]
		}
	}
	return false
}

func wordByte(c byte) bool {
	return c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
