package budget

import (
	"fmt"
	"time"
)

// Period is how often a windowed budget resets.
type Period uint8

// Periods. The zero Period is Forever: the budget never resets.
const (
	Forever Period = iota // never resets
	Daily                 // resets at midnight
	Weekly                // resets at midnight between Sunday and Monday
	Monthly               // resets at midnight on the first day of the month
)

// String returns "forever", "daily", "weekly" or "monthly".
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
	}
	return fmt.Sprintf("Period(%d)", uint8(p))
}

// Window is a calendar window after which a budget starts again from $0:
// every Period, at midnight in Location. The zero Window never resets.
//
// Each window has a generation: 0 for a budget that never resets, else a
// number that grows by one from each window to the next (days, weeks or
// months since 1970). A [Reservation] carries the generation it was made in,
// and its settlement is applied to that window, never to a later one.
type Window struct {
	Period Period
	// Location is the time zone of the calendar; nil means UTC.
	Location *time.Location
}

// validate reports an error matching ErrInvalid for an unknown period.
func (w Window) validate() error {
	if w.Period > Monthly {
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
	if w.Period == Forever || w.Period > Monthly {
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
