package budget

import (
	"fmt"
	"time"
)

// Period is how often a windowed budget resets.
type Period uint8

// Periods. The zero Period is Forever: the budget never resets.
const (
	Forever  Period = iota // never resets
	Daily                  // resets at midnight
	Weekly                 // resets at midnight between Sunday and Monday
	Monthly                // resets at midnight on the first day of the month
	Minutely               // resets at the start of every minute
	Hourly                 // resets at the start of every hour
)

// String returns "forever", "daily", "weekly", "monthly", "minutely" or
// "hourly".
func (p Period) String() string {
	switch p {
	case Forever:
		return "forever"
	case Daily:
		return "daily"
	case Weekly:
		return "weekly"
	case Monthly:
		return "monthly"
	case Minutely:
		return "minutely"
	case Hourly:
		return "hourly"
	}
	return fmt.Sprintf("Period(%d)", uint8(p))
}

// Window is a calendar window after which a budget starts again from $0:
// every Period, at midnight in Location (at the start of each minute or hour
// for Minutely and Hourly). The zero Window never resets.
//
// Windows are fixed calendar windows, not sliding ones: a Minutely budget of
// $1 admits $1 in 12:00:00–12:00:59 and another $1 from 12:01:00, so up to
// twice the limit can be spent across a boundary in less than a period.
// Hourly windows follow the wall clock of Location: in a time zone with
// daylight saving time the hour repeated in autumn is one window of two
// hours, the hour skipped in spring does not exist.
//
// Each window has a generation: 0 for a budget that never resets, else a
// number that grows by one from each window to the next (minutes, hours,
// days, weeks or months since 1970). A [Reservation] carries the generation it was made in,
// and its settlement is applied to that window, never to a later one.
type Window struct {
	Period Period
	// Location is the time zone of the calendar; nil means UTC.
	Location *time.Location
}

// validate reports an error matching ErrInvalid for an unknown period.
func (w Window) validate() error {
	if w.Period > Hourly {
		return fmt.Errorf("%w: unknown budget window period %d", ErrInvalid, uint8(w.Period))
	}
	return nil
}

// Bounds returns the generation of the window holding t and the instant the
// window ends. A Window that never resets returns 0 and the zero time.
// Instants before 1970 in Location all belong to generation 1.
//
// Bounds is exported for ledger implementations outside this package (the
// Redis ledger, third-party stores): they share its generations, which
// [Reservation.Generation] carries, and expire a window's data at its end.
func (w Window) Bounds(t time.Time) (gen uint64, end time.Time) {
	if w.Period == Forever || w.Period > Hourly {
		return 0, time.Time{}
	}
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	y, m, d := t.Date()
	var n int64
	switch w.Period {
	case Daily:
		n = civilDays(y, m, d)
		end = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	case Weekly:
		days := civilDays(y, m, d)
		// 1970-01-01 was a Thursday: shifting by 3 makes weeks start on Monday.
		n = floorDiv(days+3, 7)
		monday := d - int((days+3)-n*7)
		end = time.Date(y, m, monday+7, 0, 0, 0, 0, loc)
	case Monthly:
		n = (int64(y)-1970)*12 + int64(m) - 1
		end = time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	case Hourly:
		h := t.Hour()
		n = civilDays(y, m, d)*24 + int64(h)
		end = time.Date(y, m, d, h+1, 0, 0, 0, loc)
	case Minutely:
		h, mi := t.Hour(), t.Minute()
		n = (civilDays(y, m, d)*24+int64(h))*60 + int64(mi)
		end = time.Date(y, m, d, h, mi+1, 0, 0, loc)
	}
	if n < 0 {
		n = 0
	}
	return uint64(n) + 1, end
}

// civilDays returns the number of days from 1970-01-01 to the date y-m-d.
func civilDays(y int, m time.Month, d int) int64 {
	return floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Start returns the instant the window of generation gen starts, the
// inverse of [Window.Bounds]: for every t in a window of generation g,
// Start(g) ≤ t < end. It returns the zero time for generation 0 (a budget
// that never resets) and for a Window that never resets.
func (w Window) Start(gen uint64) time.Time {
	if gen == 0 || w.Period == Forever || w.Period > Hourly {
		return time.Time{}
	}
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	n := int(gen - 1)
	switch w.Period {
	case Daily:
		return time.Date(1970, 1, 1+n, 0, 0, 0, 0, loc)
	case Weekly:
		return time.Date(1970, 1, 1+n*7-3, 0, 0, 0, 0, loc)
	case Monthly:
		return time.Date(1970, time.Month(1+n), 1, 0, 0, 0, 0, loc)
	case Hourly:
		return time.Date(1970, 1, 1, n, 0, 0, 0, loc)
	default: // Minutely
		return time.Date(1970, 1, 1, 0, n, 0, 0, loc)
	}
}
