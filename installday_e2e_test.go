package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// The day of installation, as the README tells a new user to fill it: the exporter
// runs, scraped by Prometheus, and the backfill with its --storage.path writes the
// day up to where live counting began; the blocks, moved into the running
// Prometheus's data directory, are loaded by it. History up to the live start plus
// live counting then equal the day's chats, each counted once.
func TestBackfillInstallDay(t *testing.T) {
	installs := promInstalls(t)
	// Office-hours traffic from now, which stops 20 s after the exporter starts.
	traffic := until{officeTraffic(31, 240), time.Now().Add(20 * time.Second)}
	sim := httptest.NewServer(simulator.NewServer(traffic, simulator.Options{Token: e2eToken}))
	t.Cleanup(sim.Close) // after the subtests, which run in parallel
	dir, cfgPath := writeOperationConfig(t, sim.URL, "")
	storage := filepath.Join(dir, "state")
	e := startExporter(t, "--config.file="+cfgPath, "--storage.path="+storage)
	instance := strings.TrimPrefix(e.url, "http://")
	e.get(t, "/metrics") // the first call: live counting begins
	since := countingSince(t, filepath.Join(storage, "main.json"))
	dayStart := localDay(since)

	type server struct {
		api  promAPI
		data string
	}
	servers := map[string]server{}
	for _, p := range installs {
		data := filepath.Join(t.TempDir(), "data")
		cfg := filepath.Join(t.TempDir(), "prometheus.yml")
		writeFile(t, cfg, fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: wolkvox\n    static_configs:\n      - targets: [%q]\n", instance))
		api := startPrometheus(t, p, cfg, data, freePort(t))
		api.waitReady(t)
		servers[p.version] = server{api, data}
	}

	history := filepath.Join(dir, "history")
	out := runBackfill(t, "--config.file="+cfgPath, "--storage.path="+storage, "--operation=main",
		"--from="+dayStart.Format(time.DateOnly), "--to="+dayStart.Format(time.DateOnly), "--output="+history,
		"--label=job=wolkvox", "--label=instance="+instance)
	if want := "the history ends at " + since.Format(time.RFC3339) + ", where live counting began"; !strings.Contains(out, want) {
		t.Errorf("the backfill does not say %q:\n%s", want, out)
	}
	historyChats := float64(len(traffic.ChatsClosedBetween(dayStart, since.Add(-time.Nanosecond))))
	dayChats := float64(len(traffic.ChatsClosedBetween(dayStart, traffic.last)))
	if historyChats == 0 || dayChats == historyChats {
		t.Fatalf("%v chats before live counting began and %v in the day: the test needs both parts", historyChats, dayChats)
	}

	for _, p := range installs {
		t.Run("prometheus-"+p.version, func(t *testing.T) {
			t.Parallel() // each waits for its server's block reload, once a minute
			s := servers[p.version]
			moving := filepath.Join(t.TempDir(), "moving")
			copyBlocks(t, history, moving)
			moveBlocks(t, moving, s.data)
			selector := fmt.Sprintf(`{operation="main",job="wolkvox",instance=%q}`, instance)
			// The history's total where live counting began, once Prometheus has
			// loaded the blocks (its block reload runs every minute), and live
			// counting's total once it has read past the last chat.
			deadline := time.Now().Add(3 * time.Minute)
			var before, live float64
			for {
				before = sumAt(t, s.api, `wolkvox_chats_total`+selector, since)
				live = s.api.scalarOf(`sum(wolkvox_chats_total` + selector + `)`)
				if before+live > dayChats {
					t.Fatalf("%v chats before live counting plus %v live, more than the day's %v: a chat counted twice", before, live, dayChats)
				}
				if before == historyChats && before+live == dayChats {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 3 minutes: %v chats before live counting began (the API has %v), %v live; the day has %v",
						before, historyChats, live, dayChats)
				}
				time.Sleep(time.Second) // polling Prometheus, whose block reload and scrapes run on their own clock
			}
			t.Logf("history %v + live %v = the day's %v chats", before, live, dayChats)
		})
	}
}

// sumAt is the sum of the series of expr at a time, 0 if there is none.
func sumAt(t *testing.T, api promAPI, expr string, at time.Time) float64 {
	t.Helper()
	samples, err := api.queryAt("sum("+expr+")", at)
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, s := range samples {
		total += sampleValue(s)
	}
	return total
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
