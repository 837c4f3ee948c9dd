package budget

import (
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // the tests' time zones, whatever the machine has

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWindowBounds(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, ny) }

	gen, end := Window{}.Bounds(at(2025, 1, 1, 0, 0))
	assert.Zero(t, gen)
	assert.True(t, end.IsZero())

	daily := Window{Period: Daily, Location: ny}
	g1, e1 := daily.Bounds(at(2025, 3, 9, 0, 30)) // the 23-hour day (DST starts)
	g2, _ := daily.Bounds(at(2025, 3, 9, 23, 59))
	g3, _ := daily.Bounds(at(2025, 3, 10, 0, 0))
	assert.Equal(t, g1, g2)
	assert.Equal(t, g1+1, g3)
	assert.Equal(t, at(2025, 3, 10, 0, 0), e1)
	assert.Equal(t, 23*time.Hour, e1.Sub(at(2025, 3, 9, 0, 0)))
	// The same instant is another day in UTC.
	gu, _ := Window{Period: Daily}.Bounds(at(2025, 3, 9, 23, 0))
	assert.Equal(t, g1+1, gu)

	weekly := Window{Period: Weekly, Location: ny}
	sun, _ := weekly.Bounds(at(2025, 6, 15, 23, 59)) // a Sunday
	mon, eMon := weekly.Bounds(at(2025, 6, 16, 0, 0))
	sat, _ := weekly.Bounds(at(2025, 6, 21, 12, 0))
	assert.Equal(t, sun+1, mon)
	assert.Equal(t, mon, sat)
	assert.Equal(t, at(2025, 6, 23, 0, 0), eMon)

	monthly := Window{Period: Monthly, Location: ny}
	jan, eJan := monthly.Bounds(at(2025, 1, 31, 23, 59))
	feb, eFeb := monthly.Bounds(at(2025, 2, 1, 0, 0))
	dec, eDec := monthly.Bounds(at(2024, 12, 5, 0, 0))
	assert.Equal(t, jan+1, feb)
	assert.Equal(t, dec+1, jan)
	assert.Equal(t, at(2025, 2, 1, 0, 0), eJan)
	assert.Equal(t, at(2025, 3, 1, 0, 0), eFeb)
	assert.Equal(t, at(2025, 1, 1, 0, 0), eDec)

	old, _ := daily.Bounds(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, uint64(1), old, "before 1970: generation 1")

	assert.Equal(t, "daily", Daily.String())
	assert.Equal(t, "Period(9)", Period(9).String())
}

// TestWindowBoundsProperty checks, for random instants, that an instant is
// before its window's end, that the end starts the next generation and that
// the instant before the end is still in the window.
func TestWindowBoundsProperty(t *testing.T) {
	locs := []*time.Location{time.UTC}
	for _, name := range []string{"America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia"} {
		l, err := time.LoadLocation(name)
		require.NoError(t, err)
		locs = append(locs, l)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		w := Window{Period: Period(1 + rng.IntN(3)), Location: locs[rng.IntN(len(locs))]}
		tm := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9))
		g, end := w.Bounds(tm)
		if !assert.True(t, tm.Before(end), "%v %v", w, tm) {
			return
		}
		gEnd, _ := w.Bounds(end)
		gPrev, _ := w.Bounds(end.Add(-time.Nanosecond))
		if !assert.Equal(t, g+1, gEnd, "%v %v", w.Period, tm) || !assert.Equal(t, g, gPrev) {
			return
		}
	}
}

// TestWindowStartInvertsBounds checks, for random instants and every period,
// that Start of an instant's generation is at or before it, and that the
// window is [Start, end).
func TestWindowStartInvertsBounds(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	kolkata, err := time.LoadLocation("Asia/Kolkata") // a half-hour offset
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	for _, loc := range []*time.Location{nil, ny, kolkata} {
		for _, p := range []Period{Minutely, Hourly, Daily, Weekly, Monthly} {
			w := Window{Period: p, Location: loc}
			for range 2000 {
				at := time.Unix(1_600_000_000+r.Int64N(400_000_000), r.Int64N(1e9))
				g, end := w.Bounds(at)
				start := w.Start(g)
				if !start.After(at) && at.Before(end) {
					g2, _ := w.Bounds(start)
					assert.Equal(t, g, g2, "%v %v: Bounds(Start(%d))", p, loc, g)
					continue
				}
				// Only the repeated autumn hour of a DST zone may start
				// after the instant (the window holds two hours).
				assert.True(t, p == Hourly && loc == ny && start.Sub(at) <= time.Hour, "%v %v: %v not in [%v, %v)", p, loc, at, start, end)
			}
		}
	}
	assert.True(t, Window{Period: Minutely}.Start(0).IsZero())
	assert.True(t, Window{}.Start(5).IsZero())
}

func TestWindowMinutelyHourly(t *testing.T) {
	at := time.Date(2026, 12, 2, 6, 59, 59, 999, time.UTC)
	g, end := Window{Period: Minutely}.Bounds(at)
	assert.Equal(t, time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC), end)
	g2, _ := Window{Period: Minutely}.Bounds(end)
	assert.Equal(t, g+1, g2)
	h, hend := Window{Period: Hourly}.Bounds(at)
	assert.Equal(t, end, hend)
	h2, _ := Window{Period: Hourly}.Bounds(end)
	assert.Equal(t, h+1, h2)
	assert.Equal(t, "minutely", Minutely.String())
	assert.Equal(t, "hourly", Hourly.String())
	require.ErrorIs(t, Window{Period: Hourly + 1}.validate(), ErrInvalid)
}
