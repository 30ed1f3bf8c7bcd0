package e2e

import (
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/blocktest"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/grafanatest"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// backfillDays are the past days the end-to-end test backfills, in the operation's
// time zone (America/Bogota, five hours behind UTC all year).
var (
	backfillZone  = time.FixedZone("GMT-5", -5*3600)
	backfillFirst = time.Date(2026, 11, 20, 0, 0, 0, 0, backfillZone)
)

const backfillDays = 3

// backfillVariables are Grafana's variables for the backfilled days: the stats
// cover the last day; the rate panels keep the dashboard's default rate window.
var backfillVariables = func() map[string]string {
	v := maps.Clone(grafanaVariables)
	v["__range"] = "24h"
	return v
}()

// The backfill as a user runs it: the built binary reads three past days from the
// simulated API and writes them as blocks, and a Prometheus started on a copy of
// the directory answers, for each day and channel, the chats the API holds as
// closed that day; the answer-delay histogram's count and sum equal the API's too.
// The agent families are in the blocks, and every query of the supervisors'
// dashboard on the metrics the history holds shows data.
func TestBackfillEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Prometheus")
	}
	t.Parallel() // the tests against Prometheus wait on its clock: they overlap
	installs := promInstalls(t)
	traffic := simulator.NewTraffic(23, 40)
	upstream := simulator.NewServer(traffic, simulator.Options{Token: e2eToken})
	sim := httptest.NewServer(upstream)
	defer sim.Close()
	dir, cfgPath := writeOperationConfig(t, sim.URL, "    agent_metrics: true\n")
	output := filepath.Join(dir, "history")
	last := backfillFirst.AddDate(0, 0, backfillDays-1)
	out := runBackfill(t, "--config.file="+cfgPath, "--operation=main",
		"--from="+backfillFirst.Format(time.DateOnly), "--to="+last.Format(time.DateOnly), "--output="+output,
		"--label=job=wolkvox", "--label=instance=backfill:19655")
	if !strings.Contains(out, "the history ends at 2026-11-23T00:00:00-05:00, the end of 2026-11-22") {
		t.Errorf("the backfill does not say where the history ends:\n%s", out)
	}

	// The API's truth, per day: chats closed by channel, and answer delays as the API
	// writes them, in whole seconds.
	type dayTruth struct {
		byChannel              map[string]float64
		answered, answerDelays float64
	}
	truth := make([]dayTruth, backfillDays)
	for d := range truth {
		from := backfillFirst.AddDate(0, 0, d)
		truth[d].byChannel = map[string]float64{}
		for _, c := range traffic.ChatsClosedBetween(from, from.AddDate(0, 0, 1).Add(-time.Nanosecond)) {
			truth[d].byChannel[strings.ToLower(c.Channel)]++
			truth[d].answered++
			truth[d].answerDelays += float64(c.AnswerDelay.Round(time.Second) / time.Second)
		}
	}
	families := map[string]bool{} // as PromQL names them: a histogram without _bucket, _count or _sum
	for name := range blocktest.Families(t, output) {
		families[name] = true
	}
	if len(families) < 8 {
		t.Fatalf("the history holds only %v", families)
	}
	for _, name := range []string{"wolkvox_agent_chats_total", "wolkvox_agent_handle_time_seconds_total"} {
		if !families[name] {
			t.Errorf("the blocks hold no %s, with agent_metrics on", name)
		}
	}

	for _, p := range installs {
		t.Run("prometheus-"+p.version, func(t *testing.T) {
			t.Parallel()
			api := startPrometheusOnHistory(t, p, output)
			selector := `{operation="main",job="wolkvox",instance="backfill:19655"}`
			at := func(expr string, when time.Time) map[string]float64 { return byChannelAt(t, api, expr, when) }
			for d, want := range truth {
				from, to := backfillFirst.AddDate(0, 0, d), backfillFirst.AddDate(0, 0, d+1)
				day := from.Format(time.DateOnly)
				// The last sample of the day less the first: a series new on the day
				// starts from 0 just after its start, and one not yet there counts as 0.
				before, after := at(`sum by (channel) (wolkvox_chats_total`+selector+`)`, from), at(`sum by (channel) (wolkvox_chats_total`+selector+`)`, to)
				got := map[string]float64{}
				for channel, v := range after {
					if n := v - before[channel]; n != 0 {
						got[channel] = n
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want.byChannel) {
					t.Errorf("%s: chats by channel %v, the API has %v", day, got, want.byChannel)
				}
				// The README's query, at the midnight that ends the day.
				perDay := at(strings.ReplaceAll(chatsPerChannelPerDay, "wolkvox_chats_total", "wolkvox_chats_total"+selector), to)
				if fmt.Sprint(perDay) != fmt.Sprint(want.byChannel) {
					t.Errorf("%s: the README's chats per channel per day %v, the API has %v", day, perDay, want.byChannel)
				}
				count := at(`sum(wolkvox_chat_answer_delay_seconds_count`+selector+`)`, to)[""] - at(`sum(wolkvox_chat_answer_delay_seconds_count`+selector+`)`, from)[""]
				sum := at(`sum(wolkvox_chat_answer_delay_seconds_sum`+selector+`)`, to)[""] - at(`sum(wolkvox_chat_answer_delay_seconds_sum`+selector+`)`, from)[""]
				if count != want.answered || sum != want.answerDelays {
					t.Errorf("%s: answer delay count %v, sum %v s; the API has %v and %v s", day, count, sum, want.answered, want.answerDelays)
				}
				t.Logf("%s: %v chats by channel (API %v); answer delays %v, %v s (API %v, %v s)", day, got, want.byChannel, count, sum, want.answered, want.answerDelays)
			}
			agents := at(`sum(wolkvox_agent_chats_total`+selector+`)`, backfillFirst.AddDate(0, 0, backfillDays))[""]
			if total := truth[0].answered + truth[1].answered + truth[2].answered; agents != total {
				t.Errorf("agent chats %v over the days, the API has %v", agents, total)
			}
			checkSupervisorPanels(t, api, families, backfillFirst, backfillFirst.AddDate(0, 0, backfillDays))
		})
	}
}

