package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/grafana"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/grafanatest"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// The stats as Grafana asks for them (../shared/grafana/QUERYING.md). Grafana
// evaluates a stat's instant query at now rounded down to the panel's step, with
// $__range the panel's unaligned range: a query that leans on either to the second
// shows another window than its title, and one that moves between refreshes. Here a
// week of history is backfilled and live counting goes on from it, in each
// Prometheus; the numbers of the stats are read as Grafana reads them, at refreshes
// over the history (a step after midnight among them) and live, and each must be
// the count of the chats counted in its window, and "today" never go down.

// exactStats are the stats whose numbers the test checks, by title, and what each
// is of the chats counted in its window.
var exactStats = map[string]func(chats []simulator.Chat) map[string]float64{
	"Chats closed":   chatCount,
	"Chats today":    chatCount,
	"Service level":  answeredWithin20s,
	"SL today":       answeredWithin20s,
	"Negative chats": negativeShare,
	"Negative today": negativeShare,
	"Top dispositions": func(chats []simulator.Chat) map[string]float64 {
		out := map[string]float64{}
		for _, c := range chats {
			out[c.CodAct+" · "+c.CodActDescription]++
		}
		return out
	},
}

func chatCount(chats []simulator.Chat) map[string]float64 {
	return map[string]float64{"": float64(len(chats))}
}

// answeredWithin20s is the service level at the dashboard's default threshold, 20 s.
func answeredWithin20s(chats []simulator.Chat) map[string]float64 {
	if len(chats) == 0 {
		return map[string]float64{}
	}
	within := 0.0
	for _, c := range chats {
		if c.AnswerDelay <= 20*time.Second {
			within++
		}
	}
	return map[string]float64{"": within / float64(len(chats))}
}

func negativeShare(chats []simulator.Chat) map[string]float64 {
	if len(chats) == 0 {
		return map[string]float64{}
	}
	negative := 0.0
	for _, c := range chats {
		if c.Feeling == "negative" || c.Feeling == "very negative" {
			negative++
		}
	}
	return map[string]float64{"": negative / float64(len(chats))}
}

// historyStep is the backfill's default --step: history holds a sample of every
// series every 5 minutes from each local midnight.
const historyStep = 5 * time.Minute

// counting says which chats a Prometheus sample counts: in history, those closed
// before the sample's time, on the 5-minute grid of the day, up to where live
// counting began; live, once the exporter has counted every chat, all of them.
type counting struct {
	src         simulator.Source
	first       time.Time // the history's first day
	since       time.Time // where the history ends and live counting begins
	stop        time.Time // the last close time the API serves
	convergedAt time.Time // from here Prometheus holds every chat; zero until then
}

// before is the close time before which the chats counted by the last sample at
// or before t closed, and whether the test knows it.
func (c *counting) before(t time.Time) (time.Time, bool) {
	switch {
	case !c.convergedAt.IsZero() && !t.Before(c.convergedAt):
		return c.stop.Add(time.Nanosecond), true
	case !t.Before(c.since):
		return time.Time{}, false // live counting under way: what a sample holds depends on its calls
	}
	day := localDay(t)
	return day.Add(t.Sub(day).Truncate(historyStep)), true
}

// chats are the chats counted between the samples at or before from and to.
func (c *counting) chats(from, to time.Time) ([]simulator.Chat, bool) {
	a, okA := c.before(from)
	b, okB := c.before(to)
	if !okA || !okB {
		return nil, false
	}
	a = laterTime(a, c.first)
	if !b.After(a) {
		return nil, true
	}
	return c.src.ChatsClosedBetween(a, b.Add(-time.Nanosecond)), true
}

func laterTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// statPanel is a panel of exactStats, with the legend of its query.
type statPanel struct {
	grafanatest.Panel
	legend string
}

// statPanels are the panels of exactStats.
func statPanels(t *testing.T) map[string]statPanel {
	t.Helper()
	out := map[string]statPanel{}
	for _, p := range grafanatest.AllPanels(t) {
		if _, ok := exactStats[p.Str("title")]; ok {
			out[p.Str("title")] = statPanel{p.Panel, p.Targets()[0].Legend}
		}
	}
	if len(out) != len(exactStats) {
		t.Fatalf("found the panels %v of %d", slices.Sorted(maps.Keys(out)), len(exactStats))
	}
	return out
}

