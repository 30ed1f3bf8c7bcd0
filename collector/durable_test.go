package collector_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/wolkvox-exporter/wolkvox_exporter/backfill"
	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/history"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/blocktest"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// distinctServed counts the distinct conn_ids the upstream has served.
func distinctServed(sim *simulator.Server) float64 {
	seen := map[string]bool{}
	for _, c := range sim.Served() {
		seen[c.ConnID] = true
	}
	return float64(len(seen))
}

// With --storage.path, restarts anywhere in a day of traffic leave every count as
// if the exporter had never stopped: counters continue, and each chat counts once.
func TestRestartContinuesExactly(t *testing.T) {
	for _, tc := range []struct {
		name     string
		restarts map[int]time.Duration // step -> how long the exporter was down
	}{
		{"no restart", nil},
		{"restart at once", map[int]time.Duration{3: 0}},
		{"several restarts", map[int]time.Duration{1: 0, 2: 0, 5: 0, 9: 0}},
		{"down for three hours", map[int]time.Duration{4: 3 * time.Hour}},
		{"down for 23 hours", map[int]time.Duration{6: 23 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			traffic := simulator.NewTraffic(7, 300)
			sim := simulator.NewServer(traffic, simulator.Options{})
			h := newHarness(t, sim, baseConfig, collector.WithStorage(t.TempDir()), collector.WithNewSeriesHold(0))
			for step := range 12 {
				h.refresh()
				if down, ok := tc.restarts[step]; ok {
					before := h.counters()
					h.restart()
					if after := h.counters(); fmt.Sprint(after) != fmt.Sprint(before) {
						t.Fatalf("step %d: counters changed across the restart:\nbefore %v\nafter  %v", step, before, after)
					}
					h.clock.Advance(down)
				}
				h.clock.Advance(5 * time.Minute)
			}
			h.refresh()
			// Every chat that closed from the first window's start to now, whether or not
			// the exporter was running when it closed.
			closed := map[string]bool{}
			for _, c := range traffic.ChatsClosedBetween(startTime.Add(-10*time.Minute), h.clock.Now()) {
				closed[c.ConnID] = true
			}
			if len(closed) < 100 {
				t.Fatalf("only %d chats closed: traffic too thin to test", len(closed))
			}
			if got, served := h.sum("wolkvox_chats_total"), distinctServed(sim); got != float64(len(closed)) || served != got {
				t.Fatalf("counted %v chats, served %v distinct, %d closed", got, served, len(closed))
			}
			if got := h.value("wolkvox_query_skipped_seconds_total", nil); got != 0 {
				t.Fatalf("skipped %v s of history, want 0 within max_catchup", got)
			}
		})
	}
}

// Without storage a restart counts from zero, reading only overlap back.
func TestRestartWithoutStorageStartsOver(t *testing.T) {
	sim := simulator.NewServer(simulator.NewTraffic(7, 300), simulator.Options{})
	h := newHarness(t, sim, baseConfig)
	for range 3 {
		h.refresh()
		h.clock.Advance(5 * time.Minute)
	}
	h.restart()
	if got := h.sum("wolkvox_chats_total"); got != 0 {
		t.Fatalf("%v chats right after a restart without storage, want 0", got)
	}
	if ws := h.upstream.Windows(); len(ws) != 3 {
		t.Fatalf("%d calls, want 3", len(ws))
	}
	h.refresh()
	ws := h.upstream.Windows()
	if last := ws[len(ws)-1]; last.from != wire(h.clock.Now().Add(-10*time.Minute)) {
		t.Fatalf("first window after the restart %v, want overlap back from now", last)
	}
}

