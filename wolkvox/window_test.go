package wolkvox_test

import (
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Every reader of the API plans its windows with a Span: the last second of the
// stretch, the split of a cut answer down to a minute, the widening after, and the
// live overlap.
func TestSpan(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	at := t0.Add
	type step struct {
		truncated bool
		want      wolkvox.Window
		outcome   wolkvox.Outcome
	}
	for _, tc := range []struct {
		name  string
		span  wolkvox.Span
		steps []step
		done  bool
	}{
		{"a day in one window, to its last second", wolkvox.Span{Next: t0, Stop: at(24 * time.Hour)}, []step{
			{false, wolkvox.Window{From: t0, To: at(24*time.Hour - time.Second)}, wolkvox.Whole},
		}, true},
		{"a cut answer is read again in halves, then wider", wolkvox.Span{Next: t0, Stop: at(24 * time.Hour)}, []step{
			{true, wolkvox.Window{From: t0, To: at(24*time.Hour - time.Second)}, wolkvox.Split},
			{true, wolkvox.Window{From: t0, To: at(12*time.Hour - time.Second)}, wolkvox.Split},
			{false, wolkvox.Window{From: t0, To: at(6*time.Hour - time.Second)}, wolkvox.Whole},
			// Each whole answer doubles the window again: 5h59m59s, then 11h59m58s.
			{false, wolkvox.Window{From: at(6 * time.Hour), To: at(18*time.Hour - 2*time.Second)}, wolkvox.Whole},
			{false, wolkvox.Window{From: at(18*time.Hour - time.Second), To: at(24*time.Hour - time.Second)}, wolkvox.Whole},
		}, true},
		{"cut at the shortest window: chats may be missing, the span goes on", wolkvox.Span{Next: t0, Stop: at(10 * time.Minute), Max: 90 * time.Second}, []step{
			{true, wolkvox.Window{From: t0, To: at(90 * time.Second)}, wolkvox.Missing},
			{false, wolkvox.Window{From: at(91 * time.Second), To: at(271 * time.Second)}, wolkvox.Whole},
			{false, wolkvox.Window{From: at(272 * time.Second), To: at(10*time.Minute - time.Second)}, wolkvox.Whole},
		}, true},
		{"no window longer than the API takes", wolkvox.Span{Next: t0, Stop: at(40 * 24 * time.Hour)}, []step{
			{false, wolkvox.Window{From: t0, To: at(wolkvox.MaxWindow)}, wolkvox.Whole},
			{false, wolkvox.Window{From: at(wolkvox.MaxWindow + time.Second), To: at(40*24*time.Hour - time.Second)}, wolkvox.Whole},
		}, true},
		{"live: the overlap is read again, and the window's last second", wolkvox.Span{Next: t0, Stop: at(time.Hour + time.Second), Settled: at(50 * time.Minute)}, []step{
			{false, wolkvox.Window{From: t0, To: at(time.Hour)}, wolkvox.Whole},
			{false, wolkvox.Window{From: at(50 * time.Minute), To: at(time.Hour)}, wolkvox.Whole},
		}, false},
		{"live catching up: the next window starts on the last second read", wolkvox.Span{Next: t0, Stop: at(time.Hour + time.Second), Settled: at(50 * time.Minute), Max: 10 * time.Minute}, []step{
			{false, wolkvox.Window{From: t0, To: at(10 * time.Minute)}, wolkvox.Whole},
			{false, wolkvox.Window{From: at(10 * time.Minute), To: at(30 * time.Minute)}, wolkvox.Whole},
		}, false},
		{"live up to a day's end: the day is settled there", wolkvox.Span{Next: at(-time.Hour), Stop: t0, Settled: at(50 * time.Minute), DayEnd: true}, []step{
			{false, wolkvox.Window{From: at(-time.Hour), To: at(-time.Second)}, wolkvox.Whole},
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			span := tc.span
			for i, s := range tc.steps {
				w := span.Window()
				if w != s.want {
					t.Fatalf("step %d: window %v..%v, want %v..%v", i, w.From.Sub(t0), w.To.Sub(t0), s.want.From.Sub(t0), s.want.To.Sub(t0))
				}
				if got := span.Answered(w, s.truncated); got != s.outcome {
					t.Fatalf("step %d: outcome %v, want %v", i, got, s.outcome)
				}
			}
			if span.Done() != tc.done {
				t.Errorf("done %v, want %v", span.Done(), tc.done)
			}
		})
	}
}

// Live polling starts overlap before now, goes no further back than max_catchup,
// and with the daily re-read on stops at the midnights of yesterday and today.
func TestLiveSpan(t *testing.T) {
	loc := time.FixedZone("GMT-5", -5*3600)
	now := time.Date(2026, 11, 23, 0, 4, 30, 0, loc)
	live := wolkvox.Live{Overlap: 10 * time.Minute, MaxCatchup: 48 * time.Hour, Location: loc}
	for _, tc := range []struct {
		name       string
		cursor     time.Time
		dayAligned bool
		from, stop time.Time
		skipped    time.Duration
	}{
		{"first call", time.Time{}, false, now.Add(-10 * time.Minute), now.Add(time.Second), 0},
		{"from the cursor", now.Add(-time.Hour), false, now.Add(-time.Hour), now.Add(time.Second), 0},
		{"past max_catchup", now.Add(-50 * time.Hour), false, now.Add(-48 * time.Hour), now.Add(time.Second), 2 * time.Hour},
		{"up to today's midnight", now.Add(-time.Hour), true, now.Add(-time.Hour), time.Date(2026, 11, 23, 0, 0, 0, 0, loc), 0},
		{"up to yesterday's midnight", now.Add(-25 * time.Hour), true, now.Add(-25 * time.Hour), time.Date(2026, 11, 22, 0, 0, 0, 0, loc), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := live
			l.DayAligned = tc.dayAligned
			span, skipped := l.Span(now, tc.cursor, 0)
			if !span.Next.Equal(tc.from) || !span.Stop.Equal(tc.stop) || skipped != tc.skipped || span.DayEnd != tc.dayAligned {
				t.Errorf("span %v..%v (day end %v), skipped %v; want %v..%v, skipped %v", span.Next, span.Stop, span.DayEnd, skipped, tc.from, tc.stop, tc.skipped)
			}
		})
	}
}
