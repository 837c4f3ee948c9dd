package scoring

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func factsOf(question, answer string) answerFacts {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	req := Request{Messages: []Message{{Role: RoleHuman, Text: question}}}
	return answerFactsOf(&req, &Answer{Text: answer}, sc)
}

func equationsOf(text string) equations {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	var af answerFacts
	return scanAnswer(text, sc, &af)
}

func TestEquationNotations(t *testing.T) {
	for _, tc := range []struct {
		text        string
		n, false    int
		last        float64
		description string
	}{
		{"9 * $2 = $<<9*2=18>>18", 2, 0, 18, "calculator annotation and its sentence"},
		{"<<9*2=19>>19", 1, 1, 19, "a false annotation"},
		{"3 × 60 = 180 meters", 1, 0, 180, "×"},
		{"3 x 60 = 180", 1, 0, 180, "x"},
		{"3 x 60 = 190", 1, 1, 190, "x, false"},
		{"3*60=180", 1, 0, 180, "no blanks"},
		{"100 / 4 = 25 and 100 ÷ 4 = 26", 2, 1, 26, "/ and ÷"},
		{"16 - 3 − 4 = 9", 1, 0, 9, "ASCII and Unicode minus"},
		{"(2 + 3) * 4 = 20", 1, 0, 20, "parentheses"},
		{"2 + 3 * 4 = 14", 1, 0, 14, "precedence"},
		{"2 + 1/2 = 5/2 = 2.5", 2, 0, 2.5, "a chain"},
		{"10 / 3 = 3.33", 1, 0, 3.33, "rounded to the written decimals"},
		{"10 / 3 = 3", 1, 1, 3, "rounding to an integer is not allowed"},
		{"50 * 20% = 10 and 0.2 * 100 = 20%", 2, 0, 20, "percentages both ways"},
		{"$1,250 + $750 = $2,000", 1, 0, 2000, "money and thousands"},
		{"x = 5", 0, 0, 0, "an assignment is no equation"},
		{"Step 2: 5 + 3 = 8", 1, 0, 8, "a label before"},
		{"(9 * 2 = 18)", 1, 0, 18, "unbalanced parentheses at the ends"},
		{"20% of 50 = 10", 0, 0, 0, "words break an expression"},
		{"5 / 0 = 3", 0, 0, 0, "division by zero is not judged"},
		{"h2o + co2 = 7", 0, 0, 0, "digits inside words are not numbers"},
		{"A.0", 0, 0, 0, "a decimal point after a letter (this looped)"},
	} {
		eq := equationsOf(tc.text)
		assert.Equal(t, tc.n, eq.n, "%s: %q equations", tc.description, tc.text)
		assert.Equal(t, tc.false, eq.false, "%s: %q false", tc.description, tc.text)
		if tc.n > 0 {
			assert.InDelta(t, tc.last, eq.last, 1e-9, "%s: %q last", tc.description, tc.text)
		}
	}
}

func TestAnswerFacts(t *testing.T) {
	q := "Janet has sixteen eggs. She eats 3 and bakes with 4. How many eggs are left?"
	good := factsOf(q, "16 - 3 - 4 = 9\nThe answer is 9.")
	assert.Zero(t, good.f[vNotMarked])
	assert.Zero(t, good.f[vFinalNotLast])
	assert.Zero(t, good.f[vUnused], "sixteen is written as 16")
	assert.Zero(t, good.f[vLogFalse])
	assert.Zero(t, good.f[vAbrupt])
	assert.Greater(t, good.f[vLogSteps], 0.0)

	f := factsOf(q, "16 - 3 = 13\nSo 13 eggs")
	assert.Equal(t, 1.0, f.f[vNotMarked])
	assert.InDelta(t, 1.0/3, f.f[vUnused], 1e-12, "4 is never used")
	assert.Equal(t, 1.0, f.f[vAbrupt], "no marker and no closing punctuation")

	f = factsOf(q, "16 - 3 - 4 = 9\nThe answer is 9.5.")
	assert.Equal(t, 1.0, f.f[vFinalFraction])
	assert.Equal(t, 1.0, f.f[vFinalNotLast])

	f = factsOf(q, "Wait, actually I made a mistake. Probably 9, roughly.")
	assert.Greater(t, f.f[vLogBacktrack], 0.0)
	assert.Greater(t, f.f[vLogHedge], 0.0)

	f = factsOf(q, "The eggs are counted here.\nThe eggs are counted here.\nThe eggs are counted here.\n#### 9")
	assert.InDelta(t, 2.0/3, f.f[vRepeat], 1e-12)

	f = factsOf(q, "I'm sorry, but I cannot help with that.")
	assert.True(t, f.hard.refusal)
	f = factsOf(q, "   ")
	assert.True(t, f.hard.empty)
}