// After a gap longer than max_catchup, counting resumes from now - max_catchup, and
// the exporter says how much history it left out.
func TestCatchupLimit(t *testing.T) {
	t0 := startTime
	chats := simulator.Chats{
		chat("before-gap", t0.Add(-time.Minute)),
		chat("skipped", t0.Add(time.Hour)),
		chat("caught-up", t0.Add(2*time.Hour+30*time.Minute)),
	}
	sim := simulator.NewServer(chats, simulator.Options{})
	// The daily re-read reads a day back, more than max_catchup allows: it is off.
	h := newHarness(t, sim, baseConfig+"    max_catchup: 1h\n    reconcile: {enabled: false}\n", collector.WithStorage(t.TempDir()))
	h.refresh() // t0; the cursor becomes t0-10m
	h.restart()
	h.clock.Advance(3 * time.Hour)
	h.refresh() // t0+3h: from t0+2h, 2h10m after the cursor
	ws := h.upstream.Windows()
	if last := ws[len(ws)-1]; last.from != wire(t0.Add(2*time.Hour)) || last.to != wire(t0.Add(3*time.Hour)) {
		t.Fatalf("window after the gap %v, want max_catchup back from now", last)
	}
	if got, want := h.value("wolkvox_query_skipped_seconds_total", nil), (130 * time.Minute).Seconds(); got != want {
		t.Fatalf("skipped_seconds %v, want %v", got, want)
	}
	if !strings.Contains(h.logs.String(), "longer than max_catchup") {
		t.Fatalf("no log line about the skipped history:\n%s", h.logs)
	}
	if got := h.sum("wolkvox_chats_total"); got != 2 {
		t.Fatalf("%v chats, want before-gap and caught-up", got)
	}
}

// A gap within max_catchup is read whole, in windows of at most 31 days.
func TestCatchupSplitsLongGaps(t *testing.T) {
	t0 := startTime
	chats := simulator.Chats{chat("a", t0.Add(-time.Minute)), chat("b", t0.Add(20*24*time.Hour)), chat("c", t0.Add(40*24*time.Hour))}
	sim := simulator.NewServer(chats, simulator.Options{})
	// Without the daily re-read, whose windows stop at the midnights of yesterday and
	// today (TestReconcileCatchupStopsAtMidnights).
	h := newHarness(t, sim, baseConfig+"    max_catchup: 60d\n    reconcile: {enabled: false}\n", collector.WithStorage(t.TempDir()))
	h.refresh()
	h.restart()
	h.clock.Advance(45 * 24 * time.Hour)
	h.refresh()
	h.clock.Advance(5 * time.Minute)
	h.refresh()
	ws := h.upstream.Windows()
	cursor := t0.Add(-10 * time.Minute)
	want := []window{
		{wire(cursor), wire(cursor.Add(31 * 24 * time.Hour))},
		{wire(cursor.Add(31 * 24 * time.Hour)), wire(t0.Add(45*24*time.Hour + 5*time.Minute))},
	}
	if got := ws[1:]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("windows after a 45-day gap %v, want %v", got, want)
	}
	if got := h.sum("wolkvox_chats_total"); got != 3 {
		t.Fatalf("%v chats, want 3", got)
	}
}

// A state file that cannot be used is set aside with a clear log line; the
// exporter starts fresh instead of failing or counting from a wrong base.
func TestUnusableStateIsSetAside(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(saved string) string
		reason string
	}{
		{"garbage", func(string) string { return "\x00\x01not json" }, "corrupt"},
		{"truncated", func(saved string) string { return saved[:len(saved)/2] }, "corrupt"},
		{"empty", func(string) string { return "" }, "corrupt"},
		{"negative counter", func(saved string) string { return strings.Replace(saved, `"value":`, `"value":-`, 1) }, "corrupt"},
		{"newer version", func(string) string { return `{"version": 3, "future": true}` }, "newer"},
		{"other upstream", func(saved string) string { return strings.Replace(saved, "server 0010", "server 0099", 1) }, "other-upstream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sim := simulator.NewServer(simulator.Chats{chat("a", startTime.Add(-time.Minute))}, simulator.Options{})
			h := newHarness(t, sim, baseConfig, collector.WithStorage(dir))
			h.refresh()
			if got := h.sum("wolkvox_chats_total"); got != 1 {
				t.Fatalf("%v chats before the damage", got)
			}
			path := filepath.Join(dir, "main.json")
			saved, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			writeTestFile(t, path, tc.damage(string(saved)))
			h.restart()
			if got := h.value("wolkvox_storage_load_failures_total", nil); got != 1 {
				t.Fatalf("load failures %v, want 1", got)
			}
			if got := h.sum("wolkvox_chats_total"); got != 0 {
				t.Fatalf("%v chats after a fresh start", got)
			}
			if !strings.Contains(h.logs.String(), "saved state not used; counting starts fresh") ||
				!strings.Contains(h.logs.String(), "reason="+tc.reason) {
				t.Fatalf("no clear log line with reason %s:\n%s", tc.reason, h.logs)
			}
			aside, _ := filepath.Glob(path + "." + tc.reason + "-*")
			if want := path + "." + tc.reason + "-" + startTime.UTC().Format("20060102T150405Z"); len(aside) != 1 || aside[0] != want {
				t.Fatalf("set-aside files %v, want %s, named by the collector's clock", aside, want)
			}
			h.refresh() // the fresh start works and saves a good file again
			if got := h.sum("wolkvox_chats_total"); got != 1 {
				t.Fatalf("%v chats after the fresh start's first call", got)
			}
			h.restart()
			if got := h.value("wolkvox_storage_load_failures_total", nil); got != 0 {
				t.Fatal("the file written after the fresh start was not usable")
			}
		})
	}
}

