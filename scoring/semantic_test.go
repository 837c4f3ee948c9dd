package scoring

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingEmbedder wraps HashEmbedder and counts the documents it embeds.
type countingEmbedder struct {
	HashEmbedder
	docs atomic.Int64
	err  error
	dim  int // when > 0, queries return this many dimensions
}

func (c *countingEmbedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	if c.err != nil {
		return nil, c.err
	}
	c.docs.Add(int64(len(texts)))
	return c.HashEmbedder.EmbedDocuments(ctx, texts)
}

func (c *countingEmbedder) EmbedQuery(ctx context.Context, text string) ([]float32, error) {
	if c.dim > 0 {
		return make([]float32, c.dim), nil
	}
	return c.HashEmbedder.EmbedQuery(ctx, text)
}

var exemplars = []Exemplar{
	{Text: "What is the capital of France?", Score: 0},
	{Text: "What is the capital of Spain?", Score: 0},
	{Text: "Translate hello into Italian", Score: 0},
	{Text: "Prove that the square root of two is irrational", Score: 1},
	{Text: "Prove that there are infinitely many prime numbers", Score: 1},
	{Text: "Derive the closed form of the Fibonacci recurrence and prove it", Score: 1},
}

func TestHashEmbedder(t *testing.T) {
	ctx := context.Background()
	e := HashEmbedder{Dim: 64}
	a, err := e.EmbedQuery(ctx, "Prove the theorem")
	require.NoError(t, err)
	b, err := e.EmbedQuery(ctx, "Prove the theorem")
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.Len(t, a, 64)
	var n float64
	for _, x := range a {
		n += float64(x) * float64(x)
	}
	assert.InDelta(t, 1, n, 1e-5)
	z, err := HashEmbedder{}.EmbedQuery(ctx, "")
	require.NoError(t, err)
	assert.Len(t, z, 256)
}

func TestSemanticScores(t *testing.T) {
	ctx := context.Background()
	s, err := NewSemantic(ctx, HashEmbedder{}, exemplars, WithNeighbors(3))
	require.NoError(t, err)
	easy, err := s.Score(ctx, req("What is the capital of Germany?"))
	require.NoError(t, err)
	hard, err := s.Score(ctx, req("Prove that the cube root of three is irrational"))
	require.NoError(t, err)
	assert.Less(t, easy, 0.5)
	assert.Greater(t, hard, 0.5)
	for _, v := range []float64{easy, hard} {
		assert.True(t, v >= 0 && v <= 1)
	}
	// k = all exemplars with no similarity at all: the plain mean.
	s2, err := NewSemantic(ctx, HashEmbedder{}, exemplars, WithNeighbors(100))
	require.NoError(t, err)
	v, err := s2.Score(ctx, Request{})
	require.NoError(t, err)
	assert.InDelta(t, 0.5, v, 1e-9)
}

func TestSemanticCache(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emb.json")
	cache, err := OpenFileCache(path)
	require.NoError(t, err)
	e := &countingEmbedder{}
	s1, err := NewSemantic(ctx, e, exemplars, WithEmbeddingCache(cache), WithCacheNamespace("hash/256"))
	require.NoError(t, err)
	assert.Equal(t, int64(len(exemplars)), e.docs.Load())
	require.NoError(t, cache.Save())

	// A restart: a fresh cache from the file, no re-embedding.
	cache2, err := OpenFileCache(path)
	require.NoError(t, err)
	e2 := &countingEmbedder{}
	s2, err := NewSemantic(ctx, e2, exemplars, WithEmbeddingCache(cache2), WithCacheNamespace("hash/256"))
	require.NoError(t, err)
	assert.Equal(t, int64(0), e2.docs.Load())
	a, _ := s1.Score(ctx, req("Prove it"))
	b, _ := s2.Score(ctx, req("Prove it"))
	assert.Equal(t, a, b)

	// Another namespace does not reuse the vectors.
	e3 := &countingEmbedder{}
	_, err = NewSemantic(ctx, e3, exemplars, WithEmbeddingCache(cache2), WithCacheNamespace("other"))
	require.NoError(t, err)
	assert.Equal(t, int64(len(exemplars)), e3.docs.Load())
	assert.NotEqual(t, CacheKey("a", "x"), CacheKey("b", "x"))
}

func TestSemanticErrors(t *testing.T) {
	ctx := context.Background()
	_, err := NewSemantic(ctx, nil, exemplars)
	assert.Error(t, err)
	_, err = NewSemantic(ctx, HashEmbedder{}, nil)
	assert.Error(t, err)
	_, err = NewSemantic(ctx, HashEmbedder{}, exemplars, WithNeighbors(0))
	assert.Error(t, err)
	_, err = NewSemantic(ctx, HashEmbedder{}, []Exemplar{{Text: "x", Score: math.NaN()}})
	assert.Error(t, err)
	boom := errors.New("boom")
	_, err = NewSemantic(ctx, &countingEmbedder{err: boom}, exemplars)
	assert.ErrorIs(t, err, boom)
	s, err := NewSemantic(ctx, &countingEmbedder{dim: 3}, exemplars)
	require.NoError(t, err)
	_, err = s.Score(ctx, req("x"))
	assert.Error(t, err, "dimension mismatch")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	s, err = NewSemantic(ctx, HashEmbedder{}, exemplars)
	require.NoError(t, err)
	_, err = s.Score(cctx, req("x"))
	assert.ErrorIs(t, err, context.Canceled)
	_, err = OpenFileCache(filepath.Join(t.TempDir()))
	assert.Error(t, err, "a directory is not a cache file")
}
