package scoring_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/embeddings"

	"github.com/baarcore/baar/scoring"
)

// TestLangchaingoEmbedder proves that langchaingo's embeddings.Embedder
// satisfies scoring.Embedder, with a fake client (no network).
func TestLangchaingoEmbedder(t *testing.T) {
	calls := 0
	client := embeddings.EmbedderClientFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
		calls++
		return scoring.HashEmbedder{Dim: 32}.EmbedDocuments(ctx, texts)
	})
	emb, err := embeddings.NewEmbedder(client)
	require.NoError(t, err)
	var _ scoring.Embedder = emb
	var _ scoring.Embedder = embeddings.Embedder(emb)
	ctx := context.Background()
	s, err := scoring.NewSemantic(ctx, emb, []scoring.Exemplar{
		{Text: "hello there", Score: 0}, {Text: "prove the theorem rigorously", Score: 1},
	}, scoring.WithNeighbors(1))
	require.NoError(t, err)
	v, err := s.Score(ctx, human("prove the theorem"))
	require.NoError(t, err)
	assert.Equal(t, 1.0, v)
	assert.Equal(t, 2, calls, "one batch for the exemplars, one query")
}