// Counts that cannot be saved are not shown: after a restart they would be lost,
// and Prometheus would count them twice. The window is read again once saving works.
func TestSaveFailureHoldsNewCounts(t *testing.T) {
	t0 := startTime
	chats := simulator.Chats{chat("a", t0.Add(-time.Minute)), chat("b", t0.Add(2*time.Minute)), chat("c", t0.Add(7*time.Minute))}
	sim := simulator.NewServer(chats, simulator.Options{})
	dir := filepath.Join(t.TempDir(), "state")
	if err := poller.PrepareStorage(dir); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, sim, baseConfig, collector.WithStorage(dir), collector.WithNewSeriesHold(0))
	h.refresh()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(5 * time.Minute)
	h.refresh() // b is served but cannot be saved
	if got := h.sum("wolkvox_chats_total"); got != 1 {
		t.Fatalf("%v chats shown while saving fails, want 1", got)
	}
	if got := h.value("wolkvox_storage_write_failures_total", nil); got != 1 {
		t.Fatalf("write failures %v, want 1", got)
	}
	if got := h.value("wolkvox_up", nil); got != 1 {
		t.Fatal("the API call succeeded: up should be 1")
	}
	if err := poller.PrepareStorage(dir); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(5 * time.Minute)
	h.refresh()
	if got := h.sum("wolkvox_chats_total"); got != 3 {
		t.Fatalf("%v chats once saving works, want 3", got)
	}
	h.restart()
	if got := h.sum("wolkvox_chats_total"); got != 3 {
		t.Fatalf("%v chats after a restart, want the 3 saved", got)
	}
}

// New labels across a restart restart the counts; the cursor and dedupe memory
// still keep each chat counted once.
func TestRestartWithOtherLabels(t *testing.T) {
	t0 := startTime
	chats := simulator.Chats{chat("a", t0.Add(-2*time.Minute)), chat("b", t0.Add(2*time.Minute))}
	sim := simulator.NewServer(chats, simulator.Options{})
	h := newHarness(t, sim, baseConfig, collector.WithStorage(t.TempDir()), collector.WithNewSeriesHold(0))
	h.refresh()
	h.cfgYAML = baseConfig + "    skills: {\"12\": sales}\n"
	h.restart()
	if got := h.sum("wolkvox_chats_total"); got != 0 {
		t.Fatalf("%v chats under new labels, want a fresh count", got)
	}
	if got := h.value("wolkvox_tracked_chats", nil); got != 1 {
		t.Fatalf("tracked_chats %v, want a kept", got)
	}
	h.clock.Advance(5 * time.Minute)
	h.refresh()
	if got := h.value("wolkvox_chats_total", map[string]string{"skill": "sales"}); got != 1 {
		t.Fatalf("%v chats under the new name, want only b", got)
	}
}