// refresh is what the stats showed at one refresh: by panel, by series (its legend
// with the labels filled in), the value.
type refresh struct {
	now   time.Time
	shown map[string]map[string]float64
	at    map[string]grafanatest.Query // each panel's query, where it was evaluated
}

// readStats reads every stat of panels as Grafana would at now.
func readStats(t *testing.T, api promAPI, panels map[string]statPanel, now time.Time) refresh {
	t.Helper()
	view := dashboardView(t, now, 6*time.Hour)
	r := refresh{now: now, shown: map[string]map[string]float64{}, at: map[string]grafanatest.Query{}}
	for title, p := range panels {
		qs, err := view.Queries(p.Panel)
		if err != nil {
			t.Fatal(err)
		}
		q := qs[0]
		samples, err := api.queryAt(q.Expr, q.At)
		if err != nil {
			t.Fatalf("%s at %s: %v\n  expr: %s", title, q.At, err, q.Expr)
		}
		legend := p.legend
		values := map[string]float64{}
		for _, s := range samples {
			name := ""
			if strings.Contains(legend, "{{") {
				name = legend
				for k, v := range s.Metric {
					name = strings.ReplaceAll(name, "{{"+k+"}}", v)
				}
			}
			values[name] = sampleValue(s)
		}
		r.shown[title], r.at[title] = values, q
	}
	return r
}

// check compares what a refresh showed with the chats counted in each panel's
// window, where the test knows them; it returns how many panels it checked.
func (r refresh) check(t *testing.T, c *counting) int {
	t.Helper()
	checked := 0
	for title, q := range r.at {
		chats, known := c.chats(q.At.Add(-q.To.Sub(q.From)), q.At)
		if strings.Contains(title, "today") || title == "Top dispositions" {
			chats, known = c.chats(localDay(q.At), q.At)
		}
		if lag := r.now.Sub(q.At); lag < 0 || lag >= time.Second {
			t.Errorf("%s refreshed at %s is evaluated at %s, %s before: it shows a window that ended before the refresh",
				title, r.now.Format(time.RFC3339Nano), q.At.Format(time.RFC3339), lag)
		}
		if !known {
			continue
		}
		checked++
		want := exactStats[title](chats)
		got := r.shown[title]
		if len(got) == 0 && len(want) == 1 && want[""] == 0 {
			t.Errorf("%s refreshed at %s (evaluated at %s) shows no number, want 0", title, r.now.Format(time.RFC3339Nano), q.At.Format(time.RFC3339))
			continue
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || math.Abs(g-v) > 1e-9 {
				t.Errorf("%s%s refreshed at %s (evaluated at %s) shows %v, want %v, of the %d chats counted in its window",
					title, seriesName(k), r.now.Format(time.RFC3339Nano), q.At.Format(time.RFC3339), g, v, len(chats))
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s%s refreshed at %s shows %v where no chat was counted", title, seriesName(k), r.now.Format(time.RFC3339Nano), g)
			}
		}
	}
	return checked
}

func seriesName(k string) string {
	if k == "" {
		return ""
	}
	return " (" + k + ")"
}

// neverDown checks that the counts of today did not go down from one refresh to the
// next of the same day.
func neverDown(t *testing.T, rs []refresh) {
	t.Helper()
	for i := 1; i < len(rs); i++ {
		prev, cur := rs[i-1], rs[i]
		if !localDay(prev.now).Equal(localDay(cur.now)) {
			continue
		}
		for _, title := range []string{"Chats today", "Top dispositions"} {
			for k, before := range prev.shown[title] {
				if after := cur.shown[title][k]; after < before {
					t.Errorf("%s%s went down from %v at %s to %v at %s", title, seriesName(k),
						before, prev.now.Format(time.RFC3339Nano), after, cur.now.Format(time.RFC3339Nano))
				}
			}
		}
	}
}

