package bench

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/internal/routellm"
)

func TestParseNumber(t *testing.T) {
	cases := []struct {
		name, text, want string
		ok               bool
	}{
		{"plain last number", "She sells 9 eggs at $2, so she makes 18", "18", true},
		{"answer marker wins over later numbers", "Answer: 18 dollars (9 eggs × $2)", "18", true},
		{"answer is", "So the answer is $1,234.", "1234", true},
		{"last answer marker wins", "My first answer: 12. Wait, that is wrong.\nAnswer: 15", "15", true},
		{"bold marker", "**Final Answer:** 42", "42", true},
		{"answer word without number falls through", "The answer depends on it.\nShe has 7 left", "7", true},
		{"gsm8k hashes", "9 * $2 = $<<9*2=18>>18.\n#### 18\n\nThat took 3 steps", "18", true},
		{"boxed", `so x = \boxed{2.50} and we check with 3`, "2.5", true},
		{"trailing zero decimals", "It costs 18.00", "18", true},
		{"decimal kept", "It weighs 0.50 kg", "0.5", true},
		{"sentence-final dot is not a decimal", "The total is 64.", "64", true},
		{"thousands separators", "They earn 1,234,567 a year", "1234567", true},
		{"negative", "The change is -15", "-15", true},
		{"unicode minus", "The change is −15", "-15", true},
		{"range is not negative", "between 3-5 hours", "5", true},
		{"model name digits are skipped", "Simulated answer from gpt-4o-mini: yes", "", false},
		{"word-glued digits skipped", "x2 and CO2", "", false},
		{"leading zeros", "code 007", "7", true},
		{"negative zero", "-0.0", "0", true},
		{"no number", "I cannot tell.", "", false},
		{"empty", "", "", false},
		{"units glued right are fine", "He ran 18km", "18", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseNumber(c.text)
			assert.Equal(t, c.ok, ok)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestNormalizeAndSameNumber(t *testing.T) {
	assert.Equal(t, "1234.5", NormalizeNumber("1,234.500"))
	assert.Equal(t, "18", NormalizeNumber("18.0"))
	assert.Equal(t, "0.5", NormalizeNumber("0.50"))
	assert.Equal(t, "-3", NormalizeNumber("-003"))
	assert.Equal(t, "0", NormalizeNumber("-0"))
	assert.True(t, SameNumber("18", "18"))
	assert.True(t, SameNumber("0.1", "0.10000000000000001"))
	assert.False(t, SameNumber("18", "-18"))
	assert.False(t, SameNumber("0.84", "84"))
	assert.False(t, SameNumber("x", "x1"))
}

func TestParseLetter(t *testing.T) {
	cases := []struct {
		name, text, want string
		ok               bool
	}{
		{"letter alone", "C", "C", true},
		{"lower-case alone", " c\n", "C", true},
		{"parenthesized alone", "(B)", "B", true},
		{"bold alone", "**D**", "D", true},
		{"letter and dot", "A.", "A", true},
		{"answer marker", "Let me think. Answer: B", "B", true},
		{"answer is with parens", "The answer is (D) because…", "D", true},
		{"last answer marker wins", "Answer: A? No. The answer is C", "C", true},
		{"leading choice text", "C. paralysis of the facial muscles, loss of taste and lacrimation.", "C", true},
		{"leading parens", "(A) 42 is correct", "A", true},
		{"option word", "I would pick option B here", "B", true},
		{"article is skipped", "A good answer is B", "B", true},
		{"article only", "A careful step by step check confirms it.", "", false},
		{"lower-case letters in words ignored", "a bad day", "", false},
		{"letters inside words ignored", "CD-ROM and ABBA", "", false},
		{"E is not a choice", "E", "", false},
		{"capital A before a capital word counts", "A Because of friction", "A", true},
		{"empty", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseLetter(c.text)
			assert.Equal(t, c.ok, ok)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestGradeReply(t *testing.T) {
	num := LiveItem{Prompt: "p", Grade: GradeNumber, Gold: "1234"}
	_, ok, correct := GradeReply(num, "Answer: $1,234.00")
	assert.True(t, ok)
	assert.True(t, correct)
	parsed, ok, correct := GradeReply(num, "Answer: 1235")
	assert.Equal(t, "1235", parsed)
	assert.True(t, ok)
	assert.False(t, correct)
	_, ok, correct = GradeReply(num, "no idea")
	assert.False(t, ok)
	assert.False(t, correct)

	letter := LiveItem{Prompt: "p", Grade: GradeLetter, Gold: "B"}
	_, _, correct = GradeReply(letter, "b")
	assert.True(t, correct)
	_, _, correct = GradeReply(letter, "A good guess is C")
	assert.False(t, correct)

	noGold := LiveItem{Prompt: "p", Grade: GradeLetter}
	parsed, ok, correct = GradeReply(noGold, "B")
	assert.Equal(t, "B", parsed)
	assert.True(t, ok, "the format is still checked")
	assert.False(t, correct, "an ungraded item is never correct")
	assert.False(t, noGold.Graded())
}

func TestGSM8KGold(t *testing.T) {
	cheap := "She has 16 - 7 = 9 eggs.\n#### 18\n"
	capable := "She makes 9 * $2 = $18 every day."
	g, ok := GSM8KGold(cheap, true, capable, true)
	require.True(t, ok)
	assert.Equal(t, "18", g)
	g, ok = GSM8KGold(cheap, false, capable, true)
	require.True(t, ok)
	assert.Equal(t, "18", g)
	g, ok = GSM8KGold("#### 1,200", true, "wrong: 7", false)
	require.True(t, ok)
	assert.Equal(t, "1200", g, "the cheap model's number when only it was right")
	_, ok = GSM8KGold(cheap, false, capable, false)
	assert.False(t, ok, "no correct response: no gold")
	_, ok = GSM8KGold("#### -15", true, "He has $15 more.", true)
	assert.False(t, ok, "two correct responses that disagree: no gold")
}

func TestReadLiveJSONL(t *testing.T) {
	in := `{"prompt": "2+3?", "answer": 5}
{"prompt": "pick", "answer": "(c)"}
{"prompt": "big", "answer": "1,000", "grade": "number"}

{"prompt": "free text"}
{"prompt": "letter without gold", "grade": "letter"}
{"prompt": "A?", "answer": "A", "grade": "none"}
`
	s, err := ReadLiveJSONL(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, s.Items, 6)
	assert.Equal(t, LiveItem{Prompt: "2+3?", Grade: GradeNumber, Gold: "5"}, s.Items[0])
	assert.Equal(t, LiveItem{Prompt: "pick", Grade: GradeLetter, Gold: "C"}, s.Items[1])
	assert.Equal(t, LiveItem{Prompt: "big", Grade: GradeNumber, Gold: "1000"}, s.Items[2])
	assert.Equal(t, LiveItem{Prompt: "free text", Grade: GradeNone}, s.Items[3])
	assert.Equal(t, LiveItem{Prompt: "letter without gold", Grade: GradeLetter}, s.Items[4])
	assert.Equal(t, LiveItem{Prompt: "A?", Grade: GradeNone}, s.Items[5])
	assert.Contains(t, s.Gold, "3 of 6 items")

	for _, bad := range []string{
		`{"answer": 5}`,
		`{"prompt": "p", "answer": "seven"}`,
		`{"prompt": "p", "answer": "E", "grade": "letter"}`,
		`{"prompt": "p", "answer": "x", "grade": "number"}`,
		`{"prompt": "p", "grade": "essay"}`,
		`{"prompt": "p", "answer": [1]}`,
		`not json`,
		``,
	} {
		_, err := ReadLiveJSONL(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}

func TestSampleIndexes(t *testing.T) {
	a := SampleIndexes(1000, 50, 7)
	b := SampleIndexes(1000, 50, 7)
	require.Len(t, a, 50)
	assert.Equal(t, a, b, "same seed, same sample")
	assert.IsIncreasing(t, a)
	c := SampleIndexes(1000, 50, 8)
	assert.NotEqual(t, a, c, "another seed, another sample")
	seen := map[int]bool{}
	for _, i := range a {
		assert.False(t, seen[i])
		seen[i] = true
		assert.True(t, i >= 0 && i < 1000)
	}
	assert.Equal(t, []int{0, 1, 2}, SampleIndexes(3, 10, 1), "n ≥ total takes all")
	assert.Nil(t, SampleIndexes(3, 0, 1))
	assert.Nil(t, SampleIndexes(0, 5, 1))
	// Pinned: a change of the sampling algorithm changes every live run's
	// prompts, and must be deliberate.
	assert.Equal(t, []int{2, 7, 8}, SampleIndexes(10, 3, 1))

	s := LiveSet{Name: "x"}
	for i := 0; i < 20; i++ {
		s.Items = append(s.Items, LiveItem{Prompt: string(rune('a' + i))})
	}
	sub := s.Sample(5, 3)
	require.Len(t, sub.Items, 5)
	assert.Equal(t, "x", sub.Name)
	assert.Len(t, s.Items, 20, "the source is untouched")
}

func TestLoadRouteLLMLive(t *testing.T) {
	dir, err := routellm.Dir()
	require.NoError(t, err)
	sets, err := LoadRouteLLMLive(dir)
	require.NoError(t, err)
	require.Len(t, sets, 2)
	gsm, mmlu := sets[0], sets[1]
	assert.Equal(t, "gsm8k", gsm.Name)
	assert.Equal(t, 1307, len(gsm.Items)+gsm.Dropped, "every non-contaminated prompt is kept or counted as dropped")
	assert.Less(t, gsm.Dropped, 130)
	for _, it := range gsm.Items {
		require.True(t, it.Graded())
		_, ok := ParseNumber(it.Gold)
		require.True(t, ok, it.Gold)
	}
	// The first prompt kept (GSM8K's fourth; the first three are
	// contaminated): James's sprints, whose official GSM8K answer is 540.
	require.NotEmpty(t, gsm.Items)
	assert.True(t, strings.HasPrefix(gsm.Items[0].Prompt, "James decides to run 3 sprints"), gsm.Items[0].Prompt)
	assert.Equal(t, "540", gsm.Items[0].Gold)
	assert.Equal(t, "mmlu", mmlu.Name)
	assert.Len(t, mmlu.Items, 14037)
	for _, it := range mmlu.Items {
		require.False(t, it.Graded(), "RouteLLM's MMLU has no gold letters")
		require.Equal(t, GradeLetter, it.Grade)
	}
}