// Failed calls are retried after min_interval, then twice that and so on up to
// max_backoff; a repeated failure is logged once, and so is the recovery.
func TestFailureBackoff(t *testing.T) {
	var fail = true
	sim := simulator.NewServer(simulator.Chats{}, simulator.Options{})
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail {
			http.Error(w, "<html>503 Service Unavailable</html>", http.StatusServiceUnavailable)
			return
		}
		sim.ServeHTTP(w, r)
	})
	h := newHarness(t, upstream, baseConfig+"    max_backoff: 20m\n")
	var callMinutes []int
	for minute := 0; minute <= 80; minute++ {
		before := len(h.upstream.Windows())
		if minute == 70 {
			fail = false // the refresh below runs after this write: no race
		}
		h.refresh()
		if len(h.upstream.Windows()) > before {
			callMinutes = append(callMinutes, minute)
		}
		if minute == 5 {
			until := h.value("wolkvox_api_backoff_until_timestamp_seconds", nil)
			if want := startTime.Add(15 * time.Minute).Unix(); until != float64(want) {
				t.Fatalf("after the second failure: backoff until %v, want %v", until, want)
			}
		}
		h.clock.Advance(time.Minute)
	}
	// Waits of 5, 10, 20, 20, 20 minutes; the call at 75 succeeds, then every 5m.
	if want := []int{0, 5, 15, 35, 55, 75, 80}; fmt.Sprint(callMinutes) != fmt.Sprint(want) {
		t.Fatalf("calls at minutes %v, want %v", callMinutes, want)
	}
	logs := h.logs.String()
	count := func(level string) int {
		n := 0
		for line := range strings.SplitSeq(logs, "\n") {
			if strings.HasPrefix(line, "level="+level+" ") && strings.Contains(line, "chat_1 query failed") {
				n++
			}
		}
		return n
	}
	if n := count("warn"); n != 1 {
		t.Fatalf("%d warnings for 5 identical failures, want 1:\n%s", n, logs)
	}
	if n := count("debug"); n != 4 {
		t.Fatalf("%d debug lines for the repeated failures, want 4", n)
	}
	if n := strings.Count(logs, "chat_1 queries succeed again"); n != 1 {
		t.Fatalf("%d recovery lines, want 1", n)
	}
	if got := h.value("wolkvox_api_backoff_until_timestamp_seconds", nil); got != 0 {
		t.Fatalf("backoff until %v after recovery, want 0", got)
	}
}

// An answer still cut at the record cap for the shortest window is counted as a
// query that lost chats.
func TestTruncatedAtShortestWindow(t *testing.T) {
	t0 := startTime
	var chats simulator.Chats
	for i := range 5 {
		chats = append(chats, chat(fmt.Sprintf("burst%d", i), t0.Add(-3*time.Minute+time.Duration(i)*time.Second)))
	}
	sim := simulator.NewServer(chats, simulator.Options{RecordCap: 3})
	h := newHarness(t, sim, baseConfig, collector.WithRecordCap(3))
	for range 12 {
		h.refresh()
		h.clock.Advance(5 * time.Minute)
	}
	if got := h.value("wolkvox_query_truncated_total", nil); got < 1 {
		t.Fatalf("query_truncated_total %v; windows %v", got, h.upstream.Windows())
	}
	if !strings.Contains(h.logs.String(), "even for the shortest window") {
		t.Fatal("no log line for the chats lost to the cap")
	}
	if got := h.sum("wolkvox_chats_total"); got < 3 || got > 5 {
		t.Fatalf("%v chats counted", got)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The saved state belongs to the Wolkvox server, not to the URL it is reached by:
// a new proxy address, or the demo's simulator on a new port, keeps the counts.
func TestRestartThroughAnotherURL(t *testing.T) {
	sim := simulator.NewServer(simulator.Chats{chat("a", startTime.Add(-time.Minute))}, simulator.Options{})
	h := newHarness(t, sim, baseConfig, collector.WithStorage(t.TempDir()))
	h.refresh()
	other := httptest.NewServer(h.upstream)
	defer other.Close()
	h.url = other.URL
	h.restart()
	if got := h.value("wolkvox_storage_load_failures_total", nil); got != 0 {
		t.Fatalf("the state was set aside after a URL change")
	}
	if got := h.sum("wolkvox_chats_total"); got != 1 {
		t.Fatalf("%v chats after a restart through another URL, want 1", got)
	}
	h.clock.Advance(5 * time.Minute)
	h.refresh()
	if n := len(h.upstream.Windows()); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	if got := h.sum("wolkvox_chats_total"); got != 1 {
		t.Fatalf("%v chats after the next call, want 1", got)
	}
}

// Counting starts at the first call's window for good. If that call fails, or the
// process stops before its answer is saved, the next call still reads from there:
// starting again from its own now - overlap would leave out every chat that closed
// in between.
func TestFirstWindowStartHolds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart bool // with storage, as a process killed after its first call
	}{
		{"first call fails", false},
		{"first call fails, then a restart", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := startTime
			sim := simulator.NewServer(simulator.Chats{chat("early", t0.Add(-8*time.Minute)), chat("later", t0.Add(2*time.Minute))}, simulator.Options{})
			h := newHarness(t, sim, baseConfig, collector.WithStorage(t.TempDir()), collector.WithNewSeriesHold(0))
			sim.SetFault(&simulator.Fault{Status: http.StatusBadGateway, Body: "<html>Bad Gateway</html>"})
			h.refresh()
			sim.SetFault(nil)
			if tc.restart {
				h.restart()
			}
			h.clock.Advance(30 * time.Minute)
			h.refresh()
			ws := h.upstream.Windows()
			if want := (window{wire(t0.Add(-10 * time.Minute)), wire(h.clock.Now())}); ws[len(ws)-1] != want {
				t.Fatalf("windows %v: the call after the failed first one should be %v", ws, want)
			}
			if got := h.sum("wolkvox_chats_total"); got != 2 {
				t.Fatalf("%v chats counted, want both that closed since the first window's start", got)
			}
		})
	}
}

