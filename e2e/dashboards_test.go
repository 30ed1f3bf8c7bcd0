package e2e

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/grafanatest"
)

// The dashboards as the tests read their queries, through internal/grafanatest.

// Substitutions for Grafana's variables: $__range covers the whole test;
// multi-value variables match everything. The dashboards' own variables with a
// list of values (the rate window, the SL threshold) take their defaults.
var grafanaVariables = map[string]string{
	"__range":   "10m",
	"operation": ".*",
	"channel":   ".*",
	"skill":     ".*",
}

// panelQuery is one target of one panel, where the test reports it.
type panelQuery struct {
	dashboard, panel, refID, expr string
	instant                       bool // one value at the dashboard's end, not a time series
}

func (q panelQuery) String() string {
	return fmt.Sprintf("%s, panel %q, query %s", q.dashboard, q.panel, q.refID)
}

// templateVariables are the template variables of a dashboard.
func templateVariables(d grafanatest.Dashboard) []any {
	list, _ := grafanatest.Dig(d.JSON, "templating", "list").([]any)
	return list
}

// withDashboardDefaults returns vars with the default of each of the dashboards'
// custom variables that vars does not set, and the Window on auto for vars' range.
func withDashboardDefaults(t *testing.T, vars map[string]string) map[string]string {
	t.Helper()
	out := maps.Clone(vars)
	for _, d := range grafanatest.Dashboards(t, "") {
		for _, v := range templateVariables(d) {
			name, _ := grafanatest.Dig(v, "name").(string)
			def, _ := grafanatest.Dig(v, "current", "value").(string)
			if _, set := out[name]; !set && grafanatest.Dig(v, "type") == "custom" {
				out[name] = def
			}
		}
	}
	if _, set := out["window"]; !set {
		r, err := time.ParseDuration(out["__range"])
		if err != nil {
			t.Fatalf("__range %q: %v", out["__range"], err)
		}
		out["window"] = autoWindow(t, r)
	}
	return out
}

func loadDashboards(t *testing.T) (queries []panelQuery, variableQueries map[string]string) {
	t.Helper()
	variableQueries = map[string]string{}
	for _, d := range grafanatest.Dashboards(t, "") {
		for _, p := range d.Panels {
			for _, tg := range p.Targets() {
				queries = append(queries, panelQuery{d.File, p.Str("title"), tg.RefID, tg.Expr, tg.Instant})
			}
		}
		for _, v := range templateVariables(d) {
			if grafanatest.Dig(v, "type") != "query" {
				continue
			}
			q, _ := grafanatest.Dig(v, "query").(string)
			if nested, ok := grafanatest.Dig(v, "query", "query").(string); ok {
				q = nested
			}
			name, _ := grafanatest.Dig(v, "name").(string)
			variableQueries[d.File+" variable "+name] = q
		}
	}
	return queries, variableQueries
}

// autoWindow is the Window variable on auto at a time range, as a PromQL duration.
func autoWindow(t *testing.T, r time.Duration) string {
	t.Helper()
	var count float64
	var least string
	for _, d := range grafanatest.Dashboards(t, "") {
		for _, v := range templateVariables(d) {
			if grafanatest.Dig(v, "name") == "window" {
				count, _ = grafanatest.Dig(v, "auto_count").(float64)
				least, _ = grafanatest.Dig(v, "auto_min").(string)
			}
		}
	}
	minimum, err := time.ParseDuration(least)
	if err != nil || count == 0 {
		t.Fatalf("no auto window in the dashboards (%q, %v)", least, count)
	}
	return grafanatest.PromDuration(grafanatest.AutoInterval(r, count, minimum))
}

// dashboardView is the dashboards as Grafana shows them by default in the
// operation's zone, over r up to now: their variables' defaults, and the Window on
// auto for r.
func dashboardView(t *testing.T, now time.Time, r time.Duration) grafanatest.View {
	t.Helper()
	vars := withDashboardDefaults(t, grafanaVariables)
	delete(vars, "__range") // the view's own
	vars["window"] = autoWindow(t, r)
	return grafanatest.View{From: now.Add(-r), Now: now, Zone: backfillZone, Vars: vars, Width: grafanatest.PlotWidth}
}

// chartQuery is a query of a chart, with the panel's unit.
type chartQuery struct {
	panelQuery
	unit  string
	model grafanatest.Panel // the panel's JSON
}

// in is the query as Grafana sends it in view v.
func (q chartQuery) in(t *testing.T, v grafanatest.View) grafanatest.Query {
	t.Helper()
	qs, err := v.Queries(q.model)
	if err != nil {
		t.Fatalf("%s: %v", q.panelQuery, err)
	}
	for _, sent := range qs {
		if sent.RefID == q.refID {
			return sent
		}
	}
	t.Fatalf("%s: not among the panel's queries %v", q.panelQuery, qs)
	return grafanatest.Query{}
}

func chartQueries(t *testing.T) []chartQuery {
	t.Helper()
	var out []chartQuery
	for _, d := range grafanatest.Dashboards(t, "") {
		for _, p := range d.Panels {
			if p.Str("type") != "timeseries" {
				continue
			}
			for _, tg := range p.Targets() {
				out = append(out, chartQuery{panelQuery{d.File, p.Str("title"), tg.RefID, tg.Expr, false}, p.Str("fieldConfig", "defaults", "unit"), p.Panel})
			}
		}
	}
	return out
}

// panelExpr is the first query of the panel titled title.
func panelExpr(t *testing.T, title string) string {
	t.Helper()
	return panelTargets(t, title)[0].Expr
}

// panelTargets are the queries of the panel titled title.
func panelTargets(t *testing.T, title string) []grafanatest.Target {
	t.Helper()
	for _, p := range grafanatest.AllPanels(t) {
		if p.Str("title") == title {
			return p.Targets()
		}
	}
	t.Fatalf("no panel %q", title)
	return nil
}
