package e2e

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/grafanatest"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// until serves the chats of a source that closed by a time: after it, none close.
// The live exporter's count then stops growing, and the day's truth is fixed.
type until struct {
	src  simulator.Source
	last time.Time
}

func (u until) ChatsClosedBetween(from, to time.Time) []simulator.Chat {
	if to.After(u.last) {
		to = u.last
	}
	if to.Before(from) {
		return nil
	}
	return u.src.ChatsClosedBetween(from, to)
}

// The day of installation, as the README tells a new user to fill it: before the
// exporter's first start, the backfill with its --storage.path writes the day up to
// where live counting will begin and leaves the state it goes on from; the blocks,
// moved into the running Prometheus's data directory, are loaded by it; then the
// exporter starts and is scraped. Its counters go on from the history's values, with
// no restart, so that history plus live counting equal the day's chats, each counted
// once, and the supervisors' "Chats today" shows them.
func TestBackfillInstallDay(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Prometheus")
	}
	t.Parallel() // the tests against Prometheus wait on its clock: they overlap
	installs := promInstalls(t)
	// Office-hours traffic from now, which stops 20 s after the backfill: live
	// counting then reads the last chat within its first calls, and the day's truth
	// is fixed.
	traffic := until{officeTraffic(31, 240), time.Now().Add(20 * time.Second)}
	sim := httptest.NewServer(simulator.NewServer(traffic, simulator.Options{Token: e2eToken}))
	t.Cleanup(sim.Close) // after the subtests, which run in parallel
	dir, cfgPath := writeOperationConfig(t, sim.URL, "")
	storage := filepath.Join(dir, "state")
	instance := freePort(t)

	type server struct {
		api  promAPI
		data string
	}
	servers := map[string]server{}
	for _, p := range installs {
		api, data := startScrapingPrometheus(t, p, instance)
		servers[p.version] = server{api, data}
	}

	today := localDay(time.Now()).Format(time.DateOnly)
	history := filepath.Join(dir, "history")
	out := runBackfill(t, "--config.file="+cfgPath, "--storage.path="+storage, "--operation=main",
		"--from="+today, "--to="+today, "--output="+history, "--label=job=wolkvox", "--label=instance="+instance)
	since := countingSince(t, filepath.Join(storage, "main.json"))
	dayStart := localDay(since)
	if want := "the history ends at " + since.Format(time.RFC3339) + ", where live counting will begin"; !strings.Contains(out, want) {
		t.Errorf("the backfill does not say %q:\n%s", want, out)
	}
	historyChats := float64(len(traffic.ChatsClosedBetween(dayStart, since.Add(-time.Nanosecond))))
	dayChats := float64(len(traffic.ChatsClosedBetween(dayStart, traffic.last)))
	if historyChats == 0 || dayChats == historyChats {
		t.Fatalf("%v chats before live counting began and %v in the day: the test needs both parts", historyChats, dayChats)
	}
	for _, p := range installs {
		moving := filepath.Join(t.TempDir(), "moving")
		copyBlocks(t, history, moving)
		moveBlocks(t, moving, servers[p.version].data)
	}
	startExporter(t, "--web.listen-address="+instance, "--config.file="+cfgPath, "--storage.path="+storage)

	for _, p := range installs {
		t.Run("prometheus-"+p.version, func(t *testing.T) {
			t.Parallel() // each waits for its server's block reload, once a minute
			s := servers[p.version]
			selector := fmt.Sprintf(`{operation="main",job="wolkvox",instance=%q}`, instance)
			// At one time, to the second as queries take it: the history's total where
			// live counting began, once Prometheus has loaded the blocks (its block
			// reload runs every minute), and the exporter's, which goes on from it,
			// once it has read past the last chat.
			deadline := time.Now().Add(3 * time.Minute)
			var at time.Time
			var before, now float64
			for {
				at = time.Now().Truncate(time.Second)
				before = sumAt(t, s.api, `wolkvox_chats_total`+selector, since)
				now = sumAt(t, s.api, `wolkvox_chats_total`+selector, at)
				if now > dayChats {
					t.Fatalf("the exporter counts %v chats, more than the day's %v: a chat counted twice", now, dayChats)
				}
				if before == historyChats && now == dayChats {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 3 minutes: %v chats where live counting began (the API has %v), %v now; the day has %v",
						before, historyChats, now, dayChats)
				}
				time.Sleep(time.Second) // polling Prometheus, whose block reload and scrapes run on their own clock
			}
			day := grafanatest.PromDuration(at.Sub(dayStart))
			if resets := sumAt(t, s.api, fmt.Sprintf("resets(wolkvox_chats_total%s[%s])", selector, day), at); resets != 0 {
				t.Errorf("%v counter restarts today: where history ends, live counting must go on from its values", resets)
			}
			// The supervisors' "Chats today", at the same time.
			vars := withDashboardDefaults(t, grafanaVariables)
			vars["__range"] = day
			expr, err := grafanatest.Substitute(panelExpr(t, "Chats today"), vars)
			if err != nil {
				t.Fatal(err)
			}
			if got := sumAt(t, s.api, expr, at); got != dayChats {
				t.Errorf("Chats today shows %v, the day has %v (%v before live counting began)", got, dayChats, before)
			}
			t.Logf("history %v, then the exporter's counters from there: %v, the day's chats", before, now)
		})
	}
}

// countingSince reads from the exporter's state file when live counting began.
func countingSince(t *testing.T, path string) time.Time {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		CountingSince int64 `json:"counting_since"`
	}
	if err := json.Unmarshal(data, &state); err != nil || state.CountingSince == 0 {
		t.Fatalf("no counting_since in the state (%v):\n%s", err, data)
	}
	return time.Unix(state.CountingSince, 0).In(backfillZone)
}

// localDay is the start of the operation's local day that holds t.
func localDay(t time.Time) time.Time {
	y, m, d := t.In(backfillZone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, backfillZone)
}

// moveBlocks moves each block of from into the data directory of a running
// Prometheus, as the README says to.
func moveBlocks(t *testing.T, from, data string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if err := os.Rename(filepath.Join(from, e.Name()), filepath.Join(data, e.Name())); err != nil {
			t.Fatal(err)
		}
		moved++
	}
	if moved == 0 {
		t.Fatal("no block to move")
	}
}
