package wolkvox_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

func TestParseDate(t *testing.T) {
	bogota := testkit.Zone(t, "America/Bogota")
	newYork := testkit.Zone(t, "America/New_York")
	tenInBogota := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC) // 10:00 in Bogota
	for _, tc := range []struct {
		in      string
		loc     *time.Location
		want    time.Time
		wantErr error // nil: success; ErrEmpty; errAny: any other error
	}{
		{"2026-11-23 10:00:00", bogota, tenInBogota, nil},
		{"2026-11-23 10:00", bogota, tenInBogota, nil},
		{"2026-11-23-10", bogota, tenInBogota, nil},
		{"2026-11-23 10", bogota, tenInBogota, nil},
		{"20261123100000", bogota, tenInBogota, nil},
		{"2026-11-23T10:00:00", bogota, tenInBogota, nil},
		{"2026/11/23 10:00:00", bogota, tenInBogota, nil},
		{"2026-11-23T10:00:00-05:00", bogota, tenInBogota, nil},
		{"2026-11-23T15:00:00Z", bogota, tenInBogota, nil},
		{"2026-11-23T12:00:00-03:00", bogota, tenInBogota, nil}, // the offset wins over the zone
		{"2026-11-23T10:00:00.250-05:00", bogota, tenInBogota.Add(250 * time.Millisecond), nil},
		{"2026-11-23 10:00:00.5", bogota, tenInBogota.Add(500 * time.Millisecond), nil},
		{" \t2026-11-23 10:00:00\r\n", bogota, tenInBogota, nil},
		{"2026-11-23 9:05:00", bogota, tenInBogota.Add(-55 * time.Minute), nil},
		{"2026-11-23 10:00:00", nil, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), nil},
		{"2026-07-01 12:00:00", newYork, time.Date(2026, 7, 1, 16, 0, 0, 0, time.UTC), nil}, // daylight saving time
		{"2026-12-01 12:00:00", newYork, time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC), nil},
		{"2028-02-29 00:00:00", bogota, time.Date(2028, 2, 29, 5, 0, 0, 0, time.UTC), nil},
		{"", bogota, time.Time{}, wolkvox.ErrEmpty},
		{"  \n", bogota, time.Time{}, wolkvox.ErrEmpty},
		{"2026-11-23", bogota, time.Time{}, errAny},
		{"23/11/2026 10:00", bogota, time.Time{}, errAny},
		{"23-11-2026 10:00:00", bogota, time.Time{}, errAny},
		{"2026-13-01 00:00:00", bogota, time.Time{}, errAny},
		{"2026-02-30 10:00:00", bogota, time.Time{}, errAny},
		{"2027-02-29 10:00:00", bogota, time.Time{}, errAny},
		{"2026-11-23 24:00:00", bogota, time.Time{}, errAny},
		{"2026-11-23 10:60:00", bogota, time.Time{}, errAny},
		{"2026-11-23 10:00:00 PM", bogota, time.Time{}, errAny},
		{"2026-11-23 10:00:00-05:00", bogota, time.Time{}, errAny},
		{"2026-11-23T10:00:00+25:00", bogota, time.Time{}, errAny},
		{"202611231000", bogota, time.Time{}, errAny},
		{"1795446000", bogota, time.Time{}, errAny},
		{"yesterday", bogota, time.Time{}, errAny},
	} {
		got, err := wolkvox.ParseDate(tc.in, tc.loc)
		switch {
		case tc.wantErr == nil && (err != nil || !got.Equal(tc.want)):
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case errors.Is(tc.wantErr, wolkvox.ErrEmpty) && !errors.Is(err, wolkvox.ErrEmpty):
			t.Errorf("ParseDate(%q) err = %v; want ErrEmpty", tc.in, err)
		case errors.Is(tc.wantErr, errAny) && (err == nil || errors.Is(err, wolkvox.ErrEmpty)):
			t.Errorf("ParseDate(%q) = %v, %v; want an error", tc.in, got, err)
		case errors.Is(tc.wantErr, errAny) && (!strings.Contains(err.Error(), tc.in) || !strings.Contains(err.Error(), "YYYY-MM-DD HH:MM:SS")):
			t.Errorf("ParseDate(%q) error %q does not name the value and the known forms", tc.in, err)
		}
	}
}

// A long bad value is cut in the error message.
func TestParseDateErrorIsShort(t *testing.T) {
	_, err := wolkvox.ParseDate(strings.Repeat("x", 10000), time.UTC)
	if err == nil || len(err.Error()) > 400 {
		t.Fatalf("error of %d bytes: %v", len(err.Error()), err)
	}
}
