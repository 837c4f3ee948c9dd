package baar_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar"
)

func TestWiredContentCaptureAndGauges(t *testing.T) {
	o := newObserved(t, openAIStyle(), anthropicStyle(), scoreOf(0.1), baar.WithContentCapture(true))
	_, err := o.r.GenerateContent(context.Background(), human1("What is 2+2?"))
	require.NoError(t, err)
	_, attempts := callSpans(t, o.spans)
	require.Len(t, attempts, 1)
	at := attrsOf(attempts[0])
	in := at["gen_ai.input.messages"].AsSlice()
	require.Len(t, in, 1)
	assert.Contains(t, in[0].Emit(), "What is 2+2?")
	out := at["gen_ai.output.messages"].AsSlice()
	require.Len(t, out, 1)
	assert.Contains(t, out[0].Emit(), "fine")
	m := collect(t, o.reader)
	assert.Contains(t, m, "baar.budget.remaining", "the in-memory ledger is observed")
}
