package poller_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// However often scrapes refresh, chat_1 is called at most once a min_interval: a
// refresh before it has passed waits for nothing and calls nothing.
func TestAtMostOneLiveCallPerMinInterval(t *testing.T) {
	for _, tc := range []struct {
		name        string
		minInterval string        // and the keys it needs beside
		step, until time.Duration // refreshes every step from the start to until
		calls       []time.Duration
	}{
		{"refreshed every minute", "5m", time.Minute, 30 * time.Minute,
			[]time.Duration{0, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 25 * time.Minute, 30 * time.Minute}},
		{"refreshed every 4 minutes: a call waits for the next refresh", "5m", 4 * time.Minute, 30 * time.Minute,
			[]time.Duration{0, 8 * time.Minute, 16 * time.Minute, 24 * time.Minute}},
		{"refreshed every 10 seconds", "1m\n    daily_quota: 5000", 10 * time.Second, 3 * time.Minute,
			[]time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, simulator.NewTraffic(7, 300), simulator.Options{},
				strings.Replace(baseConfig, "min_interval: 5m", "min_interval: "+tc.minInterval, 1), nil)
			r.pollUntil(startTime.Add(tc.until), tc.step, func(time.Time) {
				r.refresh() // a second scrape at the same instant
			})
			var got []time.Duration
			for _, c := range r.up.of("chat_1") {
				got = append(got, c.at.Sub(startTime))
			}
			if !slices.Equal(got, tc.calls) {
				t.Errorf("calls at %v, want %v", got, tc.calls)
			}
		})
	}
}

// Scrapes that refresh at once share the calls: one call of chat_1 and of each
// real-time API, and each refresh returns once their answers are shown.
func TestConcurrentRefreshesShareTheCalls(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  string
		apis []string
	}{
		{"chat_1", baseConfig, []string{"chat_1"}},
		{"and the real-time APIs", realtimeConfig, []string{"chat_1", "chats", "agents"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, simulator.NewTraffic(7, 60), simulator.Options{}, tc.cfg, nil)
			for round := 1; round <= 2; round++ {
				// The first call answers only once every refresh has begun.
				release := make(chan struct{})
				r.up.setIntercept(func(http.ResponseWriter, *http.Request) bool {
					<-release
					return false
				})
				const scrapes = 20
				var started, done sync.WaitGroup
				shown := make(chan poller.Status, scrapes)
				for range scrapes {
					started.Add(1)
					done.Go(func() {
						started.Done()
						r.op.Refresh(t.Context())
						shown <- r.op.Status()
					})
				}
				started.Wait()
				close(release)
				done.Wait()
				close(shown)
				for st := range shown {
					if chats(st) == 0 || len(tc.apis) > 1 && (st.Open == nil || st.AgentsNow == nil) {
						t.Fatalf("round %d: a refresh returned before the answers were shown", round)
					}
				}
				for _, api := range tc.apis {
					if got := len(r.up.of(api)); got != round {
						t.Errorf("round %d: %d calls of api=%s for %d refreshes at once, want %d", round, got, api, scrapes, round)
					}
				}
				r.clock.Advance(5 * time.Minute)
			}
		})
	}
}

