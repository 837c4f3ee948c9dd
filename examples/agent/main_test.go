package main

import (
	"bytes"
	"context"
	"regexp"
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
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	assert.LessOrEqual(t, len(lines), 60, "a newcomer reads it all")

	assert.NotContains(t, text, "no arithmetic found", "the calculator gets an expression")
	assert.NotContains(t, text, "not a valid tool\n")

	routed, cascade, rest := sections(t, text)
	// Routing by prompt: every task ends with an answer, right or marked wrong.
	assert.Len(t, regexp.MustCompile(`(?m)^  answer .* [✓✗]$`).FindAllString(routed, -1), len(tasks))
	// The cascade: every answer right, and at least one escalation of a
	// call whose cheap samples held a wrong one.
	answers := regexp.MustCompile(`(?m)^  answer (.*)$`).FindAllStringSubmatch(cascade, -1)
	require.Len(t, answers, len(tasks))
	for i, a := range answers {
		assert.Equal(t, tasks[i].want+" ✓", a[1], "task %d", i+1)
	}
	escalated := regexp.MustCompile(`(?m)^  #\d+ +escalated .*✗.*$`).FindAllString(cascade, -1)
	assert.NotEmpty(t, escalated, "an escalation of a wrong cheap answer")
	assert.Regexp(t, `cascade: \$\d\.\d+ in \d+ calls \([1-9]\d* escalated\), 5/5 right; always gpt-4o: \$\d\.\d+ in \d+ calls, 5/5 right`, rest)
	assert.Regexp(t, `the cascade cost \d+% less than always-capable`, rest)

	// The kill-switch refuses locally.
	assert.Contains(t, rest, "kill-switch: baar: budget exceeded")
	m := regexp.MustCompile(`had received (\d+) requests when the call before ended, (\d+) when the refusal came`).FindStringSubmatch(rest)
	require.NotNil(t, m, rest)
	assert.Equal(t, m[1], m[2], "no provider request for the refused call")
}

func TestRunIsDeterministic(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	var a, b bytes.Buffer
	require.NoError(t, run(context.Background(), &a, nil))
	require.NoError(t, run(context.Background(), &b, nil))
	assert.Equal(t, a.String(), b.String())
}

// sections splits the output into the routed run, the cascade run and the
// rest (summary and kill-switch).
func sections(t *testing.T, text string) (routed, cascade, rest string) {
	t.Helper()
	i := strings.Index(text, "\n1) routing")
	j := strings.Index(text, "\n2) cascade")
	k := strings.Index(text, "\ncascade: $")
	require.True(t, i >= 0 && j > i && k > j, text)
	return text[i:j], text[j:k], text[k:]
}
