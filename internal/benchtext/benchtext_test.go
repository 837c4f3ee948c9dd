package benchtext

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnswer2KB(t *testing.T) {
	assert.Len(t, Answer2KB, 2047)
	assert.True(t, strings.HasSuffix(Answer2KB, "\n#### 18\n"))
}

func TestGSM8K(t *testing.T) {
	q, a, err := GSM8K()
	require.NoError(t, err, "the module's copy of RouteLLM's data")
	require.Len(t, a, len(q))
	assert.Greater(t, len(q), 1000)
	assert.Contains(t, q[0], "Janet")
	assert.NotEmpty(t, a[0])
}

func TestRuns(t *testing.T) {
	r := Runs([]string{"ab", "cd", "e"}, 3, 1, 5)
	assert.Equal(t, []string{"ab\ncd", "cd\ne\n", "e\nab\n"}, r)
	assert.Nil(t, Runs([]string{"", ""}, 2, 1, 4), "nothing to run together")
}
