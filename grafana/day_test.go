package grafana

import (
	"testing"
	"time"
)

// Each zone's midnights, as PromQL finds them, are its midnights: the offset the
// dashboards write for an hour is the zone's, every hour of 2024-2039, and the
// subquery's step lands on every midnight. Santiago changes its offset twice a year,
// Kolkata and Kathmandu are half and three quarters of an hour off.
func TestDayOffsets(t *testing.T) {
	for _, tc := range []struct {
		zone       string
		changes    bool
		resolution string
	}{
		{"America/Bogota", false, "1h"},
		{"America/Mexico_City", false, "1h"},
		{"America/Santiago", true, "1h"},
		{"Asia/Kolkata", false, "30m"},
		{"Asia/Kathmandu", false, "15m"},
		{"UTC", false, "1h"},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			d, err := newDay(tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(d.changes) > 0; got != tc.changes || d.resolution != tc.resolution {
				t.Errorf("changes %v, resolution %s; want changes %v, resolution %s", d.changes, d.resolution, tc.changes, tc.resolution)
			}
			loc, _ := time.LoadLocation(tc.zone)
			step, _ := time.ParseDuration(d.resolution)
			for at := offsetsFrom; at.Before(offsetsTo); at = at.Add(time.Hour) {
				_, want := at.In(loc).Zone()
				if got := d.offset(at.Unix()); got != want {
					t.Fatalf("at %s the offset written is %d, the zone's %d", at.In(loc), got, want)
				}
			}
			for day := offsetsFrom.In(loc); day.Before(offsetsTo); day = day.AddDate(0, 0, 1) {
				midnight := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
				if midnight.Unix()%int64(step.Seconds()) != 0 {
					t.Fatalf("the midnight %s is not on the subquery's %s steps", midnight, step)
				}
			}
		})
	}
	if _, err := newDay("Nowhere/Foo"); err == nil {
		t.Error("an unknown zone gave dashboards")
	}
}
