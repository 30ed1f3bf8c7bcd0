package grafanatest

import (
	"testing"
	"time"
)

func TestRoundInterval(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{200 * time.Millisecond, time.Second},
		{1499 * time.Millisecond, time.Second},
		{1500 * time.Millisecond, 2 * time.Second},
		{7850 * time.Millisecond, 10 * time.Second}, // a day over 11,000 points
		{188 * time.Second, 2 * time.Minute},        // a day over a 460 px panel
		{449 * time.Second, 5 * time.Minute},
		{3 * time.Hour, 6 * time.Hour},
		{4 * time.Hour, 6 * time.Hour}, // 7 days over 42
		{17 * time.Hour, 12 * time.Hour},
		{30 * time.Hour, 24 * time.Hour},
	} {
		if got := RoundInterval(tc.in); got != tc.want {
			t.Errorf("RoundInterval(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// A stat of today, 6 columns wide (the width gives a 2-minute step over 10 hours),
// refreshed at 10:07:40.4 in Bogota: the instant query is evaluated at 10:06:00,
// and $__range is the unaligned range, rounded to the second. A panel whose interval
// and maxDataPoints make the step a second is evaluated at 10:07:40.
func TestQueriesOfAStat(t *testing.T) {
	bogota := time.FixedZone("-05", -5*3600)
	now := time.Date(2026, 11, 23, 10, 7, 40, 400e6, bogota)
	v := View{From: now.Add(-6 * time.Hour), Now: now, Zone: bogota, Width: func(c float64) float64 { return c * 50 },
		Vars: map[string]string{"operation": ".*"}}
	for _, tc := range []struct {
		name      string
		panel     Panel
		at        time.Time
		step      time.Duration
		rangeExpr string
	}{
		{"by width", Panel{"timeFrom": "now/d", "gridPos": map[string]any{"w": 6.0},
			"targets": []any{map[string]any{"refId": "A", "expr": `sum(x{operation=~"$operation"}[$__range])`, "instant": true}}},
			time.Date(2026, 11, 23, 10, 6, 0, 0, bogota), 2 * time.Minute, `sum(x{operation=~".*"}[36460s])`},
		{"a second", Panel{"timeFrom": "now/d", "interval": "1s", "maxDataPoints": 100000.0,
			"targets": []any{map[string]any{"refId": "A", "expr": `x[${__range_s}s]`, "instant": true}}},
			time.Date(2026, 11, 23, 10, 7, 40, 0, bogota), time.Second, `x[36460s]`},
		{"last hour", Panel{"timeFrom": "1h", "interval": "1s", "maxDataPoints": 100000.0,
			"targets": []any{map[string]any{"refId": "A", "expr": `x offset $__range`, "instant": true}}},
			time.Date(2026, 11, 23, 10, 7, 40, 0, bogota), time.Second, `x offset 3600s`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qs, err := v.Queries(tc.panel)
			if err != nil {
				t.Fatal(err)
			}
			if len(qs) != 1 {
				t.Fatalf("%d queries", len(qs))
			}
			q := qs[0]
			if !q.Instant || !q.At.Equal(tc.at) || q.Step != tc.step || q.Expr != tc.rangeExpr {
				t.Errorf("got instant %v at %s, step %s, %q; want at %s, step %s, %q", q.Instant, q.At, q.Step, q.Expr, tc.at, tc.step, tc.rangeExpr)
			}
		})
	}
}

// A chart's range is rounded down to its step, in the viewer's time zone: a 6-hour
// step starts at 00:00, 06:00, ... in Bogota, not in UTC.
func TestRangeAlignsInTheZone(t *testing.T) {
	bogota := time.FixedZone("-05", -5*3600)
	now := time.Date(2026, 11, 23, 10, 7, 40, 0, bogota)
	v := View{From: now.Add(-7 * 24 * time.Hour), Now: now, Zone: bogota, Vars: map[string]string{}}
	qs, err := v.Queries(Panel{"maxDataPoints": 30.0, "targets": []any{map[string]any{"refId": "A", "expr": "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	q := qs[0]
	if q.Step != 6*time.Hour || !q.End.Equal(time.Date(2026, 11, 23, 6, 0, 0, 0, bogota)) || !q.Start.Equal(time.Date(2026, 11, 16, 6, 0, 0, 0, bogota)) {
		t.Errorf("step %s from %s to %s", q.Step, q.Start, q.End)
	}
	if _, err := v.Queries(Panel{"maxDataPoints": 30.0, "targets": []any{map[string]any{"refId": "A", "expr": "x[$nope]"}}}); err == nil {
		t.Error("an unknown variable was sent as written")
	}
}
