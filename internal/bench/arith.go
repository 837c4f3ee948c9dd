package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Arithmetic word problems with simulated cheap answers: a synthetic,
// labelled dataset with cheap answers in final-answer styles other than
// GSM8K's ("A: N", "The answer is N."), to check a verifier off the format
// it was trained on. It is a sanity check, not a model's answers.
//
// A problem is a start quantity and one to four operations on it (buying
// more, buying boxes of several, giving some away, growing k-fold, sharing
// equally); its truth is computed exactly. Each problem gets ArithSamples
// independent cheap answers, each a worked solution (one "a op b = c" line a
// step, in "×"/"*" and "−"/"-" notations, then the final answer) in which a
// mistake happens with probability 0.08 + 0.09 × the number of operations, of one
// of four kinds, as cheap models typically make them:
//
//   - false arithmetic (40%): one step's result is off by a small amount or a
//     slipped digit; later steps compute correctly from it;
//   - dropped quantity (30%): one operation of the problem is skipped; every
//     equation is true, a number of the question is unused;
//   - unfinished (15%): the answer stops before its last step, without a
//     final answer;
//   - wrong operation (15%): one operation is applied the wrong way round
//     (adds what should be taken away); every number is used and every
//     equation true, so only the result is wrong: a mistake no check of the
//     text can see.
//
// The capable model's answer is correct with probability 0.97 − 0.01 × the
// operations. Each answer is labelled by reading its final number (ParseNumber)
// and comparing it with the truth, so an unfinished answer whose last number
// happens to be the truth counts as correct. The randomness is a SplitMix64
// stream from the seed: the same seed gives the same bytes on every platform
// and Go version.

// ArithSamples is the number of cheap answers sampled per problem.
const ArithSamples = 3

// ArithRecord is one line of the dataset, in LoadJSONL's format.
type ArithRecord struct {
	Prompt              string   `json:"prompt"`
	CheapCorrect        bool     `json:"cheap_correct"`
	CapableCorrect      bool     `json:"capable_correct"`
	CheapOutputTokens   int      `json:"cheap_output_tokens"`
	CapableOutputTokens int      `json:"capable_output_tokens"`
	CheapAnswer         string   `json:"cheap_answer"`
	CheapAnswers        []string `json:"cheap_answers"`
	CheapAnswersCorrect []bool   `json:"cheap_answers_correct"`
}

// WriteArith writes n problems generated from seed as JSON lines to w,
// counting output tokens with count.
func WriteArith(w io.Writer, seed uint64, n int, count TokenCounter) error {
	g := &arithGen{r: splitMix(seed)}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for range n {
		if err := enc.Encode(g.record(count)); err != nil {
			return err
		}
	}
	return nil
}

// splitMix is a SplitMix64 stream.
type splitMix uint64

