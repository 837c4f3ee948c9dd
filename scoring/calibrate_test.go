package scoring

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThresholdForShare(t *testing.T) {
	s := []float64{0.1, 0.9, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0}
	cases := []struct {
		share, want float64
	}{
		{0.2, 0.8}, {0.5, 0.5}, {1, 0.0}, {0.1, 0.9}, {0.24, 0.8}, {0.26, 0.7},
	}
	for _, c := range cases {
		got, err := ThresholdForShare(s, c.share)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "share %v", c.share)
		n := 0
		for _, v := range s {
			if v >= got {
				n++
			}
		}
		assert.InDelta(t, c.share, float64(n)/float64(len(s)), 0.051, "share %v", c.share)
	}
	zero, err := ThresholdForShare(s, 0)
	require.NoError(t, err)
	assert.Greater(t, zero, 0.9)
	assert.Equal(t, math.Nextafter(0.9, 2), zero)
}

func TestThresholdForShareTies(t *testing.T) {
	// 8 of 10 samples tie at 0.5: a 30% share cannot be met exactly. Taking
	// the tie gives 90%, the next higher value 10%: 10% is closer.
	s := []float64{0.5, 0.5, 0.5, 0.5, 0.9, 0.5, 0.5, 0.5, 0.5, 0.1}
	got, err := ThresholdForShare(s, 0.3)
	require.NoError(t, err)
	assert.Equal(t, 0.9, got)
	// 70%: the tie (90%) is closer than 10%.
	got, err = ThresholdForShare(s, 0.7)
	require.NoError(t, err)
	assert.Equal(t, 0.5, got)
	// All equal: any positive share selects everything.
	got, err = ThresholdForShare([]float64{2, 2, 2}, 0.5)
	require.NoError(t, err)
	assert.Equal(t, 2.0, got)
}

func TestThresholdForShareErrors(t *testing.T) {
	for _, share := range []float64{-0.1, 1.1, math.NaN(), math.Inf(1)} {
		_, err := ThresholdForShare([]float64{1}, share)
		assert.Error(t, err, "share %v", share)
	}
	_, err := ThresholdForShare(nil, 0.2)
	assert.ErrorIs(t, err, ErrNoSamples)
	_, err = ThresholdForShare([]float64{1, math.NaN()}, 0.2)
	assert.Error(t, err)
	_, err = ThresholdForShare([]float64{1, math.Inf(-1)}, 0.2)
	assert.Error(t, err)
}

func TestCalibrate(t *testing.T) {
	ctx := context.Background()
	byLen := ScorerFunc(func(_ context.Context, r Request) (float64, error) {
		return float64(len(r.Messages[0].Text)), nil
	})
	var reqs []Request
	for _, s := range []string{"a", "bb", "ccc", "dddd", "eeeee"} {
		reqs = append(reqs, Request{Messages: []Message{{Role: RoleHuman, Text: s}}})
	}
	th, err := Calibrate(ctx, byLen, reqs, 0.4)
	require.NoError(t, err)
	assert.Equal(t, 4.0, th)

	_, err = Calibrate(ctx, byLen, nil, 0.4)
	assert.ErrorIs(t, err, ErrNoSamples)
	_, err = Calibrate(ctx, nil, reqs, 0.4)
	assert.Error(t, err)
	boom := errors.New("boom")
	_, err = Calibrate(ctx, ScorerFunc(func(context.Context, Request) (float64, error) { return 0, boom }), reqs, 0.4)
	assert.ErrorIs(t, err, boom)
}
