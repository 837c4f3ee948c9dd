package budget

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewScopedInvalid(t *testing.T) {
	_, err := NewScoped(-1, Limits{})
	assert.ErrorIs(t, err, ErrInvalid)
	for name, p := range map[string]Limits{
		"key limit":  {KeyLimit: -1},
		"key limits": {KeyLimits: map[string]Amount{"a": -1}},
		"lease":      {Lease: -time.Second},
		"period":     {Window: Window{Period: 9}},
	} {
		_, err := NewScoped(Dollar, p)
		assert.ErrorIs(t, err, ErrInvalid, name)
	}
	s, err := NewScoped(Dollar, Limits{})
	require.NoError(t, err)
	_, err = s.Reserve(ContextWithKey(context.Background(), string(make([]byte, maxKeyLen+1))), 1)
	assert.ErrorIs(t, err, ErrInvalid)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Reserve(ctx, 1)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestContextKey(t *testing.T) {
	k, ok := KeyFromContext(context.Background())
	assert.False(t, ok)
	assert.Empty(t, k)
	k, ok = KeyFromContext(ContextWithKey(context.Background(), "tenant-7"))
	assert.True(t, ok)
	assert.Equal(t, "tenant-7", k)
	_, ok = KeyFromContext(ContextWithKey(context.Background(), ""))
	assert.False(t, ok)
	//lint:ignore SA1012 a nil context is handled, and tested here
	_, ok = KeyFromContext(nil)
	assert.False(t, ok)
}
