package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunOffline(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "") // the simulator, whatever the environment
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, nil))
	text := out.String()
	assert.LessOrEqual(t, strings.Count(text, "\n"), 40)

	i, j := strings.Index(text, "\n1) routing"), strings.Index(text, "\n2) cascade")
	k := strings.Index(text, "\nkill-switch")
	require.True(t, i >= 0 && j > i && k > j, text)
	for _, section := range []string{text[i:j], text[j:k]} {
		// spent never goes down, and ends at what the ledger holds.
		spent := regexp.MustCompile(`spent \$(\d\.\d+)`).FindAllStringSubmatch(section, -1)
		require.Len(t, spent, len(questions)+1, section) // each call, and the total
		last := 0.0
		for _, s := range spent[:len(questions)] {
			v, err := strconv.ParseFloat(s[1], 64)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, v, last, section)
			last = v
		}
		done := regexp.MustCompile(`batch done: spent \$(\d\.\d+) \(the router's ledger: \$(\d\.\d+)\)`).FindStringSubmatch(section)
		require.NotNil(t, done, section)
		assert.Equal(t, done[1], done[2])
		assert.Equal(t, strconv.FormatFloat(last, 'f', 6, 64), done[1])
	}
	cascade := text[j:k]
	assert.Regexp(t, `(?m)^  escalated  gpt-4o `, cascade)
	assert.Regexp(t, `[1-9]\d* escalated; 4/4 arithmetic answers right`, cascade)

	assert.Contains(t, text[k:], "kill-switch after")
	m := regexp.MustCompile(`had received (\d+) requests when the call before ended, (\d+) when the refusal came`).FindStringSubmatch(text[k:])
	require.NotNil(t, m, text[k:])
	assert.Equal(t, m[1], m[2], "no provider request for the refused call")
}