// chatsPerChannelPerDay is the README's and docs/metrics.md's query for the chats of
// each channel on the day before the time it is evaluated at.
const chatsPerChannelPerDay = `sum by (channel) ((wolkvox_chats_total - wolkvox_chats_total offset 1d) >= 0 or wolkvox_chats_total)`

// anchoredPerChannelPerDay is their query for the same with Prometheus 3, exact
// across a counter restart.
const anchoredPerChannelPerDay = `sum by (channel) (increase(wolkvox_chats_total[1d] anchored))`

// The queries the README and docs/metrics.md give for chats per channel per day are
// those TestBackfillEndToEnd and TestAnchoredDaysExactAcrossAJoin check against the
// API's truth.
func TestDocumentedDailyQueryIsTested(t *testing.T) {
	for _, doc := range []string{"README.md", filepath.Join("docs", "metrics.md")} {
		data, err := os.ReadFile(filepath.Join(repoRoot, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, query := range []string{chatsPerChannelPerDay, anchoredPerChannelPerDay} {
			if !strings.Contains(string(data), query) {
				t.Errorf("%s does not give the tested query for chats per channel per day: %s", doc, query)
			}
		}
	}
}

// byChannelAt is expr at a time, by channel; a series without a channel is "".
func byChannelAt(t *testing.T, api promAPI, expr string, when time.Time) map[string]float64 {
	t.Helper()
	samples, err := api.queryAt(expr, when)
	if err != nil {
		t.Fatalf("%s at %s: %v", expr, when, err)
	}
	values := map[string]float64{}
	for _, s := range samples {
		values[s.Metric["channel"]] = sampleValue(s)
	}
	return values
}

// runBackfill runs the backfill command and returns what it printed, failing on an
// error, or if it printed the token.
func runBackfill(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), exporterBin, append([]string{"backfill"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("backfill: %v\n%s", err, out)
	}
	t.Logf("backfill:\n%s", out)
	if strings.Contains(string(out), e2eToken) {
		t.Fatal("the backfill printed the token")
	}
	return string(out)
}

// checkSupervisorPanels runs each query of the supervisors' dashboard that reads only
// metrics the history holds, over the history's range as a time series or at its end
// as a stat, and fails on one that shows no data.
func checkSupervisorPanels(t *testing.T, api promAPI, families map[string]bool, start, end time.Time) {
	t.Helper()
	queries, _ := loadDashboards(t)
	vars := withDashboardDefaults(t, backfillVariables)
	checked := 0
	for _, q := range queries {
		if q.dashboard != "wolkvox-chats.json" {
			continue
		}
		expr, err := grafanatest.Substitute(q.expr, vars)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		inHistory := true
		for _, name := range metricNameRE.FindAllString(expr, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && families[base] {
					name = base
				}
			}
			inHistory = inHistory && families[name]
		}
		if !inHistory {
			continue // live counting's state, such as the daily re-read's, has no history
		}
		checked++
		var series int
		var finite bool
		if q.instant {
			// A minute before the end: at the end, a midnight, today has no chats yet.
			var samples []sample
			samples, err = api.queryAt(expr, end.Add(-time.Minute))
			series, finite = len(samples), anyFinite(samples)
		} else {
			series, finite, err = api.queryRange(expr, start, end, 5*time.Minute)
		}
		switch {
		case err != nil:
			t.Errorf("%s: %v\n  expr: %s", q, err, expr)
		case series == 0 || !finite:
			t.Errorf("%s: no data over the history (%d series)\n  expr: %s", q, series, expr)
		}
	}
	if checked < 20 {
		t.Errorf("only %d supervisor panel queries read the history's metrics", checked)
	}
	t.Logf("%d supervisor panel queries show data over the history", checked)
}

// Two backfills that meet, the second of the day before the first's (as when older
// days are added later), restart every counter at their join. The README's
// difference between midnights then loses chats on the day that begins at the join;
// Prometheus 3's increase over an anchored range, which docs/metrics.md gives for
// this, counts every day as the API has it, the join's included.
func TestAnchoredDaysExactAcrossAJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Prometheus")
	}
	t.Parallel()
	var installs []promInstall
	for _, p := range promInstalls(t) {
		if !strings.HasPrefix(p.version, "2.") {
			installs = append(installs, p) // anchored ranges are Prometheus 3's
		}
	}
	if len(installs) == 0 {
		msg := "no Prometheus 3 found: anchored ranges need one"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	traffic := simulator.NewTraffic(29, 40)
	sim := httptest.NewServer(simulator.NewServer(traffic, simulator.Options{Token: e2eToken}))
	defer sim.Close()
	dir, cfgPath := writeOperationConfig(t, sim.URL, "")
	first := time.Date(2026, 11, 10, 0, 0, 0, 0, backfillZone)
	join := first.AddDate(0, 0, 1)
	history := filepath.Join(dir, "history")
	for _, days := range [][2]time.Time{{join, join.AddDate(0, 0, 1)}, {first, first}} {
		output := t.TempDir()
		runBackfill(t, "--config.file="+cfgPath, "--operation=main", "--from="+days[0].Format(time.DateOnly),
			"--to="+days[1].Format(time.DateOnly), "--output="+output, "--label=job=wolkvox", "--label=instance=backfill:19655")
		copyBlocks(t, output, history)
	}
	truth := func(day time.Time) map[string]float64 {
		byChannel := map[string]float64{}
		for _, c := range traffic.ChatsClosedBetween(day, day.AddDate(0, 0, 1).Add(-time.Nanosecond)) {
			byChannel[strings.ToLower(c.Channel)]++
		}
		return byChannel
	}
	const selector = `{operation="main",job="wolkvox",instance="backfill:19655"}`
	anchored := strings.ReplaceAll(anchoredPerChannelPerDay, "wolkvox_chats_total", "wolkvox_chats_total"+selector)
	difference := strings.ReplaceAll(chatsPerChannelPerDay, "wolkvox_chats_total", "wolkvox_chats_total"+selector)
	for _, p := range installs {
		t.Run("prometheus-"+p.version, func(t *testing.T) {
			api := startPrometheusOnHistory(t, p, history, "--enable-feature=promql-extended-range-selectors")
			at := func(expr string, when time.Time) map[string]float64 { return byChannelAt(t, api, expr, when) }
			for day := first; day.Before(join.AddDate(0, 0, 2)); day = day.AddDate(0, 0, 1) {
				want, got := truth(day), at(anchored, day.AddDate(0, 0, 1))
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: anchored increase by channel %v, the API has %v", day.Format(time.DateOnly), got, want)
				}
				t.Logf("%s: anchored %v, API %v", day.Format(time.DateOnly), got, want)
			}
			total := func(m map[string]float64) (sum float64) {
				for _, v := range m {
					sum += v
				}
				return sum
			}
			got, want := total(at(difference, join.AddDate(0, 0, 1))), total(truth(join))
			if got >= want {
				t.Errorf("%s: the difference between midnights gives %v chats, the API %v: the counters did not restart at the join, so the test shows nothing", join.Format(time.DateOnly), got, want)
			}
			t.Logf("%s, the day that begins at the join: the difference between midnights gives %v chats, the API has %v", join.Format(time.DateOnly), got, want)
		})
	}
}
