package collector_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// lateConfig polls every 5 minutes re-reading 10 minutes, against an API that lists
// each chat 12 minutes after it closed: live polling misses chats.
const lateDelay = 12 * time.Minute

func dayConfig(zone string) string {
	return baseConfig + "    timezone: " + zone + "\n"
}

// dayRun drives an operation through a local midnight: it polls every 5 minutes from
// start until until, and records what was served before the re-read.
type dayRun struct {
	h        *harness
	sim      *simulator.Server
	src      simulator.Source
	requests *timedRequests
}

// timedRequests records each request's window with the clock's time.
type timedRequests struct {
	next  http.Handler
	clock func() time.Time
	mu    sync.Mutex
	log   []timedWindow
}

type timedWindow struct {
	window
	at time.Time
}

func (r *timedRequests) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	r.mu.Lock()
	r.log = append(r.log, timedWindow{window{q.Get("date_ini"), q.Get("date_end")}, r.clock()})
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

func (r *timedRequests) windows() []timedWindow {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]timedWindow(nil), r.log...)
}

func newDayRun(t *testing.T, src simulator.Source, loc string, start time.Time, opts simulator.Options, extra string, copts ...collector.Option) *dayRun {
	t.Helper()
	r := &dayRun{src: src}
	var clock func() time.Time
	opts.Now = func() time.Time { return clock() }
	r.sim = simulator.NewServer(src, opts)
	r.requests = &timedRequests{next: r.sim, clock: func() time.Time { return clock() }}
	r.h = newHarness(t, r.requests, dayConfig(loc)+extra, append([]collector.Option{collector.WithNewSeriesHold(0)}, copts...)...)
	clock = r.h.clock.Now
	r.h.clock.Advance(start.Sub(r.h.clock.Now()))
	return r
}

// pollUntil refreshes every 5 minutes up to until, running between each step.
func (r *dayRun) pollUntil(until time.Time, between func(now time.Time)) {
	for !r.h.clock.Now().After(until) {
		r.h.refresh()
		if between != nil {
			between(r.h.clock.Now())
		}
		r.h.clock.Advance(5 * time.Minute)
	}
}

// closedIn is the set of chats of the source closed in [from, to).
func closedIn(src simulator.Source, from, to time.Time) map[string]bool {
	out := map[string]bool{}
	for _, c := range src.ChatsClosedBetween(from, to.Add(-time.Nanosecond)) {
		out[c.ConnID] = true
	}
	return out
}

func servedIDs(sim *simulator.Server, from, to time.Time) map[string]bool {
	out := map[string]bool{}
	for _, c := range sim.Served() {
		if !c.Closed.Before(from) && c.Closed.Before(to) {
			out[c.ConnID] = true
		}
	}
	return out
}

