package scoring

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