func TestStatsAsGrafanaQueries(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Prometheus")
	}
	t.Parallel() // the tests against Prometheus wait on its clock: they overlap
	installs := promInstalls(t)
	// Office-hours traffic from now, which stops 50 s from now, some 45 s after the
	// backfill: live counting moves for that long, and then reads the last chat
	// within its next calls.
	traffic := until{officeTraffic(43, 600), time.Now().Add(50 * time.Second)}
	sim := httptest.NewServer(simulator.NewServer(traffic, simulator.Options{Token: e2eToken}))
	t.Cleanup(sim.Close) // after the subtests, which run in parallel
	dir, cfgPath := writeOperationConfig(t, sim.URL, "")
	storage := filepath.Join(dir, "state")
	instance := freePort(t)

	today := localDay(time.Now())
	first := today.AddDate(0, 0, -7)
	history := filepath.Join(dir, "history")
	runBackfill(t, "--config.file="+cfgPath, "--storage.path="+storage, "--operation=main",
		"--from="+first.Format(time.DateOnly), "--to="+today.Format(time.DateOnly), "--output="+history,
		"--label=job=wolkvox", "--label=instance="+instance)
	c := &counting{src: traffic.src, first: first, since: countingSince(t, filepath.Join(storage, "main.json")), stop: traffic.last}
	if !localDay(c.since).Equal(today) {
		t.Fatalf("live counting begins at %s, after the day backfilled: run the test again", c.since)
	}

	apis := map[string]promAPI{}
	for _, p := range installs {
		apis[p.version], _ = startScrapingPrometheusOn(t, p, instance, history)
	}
	startExporter(t, "--web.listen-address="+instance, "--config.file="+cfgPath, "--storage.path="+storage)
	panels := statPanels(t)
	selector := fmt.Sprintf(`wolkvox_chats_total{operation="main",job="wolkvox",instance=%q}`, instance)
	total := float64(len(traffic.ChatsClosedBetween(first, c.stop)))

	for _, p := range installs {
		t.Run("prometheus-"+p.version, func(t *testing.T) {
			t.Parallel()
			api := apis[p.version]
			c := *c
			// Live: refreshes as the exporter counts, until Prometheus holds every chat,
			// then a few more.
			var live []refresh
			deadline := time.Now().Add(3 * time.Minute)
			for {
				now := time.Now()
				live = append(live, readStats(t, api, panels, now))
				if c.convergedAt.IsZero() && sumAt(t, api, selector, now.Truncate(time.Second)) == total {
					c.convergedAt = now.Truncate(time.Second)
				}
				if !c.convergedAt.IsZero() && now.Sub(c.convergedAt) > 5*time.Second {
					break
				}
				if c.convergedAt.IsZero() && now.After(deadline) {
					t.Fatalf("Prometheus does not hold the %v chats after 3 minutes: %v", total, sumAt(t, api, selector, now.Truncate(time.Second)))
				}
				time.Sleep(700 * time.Millisecond) // refreshing as a viewer does; Prometheus scrapes on its own clock
			}
			neverDown(t, live)

			// Refreshes over the history: a step after midnight, and through a day, at
			// times that are not whole seconds.
			var past []refresh
			for d := first.AddDate(0, 0, 1); d.Before(today); d = d.AddDate(0, 0, 1) {
				for _, after := range []time.Duration{400 * time.Millisecond, 30*time.Second + 600*time.Millisecond, 7*time.Minute + 13*time.Second + 600*time.Millisecond} {
					past = append(past, readStats(t, api, panels, d.Add(after)))
				}
			}
			day := today.AddDate(0, 0, -1)
			for at := day.Add(17 * time.Minute); at.Before(day.AddDate(0, 0, 1)); at = at.Add(97*time.Minute + 300*time.Millisecond) {
				past = append(past, readStats(t, api, panels, at))
			}
			checked := 0
			for _, r := range past {
				checked += r.check(t, &c)
			}
			neverDown(t, past)
			liveChecked := 0
			for _, r := range live {
				if localDay(r.now).Equal(today) {
					liveChecked += r.check(t, &c)
				}
			}
			if liveChecked == 0 && localDay(time.Now()).Equal(today) {
				t.Error("no live refresh was checked")
			}
			t.Logf("%d refreshes over the history, %d panel numbers checked; %d live refreshes, %d numbers checked",
				len(past), checked, len(live), liveChecked)
			shown := live[len(live)-1].shown["Chats today"][""]
			if t.Failed() || shown == 0 {
				t.Errorf("the last refresh shows %v chats today", shown)
			}
		})
	}
}

