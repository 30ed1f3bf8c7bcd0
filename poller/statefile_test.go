package poller_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/durable"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// saved is what of a Status the state file keeps, to compare across a restart;
// times as Unix seconds, as it keeps them.
func saved(st poller.Status) string {
	h, rec := st.Health, *st.Reconciled
	out := fmt.Sprint("counts ", values(st.Tally), "\ntracked ", st.Tracked, "\nrequests ", h.Requests,
		"\ncall time ", h.CallTime.Count, " ", h.CallTime.Buckets, "\nlast success ", h.LastSuccess.Unix(), " records ", h.LastRecords,
		"\nbackoff ", h.BackoffUntil.Unix(), "\nskipped ", st.Tally.Skipped,
		"\nreconciled ", rec.Missed, rec.Extra, rec.LastSuccess.Unix(), rec.DayStart.Unix(), rec.DayChats, rec.DayMissed, rec.Delay)
	for _, api := range wolkvox.RealtimeAPIs {
		if rt := st.Realtime[api]; rt != nil {
			out += fmt.Sprint("\n", api, " requests ", rt.Requests, " skipped ", rt.Skipped, " call time ", rt.CallTime.Count,
				" backoff ", rt.BackoffUntil.Unix())
		}
	}
	return out
}

// differ shows the lines of got and want that differ, cut short.
func differ(got, want string) string {
	var out []string
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	line := func(lines []string, i int) string {
		if i >= len(lines) {
			return "(none)"
		}
		return lines[i]
	}
	short := func(s string) string { return s[:min(len(s), 200)] }
	for i := range max(len(g), len(w)) {
		if gl, wl := line(g, i), line(w, i); gl != wl {
			out = append(out, "got  "+short(gl), "want "+short(wl))
		}
	}
	return strings.Join(out, "\n")
}

// A restart with --storage.path goes on where the last process stopped: the same
// counts, cursor and dedupe memory, chat_1's and the real-time APIs' call counters
// and backoffs. The reads of what is open are not saved: there is no "now" until
// the next read.
func TestStateSurvivesARestart(t *testing.T) {
	loc := testkit.Zone(t, "America/Bogota")
	run := func(restart bool) (*rig, poller.Status) {
		store, _ := newStore(t)
		r := newRig(t, simulator.NewTraffic(7, 60), simulator.Options{Location: loc}, realtimeConfig, store)
		for step := range 3 {
			if step == 2 { // api=agents fails: a backoff to keep
				r.up.setIntercept(func(w http.ResponseWriter, req *http.Request) bool {
					if req.URL.Query().Get("api") != "agents" {
						return false
					}
					http.Error(w, "<html>Bad Gateway</html>", http.StatusBadGateway)
					return true
				})
			}
			r.refresh()
			r.clock.Advance(5 * time.Minute)
		}
		r.up.setIntercept(nil)
		before := r.op.Status()
		if restart {
			r.restart()
			after := r.op.Status()
			if got, want := saved(after), saved(before); got != want {
				t.Errorf("after the restart:\n%s", differ(got, want))
			}
			if after.Open != nil || after.AgentsNow != nil {
				t.Error("a restarted operation shows reads it did not make")
			}
		}
		r.refresh()
		return r, before
	}
	r, before := run(true)
	if before.Realtime[wolkvox.APIAgents].BackoffUntil.IsZero() || before.Tracked == 0 || chats(before) == 0 {
		t.Fatal("no backoff, dedupe memory or counts to keep: the test proves nothing")
	}
	c := r.up.of("chat_1")
	if last := c[len(c)-1]; last.from != wire(startTime, loc) {
		t.Errorf("the first window after the restart starts at %s, want the cursor %s", last.from, wire(startTime, loc))
	}
	if got, served := chats(r.op.Status()), r.up.distinctServed(); got != served {
		t.Errorf("%v chats counted, %v distinct served", got, served)
	}
	without, _ := run(false)
	if got, want := values(r.op.Status().Tally), values(without.op.Status().Tally); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the counts differ from a run without a restart:\nwith    %v\nwithout %v", got, want)
	}
}

