package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/scoring"
)

// TestScorerWeightsReproducible retrains the default scorer as
// cmd/baar-train does with its default flags and compares with the
// embedded bytes: a change to the training code that moves a weight fails
// here.
func TestScorerWeightsReproducible(t *testing.T) {
	gsm8kCascade(t) // skips without the data
	sets, err := LoadRouteLLM(dataDir(t), nil)
	require.NoError(t, err)
	ex, err := TrainExamples(sets, "", false, true)
	require.NoError(t, err)
	m, err := scoring.Train(context.Background(), ex, scoring.TrainOptions{})
	require.NoError(t, err)
	got, err := m.MarshalJSON()
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join("..", "..", "scoring", "weights.json"))
	require.NoError(t, err)
	assert.True(t, string(want) == string(got), "go run ./cmd/baar-train --data DIR --out scoring/weights.json gives other bytes")
}
