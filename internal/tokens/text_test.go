package tokens

import (
	"strings"
	"testing"
	"time"

	"github.com/pkoukk/tiktoken-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCountTextsKnownValues(t *testing.T) {
	// tiktoken's documented examples: "tiktoken is great!" is six cl100k
	// tokens, "hello world" two. Embeddings are counted with no framing.
	c := NewCounter()
	for _, model := range []string{"text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"} {
		n, exact := c.CountTexts(model, []string{"tiktoken is great!", "hello world"}, TextCountLimit)
		assert.True(t, exact, model)
		assert.Equal(t, int64(8), n, model)
	}
	n, exact := c.CountTexts("text-embedding-3-small", nil, TextCountLimit)
	assert.True(t, exact)
	assert.Zero(t, n)
}

func TestCountTextsMatchesTiktoken(t *testing.T) {
	c := NewCounter()
	ref := reference(t, tiktoken.MODEL_CL100K_BASE)
	for name, s := range corpus {
		if name == "invalid" || name == "long run" {
			continue // invalid UTF-8 is refused before counting; long runs are bounded
		}
		n, exact := c.CountTexts("text-embedding-3-small", []string{s}, TextCountLimit)
		require.True(t, exact, name)
		assert.Equal(t, int64(len(ref.EncodeOrdinary(s))), n, name)
		assert.LessOrEqual(t, n, TextsBound("text-embedding-3-small", []string{s}), name)
	}
	// o200k models count with o200k.
	s := corpus["mixed"]
	n, exact := c.CountTexts("gpt-4o", []string{s}, TextCountLimit)
	require.True(t, exact)
	assert.Equal(t, int64(len(reference(t, tiktoken.MODEL_O200K_BASE).EncodeOrdinary(s))), n)
}

func TestCountTextsInexact(t *testing.T) {
	c := NewCounter()
	texts := []string{"some text", "more text"}
	// Not an exact family: the bound, 25% more and one per text.
	n, exact := c.CountTexts("mistral-embed", texts, TextCountLimit)
	assert.False(t, exact)
	assert.Equal(t, int64(18+18/4+2), n)
	assert.Equal(t, n, TextsBound("mistral-embed", texts))
	// Over the size limit: the bound, not tokenized.
	before := c.encoded.Load()
	n, exact = c.CountTexts("text-embedding-3-small", texts, 17)
	assert.False(t, exact)
	assert.Equal(t, int64(18), n)
	assert.Equal(t, before, c.encoded.Load(), "nothing tokenized")
	// A piece too long to tokenize: the bound.
	n, exact = c.CountTexts("text-embedding-3-small", []string{"x", corpus["long run"]}, TextCountLimit)
	assert.False(t, exact)
	assert.Equal(t, TextsBound("text-embedding-3-small", []string{"x", corpus["long run"]}), n)
}

func TestCountTextsCache(t *testing.T) {
	c := NewCounter()
	q := "What is the boiling point of water at altitude?"
	n1, _ := c.CountTexts("text-embedding-3-small", []string{q}, TextCountLimit)
	enc := c.encoded.Load()
	require.Equal(t, int64(len(q)), enc)
	n2, _ := c.CountTexts("text-embedding-3-small", []string{q}, TextCountLimit)
	assert.Equal(t, n1, n2)
	assert.Equal(t, enc, c.encoded.Load(), "a text seen before is not tokenized again")
	// A chat message with the same text is a different cache entry.
	c.Count("gpt-4", nil, nil)
	assert.Equal(t, enc, c.encoded.Load())
}

func TestTextsBoundHuge(t *testing.T) {
	huge := strings.Repeat("lorem ipsum ", 10<<20/12) // 10 MiB
	start := time.Now()
	n := TextsBound("text-embedding-3-small", []string{huge, huge})
	assert.Equal(t, int64(2*len(huge)), n)
	assert.Less(t, time.Since(start), time.Second, "a byte bound, not a tokenization")
	// Invalid bytes count three: encoding/json sends U+FFFD.
	assert.Equal(t, int64(1+3), TextsBound("text-embedding-3-small", []string{"a\xff"}))
}
