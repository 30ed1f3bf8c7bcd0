package wolkvox

import "time"

// The report's day is a day of wall-clock time in the operation's time zone: the API
// takes and gives local times without an offset. Where clocks change, a day lasts
// 23 or 25 hours, and its midnight may not exist or may happen twice.

// Day returns the local day that holds t: its first instant, and the first of the
// next day.
func Day(t time.Time, loc *time.Location) (start, end time.Time) {
	y, m, d := t.In(loc).Date()
	return dayStart(y, m, d, loc), dayStart(y, m, d+1, loc)
}

// dayStart is the first instant of the local day y-m-d: its midnight, or, where
// clocks jump over midnight, the jump; where midnight happens twice, the first.
func dayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // normalized: d may be 32
	sameDay := func(u time.Time) bool {
		uy, um, ud := u.In(loc).Date()
		return uy == date.Year() && um == date.Month() && ud == date.Day()
	}
	if !sameDay(t) {
		// Midnight does not exist: the day starts when the clocks jump to it.
		if _, jump := t.In(loc).ZoneBounds(); !jump.IsZero() && sameDay(jump) {
			return jump
		}
		return t
	}
	// Midnight may have happened earlier in the zone offset in force before t's.
	if start, _ := t.In(loc).ZoneBounds(); !start.IsZero() && start.After(t.Add(-24*time.Hour)) {
		before := start.Add(-time.Nanosecond)
		_, offset := before.In(loc).Zone()
		earlier := time.Date(y, m, d, 0, 0, 0, 0, time.FixedZone("", offset))
		if earlier.Before(start) && sameDay(earlier) {
			return earlier
		}
	}
	return t
}

// wallWindow writes [from, to] as date_ini and date_end: local wall-clock times,
// which the API compares with its own. Where clocks go back within the window, an
// hour of wall time happens twice, so the window's wall time runs from the least
// reading seen in it to the greatest.
func wallWindow(from, to time.Time, loc *time.Location) (ini, end string) {
	ini, end = from.In(loc).Format(DateLayout), to.In(loc).Format(DateLayout)
	for t := from; ; {
		_, change := t.In(loc).ZoneBounds()
		if change.IsZero() || change.After(to) {
			return ini, end
		}
		ini = min(ini, change.In(loc).Format(DateLayout))
		end = max(end, change.Add(-time.Second).In(loc).Format(DateLayout))
		t = change
	}
}

// ClocksBack is how far clocks go back within two hours of t in loc, 0 if they do
// not: an hour of wall time that happens twice, which the API, comparing wall
// times, returns both of.
func ClocksBack(t time.Time, loc *time.Location) time.Duration {
	var back time.Duration
	for at, end := t.Add(-2*time.Hour), t.Add(2*time.Hour); ; {
		_, change := at.In(loc).ZoneBounds()
		if change.IsZero() || change.After(end) {
			return back
		}
		_, before := change.Add(-time.Second).In(loc).Zone()
		_, after := change.In(loc).Zone()
		back = max(back, time.Duration(before-after)*time.Second)
		at = change
	}
}
