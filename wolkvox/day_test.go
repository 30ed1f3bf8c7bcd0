package wolkvox

import (
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
)

// A local day runs from its first instant to the next day's, 23 or 25 hours where
// clocks change, whether midnight is skipped, repeated or ordinary.
func TestDay(t *testing.T) {
	for _, tc := range []struct {
		zone, at           string // at: any instant of the day, RFC 3339
		wantStart, wantEnd string // RFC 3339 in the zone
		wantHours          float64
	}{
		{"America/Bogota", "2026-11-30T13:00:00-05:00", "2026-11-30T00:00:00-05:00", "2026-12-01T00:00:00-05:00", 24},
		// Santiago: on Saturday 4 April at 24:00 clocks go back to 23:00.
		{"America/Santiago", "2026-04-04T12:00:00-03:00", "2026-04-04T00:00:00-03:00", "2026-04-05T00:00:00-04:00", 25},
		// On Saturday 5 September at 24:00 they jump to Sunday 01:00: Sunday has no midnight.
		{"America/Santiago", "2026-09-05T12:00:00-04:00", "2026-09-05T00:00:00-04:00", "2026-09-06T01:00:00-03:00", 24},
		{"America/Santiago", "2026-09-06T12:00:00-03:00", "2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00", 23},
		// Havana: on Sunday 1 November at 01:00 clocks go back to 00:00: midnight happens twice.
		{"America/Havana", "2026-11-01T12:00:00-05:00", "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 25},
	} {
		loc := testkit.Zone(t, tc.zone)
		at, _ := time.Parse(time.RFC3339, tc.at)
		start, end := Day(at, loc)
		got := [2]string{start.In(loc).Format(time.RFC3339), end.In(loc).Format(time.RFC3339)}
		if got != [2]string{tc.wantStart, tc.wantEnd} || end.Sub(start).Hours() != tc.wantHours {
			t.Errorf("%s %s: day %v (%v h), want [%s, %s) (%v h)", tc.zone, tc.at, got, end.Sub(start).Hours(), tc.wantStart, tc.wantEnd, tc.wantHours)
		}
	}
}

// date_ini and date_end hold every wall-clock reading of the window, also where an
// hour happens twice.
func TestWallWindow(t *testing.T) {
	santiago := testkit.Zone(t, "America/Santiago")
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		from, to     string
		wantIni, end string
	}{
		{"2026-11-30T10:00:00-03:00", "2026-11-30T10:05:00-03:00", "20261130100000", "20261130100500"},
		// The whole 25-hour day of 4 April: both 23:00 hours are in [00:00:00, 23:59:59].
		{"2026-04-04T00:00:00-03:00", "2026-04-04T23:59:59-04:00", "20260404000000", "20260404235959"},
		// From the first 23:50 to the second 23:05: wall time went 23:50 -> 23:59:59, then 23:00 -> 23:05.
		{"2026-04-04T23:50:00-03:00", "2026-04-04T23:05:00-04:00", "20260404230000", "20260404235959"},
		// Across the jump of 6 September: wall time skips 00:00-00:59.
		{"2026-09-05T23:50:00-04:00", "2026-09-06T01:10:00-03:00", "20260905235000", "20260906011000"},
	} {
		ini, end := wallWindow(at(tc.from), at(tc.to), santiago)
		if ini != tc.wantIni || end != tc.end {
			t.Errorf("[%s, %s]: %s..%s, want %s..%s", tc.from, tc.to, ini, end, tc.wantIni, tc.end)
		}
	}
}