func (s *splitMix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a number in [0, n).
func (s *splitMix) intn(n int) int { return int(s.next() % uint64(n)) }

// between returns a number in [lo, hi].
func (s *splitMix) between(lo, hi int) int { return lo + s.intn(hi-lo+1) }

// chance reports true with probability p.
func (s *splitMix) chance(p float64) bool { return float64(s.next()>>11)/(1<<53) < p }

type arithGen struct{ r splitMix }

// arithOp is one operation of a problem.
type arithOp struct {
	kind byte // '+' buy more, 'b' buy boxes, '-' give away, '*' grow, '/' share
	a, b int  // the operation's numbers (b: the box size for 'b')
}

type arithProblem struct {
	name, pron, item, friend string
	start                    int
	ops                      []arithOp
}

var (
	arithNames   = []struct{ name, pron string }{{"Maya", "She"}, {"Omar", "He"}, {"Lena", "She"}, {"Ravi", "He"}, {"Ines", "She"}, {"Tom", "He"}, {"Aiko", "She"}, {"Kwame", "He"}}
	arithItems   = []string{"marbles", "stickers", "apples", "pencils", "stamps", "cookies", "cards", "shells"}
	arithFriends = []string{"a friend", "a neighbour", "a cousin", "the school", "a classmate"}
)

func (g *arithGen) problem() arithProblem {
	n := arithNames[g.r.intn(len(arithNames))]
	p := arithProblem{name: n.name, pron: n.pron, item: arithItems[g.r.intn(len(arithItems))],
		friend: arithFriends[g.r.intn(len(arithFriends))], start: g.r.between(5, 60)}
	total := p.start
	steps := g.r.between(1, 4)
	for i := range steps {
		var op arithOp
		switch k := g.r.intn(10); {
		case k < 3:
			op = arithOp{kind: '+', a: g.r.between(2, 40)}
			total += op.a
		case k < 5:
			op = arithOp{kind: 'b', a: g.r.between(2, 9), b: g.r.between(3, 12)}
			total += op.a * op.b
		case k < 8 && total > 3:
			op = arithOp{kind: '-', a: g.r.between(1, total-2)}
			total -= op.a
		case k < 9 && total < 200:
			op = arithOp{kind: '*', a: g.r.between(2, 3)}
			total *= op.a
		default:
			if i == steps-1 {
				if d := divisorOf(&g.r, total); d > 0 {
					op = arithOp{kind: '/', a: d}
					total /= d
					break
				}
			}
			op = arithOp{kind: '+', a: g.r.between(2, 40)}
			total += op.a
		}
		p.ops = append(p.ops, op)
	}
	return p
}

// divisorOf returns a divisor of n in 2..6, or 0.
func divisorOf(r *splitMix, n int) int {
	var ds []int
	for d := 2; d <= 6; d++ {
		if n%d == 0 && n/d > 1 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return 0
	}
	return ds[r.intn(len(ds))]
}

func (p arithProblem) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s has %d %s.", p.name, p.start, p.item)
	share := false
	for _, op := range p.ops {
		switch op.kind {
		case '+':
			fmt.Fprintf(&b, " %s gets %d more %s.", p.pron, op.a, p.item)
		case 'b':
			fmt.Fprintf(&b, " %s buys %d boxes with %d %s in each box.", p.pron, op.a, op.b, p.item)
		case '-':
			fmt.Fprintf(&b, " %s gives %d %s to %s.", p.pron, op.a, p.item, p.friend)
		case '*':
			fmt.Fprintf(&b, " Then the number of %s %s has becomes %d times as large.", p.item, strings.ToLower(p.pron), op.a)
		case '/':
			fmt.Fprintf(&b, " %s shares all the %s equally among %d friends.", p.pron, p.item, op.a)
			share = true
		}
	}
	if share {
		fmt.Fprintf(&b, " How many %s does each friend get?", p.item)
	} else {
		fmt.Fprintf(&b, " How many %s does %s have now?", p.item, p.name)
	}
	return b.String()
}

// arithStep is one worked line: a op b = c.
type arithStep struct {
	a    int
	op   byte
	b, c int
}

// mistake kinds.
const (
	mistakeNone = iota
	mistakeArithmetic
	mistakeDropped
	mistakeUnfinished
	mistakeWrongOp
)

// solve works p out, making mistake at operation at (at indexes the
// worked lines for mistakeArithmetic), and returns the worked lines.
func (p arithProblem) solve(mistake, at int, r *splitMix) []arithStep {
	var steps []arithStep
	emit := func(a int, op byte, b int) int {
		c := apply(a, op, b)
		if mistake == mistakeArithmetic && len(steps) == at {
			c = slip(c, r)
		}
		steps = append(steps, arithStep{a, op, b, c})
		return c
	}
	total := p.start
	for i, op := range p.ops {
		flip := mistake == mistakeWrongOp && i == at
		switch {
		case mistake == mistakeDropped && i == at:
		case op.kind == 'b':
			prod := emit(op.a, '*', op.b)
			total = emit(total, flipped('+', flip), prod)
		default:
			total = emit(total, flipped(op.kind, flip), op.a)
		}
	}
	return steps
}

// apply computes a op b; division rounds down (a careless solution after a
// wrong step that leaves a remainder).
func apply(a int, op byte, b int) int {
	switch op {
	case '+':
		return a + b
	case '-':
		return a - b
	case '*':
		return a * b
	}
	return a / b
}

// flipped is the operation applied the wrong way round when flip is set.
func flipped(op byte, flip bool) byte {
	if !flip {
		return op
	}
	return map[byte]byte{'+': '-', '-': '+', '*': '+', '/': '*'}[op]
}