// "API calls per hour" after the exporter's first start: its counters begin then,
// and rate() over an hour spreads 33 minutes of calls over the hour, reading as a
// slowdown that never happened. Calls made every 23 s, 156 an hour, read as such
// 33 minutes after the start, and after a restart without --storage.path, which
// starts the counter from zero again, as well.
func TestCallsPerHourAfterAStart(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Prometheus")
	}
	t.Parallel() // the tests against Prometheus wait on its clock: they overlap
	installs := promInstalls(t)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, backfillZone)
	start := at.Add(-33 * time.Minute)
	var om strings.Builder
	om.WriteString("# TYPE wolkvox_api_requests counter\n")
	// series writes a counter of calls made every 23 s from begin, which counts from
	// zero again at restart, unless that is zero.
	series := func(operation string, begin, restart time.Time) {
		for ts := begin; !ts.After(at); ts = ts.Add(15 * time.Second) {
			since := begin
			if !restart.IsZero() && !ts.Before(restart) {
				since = restart
			}
			fmt.Fprintf(&om, "wolkvox_api_requests_total{operation=%q,result=\"success\"} %d %d\n", operation, int(ts.Sub(since)/(23*time.Second)), ts.Unix())
		}
	}
	series("first-start", start, time.Time{})
	series("restarted", at.Add(-2*time.Hour), at.Add(-20*time.Minute))
	om.WriteString("# EOF\n")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "calls.om"), om.String())
	expr := ""
	for _, tg := range panelTargets(t, "API calls per hour, by API and result") {
		expr = tg.Expr
	}
	expr, err := grafanatest.Substitute(expr, map[string]string{"operation": ".*", "window": "1h"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range installs {
		t.Run("prometheus-"+p.version, func(t *testing.T) {
			t.Parallel()
			blocks := filepath.Join(t.TempDir(), "blocks")
			runTool(t, dir, p.promtool, "tsdb", "create-blocks-from", "openmetrics", filepath.Join(dir, "calls.om"), blocks)
			api := startPrometheusOnHistory(t, p, blocks)
			samples, err := api.queryAt(expr, at)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, s := range samples {
				got[s.Metric["operation"]] = sampleValue(s)
			}
			for _, op := range []string{"first-start", "restarted"} {
				if v := got[op]; math.Abs(v-3600.0/23) > 8 {
					t.Errorf("%s: %.1f calls an hour, want %.1f, one every 23 s (all: %v)", op, v, 3600.0/23, got)
				}
			}
		})
	}
}

var midnightFilterRE = regexp.MustCompile(`and on \(\) (.*?)\)\[25h:`)

// "Today" starts where Grafana starts it, in the zone the dashboards are generated
// for: the filter that PromQL's subquery keeps the midnight with holds at the first
// instant of each local day, and at no other hour, in Prometheus itself. Santiago's
// days include one of 25 hours, where clocks go back at midnight, and one that
// starts at 01:00, where they jump over it.
func TestTodayStartsAtTheZonesMidnight(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Prometheus")
	}
	t.Parallel()
	installs := promInstalls(t)
	for _, zone := range []string{"America/Bogota", "America/Santiago"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		built, err := grafana.Dashboards(zone)
		if err != nil {
			t.Fatal(err)
		}
		m := midnightFilterRE.FindStringSubmatch(string(built["wolkvox-chats.json"]))
		if m == nil {
			t.Fatalf("%s: no midnight filter in the supervisors' dashboard", zone)
		}
		var filter string
		if err := json.Unmarshal([]byte(`"`+m[1]+`"`), &filter); err != nil {
			t.Fatal(err)
		}
		for _, p := range installs {
			t.Run(zone+"/prometheus-"+p.version, func(t *testing.T) {
				t.Parallel()
				api := startPrometheusOnHistory(t, p, t.TempDir())
				for _, date := range []string{"2026-04-03", "2026-04-04", "2026-04-05", "2026-04-06", "2026-09-05", "2026-09-06", "2026-09-07"} {
					d, _ := time.ParseInLocation(time.DateOnly, date, loc)
					start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc) // 01:00 where midnight is skipped
					for h := -2; h <= 2; h++ {
						at := start.Add(time.Duration(h) * time.Hour)
						samples, err := api.queryAt(filter, at)
						if err != nil {
							t.Fatal(err)
						}
						if got, want := len(samples) == 1, h == 0; got != want {
							t.Errorf("at %s the filter holds: %v, want %v (the day starts at %s)", at.In(loc).Format(time.RFC3339), got, want, start.Format(time.RFC3339))
						}
					}
				}
			})
		}
	}
}