// A refused token backs off like any failure: every call costs quota, and the token
// stays refused until the configuration changes. The log says how to fix it, and a
// reload with another token calls at once.
func TestRefusedTokenBacksOff(t *testing.T) {
	for _, refusal := range []*simulator.Fault{
		{Status: http.StatusForbidden, Body: `{"code":403,"error":"PLEASE VALIDATE TOKEN","msg":"PLEASE VALIDATE TOKEN","data":null}`},
		{Status: http.StatusUnauthorized, Body: ""},
	} {
		t.Run(fmt.Sprint(refusal.Status), func(t *testing.T) {
			sim := simulator.NewServer(simulator.Chats{chat("a", startTime.Add(-time.Minute))}, simulator.Options{})
			sim.SetFault(refusal)
			h := newHarness(t, sim, baseConfig+"    max_backoff: 20m\n")
			var callMinutes []int
			for minute := 0; minute <= 40; minute++ {
				before := h.requests()
				h.refresh()
				if h.requests() > before {
					callMinutes = append(callMinutes, minute)
				}
				h.clock.Advance(time.Minute)
			}
			// Waits of 5, 10, 20 and 20 minutes, not a call every min_interval.
			if want := []int{0, 5, 15, 35}; fmt.Sprint(callMinutes) != fmt.Sprint(want) {
				t.Fatalf("calls at minutes %v, want %v", callMinutes, want)
			}
			if got := h.value("wolkvox_api_requests_total", map[string]string{"result": "unauthorized"}); got != 4 {
				t.Fatalf("unauthorized calls %v, want 4", got)
			}
			line := lineWith(h.logs.String(), "chat_1 query failed")
			if !strings.Contains(line, "level=warn") || !strings.Contains(line, "token_file") || !strings.Contains(line, "reload") {
				t.Fatalf("the failure's log line does not say how to fix it: %s", line)
			}
			sim.SetFault(nil)
			if err := h.reload(strings.Replace(baseConfig+"    max_backoff: 20m\n", testToken, testToken+"-new", 1)); err != nil {
				t.Fatal(err)
			}
			before := h.requests()
			h.refresh()
			if h.requests() != before+1 || h.value("wolkvox_up", nil) != 1 {
				t.Fatal("a reload with a new token did not call at once")
			}
		})
	}
}

// A state saved by version 1 of the file, before the duration of timed-out chats
// was kept apart, restores, with those chats' durations where that state had them.
func TestStateWithoutTimedOutDuration(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, simulator.NewServer(simulator.NewTraffic(7, 300), simulator.Options{}), baseConfig,
		collector.WithStorage(dir), collector.WithNewSeriesHold(0))
	h.refresh()
	durations := func(timedOut string) float64 { // the chats with a duration, over every scope
		n := 0.0
		for _, m := range h.families()["wolkvox_chat_duration_seconds"].GetMetric() {
			if matches(m, map[string]string{"timed_out": timedOut}) {
				n += metricValue(m)
			}
		}
		return n
	}
	path := filepath.Join(dir, "main.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]any
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatal(err)
	}
	// Version 1 kept each group of series at the top level.
	series, _ := state["series"].(map[string]any)
	delete(state, "series")
	maps.Copy(state, series)
	state["version"] = 1
	scopes, _ := state["scopes"].([]any)
	for _, sc := range scopes {
		delete(sc.(map[string]any), "timed_out_duration")
	}
	if len(scopes) == 0 || durations("true") == 0 {
		t.Fatal("no timed-out chat counted: the traffic does not test the old state")
	}
	if data, err = json.Marshal(state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	chats := h.sum("wolkvox_chats_total")
	agentsClosed := durations("false")
	h.restart()
	if got := h.sum("wolkvox_chats_total"); got != chats {
		t.Errorf("%v chats after the restart, %v before: the old state was not restored", got, chats)
	}
	if got := durations("false"); got != agentsClosed {
		t.Errorf("durations of chats not timed out %v, before %v", got, agentsClosed)
	}
	if got := durations("true"); got != 0 {
		t.Errorf("durations of timed-out chats %v, want none from an old state", got)
	}
}