// A day whose chats are listed later than overlap: live polling misses some. Once
// the day is over and reconcile.after has passed, the re-read counts them, once, and
// the day's total equals the chats closed in the part of it that was counted.
func TestReconcileCountsLateChats(t *testing.T) {
	for _, tc := range []struct {
		name, zone string
		start      time.Time // the first call
		midnight   time.Time // the day's end
		dayHours   float64
	}{
		{"Bogota", "America/Bogota", time.Date(2026, 11, 23, 22, 0, 0, 0, bogota), time.Date(2026, 11, 24, 0, 0, 0, 0, bogota), 24},
		// The day of 4 April 2026 in Santiago has 25 hours: at 24:00 clocks go back to 23:00.
		{"Santiago, 25-hour day", "America/Santiago", mustTime(t, "2026-04-04T22:00:00-03:00"), mustTime(t, "2026-04-05T00:00:00-04:00"), 25},
		// On 5 September 2026 at 24:00 they jump to 01:00: the next day has no midnight.
		{"Santiago, skipped midnight", "America/Santiago", mustTime(t, "2026-09-05T22:00:00-04:00"), mustTime(t, "2026-09-06T01:00:00-03:00"), 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := testkit.Zone(t, tc.zone)
			src := simulator.NewTraffic(7, 600)
			r := newDayRun(t, src, tc.zone, tc.start, simulator.Options{Location: loc, VisibilityDelay: lateDelay}, "")
			rereadAt := tc.midnight.Add(2 * time.Hour)
			var servedBefore map[string]bool
			var countedBefore float64
			r.pollUntil(rereadAt.Add(10*time.Minute), func(now time.Time) {
				if now.Before(rereadAt.Add(-5 * time.Minute)) {
					servedBefore = servedIDs(r.sim, tc.start.Add(-10*time.Minute), tc.midnight)
					countedBefore = r.h.sum("wolkvox_chats_total")
					// No day has been re-read: no figure of one, which a panel would draw as 0.
					for _, name := range []string{"wolkvox_reconcile_day_chats", "wolkvox_reconcile_day_missed_chats",
						"wolkvox_reconcile_day_start_timestamp_seconds", "wolkvox_reconcile_listing_delay_seconds"} {
						if mf := r.h.families()[name]; mf != nil {
							t.Errorf("%s is exported at %s, before any day was re-read: %v", name, now, mf)
						}
					}
				}
			})
			truth := closedIn(src, tc.start.Add(-10*time.Minute), tc.midnight)
			liveLost := len(truth) - len(servedBefore)
			if liveLost <= 0 || len(truth) < 50 {
				t.Fatalf("%d chats closed, live polling counted %d: the test needs chats it missed", len(truth), len(servedBefore))
			}
			h := r.h
			if got := h.value("wolkvox_reconcile_day_chats", nil); got != float64(len(truth)) {
				t.Errorf("day chats %v, want the %d chats closed from the first window to midnight", got, len(truth))
			}
			for _, name := range []string{"wolkvox_reconcile_missed_chats_total", "wolkvox_reconcile_day_missed_chats"} {
				if got := h.value(name, nil); got != float64(liveLost) {
					t.Errorf("%s %v, want %d, what live polling lost", name, got, liveLost)
				}
			}
			if got := h.value("wolkvox_reconcile_extra_chats_total", nil); got != 0 {
				t.Errorf("extra %v, want 0", got)
			}
			// Every chat counted once: the day's, and the next day's counted live so far.
			after := servedIDs(r.sim, tc.midnight, h.clock.Now())
			if got, want := h.sum("wolkvox_chats_total"), float64(len(truth)+len(after)); got != want {
				t.Errorf("%v chats counted, want %v: the day's %d and %d since midnight", got, want, len(truth), len(after))
			}
			if got := h.sum("wolkvox_chats_total") - countedBefore; got < float64(liveLost) {
				t.Errorf("the counters rose by %v across the re-read, want at least the %d missed", got, liveLost)
			}
			if got := h.value("wolkvox_reconcile_day_start_timestamp_seconds", nil); got != float64(tc.midnight.Add(-time.Duration(tc.dayHours*float64(time.Hour))).Unix()) {
				t.Errorf("day start %v, want %v h before %v", got, tc.dayHours, tc.midnight)
			}
			if got := h.value("wolkvox_reconcile_listing_delay_seconds", nil); got < (10 * time.Minute).Seconds() {
				t.Errorf("listing delay %v s: the missed chats were not listed 10 min after closing, at least", got)
			}
			if got := h.value("wolkvox_api_requests_total", map[string]string{"result": "api_error"}); got != 0 {
				t.Errorf("%v calls the API refused: a window it could not read", got)
			}
			// No live window crossed midnight; the re-read read the day's wall time whole.
			end := tc.midnight.Add(-time.Second).In(loc).Format("20060102150405")
			rereads := 0
			for _, w := range r.requests.windows() {
				if w.from < end && w.to > end {
					t.Errorf("window %v crosses midnight", w.window)
				}
				if w.to == end && w.from == wire10(tc.start.Add(-10*time.Minute), loc) && !w.at.Before(rereadAt) {
					rereads++
				}
			}
			if rereads != 1 {
				t.Errorf("%d re-reads of the day, want 1", rereads)
			}
			if !strings.Contains(h.logs.String(), "re-read of a day done") || !strings.Contains(h.logs.String(), "raise overlap") {
				t.Errorf("no log line for the day's re-read, or no hint about overlap:\n%s", h.logs)
			}
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wire10(t time.Time, loc *time.Location) string { return t.In(loc).Format("20060102150405") }

// A restart during the day, with --storage.path, changes nothing: the chats counted
// for the day are saved, and the re-read counts each missed chat once.
func TestReconcileAcrossRestarts(t *testing.T) {
	start := time.Date(2026, 11, 23, 22, 0, 0, 0, bogota)
	run := func(restarts bool) map[string]float64 {
		r := newDayRun(t, simulator.NewTraffic(7, 600), "America/Bogota", start, simulator.Options{VisibilityDelay: lateDelay}, "",
			collector.WithStorage(t.TempDir()))
		r.pollUntil(start.Add(4*time.Hour+30*time.Minute), func(now time.Time) {
			if restarts && (now.Hour() == 23 && now.Minute() == 30 || now.Hour() == 1 && now.Minute() == 55) {
				r.h.restart()
			}
		})
		return r.h.counters()
	}
	without, with := run(false), run(true)
	if fmt.Sprint(with) != fmt.Sprint(without) {
		t.Fatalf("counts differ with restarts:\nwithout %v\nwith    %v", without, with)
	}
	if without["wolkvox_reconcile_missed_chats_total,operation=main"] == 0 {
		t.Fatal("the re-read found nothing: the test proves nothing")
	}
}

// A day with more chats than the record cap is re-read in windows split in half,
// and every chat counts once.
func TestReconcileSplitsAtTheRecordCap(t *testing.T) {
	start := time.Date(2026, 11, 23, 22, 0, 0, 0, bogota)
	midnight := start.Add(2 * time.Hour)
	var chats simulator.Chats
	for i := range 90 {
		chats = append(chats, chat(fmt.Sprintf("d%02d", i), start.Add(time.Duration(i)*80*time.Second))) // 22:00 to 23:59
	}
	r := newDayRun(t, chats, "America/Bogota", start, simulator.Options{VisibilityDelay: lateDelay, RecordCap: 30}, "",
		collector.WithRecordCap(30))
	r.pollUntil(midnight.Add(3*time.Hour), nil)
	h := r.h
	if got := h.value("wolkvox_reconcile_day_chats", nil); got != 90 {
		t.Errorf("day chats %v, want 90", got)
	}
	if got := h.sum("wolkvox_chats_total"); got != 90 {
		t.Errorf("%v chats counted, want 90", got)
	}
	end := midnight.Add(-time.Second).In(bogota).Format("20060102150405")
	var rereads []timedWindow
	for _, w := range r.requests.windows() {
		if !w.at.Before(midnight.Add(2*time.Hour)) && w.to <= end {
			rereads = append(rereads, w)
		}
	}
	if len(rereads) < 3 || h.value("wolkvox_api_truncated_responses_total", nil) == 0 {
		t.Errorf("re-read windows %v: want the day split at the cap", rereads)
	}
}

// A re-read that fails is tried again, no sooner than min_interval, until it succeeds.
func TestReconcileRetriesAFailedReread(t *testing.T) {
	start := time.Date(2026, 11, 23, 22, 0, 0, 0, bogota)
	rereadAt := start.Add(4 * time.Hour)
	end := start.Add(2*time.Hour - time.Second).In(bogota).Format("20060102150405")
	src := simulator.NewTraffic(7, 600)
	var failing atomic.Bool
	r := newDayRun(t, src, "America/Bogota", start, simulator.Options{VisibilityDelay: lateDelay}, "    max_backoff: 5m\n")
	good := r.requests.next
	r.requests.next = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if failing.Load() && req.URL.Query().Get("date_end") == end { // the day's re-read only
			http.Error(w, "<html>Bad Gateway</html>", http.StatusBadGateway)
			return
		}
		good.ServeHTTP(w, req)
	})
	r.pollUntil(rereadAt.Add(40*time.Minute), func(now time.Time) {
		switch {
		case now.Equal(rereadAt.Add(-5 * time.Minute)):
			failing.Store(true)
		case now.Equal(rereadAt.Add(10 * time.Minute)):
			failing.Store(false)
		}
	})
	truth := closedIn(src, start.Add(-10*time.Minute), start.Add(2*time.Hour))
	if got := r.h.value("wolkvox_reconcile_day_chats", nil); got != float64(len(truth)) {
		t.Errorf("day chats %v after the failures, want %d", got, len(truth))
	}
	if got := r.h.sum("wolkvox_chats_total"); got < float64(len(truth)) {
		t.Errorf("%v chats counted, fewer than the day's %d", got, len(truth))
	}
	var attempts []time.Time
	for _, w := range r.requests.windows() {
		if w.to == end && !w.at.Before(rereadAt) {
			attempts = append(attempts, w.at)
		}
	}
	if len(attempts) < 2 || r.h.value("wolkvox_api_requests_total", map[string]string{"result": "http_error"}) == 0 {
		t.Fatalf("re-read attempts at %v: want a failed one and a retry", attempts)
	}
	for i := 1; i < len(attempts); i++ {
		if gap := attempts[i].Sub(attempts[i-1]); gap < 5*time.Minute {
			t.Errorf("re-read attempts %v apart, less than min_interval", gap)
		}
	}
}

// With the re-read on, a catch-up reads up to 31 days a window, but stops at the
// midnights that start yesterday and today.
func TestReconcileCatchupStopsAtMidnights(t *testing.T) {
	t0 := startTime
	chats := simulator.Chats{chat("a", t0.Add(-time.Minute)), chat("b", t0.Add(20*24*time.Hour)), chat("c", t0.Add(44*24*time.Hour+12*time.Hour))}
	sim := simulator.NewServer(chats, simulator.Options{})
	h := newHarness(t, sim, baseConfig+"    max_catchup: 60d\n", collector.WithStorage(t.TempDir()))
	h.refresh()
	h.restart()
	h.clock.Advance(45 * 24 * time.Hour)
	for range 4 {
		h.refresh()
		h.clock.Advance(5 * time.Minute)
	}
	ws := h.upstream.Windows()
	now := t0.Add(45 * 24 * time.Hour) // 2027-01-07 10:00 Bogota
	yesterday := time.Date(2027, 1, 6, 0, 0, 0, 0, bogota)
	today := time.Date(2027, 1, 7, 0, 0, 0, 0, bogota)
	cursor := t0.Add(-10 * time.Minute)
	want := []window{
		{wire(cursor), wire(cursor.Add(31 * 24 * time.Hour))},
		{wire(cursor.Add(31 * 24 * time.Hour)), wire(yesterday.Add(-time.Second))},
		{wire(yesterday), wire(today.Add(-time.Second))},
		{wire(today), wire(now.Add(15 * time.Minute))},
		{wire(yesterday), wire(today.Add(-time.Second))}, // yesterday's re-read, due since 02:00
	}
	if got := ws[1:]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("windows after a 45-day gap %v, want %v", got, want)
	}
	if got := h.sum("wolkvox_chats_total"); got != 3 {
		t.Fatalf("%v chats, want 3", got)
	}
}
