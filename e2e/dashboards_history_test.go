package e2e

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A stand-in for looking at the dashboards in Grafana: each chart's queries run
// through Prometheus' query_range as Grafana (internal/grafanatest) would run them
// in a 1600 px wide window, and what the line would look like is measured. The
// dashboards' Window variable is on auto, its default: the range over its step
// count, rounded as Grafana rounds intervals, and at least its minimum.

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
	if testing.Short() {
		t.Skip("-short: needs Prometheus, and backfills a month of history")
	}
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
				view := dashboardView(t, end, rg.r)
				for _, q := range charts {
					if strings.Contains(q.expr, "wolkvox_agent_") || !strings.Contains(q.expr, "wolkvox_chat") {
						continue // history holds the chat families of the demo, which has no agent metrics
					}
					sent := q.in(t, view)
					expr, step := sent.Expr, sent.Step
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
							q.panelQuery, rg.name, step, view.Vars["window"], len(lines), change, 100*drawn)
						if rg.r >= 7*24*time.Hour && strings.Contains(expr, "histogram_quantile") && change >= maxLineChange {
							t.Errorf("%s at %s (step %s, window %s): its points move by %.1f%% of their value from one to the next at the median: noise, not a trend",
								q.panelQuery, rg.name, step, view.Vars["window"], change)
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
							q.panelQuery, rg.name, step, view.Vars["window"], 100*extremes, change)
					}
					t.Logf("%s at %s (step %s, window %s): %.1f%% at 0%% or 100%%, median change %.2f points",
						q.panelQuery, rg.name, step, view.Vars["window"], 100*extremes, change)
				}
			}
		})
	}
}
