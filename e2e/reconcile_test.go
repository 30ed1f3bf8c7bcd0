package e2e

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/grafanatest"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// offsetZone is the fixed offset from UTC, as the config writes it, at which local
// midnight falls at the instant midnight (a whole minute).
func offsetZone(midnight time.Time) (string, *time.Location) {
	utc := midnight.UTC()
	offset := -utc.Sub(utc.Truncate(24 * time.Hour)) // local = UTC + offset: 00:00 at midnight
	if offset <= -12*time.Hour {
		offset += 24 * time.Hour
	}
	sign, abs := "+", offset
	if offset < 0 {
		sign, abs = "-", -offset
	}
	name := fmt.Sprintf("%s%02d:%02d", sign, int(abs.Hours()), int(abs.Minutes())%60)
	return name, time.FixedZone("UTC"+name, int(offset.Seconds()))
}

// The daily re-read as it runs: the built binary against a simulated API that lists
// each chat 12 s after it closed, more than overlap (10 s), so that live polling
// misses some. The operation's time zone puts midnight a minute or two after the
// start. Once the day is over and reconcile.after (15 s) has passed, the re-read
// counts the missed chats, and the day's total equals the chats that closed in the
// part of the day that was counted.
func TestReconcileEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: waits for a midnight two minutes away, then needs Prometheus")
	}
	t.Parallel()
	midnight := time.Now().Add(90 * time.Second).Truncate(time.Minute).Add(time.Minute)
	zone, loc := offsetZone(midnight)
	traffic := officeTraffic(17, 3600)
	upstream := simulator.NewServer(traffic, simulator.Options{Token: e2eToken, Location: loc, VisibilityDelay: 12 * time.Second})
	windows := &windowLog{next: upstream}
	sim := httptest.NewServer(windows)
	defer sim.Close()
	_, cfgPath := writeOperationConfig(t, sim.URL, fmt.Sprintf("    timezone: %q\n    overlap: 10s\n    reconcile: {after: 15s}\n", zone))
	e := startExporter(t, "--config.file="+cfgPath, "--collector.new-series-hold=0")

	// Calls follow scrapes: scrape, as Prometheus would, until the day is re-read.
	deadline := midnight.Add(3 * time.Minute)
	for {
		mfs := e.metrics(t)
		if mf := mfs["wolkvox_reconcile_day_start_timestamp_seconds"]; mf != nil && gaugeOrCounter(mf.GetMetric()[0]) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no re-read of the day within 3 minutes of midnight (%s, zone %s):\n%s", midnight, zone, e.logs)
		}
		time.Sleep(500 * time.Millisecond) // a scraper's pace; the exporter calls at most every second
	}
	// The re-read's scrape has its answer; one more shows the state after it.
	mfs := e.metrics(t)
	value := func(name string) float64 { return single(t, mfs, name, map[string]string{"operation": "main"}) }

	first, _ := windows.bounds()
	from, err := time.ParseInLocation("20060102150405", first, loc)
	if err != nil {
		t.Fatal(err)
	}
	truth := map[string]bool{}
	for _, c := range traffic.ChatsClosedBetween(from, midnight.Add(-time.Nanosecond)) {
		truth[c.ConnID] = true
	}
	served := upstream.Served()
	day, all := map[string]bool{}, map[string]bool{}
	for _, c := range served {
		all[c.ConnID] = true
		if c.Closed.Before(midnight) {
			day[c.ConnID] = true
		}
	}
	dayChats, missed, extra := value("wolkvox_reconcile_day_chats"), value("wolkvox_reconcile_missed_chats_total"), value("wolkvox_reconcile_extra_chats_total")
	t.Logf("day from %s to midnight %s (zone %s): %d chats closed; counted live %v, missed %v, extra %v, day total %v",
		from.Format(time.TimeOnly), midnight.In(loc).Format(time.TimeOnly), zone, len(truth), dayChats-missed, missed, extra, dayChats)
	if dayChats != float64(len(truth)) || len(day) != len(truth) {
		t.Errorf("day total %v, %d of the day's chats served; want the %d chats that closed from %s to midnight", dayChats, len(day), len(truth), first)
	}
	if missed <= 0 || extra != 0 {
		t.Errorf("missed %v, extra %v: want chats found late, and none extra", missed, extra)
	}
	total := 0.0
	for _, m := range mfs["wolkvox_chats_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	if total != float64(len(all)) {
		t.Errorf("%v chats counted, %d distinct chats served: each must count once", total, len(all))
	}

	// What the supervisor compares with the report: the panel, through each Prometheus,
	// names the day that ended at midnight (a fixed zone: 24 h before it), its chats as
	// the report lists them, and the chats found late, all of them at this first re-read.
	want := map[string]float64{
		"day":        float64(midnight.Add(-24*time.Hour).Unix()) * 1000,
		"chats":      float64(len(truth)),
		"found late": missed,
	}
	t.Run("dashboard", func(t *testing.T) {
		for _, p := range promInstalls(t) {
			t.Run(p.version, func(t *testing.T) { checkRereadPanel(t, p, e, want) })
		}
	})
}

// rereadPanelTitle is the supervisors' panel for the last day re-read.
const rereadPanelTitle = "Last day re-read, per the report"

// checkRereadPanel has a Prometheus scrape the exporter once the day is re-read, and
// checks that each value of the re-read panel, queried as Grafana does, is want's.
func checkRereadPanel(t *testing.T, p promInstall, e *exporter, want map[string]float64) {
	t.Helper()
	api, _ := startScrapingPrometheus(t, p, strings.TrimPrefix(e.url, "http://"))
	deadline := time.Now().Add(time.Minute)
	for {
		if samples, err := api.query("wolkvox_reconcile_day_start_timestamp_seconds > 0"); err == nil && len(samples) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus has no scrape of the re-read day within a minute")
		}
		time.Sleep(200 * time.Millisecond) // until the first scrape lands
	}
	vars := withDashboardDefaults(t, grafanaVariables)
	targets := panelTargets(t, rereadPanelTitle)
	if len(targets) != len(want) {
		t.Fatalf("panel %q has %d queries, want %d: %v", rereadPanelTitle, len(targets), len(want), targets)
	}
	for _, target := range targets {
		expr, err := grafanatest.Substitute(target.Expr, vars)
		if err != nil {
			t.Fatal(err)
		}
		samples, err := api.query(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if len(samples) != 1 || sampleValue(samples[0]) != want[target.Legend] {
			t.Errorf("panel %q shows %s = %v, want %v (%s)", rereadPanelTitle, target.Legend, samples, want[target.Legend], expr)
		}
	}
}
