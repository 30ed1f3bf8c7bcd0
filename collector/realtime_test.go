package collector_test

import (
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// realtimeConfig reads what is open now every 5 minutes, with agent metrics.
const realtimeConfig = baseConfig + `    agent_metrics: true
    realtime:
      interval: 5m
`

// newRealtimeHarness serves src from a simulator on the harness's clock.
func newRealtimeHarness(t *testing.T, src simulator.Source, cfg string, wrap func(http.Handler) http.Handler, opts ...collector.Option) (*harness, *simulator.Server) {
	t.Helper()
	var h *harness
	sim := simulator.NewServer(src, simulator.Options{Now: func() time.Time { return h.clock.Now() }})
	var upstream http.Handler = sim
	if wrap != nil {
		upstream = wrap(sim)
	}
	h = newHarness(t, upstream, cfg, opts...)
	return h, sim
}

// openTruth is what the simulator's last reads held, as the families should show
// it: open chats and the oldest's age by channel, open chats by agent, agents by
// status; channels and states seen by earlier reads at 0.
type openTruth struct {
	channels, oldest, agentChats, statuses map[string]float64
}

func lastReads(t *testing.T, sim *simulator.Server) openTruth {
	t.Helper()
	out := openTruth{map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}}
	var sawChats, sawAgents bool
	reads := sim.OpenServed()
	for _, r := range slices.Backward(reads) {
		switch {
		case r.API == "chats" && !sawChats:
			sawChats = true
			for _, a := range r.Agents {
				out.agentChats[a.AgentID] += 0
			}
			for _, c := range r.Chats {
				ch := strings.ToLower(c.Channel)
				out.channels[ch]++
				out.agentChats[c.AgentID]++
				if !c.FirstMessage.IsZero() {
					out.oldest[ch] = math.Max(out.oldest[ch], r.At.Sub(c.FirstMessage).Seconds())
				}
			}
		case r.API == "agents" && !sawAgents:
			sawAgents = true
			for _, a := range r.Agents {
				out.statuses[strings.ToLower(strings.Join(strings.Fields(a.Status), " "))]++
			}
		}
	}
	if !sawChats || !sawAgents {
		t.Fatalf("the simulator served no read of both APIs: %d reads", len(reads))
	}
	// A channel or a state seen by an earlier read shows 0 where none is now.
	for _, r := range reads {
		for _, c := range r.Chats {
			out.channels[strings.ToLower(c.Channel)] += 0
		}
		if r.API == "agents" {
			for _, a := range r.Agents {
				out.statuses[strings.ToLower(strings.Join(strings.Fields(a.Status), " "))] += 0
			}
		}
	}
	return out
}

// shown is what /metrics shows of a family, by the value of one label.
func (h *harness) shown(name, label string) map[string]float64 {
	out := map[string]float64{}
	if mf := h.families()[name]; mf != nil {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out[l.GetValue()] = metricValue(m)
				}
			}
		}
	}
	return out
}

func equalValues(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || math.Abs(v-w) > 1e-6 {
			return false
		}
	}
	return true
}

