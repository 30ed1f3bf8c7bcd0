package wolkvox_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Seed corpora are in testdata/fuzz/<Target>/. Each target takes a free string for
// the never-panic properties, and numbers from which it builds a value whose parse
// it knows.

// fuzzPads is whitespace put around a value: the parsers ignore it.
var fuzzPads = []string{"", " ", "\t", "\n", "\r\n", "  \t ", "\v\f"}

func pad(s string, which uint8) string {
	p := fuzzPads[int(which)%len(fuzzPads)]
	return p + s + p
}

// checkNumber fails unless a parse that succeeded gave a finite, non-negative number.
func checkNumber(t *testing.T, name, in string, v float64, err error) {
	t.Helper()
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0) || v < 0) {
		t.Fatalf("%s(%q) = %v with no error", name, in, v)
	}
	if errors.Is(err, wolkvox.ErrEmpty) && strings.TrimSpace(in) != "" {
		t.Fatalf("%s(%q): ErrEmpty for a value that is not blank", name, in)
	}
}

func FuzzParseSeconds(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, secs uint64, quarters, form, ws uint8) {
		v, err := wolkvox.ParseSeconds(s)
		checkNumber(t, "ParseSeconds", s, v, err)

		// A known number of seconds, exact in a float64 with its quarter fraction,
		// written in each form the API uses. Hours may exceed 24, minutes 60 in MM:SS.
		n := secs % (2 * wolkvox.MaxSeconds) // half within the bound, half past it
		frac := int(quarters % 4)
		want := float64(n) + float64(frac)/4
		fracText := []string{"", ".25", ".5", ".75"}[frac]
		var in string
		switch form % 4 {
		case 0:
			in = fmt.Sprintf("%d%s", n, fracText)
		case 1:
			in = fmt.Sprintf("%02d:%02d:%02d%s", n/3600, n/60%60, n%60, fracText)
		case 2:
			in = fmt.Sprintf("%02d:%02d%s", n/60, n%60, fracText)
		case 3:
			in = fmt.Sprintf("%d:%02d:%02d%s", n/3600, n/60%60, n%60, fracText) // hours unpadded
		}
		in = pad(in, ws)
		got, err := wolkvox.ParseSeconds(in)
		if want > wolkvox.MaxSeconds {
			if err == nil {
				t.Fatalf("ParseSeconds(%q) = %v, want an error past the %v s bound", in, got, wolkvox.MaxSeconds)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("ParseSeconds(%q) = %v, %v; want %v", in, got, err, want)
		}
	})
}

func FuzzParseCount(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, count uint64, form, ws uint8) {
		v, err := wolkvox.ParseCount(s)
		checkNumber(t, "ParseCount", s, v, err)

		n := count % (2 * wolkvox.MaxCount) // half within the bound, half past it
		in := fmt.Sprintf("%d", n)
		if form%2 == 1 {
			in += ".0" // a decimal point is tolerated
		}
		in = pad(in, ws)
		got, err := wolkvox.ParseCount(in)
		if float64(n) > wolkvox.MaxCount {
			if err == nil {
				t.Fatalf("ParseCount(%q) = %v, want an error past the %v bound", in, got, wolkvox.MaxCount)
			}
			return
		}
		if err != nil || got != float64(n) {
			t.Fatalf("ParseCount(%q) = %v, %v; want %d", in, got, err, n)
		}
	})
}

// dateForm is a layout ParseDate reads and the precision it keeps.
type dateForm struct {
	layout string
	keep   time.Duration // the layout's last field: second, minute or hour
	zone   *time.Location
}

// dateForms restates the forms ParseDate reads. A nil zone formats in the zone
// given to ParseDate; others carry their own offset.
var dateForms = []dateForm{
	{"2006-01-02 15:04:05", time.Second, nil},
	{"2006-01-02 15:04", time.Minute, nil},
	{"2006-01-02-15", time.Hour, nil},
	{"2006-01-02 15", time.Hour, nil},
	{"20060102150405", time.Second, nil},
	{time.RFC3339, time.Second, nil},
	{time.RFC3339, time.Second, time.FixedZone("", 9*3600+30*60)},
	{time.RFC3339, time.Second, time.UTC},
	{"2006-01-02T15:04:05", time.Second, nil},
	{"2006/01/02 15:04:05", time.Second, nil},
}

// fuzzZones are the zones dates are read in. The first ones have no clock change
// between 1994 and 2200, so each wall-clock time there is one instant; New York has
// daylight saving time, where a wall-clock time can be two instants or none.
var fuzzZones = func() []*time.Location {
	var out []*time.Location
	for _, name := range []string{"America/Bogota", "Asia/Kolkata", "Asia/Kathmandu"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			panic(err)
		}
		out = append(out, loc)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return append(out, time.UTC, time.FixedZone("", -3*3600), ny)
}()

func FuzzParseDate(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, r uint64, form, zone, ws uint8) {
		loc := fuzzZones[int(zone)%len(fuzzZones)]
		got, err := wolkvox.ParseDate(s, loc)
		if errors.Is(err, wolkvox.ErrEmpty) != (strings.TrimSpace(s) == "") {
			t.Fatalf("ParseDate(%q): %v", s, err)
		}
		// What ParseDate returns, written again in a form it reads, reads the same.
		if u := got.UTC(); err == nil && u.Year() >= 0 && u.Year() <= 9999 {
			again, err := wolkvox.ParseDate(u.Format(time.RFC3339Nano), loc)
			if err != nil || !again.Equal(got) {
				t.Fatalf("ParseDate(%q) = %v, whose RFC 3339 form %q reads as %v, %v", s, got, u.Format(time.RFC3339Nano), again, err)
			}
		}

		// A random time of the layout's precision, 1994-2199, written in each form,
		// reads as the same instant.
		df := dateForms[int(form)%len(dateForms)]
		year := 1994 + int(r%206)
		r /= 206
		month := time.Month(1 + r%12)
		r /= 12
		day := 1 + int(r%31) // past the month's end, time.Date moves to the next one
		r /= 31
		hour := int(r % 24)
		r /= 24
		minute, second := int(r%60), int(r/60%60)
		switch df.keep {
		case time.Hour:
			minute, second = 0, 0
		case time.Minute:
			second = 0
		}
		want := time.Date(year, month, day, hour, minute, second, 0, loc)
		inZone := loc
		if df.zone != nil {
			inZone = df.zone
		}
		text := want.In(inZone).Format(df.layout)
		got, err = wolkvox.ParseDate(pad(text, ws), loc)
		switch {
		case err != nil:
			t.Fatalf("ParseDate(%q, %s): %v", text, loc, err)
		case got.Equal(want):
		case df.zone == nil && loc.String() == "America/New_York" && got.In(loc).Format(df.layout) == text:
			// A wall-clock time that daylight saving time makes ambiguous.
		default:
			t.Fatalf("ParseDate(%q, %s) = %v, want %v", text, loc, got, want)
		}
	})
}