// TOKEN LIMIT EXCEEDED from any API spends the token's quota: no call of any API is
// made with it until the quota resets, at midnight in the operation's time zone.
func TestSpentQuotaWaitsForMidnight(t *testing.T) {
	for _, tc := range []struct {
		zone, api string // the API that answers TOKEN LIMIT EXCEEDED
	}{
		{"America/Bogota", "chat_1"},
		{"Europe/Madrid", "chat_1"},
		{"America/Bogota", "agents"},
		{"Europe/Madrid", "chats"},
	} {
		t.Run(tc.zone+" "+tc.api, func(t *testing.T) {
			loc := testkit.Zone(t, tc.zone)
			r := newRig(t, simulator.NewTraffic(7, 60), simulator.Options{Location: loc},
				realtimeConfig+"    timezone: "+tc.zone+"\n", nil)
			var mu sync.Mutex // guards refused
			refused := true
			r.up.setIntercept(func(w http.ResponseWriter, req *http.Request) bool {
				mu.Lock()
				defer mu.Unlock()
				if !refused || req.URL.Query().Get("api") != tc.api {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"code":403,"error":"TOKEN LIMIT EXCEEDED","msg":"TOKEN LIMIT EXCEEDED","data":null}`))
				return true
			})
			r.refresh()
			_, midnight := wolkvox.Day(startTime, loc)
			st := r.op.Status()
			if got := st.Requests[wolkvox.ResultQuotaExceeded] + realtimeRequests(st, wolkvox.ResultQuotaExceeded); got != 1 {
				t.Fatalf("%v calls refused for the quota, want 1", got)
			}
			if !st.BackoffUntil.Equal(midnight) {
				t.Errorf("no call before %v, want the next midnight in %s, %v", st.BackoffUntil, tc.zone, midnight)
			}
			if got := r.op.Settings().Client.Token().QuotaSpentUntil(); !got.Equal(midnight) {
				t.Errorf("the token's quota is spent until %v, want %v", got, midnight)
			}
			if h := st.Realtime[wolkvox.API(tc.api)]; h != nil && !h.BackoffUntil.Equal(midnight) {
				t.Errorf("api=%s called again from %v, want %v", tc.api, h.BackoffUntil, midnight)
			}
			calls := r.up.count()
			for _, at := range []time.Time{startTime.Add(time.Minute), startTime.Add(10 * time.Minute), startTime.Add(3 * time.Hour), midnight.Add(-time.Second)} {
				r.clock.Set(at)
				r.refresh()
			}
			if got := r.up.count() - calls; got != 0 {
				t.Errorf("%d calls after the token's quota was spent, before midnight", got)
			}
			mu.Lock()
			refused = false
			mu.Unlock()
			r.clock.Set(midnight)
			r.refresh()
			for _, api := range []string{"chat_1", "chats", "agents"} {
				if c := r.up.of(api); len(c) == 0 || !c[len(c)-1].at.Equal(midnight) {
					t.Errorf("api=%s not called at midnight", api)
				}
			}
			if st := r.op.Status(); !st.BackoffUntil.IsZero() || !st.Up {
				t.Errorf("after midnight: up %v, no call before %v", st.Up, st.BackoffUntil)
			}
		})
	}
}

// realtimeRequests are the real-time calls with result.
func realtimeRequests(st poller.Status, result wolkvox.Result) float64 {
	n := 0.0
	for _, h := range st.Realtime {
		n += h.Requests[result]
	}
	return n
}

// A reload with new labels or buckets restarts the chat counts, and one without
// keeps them; either way the cursor and the dedupe memory stay, so no chat is lost
// or counted twice. A new token clears the backoff: it may have a quota of its own.
func TestReload(t *testing.T) {
	loc := testkit.Zone(t, "America/Bogota")
	for _, tc := range []struct {
		name     string
		cfg      string
		restart  bool // the counts restart
		newToken bool
	}{
		{"a skill named: counts restart", baseConfig + "    skills: {\"12\": sales}\n", true, false},
		{"agent metrics on: counts restart", baseConfig + "    agent_metrics: true\n", true, false},
		{"max_label_values: counts restart", baseConfig + "    max_label_values: 50\n", true, false},
		{"new buckets: counts restart", baseConfig + "histograms:\n  answer_delay: [20, 60]\n", true, false},
		{"a new budget: counts go on", baseConfig + "    max_series: 20000\n", false, false},
		{"a new token: counts go on, the backoff ends", strings.Replace(baseConfig, "tok-poller-test", "tok-new", 1), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, simulator.NewTraffic(7, 600), simulator.Options{Location: loc}, baseConfig, nil)
			r.refresh()
			r.clock.Advance(5 * time.Minute)
			r.refresh()
			r.clock.Advance(5 * time.Minute)
			r.up.sim.SetFault(badGateway) // the third call fails: a backoff is in force
			r.refresh()
			r.up.sim.SetFault(nil)
			before := r.op.Status()
			servedBefore := r.up.distinctServed()
			if chats(before) != servedBefore || before.BackoffUntil.IsZero() {
				t.Fatalf("%v chats counted of %v served, no call before %v", chats(before), servedBefore, before.BackoffUntil)
			}

			r.op.Update(r.settings(tc.cfg))
			st := r.op.Status()
			if want := map[bool]float64{true: 0, false: chats(before)}[tc.restart]; chats(st) != want {
				t.Errorf("%v chats after the reload, want %v", chats(st), want)
			}
			if st.Tracked != before.Tracked {
				t.Errorf("%d chats tracked after the reload, %d before", st.Tracked, before.Tracked)
			}
			if got := st.BackoffUntil.IsZero(); got != tc.newToken {
				t.Errorf("backoff cleared: %v, want %v", got, tc.newToken)
			}
			calls := len(r.up.of("chat_1"))
			r.refresh() // at once: only a new token is called before the backoff ends
			if !tc.newToken {
				if got := len(r.up.of("chat_1")); got != calls {
					t.Fatalf("%d calls during the backoff", got-calls)
				}
				r.clock.Set(before.BackoffUntil)
				r.refresh()
			}
			c := r.up.of("chat_1")
			if len(c) != calls+1 || c[len(c)-1].from != wire(startTime.Add(-5*time.Minute), loc) {
				t.Fatalf("after the reload, calls %v: want one, from the cursor %s", c[calls:], wire(startTime.Add(-5*time.Minute), loc))
			}
			st = r.op.Status()
			want := r.up.distinctServed()
			if tc.restart {
				want -= servedBefore // the chats counted before the reload are not counted again
			}
			if chats(st) != want {
				t.Errorf("%v chats counted, want %v", chats(st), want)
			}
		})
	}
}