func TestDerivationFacts(t *testing.T) {
	q := "Janet's ducks lay 16 eggs a day. She eats 3 and bakes with 4. She sells the rest at $2 each, with a 20% fee. How much does she make?"
	for _, tc := range []struct {
		answer                 string
		newOperands, unusedRes int
		description            string
	}{
		{"16 - 3 - 4 = 9\n9 * 2 = 18\n18 - 18 * 20% = 14.4\n#### 14.4", 0, 0, "every result feeds the next, every operand is given or derived"},
		{"16 - 3 - 4 = <<16-3-4=9>>9 eggs.\n9 * 2 = $<<9*2=18>>18.\n#### 18", 0, 0, "a calculator annotation repeats an equation: counted once"},
		{"16 - 3 = 13\n4 * 2 = 8\n16 - 7 = 9\n9 * 2 = 18\n#### 18", 0, 2, "13 and 8 lead nowhere"},
		{"16 - 3 - 4 = 9\n9 * 2.5 = 22.5\n#### 22.5", 1, 0, "2.5 comes from nowhere"},
		{"16 - 3 - 4 = 9\n9 * 2 * 12 = 216\n#### 216", 0, 0, "12 (months, a dozen) is a common constant"},
		{"16 * 0.2 = 3.2\n16 - 3.2 = 12.8", 0, 0, "20% written as 0.2"},
		{"no arithmetic here, just 18", 0, 0, "no equations"},
	} {
		eq := factsEquations(q, tc.answer)
		assert.Equal(t, tc.newOperands, eq.newOperands, "%s: new operands of %q", tc.description, tc.answer)
		assert.Equal(t, tc.unusedRes, eq.unusedResults, "%s: unused results of %q", tc.description, tc.answer)
	}
	assert.Greater(t, factsOf(q, "1.5 + 2.5 = 4").f[vLogNewOperands], 0.0)
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "%d.5 * 3 = %d.5\n", 100+i, 3*(100+i)+1)
	}
	assert.InDelta(t, math.Log1p(16), factsOf(q, b.String()).f[vLogNewOperands], 1e-12, "capped: added work lowers a doubt only so far")
}

// factsEquations are the equations of answer to question, as the verifier
// reads them (with the question's numbers).
func factsEquations(question, answer string) equations {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	req := Request{Messages: []Message{{Role: RoleHuman, Text: question}}}
	sc.qnums, _, _ = questionNumbers(&req, sc.qnums[:0])
	sc.qhit = sc.qhit[:0]
	var af answerFacts
	return scanAnswer(answer, sc, &af)
}

func TestNumSet(t *testing.T) {
	var s numSet
	assert.False(t, s.has(1), "the zero value is empty")
	assert.True(t, s.add(7, 3))
	assert.False(t, s.add(7, 4), "already there")
	v, ok := s.find(7)
	assert.True(t, ok)
	assert.Equal(t, int32(3), v, "the first value stays")
	assert.True(t, s.has(0.07*100), "0.07 × 100 is 7 up to float error")
	assert.True(t, s.has(7.000000000000001))
	assert.False(t, s.has(7.0001))
	assert.True(t, s.add(math.Copysign(0, -1), 0))
	assert.True(t, s.has(0), "-0 is 0")
	for i := range numSetSlots {
		s.add(float64(1000+i), 0)
	}
	assert.Equal(t, numSetSlots/4, s.n, "full at a quarter of the slots")
	assert.False(t, s.add(1e9, 0))
	s.reset()
	assert.False(t, s.has(7), "reset empties")
	assert.True(t, s.add(1e9, 0))
	s.gen = math.MaxUint32
	s.reset()
	assert.False(t, s.has(1e9), "a wrapped generation clears")
	assert.True(t, s.add(2, 1))
	assert.True(t, s.hasKey(numKey(2)))

	s.reset()
	s.add(5, -1)
	assert.True(t, s.result(5, 0), "a number already there becomes a result")
	assert.False(t, s.result(5, 1), "a result stays the first step's")
	assert.True(t, s.result(6, 1), "a new number")
	i, ok := s.find(5)
	assert.True(t, ok)
	assert.Equal(t, int32(0), i)
}

// TestMarkersHoldPrefilter: markedAnswer skips a line holding no '#', no
// '\' and no "answer", which is right only while every marker holds one.
func TestMarkersHoldPrefilter(t *testing.T) {
	for _, m := range markers {
		assert.True(t, strings.ContainsAny(m, "#\\") || strings.Contains(m, "answer"), "marker %q", m)
	}
}

// TestClaimWordsExact: a word that shares a vocabulary bucket with a
// vouching word is not vouching ("dropped" shares one with a claim word).
func TestClaimWordsExact(t *testing.T) {
	require.NotZero(t, verifyClass[bucketOf("dropped")]&vwClaim, "precondition: the collision this test is about")
	assert.False(t, hasClaim("He dropped 3 eggs."))
	assert.False(t, factsOf("How many eggs?", "He dropped 3 eggs, so 16 - 3 = 13.\n#### 13").hard.claims)
	assert.True(t, hasClaim("I double-checked it."))
	assert.True(t, hasClaim("This is CORRECT."))
}

// TestVerifyClassOf: the cached group bits never hide a bucket's class.
func TestVerifyClassOf(t *testing.T) {
	for b := range uint32(vocabSize) {
		if verifyClassOf(b) != verifyClass[b] {
			t.Fatalf("bucket %d: %b, table %b", b, verifyClassOf(b), verifyClass[b])
		}
	}
}

// TestRefusesAsContains: refuses finds a refusal wherever a plain search of
// the first 120 lower-cased bytes finds one, and nowhere else.
func TestRefusesAsContains(t *testing.T) {
	naive := func(text string) bool {
		head := strings.ToLower(text[:min(len(text), 120)])
		for _, r := range refusals {
			if strings.Contains(head, r) {
				return true
			}
		}
		return false
	}
	var texts []string
	for _, r := range refusals {
		for _, pad := range []int{0, 1, 50, 112, 113, 119, 120} {
			p := strings.Repeat("x", pad)
			texts = append(texts, p+r, p+strings.ToUpper(r)+" help", p+r[:len(r)-1])
		}
	}
	texts = append(texts, "", "I", "Taxi cannot wait", "As an AI model", "as an a", "i'm", "Sure, 16 - 3 = 13.")
	for _, x := range texts {
		assert.Equal(t, naive(x), refuses(x), "%q", x)
	}
}
