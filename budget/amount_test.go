package budget

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromUSD(t *testing.T) {
	tests := []struct {
		usd  float64
		want Amount
	}{
		{0, 0},
		{math.Copysign(0, -1), 0},
		{1, Dollar},
		{0.1, 100 * MicroDollar * 1000},
		{0.01, Cent},
		{0.000000125, 125},
		{0.000001, MicroDollar},
		{1e-9, NanoDollar},
		{4e-10, 0},  // rounds down
		{6e-10, 1},  // rounds up
		{1e-300, 0}, // tiny but not negative
		{2.5, 2*Dollar + 500_000_000},
		{24.7, 24*Dollar + 700_000_000},
		{1234.567890123, 1234_567890123},
		{9223372036, 9223372036 * Dollar},
		{9223372036.854, 9223372036_854000092}, // the float64 nearest 9223372036.854 is 9223372036.854000091552...
	}
	for _, tt := range tests {
		t.Run(strconv.FormatFloat(tt.usd, 'g', -1, 64), func(t *testing.T) {
			got, err := FromUSD(tt.usd)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFromUSDInvalid(t *testing.T) {
	tests := []struct {
		usd     float64
		mention string
	}{
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
		{-1, "-1"},
		{-1e-300, "-1e-300"},
		{1e10, "1e+10"},
		{9223372037, "9.223372037e+09"},
		{9223372036.854776, "9.223372036854776e+09"}, // 9223372036.854776382... is above MaxAmount
		{math.MaxFloat64, "1.7976931348623157e+308"},
	}
	for _, tt := range tests {
		t.Run(tt.mention, func(t *testing.T) {
			got, err := FromUSD(tt.usd)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.mention)
			assert.Zero(t, got)
		})
	}
}

func TestAmountUSD(t *testing.T) {
	tests := []struct {
		a    Amount
		want float64
	}{
		{0, 0},
		{1, 1e-9},
		{Dollar, 1},
		{Dollar + 500_000_000, 1.5},
		{-Dollar - 500_000_000, -1.5},
		{Cent, 0.01},
		{MaxAmount, 9223372036.854775807},
		{math.MinInt64, -9223372036.854775808},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.a.USD(), "%d", int64(tt.a))
	}
}

func TestAmountUSDRoundTrip(t *testing.T) {
	// Below 2^51 nano-dollars (about $2.2 million) FromUSD inverts USD.
	for _, a := range []Amount{0, 1, 7, 999_999_999, Dollar, 123_456_789_012, 1<<51 - 1, 1<<51 - 12345} {
		got, err := FromUSD(a.USD())
		require.NoError(t, err)
		assert.Equal(t, a, got)
	}
}

func TestAmountString(t *testing.T) {
	tests := []struct {
		a    Amount
		want string
	}{
		{0, "$0.00"},
		{1, "$0.000000001"},
		{125, "$0.000000125"},
		{10 * Cent, "$0.10"},
		{Cent, "$0.01"},
		{12_345_000, "$0.012345"},
		{Dollar, "$1.00"},
		{Dollar + 500_000_000, "$1.50"},
		{-Dollar - 500_000_000, "-$1.50"},
		{-1, "-$0.000000001"},
		{123_456_789_012, "$123.456789012"},
		{1_000_000 * Dollar, "$1000000.00"},
		{MaxAmount, "$9223372036.854775807"},
		{math.MinInt64, "-$9223372036.854775808"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.a.String(), "%d", int64(tt.a))
	}
}

// parseDollars parses the output of Amount.String back, exactly.
func parseDollars(s string) (Amount, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	rest, ok := strings.CutPrefix(s, "$")
	if !ok {
		return 0, errors.New("no $")
	}
	whole, frac, ok := strings.Cut(rest, ".")
	if !ok || len(frac) < 2 || len(frac) > 9 {
		return 0, errors.New("bad decimals")
	}
	n, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", 9-len(frac)), 10)
	if !ok {
		return 0, errors.New("bad digits")
	}
	if neg {
		n.Neg(n)
	}
	if !n.IsInt64() {
		return 0, errors.New("out of range")
	}
	return Amount(n.Int64()), nil
}

func TestAmountStringRoundTrip(t *testing.T) {
	for _, a := range []Amount{0, 1, -1, 10, 100, 120, 1234567, Dollar, 10 * Dollar, MaxAmount, math.MinInt64, math.MinInt64 + 1} {
		got, err := parseDollars(a.String())
		require.NoError(t, err, a.String())
		assert.Equal(t, a, got, a.String())
	}
}