// v1Config is the configuration testdata/state-v1.json was written under, by the
// exporter of state version 1 (commit 4a8e906^), after calls at 10:00 and 10:05 in
// Bogota of v1Chats.
const v1Config = baseConfig + `    agent_metrics: true
    skills: {"12": sales}
histograms:
  answer_delay: [20, 60]
  duration: [60, 600]
  handle_time: [60, 300]
`

func v1Chats() simulator.Chats {
	a, b, c := chat("v1-a", startTime.Add(-2*time.Minute)), chat("v1-b", startTime.Add(time.Minute)), chat("v1-c", startTime.Add(3*time.Minute))
	b.Channel, b.SkillID, b.Feeling, b.LastParticipant = "Web", "14", "positive", "customer"
	b.Opened, b.Duration = b.Closed.Add(-23*time.Hour-10*time.Minute), 23*time.Hour+10*time.Minute
	b.CodAct, b.CodActDescription = "TIMEOUTCHAT", "Closed by timeout"
	c.AgentID, c.AgentName = "8", "Ana"
	a.Duration, c.Duration = 9*time.Minute, 9*time.Minute
	return simulator.Chats{a, b, c}
}

// A state file of version 1, which kept each group of chat series at the top level,
// loads: counts, cursor and dedupe memory go on, and the next save is version 2.
func TestStateFileVersion1Loads(t *testing.T) {
	loc := testkit.Zone(t, "America/Bogota")
	store, dir := newStore(t)
	data, err := os.ReadFile(filepath.Join("testdata", "state-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, v1Chats(), simulator.Options{Location: loc}, v1Config, store)
	st := r.op.Status()
	if st.LoadFailures != 0 || chats(st) != 3 || st.Tracked != 3 || st.Requests[wolkvox.ResultSuccess] != 2 || st.LastRecords != 3 {
		t.Fatalf("loaded: %v load failures, %v chats, %d tracked, requests %v, %d last records; want 0, 3, 3, 2 successes, 3",
			st.LoadFailures, chats(st), st.Tracked, st.Requests, st.LastRecords)
	}
	counts := values(st.Tally)
	for series, want := range map[string]string{
		"wolkvox_chats_total[whatsapp sales neutral agent]":                     "0 2 [] ",
		"wolkvox_chat_duration_seconds[web 14 true]":                            "1 83400 [0 0 1] ",
		"wolkvox_agent_handle_time_seconds_total[8 Ana]":                        "0 480 [] ",
		"wolkvox_chat_dispositions_total[web 14 TIMEOUTCHAT Closed by timeout]": "0 1 [] ",
	} {
		if got := counts[series]; !strings.HasPrefix(got, want) {
			t.Errorf("%s = %q, want %q", series, got, want)
		}
	}
	r.clock.Set(startTime.Add(10 * time.Minute))
	r.refresh()
	if c := r.up.of("chat_1"); len(c) != 1 || c[0].from != wire(startTime.Add(-5*time.Minute), loc) {
		t.Errorf("calls %v, want one from the saved cursor %s", c, wire(startTime.Add(-5*time.Minute), loc))
	}
	if got := chats(r.op.Status()); got != 3 {
		t.Errorf("%v chats after the chats were served again, want 3", got)
	}
	var head struct {
		Version int `json:"version"`
	}
	data, err = os.ReadFile(filepath.Join(dir, "main.json"))
	if err == nil {
		err = json.Unmarshal(data, &head)
	}
	if err != nil || head.Version != 2 {
		t.Errorf("saved as version %d (%v), want 2", head.Version, err)
	}
	if since, err := store.CountingSince(r.op.Settings().Config); err != nil || !since.Equal(startTime.Add(-10*time.Minute)) {
		t.Errorf("counting since %v (%v), want the first window's start %v", since, err, startTime.Add(-10*time.Minute))
	}
}

// PrepareStorage makes a directory to keep states in, and removes what a crash left
// of a save; a path it cannot write to is an error.
func TestPrepareStorage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := poller.PrepareStorage(dir); err != nil {
		t.Fatal(err)
	}
	leftover, kept := filepath.Join(dir, durable.TempPrefix+"main.json-123"), filepath.Join(dir, "main.json")
	for _, f := range []string{leftover, kept} {
		if err := os.WriteFile(f, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := poller.PrepareStorage(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("a save's leftover is still there: %v", err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("a state file was removed: %v", err)
	}
	if err := poller.PrepareStorage(kept); err == nil {
		t.Error("a file taken for a directory: no error")
	}
}

// Seed starts live counting from a history: its counts go on, the first window
// starts where the history ends, and a label set new to live counting is held like
// any new one. A state that exists is kept.
func TestSeed(t *testing.T) {
	loc := testkit.Zone(t, "America/Bogota")
	store, _ := newStore(t)
	cfg, err := config.Parse(fmt.Appendf(nil, baseConfig, "http://127.0.0.1:1"), ".")
	if err != nil {
		t.Fatal(err)
	}
	op := cfg.Operations[0]
	history := tally.New(tally.SettingsOf(op, cfg.Histograms))
	b := tally.NewBatch(history, func(uint64) bool { return false }, 0)
	for _, id := range []string{"h1", "h2"} {
		b.Add(&wolkvox.Record{ConnID: id, Channel: "whatsapp", SkillID: "12", Feeling: "neutral", LastParticipant: "agent"})
	}
	history.Merge(b.Delta, time.Time{})
	at := startTime.Add(-time.Hour)
	if err := store.Seed(op, cfg.Histograms, history, at, startTime); err != nil {
		t.Fatal(err)
	}
	if err := store.Seed(op, cfg.Histograms, history, at, startTime); err == nil {
		t.Error("a second seed over the state: no error")
	}
	if since, err := store.CountingSince(op); err != nil || !since.Equal(at) {
		t.Errorf("counting since %v (%v), want %v", since, err, at)
	}
	web := chat("live-1", startTime.Add(-time.Minute))
	web.Channel = "Web"
	r := newRig(t, simulator.Chats{web}, simulator.Options{Location: loc}, baseConfig, store)
	if got := chats(r.op.Status()); got != 2 {
		t.Fatalf("%v chats after the seed, want the history's 2", got)
	}
	r.refresh()
	if c := r.up.of("chat_1"); len(c) != 1 || c[0].from != wire(at, loc) {
		t.Errorf("calls %v, want one from where the history ends %s", c, wire(at, loc))
	}
	st := r.op.Status()
	if chats(st) != 3 {
		t.Errorf("%v chats, want 3", chats(st))
	}
	st.Tally.Each(tally.ChatsFamily, func(labels tally.Labels, _ *tally.Cell, born time.Time) {
		if isWeb := labels[0] == "web"; isWeb == born.IsZero() {
			t.Errorf("%v born %v: want the live label set born at its call, the history's at once", labels, born)
		}
	})
}

// CountingSince reads when live counting began from a state of the operation, and
// is an error for a state that is missing, another operation's or without it.
func TestCountingSinceErrors(t *testing.T) {
	cfg, err := config.Parse(fmt.Appendf(nil, baseConfig, "http://127.0.0.1:1"), ".")
	if err != nil {
		t.Fatal(err)
	}
	op := cfg.Operations[0]
	for _, tc := range []struct {
		name, state, mentions string
	}{
		{"no state", "", "read the live state"},
		{"another operation's", `{"operation":"other","upstream":"server 0010","counting_since":1}`, `"other"`},
		{"another server's", `{"operation":"main","upstream":"server 0020","counting_since":1}`, "server 0020"},
		{"an older version's, without it", `{"operation":"main","upstream":"server 0010"}`, "older version"},
		{"not JSON", `{`, "read the live state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, dir := newStore(t)
			if tc.state != "" {
				if err := os.WriteFile(filepath.Join(dir, "main.json"), []byte(tc.state), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := store.CountingSince(op); err == nil || !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("error %v, want one mentioning %s", err, tc.mentions)
			}
		})
	}
}
