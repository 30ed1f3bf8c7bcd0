package e2e

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/grafanatest"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// nowPanels are the supervisors' "Now" row, by title.
var nowPanels = []string{"Chats open now", "Open now by channel", "Oldest open chat", "Agents by state", "Read ago"}

// The "Now" row through each Prometheus, as Grafana asks for it: each panel shows
// what the simulator listed open at the exporter's last read of each real-time API,
// at several reads; and nothing once a reload turns real-time calls off.
func TestNowPanelsShowWhatIsOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Prometheus")
	}
	t.Parallel() // the tests against Prometheus wait on its clock: they overlap
	installs := promInstalls(t)
	traffic := officeTraffic(47, 120)
	sim := simulator.NewServer(traffic, simulator.Options{Token: e2eToken})
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close) // after the subtests, which run in parallel
	const interval = 5 * time.Second
	_, cfgPath := writeOperationConfig(t, api.URL, fmt.Sprintf("    realtime: {interval: %s}\n", interval))
	instance := freePort(t)
	e := startExporter(t, "--web.listen-address="+instance, "--config.file="+cfgPath)
	apis := map[string]promAPI{}
	for _, p := range installs {
		apis[p.version], _ = startScrapingPrometheus(t, p, instance)
	}
	panels := map[string]grafanatest.Panel{}
	for _, p := range grafanatest.AllPanels(t) {
		panels[p.Str("title")] = p.Panel
	}
	dashboards := dashboardView(t, time.Now(), 6*time.Hour)
	read := func(api promAPI, title string, now time.Time) map[string]float64 {
		view := dashboards
		view.From, view.Now = now.Add(-6*time.Hour), now
		qs, err := view.Queries(panels[title])
		if err != nil {
			t.Fatal(err)
		}
		samples, err := api.queryAt(qs[0].Expr, qs[0].At)
		if err != nil {
			t.Fatalf("%s: %v\n  expr: %s", title, err, qs[0].Expr)
		}
		out := map[string]float64{}
		for _, s := range samples {
			out[s.Metric["channel"]+s.Metric["status"]] = sampleValue(s)
		}
		return out
	}

	// Both Prometheus servers scrape the one exporter: each is read in turn.
	for _, p := range installs {
		t.Run("prometheus-"+p.version, func(t *testing.T) {
			prom := apis[p.version]
			checked := 0
			deadline := time.Now().Add(2 * time.Minute)
			for checked < 3 {
				if time.Now().After(deadline) {
					t.Fatalf("after 2 minutes, %d reads checked", checked)
				}
				time.Sleep(interval) // the next read; Prometheus scrapes on its own clock
				now := time.Now()
				at := now.Truncate(time.Second) // as the stats ask, with their step of a second
				readAt := map[string]float64{}
				for _, api := range []string{"chats", "agents"} {
					readAt[api] = sumAt(t, prom, fmt.Sprintf(`wolkvox_realtime_last_success_timestamp_seconds{api=%q}`, api), at)
				}
				truth, ok := openAt(sim, readAt)
				if !ok || readAt["chats"] == 0 || readAt["agents"] == 0 {
					continue // no read of both APIs scraped yet
				}
				checked++
				for title, want := range map[string]map[string]float64{
					"Chats open now":      {"": truth.total},
					"Open now by channel": truth.channels,
					"Oldest open chat":    {"": truth.oldest},
					"Agents by state":     truth.statuses,
					"Read ago":            {"": at.Sub(time.Unix(0, int64(math.Min(readAt["chats"], readAt["agents"])*1e9))).Seconds()},
				} {
					got := read(prom, title, now)
					if len(got) != len(want) {
						t.Errorf("%s at %s shows %v, the reads at %v held %v", title, at.Format(time.TimeOnly), got, readAt, want)
						continue
					}
					for k, v := range want {
						if g, ok := got[k]; !ok || math.Abs(g-v) > 0.01 {
							t.Errorf("%s at %s shows %v, the reads at %v held %v", title, at.Format(time.TimeOnly), got, readAt, want)
							break
						}
					}
				}
			}
		})
	}
	t.Run("off", func(t *testing.T) {
		// Turned off by a reload: no panel of the row shows anything, and none shows 0.
		writeFile(t, cfgPath, "operations:\n"+operationYAML("main", api.URL, ""))
		if status, body := request(t, http.MethodPost, e.url+"/-/reload", nil); status != http.StatusOK {
			t.Fatalf("reload: %d %s", status, body)
		}
		for version, prom := range apis {
			deadline := time.Now().Add(time.Minute)
			for {
				now := time.Now()
				shown := 0
				for _, title := range nowPanels {
					shown += len(read(prom, title, now))
				}
				if shown == 0 {
					break
				}
				if now.After(deadline) {
					t.Fatalf("prometheus %s: a minute after real-time calls were turned off, the Now row still shows %d values", version, shown)
				}
				time.Sleep(time.Second) // polling Prometheus for its next scrape
			}
		}
	})
}

// openNow is what the simulator's reads held as the "Now" row shows it.
type openNow struct {
	total, oldest      float64
	channels, statuses map[string]float64
}

// openAt finds the simulator's reads that the exporter's reads at readAt (by API,
// Unix seconds, when each answer was read) came from: the last answer of each API
// served before it. Channels and states seen by earlier reads show at 0.
func openAt(sim *simulator.Server, readAt map[string]float64) (openNow, bool) {
	out := openNow{channels: map[string]float64{}, statuses: map[string]float64{}}
	var chats, agents *simulator.OpenRead
	reads := sim.OpenServed()
	for i := range reads {
		r := &reads[i]
		if float64(r.At.UnixNano())/1e9 > readAt[r.API] {
			continue
		}
		switch r.API {
		case "chats":
			chats = r
			for _, c := range r.Chats {
				out.channels[strings.ToLower(c.Channel)] += 0
			}
		case "agents":
			agents = r
			for _, a := range r.Agents {
				out.statuses[strings.ToLower(strings.Join(strings.Fields(a.Status), " "))] += 0
			}
		}
	}
	if chats == nil || agents == nil {
		return out, false
	}
	read := time.Unix(0, int64(readAt["chats"]*1e9))
	for _, c := range chats.Chats {
		out.total++
		out.channels[strings.ToLower(c.Channel)]++
		if !c.FirstMessage.IsZero() {
			out.oldest = math.Max(out.oldest, read.Sub(c.FirstMessage).Seconds())
		}
	}
	for _, a := range agents.Agents {
		out.statuses[strings.ToLower(strings.Join(strings.Fields(a.Status), " "))]++
	}
	return out, true
}