// slip returns c miscomputed: its last two digits swapped (when they
// differ), else off by 1 to 9.
func slip(c int, r *splitMix) int {
	if c >= 10 && r.chance(0.3) {
		if lo, hi := c%10, c/10%10; lo != hi {
			return c - lo - 10*hi + hi + 10*lo
		}
	}
	d := r.between(1, 9)
	if c > d && r.chance(0.5) {
		d = -d
	}
	return c + d
}

// steps counts the worked lines of a correct solution.
func (p arithProblem) steps() int {
	n := 0
	for _, op := range p.ops {
		n++
		if op.kind == 'b' {
			n++
		}
	}
	return n
}

// arithStyle is how an answer is written.
type arithStyle struct {
	times, minus, divide string
	final                func(int) string
}

var arithStyles = []arithStyle{
	{"×", "−", "÷", func(n int) string { return "The answer is " + strconv.Itoa(n) + "." }},
	{"*", "-", "/", func(n int) string { return "A: " + strconv.Itoa(n) }},
	{"×", "-", "/", func(n int) string { return "A: " + strconv.Itoa(n) }},
	{"*", "−", "÷", func(n int) string { return "The answer is " + strconv.Itoa(n) + "." }},
}

// write renders worked lines; final is false for an unfinished answer.
func (st arithStyle) write(p arithProblem, steps []arithStep, final bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s starts with %d %s.\n", p.name, p.start, p.item)
	for _, s := range steps {
		op := map[byte]string{'+': "+", '-': st.minus, '*': st.times, '/': st.divide}[s.op]
		fmt.Fprintf(&b, "%d %s %d = %d\n", s.a, op, s.b, s.c)
	}
	if !final {
		fmt.Fprintf(&b, "Then %s", strings.ToLower(p.pron))
		return b.String()
	}
	b.WriteString(st.final(steps[len(steps)-1].c))
	return b.String()
}

// cheapAnswer simulates one cheap answer to p.
func (g *arithGen) cheapAnswer(p arithProblem) string {
	st := arithStyles[g.r.intn(len(arithStyles))]
	n := p.steps()
	if !g.r.chance(0.08 + 0.09*float64(len(p.ops))) {
		return st.write(p, p.solve(mistakeNone, 0, &g.r), true)
	}
	switch k := g.r.intn(20); {
	case k < 8:
		return st.write(p, p.solve(mistakeArithmetic, g.r.intn(n), &g.r), true)
	case k < 14 && len(p.ops) > 1:
		return st.write(p, p.solve(mistakeDropped, g.r.intn(len(p.ops)), &g.r), true)
	case k < 17 && n > 1:
		steps := p.solve(mistakeNone, 0, &g.r)
		return st.write(p, steps[:g.r.between(1, n-1)], false)
	default:
		return st.write(p, p.solve(mistakeWrongOp, g.r.intn(len(p.ops)), &g.r), true)
	}
}

func (g *arithGen) record(count TokenCounter) ArithRecord {
	p := g.problem()
	truth := p.solve(mistakeNone, 0, &g.r)
	want := strconv.Itoa(truth[len(truth)-1].c)
	rec := ArithRecord{Prompt: p.text()}
	for range ArithSamples {
		a := g.cheapAnswer(p)
		got, ok := ParseNumber(a)
		rec.CheapAnswers = append(rec.CheapAnswers, a)
		rec.CheapAnswersCorrect = append(rec.CheapAnswersCorrect, ok && SameNumber(got, want))
	}
	rec.CheapAnswer, rec.CheapCorrect = rec.CheapAnswers[0], rec.CheapAnswersCorrect[0]
	rec.CheapOutputTokens = count(rec.CheapAnswer)
	rec.CapableCorrect = g.r.chance(0.97 - 0.01*float64(len(p.ops)))
	rec.CapableOutputTokens = count(arithStyles[0].write(p, truth, true))
	return rec
}

// The committed dataset: its path from the module root, size and seed.
const (
	ArithPath        = "testdata/cascade/arith.jsonl"
	ArithN           = 600
	ArithSeed uint64 = 20240601
)