// What is open now shows what the last read of each real-time API held: open chats
// and the oldest's age by channel, named as chat_1 names channels, open chats by
// agent, agents by their state trimmed and lower-cased. Reads are made at most once
// an interval, each counted by its API.
func TestRealtimeShowsTheLastRead(t *testing.T) {
	// Quiet enough that agents are not all busy.
	h, sim := newRealtimeHarness(t, simulator.NewTraffic(5, 40), realtimeConfig, nil)
	for step := range 4 {
		h.refresh()
		h.clock.Advance(2 * time.Minute) // a read every other refresh
		h.refresh()
		truth := lastReads(t, sim)
		if len(truth.channels) < 3 || len(truth.statuses) < 2 {
			t.Fatalf("step %d: the traffic leaves too little open: %v, %v", step, truth.channels, truth.statuses)
		}
		for _, c := range []struct {
			name, label string
			want        map[string]float64
		}{
			{"wolkvox_chats_active", "channel", truth.channels},
			{"wolkvox_chat_active_oldest_seconds", "channel", truth.oldest},
			{"wolkvox_agent_chats_active", "agent_id", truth.agentChats},
			{"wolkvox_agents", "status", truth.statuses},
		} {
			if got := h.shown(c.name, c.label); !equalValues(got, c.want) {
				t.Errorf("step %d: %s by %s is %v, the read held %v", step, c.name, c.label, got, c.want)
			}
		}
		h.clock.Advance(3 * time.Minute)
	}
	for _, api := range []string{"chats", "agents"} {
		if got := h.value("wolkvox_api_requests_total", map[string]string{"api": api, "result": "success"}); got != 4 {
			t.Errorf("%v calls of api=%s in 4 intervals of 5 minutes, refreshed twice each, want 4", got, api)
		}
	}
	if got := h.value("wolkvox_api_requests_total", map[string]string{"api": "chat_1", "result": "success"}); got != 4 {
		t.Errorf("%v chat_1 calls, want 4", got)
	}
	if got := h.value("wolkvox_realtime_interval_seconds", nil); got != 300 {
		t.Errorf("interval %v, want 300", got)
	}
	// Agents are named as the agent families name them.
	names := map[string]string{}
	for _, m := range h.families()["wolkvox_agent_chats_total"].GetMetric() {
		names[labelsOf(m)["agent_id"]] = labelsOf(m)["agent_name"]
	}
	for _, m := range h.families()["wolkvox_agent_chats_active"].GetMetric() {
		id, name := labelsOf(m)["agent_id"], labelsOf(m)["agent_name"]
		if want, ok := names[id]; ok && name != want {
			t.Errorf("agent %s is %q in wolkvox_agent_chats_active, %q in wolkvox_agent_chats_total", id, name, want)
		}
	}
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// A read older than twice the interval is not shown: a dashboard never shows an old
// "now" as current. When the API answers again, the new read shows.
func TestRealtimeStaleReadNotShown(t *testing.T) {
	failing := false
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if failing && strings.HasSuffix(r.URL.Path, "real_time.php") {
				http.Error(w, "backup in progress", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	h, _ := newRealtimeHarness(t, simulator.NewTraffic(5, 600), realtimeConfig, wrap)
	h.refresh()
	read := h.value("wolkvox_realtime_last_success_timestamp_seconds", map[string]string{"api": "chats"})
	if n := len(h.shown("wolkvox_chats_active", "channel")); n == 0 {
		t.Fatal("nothing shown after a read")
	}
	failing = true
	for _, after := range []time.Duration{5 * time.Minute, 10 * time.Minute} { // at most twice the interval: shown
		h.clock.Advance(after - h.clock.Now().Sub(startTime))
		h.refresh()
		if n := len(h.shown("wolkvox_chats_active", "channel")); n == 0 {
			t.Errorf("%s after the read, within twice the interval, nothing is shown", after)
		}
	}
	h.clock.Advance(time.Second)
	h.refresh()
	for _, name := range []string{"wolkvox_chats_active", "wolkvox_chat_active_oldest_seconds", "wolkvox_agent_chats_active", "wolkvox_agents"} {
		if mf := h.families()[name]; mf != nil {
			t.Errorf("%s is shown 10m1s after the last read: %v", name, mf.GetMetric())
		}
	}
	if got := h.value("wolkvox_realtime_last_success_timestamp_seconds", map[string]string{"api": "chats"}); got != read {
		t.Errorf("last success %v, want the read's %v", got, read)
	}
	if got := h.value("wolkvox_api_requests_total", map[string]string{"api": "chats", "result": "http_error"}); got < 1 {
		t.Errorf("%v failed calls of api=chats counted", got)
	}
	failing = false
	h.clock.Advance(time.Hour) // past any back-off
	h.refresh()
	if n := len(h.shown("wolkvox_chats_active", "channel")); n == 0 {
		t.Error("nothing shown after the API answers again")
	}
}

// closesBy are chats that all close by a time: after it, nothing is open.
func closesBy(at time.Time) simulator.Chats {
	var out simulator.Chats
	for i, ch := range []string{"WhatsApp", "Web", "Facebook"} {
		c := chat(fmt.Sprintf("open-%d", i), at.Add(-time.Duration(i)*time.Minute))
		c.Channel, c.Opened = ch, at.Add(-time.Hour)
		out = append(out, c)
	}
	return out
}

// An empty answer means nothing is open: each channel seen shows 0, never the last
// values.
func TestRealtimeEmptyReadShowsNothingOpen(t *testing.T) {
	h, _ := newRealtimeHarness(t, closesBy(startTime.Add(20*time.Minute)), realtimeConfig, nil)
	h.refresh()
	if got := h.shown("wolkvox_chats_active", "channel"); !equalValues(got, map[string]float64{"whatsapp": 1, "web": 1, "facebook": 1}) {
		t.Fatalf("open chats %v, want one on each of three channels", got)
	}
	h.clock.Advance(30 * time.Minute)
	h.refresh()
	if got := h.shown("wolkvox_chats_active", "channel"); !equalValues(got, map[string]float64{"whatsapp": 0, "web": 0, "facebook": 0}) {
		t.Errorf("after a read with nothing open: %v, want every channel at 0", got)
	}
	if got := h.shown("wolkvox_chat_active_oldest_seconds", "channel"); len(got) != 0 {
		t.Errorf("the oldest open chat is %v when none is open", got)
	}
	if got := h.value("wolkvox_api_requests_total", map[string]string{"api": "chats", "result": "empty"}); got != 1 {
		t.Errorf("%v empty answers of api=chats counted, want 1", got)
	}
}

// TOKEN LIMIT EXCEEDED from a real-time API spends the token's quota: no call of any
// API is made with it, chat_1's included, until the quota resets at midnight in
// the operation's zone.
func TestRealtimeSpentQuotaStopsEveryCall(t *testing.T) {
	spent := true
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if spent && r.URL.Query().Get("api") == "agents" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"code":403,"error":"TOKEN LIMIT EXCEEDED","msg":"TOKEN LIMIT EXCEEDED","data":null}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	// chat_1 first, then the real-time APIs: chats, then agents, refused.
	h, _ := newRealtimeHarness(t, simulator.NewTraffic(5, 600), strings.Replace(realtimeConfig, "min_interval: 5m", "min_interval: 1m\n    daily_quota: 5000", 1), wrap)
	h.refresh()
	if got := h.value("wolkvox_api_requests_total", map[string]string{"api": "agents", "result": "quota_exceeded"}); got != 1 {
		t.Fatalf("%v refused calls of api=agents, want 1", got)
	}
	midnight := time.Date(2026, 11, 24, 0, 0, 0, 0, bogota)
	if got := h.value("wolkvox_api_backoff_until_timestamp_seconds", nil); got != float64(midnight.Unix()) {
		t.Errorf("no call before %v, want the next midnight in Bogota %v", got, midnight.Unix())
	}
	calls := h.requests()
	for _, at := range []time.Duration{time.Minute, 10 * time.Minute, time.Hour} {
		h.clock.Advance(at)
		h.refresh()
	}
	if got := h.requests(); got != calls {
		t.Errorf("%d calls after the token's quota was spent, before midnight", got-calls)
	}
	spent = false
	h.clock.Advance(midnight.Sub(h.clock.Now()) + time.Second)
	h.refresh()
	for _, api := range []string{"chat_1", "chats", "agents"} {
		if got := h.value("wolkvox_api_requests_total", map[string]string{"api": api, "result": "success"}); got < 1 {
			t.Errorf("api=%s: %v successful calls after midnight", api, got)
		}
	}
	if got := h.value("wolkvox_api_backoff_until_timestamp_seconds", nil); got != 0 {
		t.Errorf("no call before %v after midnight, want 0", got)
	}
}

// A reload turns real-time calls on, changes the APIs called, and turns them off:
// then no call is made, and nothing of what was open shows.
func TestRealtimeReload(t *testing.T) {
	h, _ := newRealtimeHarness(t, simulator.NewTraffic(5, 600), baseConfig, nil)
	h.refresh()
	if got := h.sum("wolkvox_api_requests_total") - h.value("wolkvox_api_requests_total", map[string]string{"api": "chat_1", "result": "success"}); got != 0 {
		t.Fatalf("%v real-time calls without realtime.interval", got)
	}
	if mf := h.families()["wolkvox_realtime_interval_seconds"]; mf != nil {
		t.Errorf("an interval is exported without real-time calls: %v", mf)
	}
	for _, step := range []struct {
		cfg          string
		chats, other bool // which families show after a refresh
	}{
		{realtimeConfig, true, true},
		{realtimeConfig + "      apis: [agents]\n", false, true},
		{baseConfig, false, false},
	} {
		if err := h.reload(step.cfg); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(6 * time.Minute)
		h.refresh()
		if got := len(h.shown("wolkvox_chats_active", "channel")) > 0; got != step.chats {
			t.Errorf("after reloading to\n%s\nwolkvox_chats_active shown: %v, want %v", step.cfg, got, step.chats)
		}
		if got := len(h.shown("wolkvox_agents", "status")) > 0; got != step.other {
			t.Errorf("after reloading to\n%s\nwolkvox_agents shown: %v, want %v", step.cfg, got, step.other)
		}
	}
	// A config whose real-time calls overrun the quota is refused, and the last good
	// one stays in force.
	if err := h.reload(strings.Replace(realtimeConfig, "interval: 5m", "interval: 1m", 1)); err == nil || !strings.Contains(err.Error(), "realtime") {
		t.Errorf("a reload past the quota: %v, want an error naming realtime", err)
	}
}

// The reads' counters are saved with the state, so that they go on across a
// restart; the reads are not: a restarted exporter shows nothing open until it
// reads again.
func TestRealtimeCountersSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	h, _ := newRealtimeHarness(t, simulator.NewTraffic(5, 600), realtimeConfig, nil, collector.WithStorage(dir))
	h.refresh()
	h.clock.Advance(5 * time.Minute)
	h.refresh()
	before := h.value("wolkvox_api_requests_total", map[string]string{"api": "chats", "result": "success"})
	if before != 2 {
		t.Fatalf("%v reads of api=chats, want 2", before)
	}
	h.restart()
	if got := h.value("wolkvox_api_requests_total", map[string]string{"api": "chats", "result": "success"}); got != before {
		t.Errorf("after a restart, %v reads counted, want %v", got, before)
	}
	if mf := h.families()["wolkvox_chats_active"]; mf != nil {
		t.Errorf("a restarted exporter shows a read it did not make: %v", mf.GetMetric())
	}
	if _, err := filepath.Glob(filepath.Join(dir, "*.json")); err != nil {
		t.Fatal(err)
	}
}

// The series budget counts what is open now: past max_series, channels fold into
// "other", and no open chat is lost.
func TestRealtimeWithinTheSeriesBudget(t *testing.T) {
	h, sim := newRealtimeHarness(t, simulator.NewTraffic(5, 600), strings.Replace(realtimeConfig, "agent_metrics: true", "max_series: 1\n    agent_metrics: false", 1), nil)
	h.refresh()
	truth := lastReads(t, sim)
	got := h.shown("wolkvox_chats_active", "channel")
	total, open := 0.0, 0.0
	for _, n := range got {
		total += n
	}
	for _, n := range truth.channels {
		open += n
	}
	if total != open || open == 0 {
		t.Errorf("%v chats shown open, the read held %v", total, open)
	}
	if _, ok := got["other"]; !ok {
		t.Errorf("channels %v past max_series 1: want them folded into other", got)
	}
	if series := h.value("wolkvox_chat_series", nil); series < float64(len(got)) {
		t.Errorf("wolkvox_chat_series %v does not count the %d series of what is open now", series, len(got))
	}
}
