package budget

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExceededError(t *testing.T) {
	e := &ExceededError{Limit: 10 * Dollar, Spent: 9 * Dollar, Reserved: 50 * Cent, Requested: 60 * Cent}
	assert.Equal(t, "budget exceeded: requested $0.60 with $9.00 spent and $0.50 reserved of a $10.00 limit", e.Error())

	var err error = e
	assert.ErrorIs(t, err, ErrExceeded)
	assert.NotErrorIs(t, err, ErrInvalid)
	assert.NotErrorIs(t, err, ErrUnavailable)

	wrapped := fmt.Errorf("router: %w", err)
	assert.ErrorIs(t, wrapped, ErrExceeded)
	var got *ExceededError
	require.ErrorAs(t, wrapped, &got)
	assert.Equal(t, e, got)
}

func TestCheckReserve(t *testing.T) {
	tests := []struct {
		name   string
		s      State
		amount Amount
		fits   bool
	}{
		{"empty", State{Limit: 10}, 10, true},
		{"just fits", State{Limit: 10, Spent: 3, Reserved: 4}, 3, true},
		{"one over", State{Limit: 10, Spent: 3, Reserved: 4}, 4, false},
		{"zero when full", State{Limit: 10, Spent: 6, Reserved: 4}, 0, true},
		{"zero when overspent", State{Limit: 10, Spent: 11}, 0, false},
		{"zero limit", State{}, 1, false},
		{"zero of zero", State{}, 0, true},
		{"max fits max", State{Limit: MaxAmount}, MaxAmount, true},
		{"no overflow of spent+amount", State{Limit: MaxAmount, Spent: MaxAmount}, MaxAmount, false},
		{"no overflow of reserved+amount", State{Limit: MaxAmount, Spent: 1, Reserved: MaxAmount - 2}, 2, false},
		{"max edge", State{Limit: MaxAmount, Spent: 1, Reserved: MaxAmount - 2}, 1, true},
		{"reserved over limit", State{Limit: 5, Reserved: 6}, 0, false},
		{"negative spent creates no room", State{Limit: 5, Spent: -10}, 6, false},
		{"negative limit", State{Limit: -1}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.CheckReserve(tt.amount)
			if tt.fits {
				assert.NoError(t, err)
				return
			}
			var e *ExceededError
			require.ErrorAs(t, err, &e)
			assert.Equal(t, ExceededError{Limit: tt.s.Limit, Spent: tt.s.Spent, Reserved: tt.s.Reserved, Requested: tt.amount}, *e)
		})
	}

	err := State{Limit: 10}.CheckReserve(-1)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.NotErrorIs(t, err, ErrExceeded)
	assert.False(t, errors.Is(err, ErrExceeded))
}
