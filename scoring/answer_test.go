package scoring_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/baarcore/baar/scoring"
)

func TestFinalAnswerStyles(t *testing.T) {
	work := "She sells 9 eggs at $2 each, so 9 * 2 = 18.\n"
	for _, tc := range []struct{ text, want string }{
		{work + "#### 18", "18"},
		{work + "#### 18\n\n", "18"},
		{work + "The answer is 18.", "18"},
		{work + "the answer is: $18", "18"},
		{work + "A: 18", "18"},
		{work + "Answer: 18 dollars", "18"},
		{work + "**Final answer:** 18", "18"},
		{work + "Final Answer: The final answer is $\\boxed{18}$. I hope it is correct.", "18"},
		{work + "So she makes \\boxed{18} dollars.", "18"},
		{work + "Therefore she makes $18 a day.", "18"},
		{"The answer is 1,250.00", "1250"},
		{"#### 50%", "50"},
		{"The answer is 5/2", "2.5"},
		{"The answer is \\frac{3}{4}.", "0.75"},
		{"The answer is 1 1/2 cups", "1.5"},
		{"The answer is 16 - 3 = 13", "13"},
		{"#### -7", "-7"},
		{"The answer is -$5.", "-5"},
		{"Answer: 18.0", "18"},
		{"The answer is (B).", "b"},
		{"Answer: C) Paris", "c"},
		{"The answer is b", "b"},
		{"The answer is Paris.", "paris"},
		{"Paris", "paris"},
		{"  The  Eiffel\tTower ", "the eiffel tower"},
		{"Final answer: \\boxed{x^2 + 1}", "x^2 + 1"},
		{"#### 18\nThe answer is 20", "20"}, // the last marked line wins
		{"#### Step 1: eggs left\n16 - 7 = 9\n#### Step 2: money\nShe makes 9 * 2 = $18.", "18"}, // headings are no marker
		{"#### yes", "yes"},
	} {
		got, ok := scoring.FinalAnswer(tc.text)
		assert.True(t, ok, "%q", tc.text)
		assert.Equal(t, tc.want, got, "%q", tc.text)
	}
}

func TestFinalAnswerNone(t *testing.T) {
	for _, text := range []string{"", "   \n\t", strings.Repeat("words without any figure ", 20)} {
		got, ok := scoring.FinalAnswer(text)
		assert.False(t, ok, "%q gave %q", text, got)
	}
}

func TestNormalizeAnswerAgrees(t *testing.T) {
	for _, group := range [][]string{
		{"18", "$18", "18.0", "18.00 dollars", "$18/day", "x = 18", "**18**", "\\boxed{18}", "$18$"},
		{"1250", "1,250", "$1,250.00"},
		{"0.5", "1/2", "\\frac{1}{2}", ".5 liters"},
		{"b", "B", "(B)", "B.", "b) the second"},
	} {
		want := scoring.NormalizeAnswer(group[0])
		for _, s := range group[1:] {
			assert.Equal(t, want, scoring.NormalizeAnswer(s), "%q vs %q", group[0], s)
		}
	}
	assert.NotEqual(t, scoring.NormalizeAnswer("18"), scoring.NormalizeAnswer("180"))
	assert.NotEqual(t, scoring.NormalizeAnswer("1,250"), scoring.NormalizeAnswer("1.250"))
	assert.NotEqual(t, scoring.NormalizeAnswer("A bolt"), "a", "a word starting with A is not option A")
}

func TestSimilarity(t *testing.T) {
	code := "func add(a, b int) int {\n\treturn a + b\n}\n"
	assert.Equal(t, 1.0, scoring.Similarity(code, code))
	assert.Equal(t, 1.0, scoring.Similarity(code, "```go\nfunc add(a, b int) int { return a + b }\n```"), "layout and fences do not count")
	assert.Greater(t, scoring.Similarity(code, "func add(a, b int) int {\n\treturn b + a\n}\n"), 0.5)
	assert.Less(t, scoring.Similarity(code, "def mul(x, y):\n    return x * y\n"), 0.2)
	assert.Equal(t, scoring.Similarity("one two three", "three two one"), scoring.Similarity("three two one", "one two three"))
	assert.Equal(t, 1.0, scoring.Similarity("Paris", "paris"))
	assert.Equal(t, 0.0, scoring.Similarity("Paris", "Rome"))
}

func TestFinalAnswerHugeInputBounded(t *testing.T) {
	huge := strings.Repeat("1 + 1 = 2 and 3 x 4 is twelve; ", 1<<16) + "\n#### 42"
	start := time.Now()
	got, ok := scoring.FinalAnswer(huge)
	assert.True(t, ok)
	assert.Equal(t, "42", got)
	noMarker := strings.Repeat("z", 8<<20)
	_, _ = scoring.FinalAnswer(noMarker)
	_ = scoring.NormalizeAnswer(noMarker)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func FuzzFinalAnswer(f *testing.F) {
	for _, s := range []string{"#### 18", "The answer is \\boxed{\\frac{1}{2}}", "A: (B)", "1,000,000.5%", "\xff\xfe#### \xc3", "-$", "\\boxed{", "Answer: 1 1/0", "99999999999999999999999999999999999999e999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := scoring.FinalAnswer(s)
		if !ok && got != "" {
			t.Fatalf("not found but %q", got)
		}
		if len(got) > 200 && !strings.ContainsAny(got, "0123456789") {
			t.Fatalf("text answer of %d bytes", len(got))
		}
		n := scoring.NormalizeAnswer(s)
		if !utf8.ValidString(n) {
			t.Fatalf("invalid UTF-8 out of %q: %q", s, n)
		}
		if again := scoring.NormalizeAnswer(n); ok && again != scoring.NormalizeAnswer(again) {
			t.Fatalf("normalization not stable: %q → %q → %q", s, n, again)
		}
		if v := scoring.Similarity(s, got); v < 0 || v > 1 {
			t.Fatalf("similarity %v", v)
		}
	})
}
