package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/grafanatest"
)

// A stand-in for looking at the dashboards in Grafana: each chart's queries run
// through Prometheus' query_range as Grafana would run them for a 1600 px wide
// window, and what the line would look like is measured.
//
// The step is Grafana's: a timeseries panel asks for as many points as it is wide in
// pixels (its maxDataPoints), so $__interval is the time range over the panel's
// width, rounded as Grafana rounds intervals (roundInterval, below) and at least
// the Prometheus data source's 15 s scrape interval. The panel's width is its share
// of the dashboard's 24 columns at 1600 px (panelWidthPx, with the docked menu),
// less 8 px of padding on each side. The dashboards' Window variable is on auto, its
// default: the range over its step count, rounded the same way, and at least its
// minimum.

// panelStep is the step of a chart of columns at a time range.
func panelStep(columns float64, r time.Duration) time.Duration {
	points := math.Floor(panelWidthPx(columns) - 16)
	return max(grafanatest.RoundInterval(time.Duration(float64(r)/points)), grafanatest.DefaultScrapeInterval)
}

// autoWindow is the Window variable on auto at a time range, as a PromQL duration.
func autoWindow(t *testing.T, r time.Duration) string {
	t.Helper()
	var count float64
	var least string
	for _, d := range readDashboards(t) {
		for _, v := range dig(d.d, "templating", "list").([]any) {
			if dig(v, "name") == "window" {
				count, _ = dig(v, "auto_count").(float64)
				least, _ = dig(v, "auto_min").(string)
			}
		}
	}
	minimum, err := time.ParseDuration(least)
	if err != nil || count == 0 {
		t.Fatalf("no auto window in the dashboards (%q, %v)", least, count)
	}
	return promDuration(grafanatest.AutoInterval(r, count, minimum))
}

