package bench

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// numberRE matches an unsigned number: digits with optional thousands
// separators and decimals ("1,234.50"). Signs and context are checked by
// numbersIn.
var numberRE = regexp.MustCompile(`\d+(?:,\d{3})*(?:\.\d+)?`)

// numbersIn returns the numbers of s in order, normalized (NormalizeNumber).
// A number glued to a word on its left ("gpt-4o", "x2", "CO2") is not one; a
// minus sign ("-" or "−") counts unless it follows a digit ("-5" and "(−3)"
// are negative, the 5 of the range "3-5" is not).
func numbersIn(s string) []string {
	var out []string
	for _, m := range numberRE.FindAllStringIndex(s, -1) {
		start, end := m[0], m[1]
		before, w := utf8.DecodeLastRuneInString(s[:start])
		neg := false
		if w > 0 && (before == '-' || before == '−') {
			prev, _ := utf8.DecodeLastRuneInString(s[:start-w])
			switch {
			case unicode.IsLetter(prev):
				continue // "gpt-4": part of a word
			case !unicode.IsDigit(prev):
				neg = true // "-5", "(−3)"; "3-5" is a range
			}
		} else if w > 0 && (unicode.IsLetter(before) || before == '_') {
			continue // "x2", "CO2"
		}
		n := NormalizeNumber(s[start:end])
		if neg && n != "0" {
			n = "-" + n
		}
		out = append(out, n)
	}
	return out
}

// NormalizeNumber removes thousands separators, leading zeros and a zero
// fractional part: "1,234.500" → "1234.5", "18.00" → "18", "007" → "7". It
// expects what numberRE matches, optionally signed.
func NormalizeNumber(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	s = strings.TrimLeft(s, "0")
	if s == "" || strings.HasPrefix(s, ".") {
		s = "0" + s
	}
	if neg && s != "0" {
		s = "-" + s
	}
	return s
}

// SameNumber reports whether two normalized numbers are equal, as text or as
// values (within 1e-9 relative).
func SameNumber(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	return math.Abs(x-y) <= 1e-9*math.Max(1, math.Max(math.Abs(x), math.Abs(y)))
}

var (
	answerWordRE = regexp.MustCompile(`(?i)\banswer\b`)
	hashesRE     = regexp.MustCompile(`####`)
	boxedRE      = regexp.MustCompile(`\\boxed\{`)
)

// ParseNumber returns the final number of an answer, normalized
// (NormalizeNumber). In order of preference: the first number on the rest
// of the line after the last "answer" that has one ("Answer: 18",
// "The answer is $1,234."), the first number after the last "####" (GSM8K's
// format), the first number in the last \boxed{…}, else the last number in
// the text. ok is false when the text has no number.
func ParseNumber(text string) (n string, ok bool) {
	locs := answerWordRE.FindAllStringIndex(text, -1)
	for i := len(locs) - 1; i >= 0; i-- {
		rest := text[locs[i][1]:]
		if j := strings.IndexByte(rest, '\n'); j >= 0 {
			rest = rest[:j]
		}
		if nums := numbersIn(rest); len(nums) > 0 {
			return nums[0], true
		}
	}
	for _, re := range []*regexp.Regexp{hashesRE, boxedRE} {
		if loc := lastIndex(re, text); loc >= 0 {
			if nums := numbersIn(text[loc:]); len(nums) > 0 {
				return nums[0], true
			}
		}
	}
	nums := numbersIn(text)
	if len(nums) == 0 {
		return "", false
	}
	return nums[len(nums)-1], true
}

// lastIndex is the end of re's last match in s, or -1.
func lastIndex(re *regexp.Regexp, s string) int {
	locs := re.FindAllStringIndex(s, -1)
	if len(locs) == 0 {
		return -1
	}
	return locs[len(locs)-1][1]
}

var (
	// The whole reply is a letter: "C", "(c)", "**C**", "C.".
	letterAloneRE = regexp.MustCompile(`^[\s*_(\[]*([A-Da-d])[\s*_)\].:]*$`)
	// "Answer: C", "The answer is (C)", "ANSWER: **C**".
	letterAnswerRE = regexp.MustCompile(`(?:[Aa]nswer|ANSWER)(?:\s+(?:is|IS|would be|will be))?\s*[:：]?\s*[*_(\[]*\s*([A-D])\b`)
	// A reply that starts with the choice: "C. paralysis…", "(C) …", "**C**".
	letterLeadRE = regexp.MustCompile(`^[\s*_]*(?:\(([A-D])\)|\[([A-D])\]|([A-D])(?:[.:)\]]|\*\*))`)
	// "(C)" anywhere, "option C", "choice C".
	letterParenRE  = regexp.MustCompile(`\(([A-D])\)`)
	letterOptionRE = regexp.MustCompile(`(?i:option|choice)\s+([A-D])\b`)
	// Any standalone capital A–D.
	letterAnyRE = regexp.MustCompile(`\b([A-D])\b`)
)

// ParseLetter returns the answer letter (A–D) of a multiple-choice answer. In
// order of preference: a reply that is only a letter ("c", "(C)", "**C**"),
// the letter after the last "Answer:" / "answer is", a reply that opens with
// its choice ("C. paralysis…", "(C) …"), the first "(C)", "option C" or
// "choice C", else the first standalone capital A–D that is not the article
// "A" ("A good answer is B" → B). ok is false when there is none.
func ParseLetter(text string) (letter string, ok bool) {
	if m := letterAloneRE.FindStringSubmatch(text); m != nil {
		return strings.ToUpper(m[1]), true
	}
	if ms := letterAnswerRE.FindAllStringSubmatch(text, -1); len(ms) > 0 {
		return ms[len(ms)-1][1], true
	}
	if m := letterLeadRE.FindStringSubmatch(text); m != nil {
		for _, g := range m[1:] {
			if g != "" {
				return g, true
			}
		}
	}
	for _, re := range []*regexp.Regexp{letterParenRE, letterOptionRE} {
		if m := re.FindStringSubmatch(text); m != nil {
			return m[1], true
		}
	}
	for _, loc := range letterAnyRE.FindAllStringSubmatchIndex(text, -1) {
		l := text[loc[2]:loc[3]]
		if l == "A" && isArticle(text[loc[3]:]) {
			continue
		}
		return l, true
	}
	return "", false
}

// isArticle reports whether the text after a capital "A" makes it the
// article: a space then a lower-case word ("A good answer").
func isArticle(after string) bool {
	rest := strings.TrimLeft(after, " \t")
	if len(rest) == len(after) || rest == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return unicode.IsLower(r)
}

// GradeReply grades a reply to it: parsed is the number or letter read from
// the reply (ok false when none could be read), correct whether it matches
// the gold answer. An ungraded item is never correct.
func GradeReply(it LiveItem, reply string) (parsed string, ok, correct bool) {
	switch it.Grade {
	case GradeNumber:
		parsed, ok = ParseNumber(reply)
		return parsed, ok, ok && it.Gold != "" && SameNumber(parsed, it.Gold)
	case GradeLetter:
		parsed, ok = ParseLetter(reply)
		return parsed, ok, ok && it.Gold != "" && parsed == it.Gold
	}
	return "", false, false
}