// A history backfilled up to today before the exporter's first start, with its
// --storage.path, is where live counting goes on from: each series starts at the
// value the history ends with, so Prometheus sees no restart where the two join,
// and each chat of the day counts once.
func TestLiveCountingGoesOnFromTheHistory(t *testing.T) {
	traffic := simulator.NewTraffic(7, 300)
	sim := simulator.NewServer(traffic, simulator.Options{})
	storage := t.TempDir()
	h := newHarness(t, sim, baseConfig, collector.WithStorage(storage), collector.WithNewSeriesHold(0))
	cfg, err := config.Parse(fmt.Appendf(nil, baseConfig, h.url), ".")
	if err != nil {
		t.Fatal(err)
	}
	day := startTime.In(bogota).Format(time.DateOnly)
	dayStart, _ := wolkvox.Day(startTime, bogota)
	var out strings.Builder
	o := backfill.Options{
		Operation: cfg.Operations[0], Histograms: cfg.Histograms, From: day, To: day,
		Output: filepath.Join(t.TempDir(), "history"), Step: time.Minute, StoragePath: storage,
		Labels: []history.Label{{Name: "job", Value: "wolkvox"}, {Name: "instance", Value: "exporter:19655"}},
		Now:    h.clock.Now, Out: &out,
	}
	if _, err := backfill.Run(t.Context(), o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	end := startTime.Add(-10 * time.Minute) // overlap before now: where live polling would begin
	if want := "the history ends at " + end.In(bogota).Format(time.RFC3339) + ", where live counting will begin"; !strings.Contains(out.String(), want) {
		t.Fatalf("the backfill does not say %q:\n%s", want, out.String())
	}

	h.restart() // the exporter's first start
	historyEnds := map[string]float64{}
	for _, s := range blocktest.Read(t, o.Output) {
		key := s.Labels.Get(model.MetricNameLabel)
		s.Labels.Range(func(l labels.Label) {
			if l.Name != model.MetricNameLabel && l.Name != "job" && l.Name != "instance" {
				key += "," + l.Name + "=" + l.Value
			}
		})
		if last := s.Points[len(s.Points)-1]; strings.HasPrefix(key, "wolkvox_chats_total,") && last.T == end.UnixMilli() {
			historyEnds[key] = last.V
		}
	}
	before := h.counters()
	if len(historyEnds) == 0 {
		t.Fatal("the history has no chat series")
	}
	for key, v := range historyEnds {
		if before[key] != v {
			t.Errorf("%s: the history ends at %v, live counting starts at %v", key, v, before[key])
		}
	}
	for range 6 {
		h.refresh()
		h.clock.Advance(5 * time.Minute)
	}
	h.refresh()
	for key, v := range before {
		if got := h.counters()[key]; got < v {
			t.Errorf("%s went from %v down to %v: a restart", key, v, got)
		}
	}
	closed := map[string]bool{}
	for _, c := range traffic.ChatsClosedBetween(dayStart, h.clock.Now()) {
		closed[c.ConnID] = true
	}
	inHistory := float64(len(traffic.ChatsClosedBetween(dayStart, end.Add(-time.Nanosecond))))
	if got := h.sum("wolkvox_chats_total"); got != float64(len(closed)) || inHistory == 0 || inHistory == got {
		t.Fatalf("counted %v chats, the day has %d, %v of them before live counting began", got, len(closed), inHistory)
	}
}