// promDuration writes d as PromQL takes it, in whole seconds.
func promDuration(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

// rangeVariables are Grafana's variables for a chart at time range r.
func rangeVariables(t *testing.T, r time.Duration) map[string]string {
	t.Helper()
	vars := withDashboardDefaults(t, grafanaVariables)
	vars["__range"] = promDuration(r)
	vars["window"] = autoWindow(t, r)
	return vars
}

// line is one series of a query_range: its values in time order, and the time of
// the last.
type line struct {
	name   string
	values []float64
	last   time.Time
}

func (p promAPI) lines(expr string, start, end time.Time, step time.Duration) ([]line, error) {
	data, err := p.get("/api/v1/query_range", url.Values{
		"query": {expr}, "start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix(), 10)},
		"step": {promDuration(step)},
	})
	if err != nil {
		return nil, err
	}
	var res struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, err
	}
	var out []line
	for _, r := range res.Result {
		l := line{name: fmt.Sprint(r.Metric)}
		for _, v := range r.Values {
			l.values = append(l.values, sampleValue(sample{Value: v}))
			if at, ok := v[0].(float64); ok {
				l.last = time.Unix(int64(at), 0)
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// chartQuery is a query of a chart, with the panel's unit and width.
type chartQuery struct {
	panelQuery
	unit    string
	columns float64
}

func chartQueries(t *testing.T) []chartQuery {
	t.Helper()
	var out []chartQuery
	for _, d := range readDashboards(t) {
		for _, p := range d.panels {
			if p.str("type") != "timeseries" {
				continue
			}
			w, _ := p.get("gridPos", "w").(float64)
			raw, _ := p.get("targets").([]any)
			for _, tg := range raw {
				refID, _ := dig(tg, "refId").(string)
				expr, _ := dig(tg, "expr").(string)
				out = append(out, chartQuery{panelQuery{d.file, p.str("title"), refID, expr, false}, p.str("fieldConfig", "defaults", "unit"), w})
			}
		}
	}
	return out
}

// shareLook measures the lines of a share: the fraction of its points at exactly
// 0% or 100%, and the median change between neighbouring points that differ, in
// percentage points. History has a sample every 5 minutes: a step finer than that
// repeats a value, which says nothing of noise. A value outside [0, 1] is an error.
func shareLook(lines []line) (extremes, medianChange float64, err error) {
	var points, atEdge int
	var changes []float64
	for _, l := range lines {
		for i, v := range l.values {
			if math.IsNaN(v) {
				continue
			}
			if v < 0 || v > 1 {
				return 0, 0, fmt.Errorf("%s holds %v, outside 0%%-100%%", l.name, v)
			}
			points++
			if v == 0 || v == 1 {
				atEdge++
			}
			if i > 0 && !math.IsNaN(l.values[i-1]) && v != l.values[i-1] {
				changes = append(changes, 100*math.Abs(v-l.values[i-1]))
			}
		}
	}
	if points == 0 {
		return 0, 0, nil
	}
	slices.Sort(changes)
	if len(changes) > 0 {
		medianChange = changes[len(changes)/2]
	}
	return float64(atEdge) / float64(points), medianChange, nil
}

// lineLook measures the lines of a chart that is not a share, such as a percentile
// or a skill's line: the median change between neighbouring points that differ, as
// a percentage of their mean, and the share of its points that are drawn.
func lineLook(lines []line) (medianChange, drawn float64) {
	var points, finite int
	var changes []float64
	for _, l := range lines {
		for i, v := range l.values {
			points++
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			finite++
			if i > 0 {
				prev := l.values[i-1]
				if !math.IsNaN(prev) && !math.IsInf(prev, 0) && v != prev && v+prev > 0 {
					changes = append(changes, 200*math.Abs(v-prev)/(v+prev))
				}
			}
		}
	}
	if points == 0 {
		return 0, 0
	}
	slices.Sort(changes)
	if len(changes) > 0 {
		medianChange = changes[len(changes)/2]
	}
	return medianChange, float64(finite) / float64(points)
}

// maxLineChange bounds, at 7 and 30 days, how much a percentile's line moves from one
// point to the next at the median, in percent of its value; maxWeekShareChange how
// much a share does, in percentage points. Over a week with a window of an hour, a
// 99th percentile or a skill's 90th moved by 6% from one point to the next, and a
// channel's service level by 1.8 points: noise where a trend should show.
const (
	maxLineChange      = 3.0
	maxWeekShareChange = 1.0
)

// historyRanges are the time ranges a supervisor picks, each ending where the
// backfilled history ends; smooth says whether the noise bounds apply. At 6 h, a
// share of a rare feeling may truly be 0% for an evening hour.
var historyRanges = []struct {
	name   string
	r      time.Duration
	smooth bool
}{{"6h", 6 * time.Hour, false}, {"24h", 24 * time.Hour, true}, {"7d", 7 * 24 * time.Hour, true}, {"30d", 30 * 24 * time.Hour, true}}

// Every chart over a month of the demo's history, at 6 h, 24 h, 7 d and 30 d, shows
// data, and each share stays within 0%-100%. From 24 h on it reads as a line: under
// 5% of a share's points sit at exactly 0% or 100%, and its points move by under 3
// percentage points from one to the next at the median. From 7 d on it shows trends:
// a share's points move by under maxWeekShareChange points, a percentile's by under
// maxLineChange percent of its value.
func TestDashboardsOverHistory(t *testing.T) {
	t.Parallel() // the tests against Prometheus wait on its clock: they overlap
	installs := promInstalls(t)
	first := time.Date(2026, 10, 28, 0, 0, 0, 0, backfillZone)
	end := first.AddDate(0, 0, 31)
	dir := t.TempDir()
	history := filepath.Join(dir, "history")
	runBackfill(t, "--demo", "--operation=demo", "--from="+first.Format(time.DateOnly), "--to="+end.AddDate(0, 0, -1).Format(time.DateOnly),
		"--output="+history, "--label=job=wolkvox", "--label=instance=demo:19655")
	charts := chartQueries(t)
	for _, p := range installs {
		t.Run("prometheus-"+p.version, func(t *testing.T) {
			t.Parallel()
			api := startPrometheusOnHistory(t, p, history)
			for _, rg := range historyRanges {
				vars := rangeVariables(t, rg.r)
				for _, q := range charts {
					if strings.Contains(q.expr, "wolkvox_agent_") || !strings.Contains(q.expr, "wolkvox_chat") {
						continue // history holds the chat families of the demo, which has no agent metrics
					}
					expr, err := grafanatest.Substitute(q.expr, vars)
					if err != nil {
						t.Fatalf("%s: %v", q.panelQuery, err)
					}
					step := panelStep(q.columns, rg.r)
					lines, err := api.lines(expr, end.Add(-rg.r), end, step)
					switch {
					case err != nil:
						t.Errorf("%s at %s: %v\n  expr: %s", q.panelQuery, rg.name, err, expr)
						continue
					case len(lines) == 0:
						t.Errorf("%s at %s: no data", q.panelQuery, rg.name)
						continue
					case q.unit != "percentunit":
						change, drawn := lineLook(lines)
						t.Logf("%s at %s (step %s, window %s): %d lines, median change %.1f%% of the value, %.0f%% of points drawn",
							q.panelQuery, rg.name, step, vars["window"], len(lines), change, 100*drawn)
						if rg.r >= 7*24*time.Hour && strings.Contains(expr, "histogram_quantile") && change >= maxLineChange {
							t.Errorf("%s at %s (step %s, window %s): its points move by %.1f%% of their value from one to the next at the median: noise, not a trend",
								q.panelQuery, rg.name, step, vars["window"], change)
						}
						continue
					}
					extremes, change, err := shareLook(lines)
					if err != nil {
						t.Errorf("%s at %s: %v", q.panelQuery, rg.name, err)
						continue
					}
					if rg.smooth && (extremes >= 0.05 || change >= 3 || rg.r >= 7*24*time.Hour && change >= maxWeekShareChange) {
						t.Errorf("%s at %s (step %s, window %s): %.1f%% of points at 0%% or 100%%, median change %.2f points: noise, not a line",
							q.panelQuery, rg.name, step, vars["window"], 100*extremes, change)
					}
					t.Logf("%s at %s (step %s, window %s): %.1f%% at 0%% or 100%%, median change %.2f points",
						q.panelQuery, rg.name, step, vars["window"], 100*extremes, change)
				}
			}
		})
	}
}
