package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/grafanatest"
)

// The stack as shipped, against each real Prometheus at hand: the example config and
// rules pass promtool, the exporter's output passes promtool check metrics, and every
// query of every dashboard panel returns data from the exporter in demo mode.

// e2eClock is where the demo's traffic starts. The traffic follows the hour of the
// day; at 10:00 every feeling, disposition and timeout the panels split by shows
// within a minute, and the fixed date makes the chats the same on every run. The
// quiet 01:00 passes too, in about 3m15s, when the night's first negative chat has
// been scraped twice.
var e2eClock = flag.String("e2e.clock", "2026-11-23T10:00:00-05:00",
	"simulated start of the demo traffic in TestEndToEndWithPrometheus (RFC 3339)")

// emptyInDemo names the panels, or a panel's query ("<panel>, query <refId>"), that
// have no data in demo mode, and why.
var emptyInDemo = map[string]string{
	"Daily re-read: chats found late and extra, query A": "no day is re-read before the first reconcile.after past midnight, and until then the exporter exports no day's figures",
	"Chats and handle time per agent":                    "agent metrics are off by default, and in demo mode (agent_metrics: true enables them)",
	rereadPanelTitle:                                     "no day is re-read before the first reconcile.after past midnight, and until then the panel shows no number",
}

// emptyInDemoReason says why q has no data in demo mode, if it has none.
func emptyInDemoReason(q panelQuery) (string, bool) {
	if reason, ok := emptyInDemo[q.panel]; ok {
		return reason, true
	}
	reason, ok := emptyInDemo[q.panel+", query "+q.refID]
	return reason, ok
}

// mayBeEmptyInDemo names the panels that list only what happened, which the demo
// may not do within the test; their metrics must exist all the same.
var mayBeEmptyInDemo = map[string]string{
	"Skipped records by reason": "it lists reasons with skipped records, and the demo's records are whole",
}

var metricNameRE = regexp.MustCompile(`\bwolkvox_\w+`)

func TestEndToEndWithPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs Prometheus")
	}
	t.Parallel() // the tests against Prometheus wait on its clock: they overlap
	clock, err := time.Parse(time.RFC3339, *e2eClock)
	if err != nil {
		t.Fatalf("-e2e.clock: %v", err)
	}
	for _, p := range promInstalls(t) {
		t.Run("prometheus-"+p.version, func(t *testing.T) {
			t.Parallel()
			endToEnd(t, p, clock)
		})
	}
}

// endToEnd runs the shipped stack against one Prometheus, with the demo's traffic
// starting at clock.
func endToEnd(t *testing.T, p promInstall, clock time.Time) {
	t.Helper()
	// The shipped configuration and rules.
	runTool(t, filepath.Join(repoRoot, "prometheus"), p.promtool, "check", "config", "prometheus.yml")
	runTool(t, repoRoot, p.promtool, "check", "rules", filepath.Join("prometheus", "rules.yml"), filepath.Join("prometheus", "alerts.yml"))
	runTool(t, filepath.Join(repoRoot, "prometheus"), p.promtool, "test", "rules", "rules_test.yml")

	e := startExporter(t, "--demo", "--demo.clock="+clock.Format(time.RFC3339))
	_, exposition := e.get(t, "/metrics")
	check := exec.CommandContext(t.Context(), p.promtool, "check", "metrics")
	check.Stdin = strings.NewReader(exposition)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}

	// A Prometheus on loopback scraping the exporter every 5s with the shipped rules.
	dir := t.TempDir()
	rulesDir, err := filepath.Abs(filepath.Join(repoRoot, "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	promAddr := freePort(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 5s
  scrape_timeout: 4s
  evaluation_interval: 5s
rule_files:
  - %s
  - %s
scrape_configs:
  - job_name: wolkvox
    static_configs:
      - targets: [%q]
`, filepath.Join(rulesDir, "rules.yml"), filepath.Join(rulesDir, "alerts.yml"), strings.TrimPrefix(e.url, "http://"))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfgPath, cfg)
	runTool(t, dir, p.promtool, "check", "config", cfgPath)
	promStart := time.Now()
	api := startPrometheus(t, p, cfgPath, filepath.Join(dir, "data"), promAddr)

	// Wait for chats, not for calls: until Prometheus has seen a chat counted after
	// its first scrape (rate() takes nothing from a series' first sample) and has
	// evaluated the rules. The traffic at clock is the same on every run, and even
	// at 01:00 its first chats close within a minute; the deadline bounds a failure.
	deadline := time.Now().Add(e2eDeadline)
	for {
		chats := api.scalarOf(`sum(max_over_time(wolkvox_chats_total[1h]) - min_over_time(wolkvox_chats_total[1h]))`)
		rules := api.scalarOf(`count(operation:wolkvox_chats:rate5m)`)
		if chats >= 1 && rules > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus saw no new chat within %s (chats %v, rule series %v)", e2eDeadline, chats, rules)
		}
		time.Sleep(time.Second) // polling Prometheus; its scrapes run on their own clock
	}

	// Every recording and alerting rule evaluates without error.
	data, err := api.get("/api/v1/rules", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	ruleCount := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			ruleCount++
			if r.Health == "err" || r.LastError != "" {
				t.Errorf("rule %s: %s %s", r.Name, r.Health, r.LastError)
			}
		}
	}
	if ruleCount < 10 {
		t.Errorf("only %d rules loaded", ruleCount)
	}

	queries, variables := loadDashboards(t)
	vars := withDashboardDefaults(t, grafanaVariables)
	if len(queries) < 30 {
		t.Fatalf("only %d panel queries found", len(queries))
	}
	// Each panel is read as Grafana reads it until it shows data: a chat's series may
	// still be in its new-series hold, so a panel can lag the first chats by a minute.
	// A panel that shows nothing by the deadline fails.
	type panelCheck struct {
		panelQuery
		expr, problem string
	}
	var pending []panelCheck
	used := map[string]bool{}
	for _, q := range queries {
		expr, err := grafanatest.Substitute(q.expr, vars)
		if err != nil {
			t.Errorf("%s: %v\n  expr: %s", q, err, q.expr)
			continue
		}
		for _, name := range metricNameRE.FindAllString(expr, -1) {
			used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] = true
		}
		pending = append(pending, panelCheck{panelQuery: q, expr: expr})
	}
	for {
		end := time.Now()
		var failing []panelCheck
		for _, c := range pending {
			problem, err := panelProblem(api, c.panelQuery, c.expr, promStart, end)
			switch {
			case err != nil: // a query Prometheus refuses stays refused
				t.Errorf("%s: %v\n  expr: %s", c.panelQuery, err, c.expr)
			case problem != "":
				c.problem = problem
				failing = append(failing, c)
			case time.Since(promStart) > 90*time.Second: // the slow ones, to see the margin to the deadline
				t.Logf("%s shows data %s after Prometheus started", c.panelQuery, time.Since(promStart).Round(time.Second))
			}
		}
		pending = failing
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second) // polling Prometheus for its next scrapes and rule runs
	}
	for _, c := range pending {
		t.Errorf("%s: %s\n  expr: %s", c.panelQuery, c.problem, c.expr)
	}
	linesReachNow(t, api)
	// Every metric a query names must exist, even where a fallback would hide it.
	for _, q := range queries {
		if _, mayBeEmpty := emptyInDemoReason(q); mayBeEmpty {
			continue
		}
		for _, name := range metricNameRE.FindAllString(q.expr, -1) {
			if n := api.scalarOf(fmt.Sprintf(`count({__name__=%q})`, name)); !(n > 0) {
				t.Errorf("%s: metric %s does not exist in Prometheus", q, name)
			}
		}
	}

	// Template variables list their values.
	names := make([]string, 0, len(variables))
	for n := range variables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		q := variables[name]
		m := regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`).FindStringSubmatch(strings.TrimSpace(q))
		if m == nil {
			t.Errorf("%s: query %q is not label_values(selector, label)", name, q)
			continue
		}
		selector, err := grafanatest.Substitute(m[1], vars)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		data, err := api.get("/api/v1/label/"+m[2]+"/values", url.Values{"match[]": {selector}})
		var values []string
		if err == nil {
			err = json.Unmarshal(data, &values)
		}
		if err != nil || len(values) == 0 {
			t.Errorf("%s: %q lists no values (%v)", name, q, err)
		}
	}

	// The dashboards show every chat metric of the README.
	for _, m := range []string{
		"wolkvox_chats_total", "wolkvox_chat_answer_delay_seconds", "wolkvox_chat_duration_seconds",
		"wolkvox_chat_handle_time_seconds", "wolkvox_chat_customer_characters_total", "wolkvox_chat_agent_characters_total",
		"wolkvox_chat_agent_messages_total", "wolkvox_chat_dispositions_total", "wolkvox_up", "wolkvox_api_requests_total",
		"wolkvox_api_daily_quota", "wolkvox_last_success_timestamp_seconds", "wolkvox_last_query_records",
		"wolkvox_records_skipped_total", "wolkvox_tracked_chats", "wolkvox_api_truncated_responses_total",
		"wolkvox_api_request_duration_seconds", "wolkvox_exporter_config_last_reload_successful",
	} {
		if !used[m] {
			t.Errorf("no dashboard panel shows %s", m)
		}
	}
}

// linesReachNow checks each chart at "Last 1 hour", as Grafana draws it in a
// 1600 px wide window: its last point is within two steps of now.
func linesReachNow(t *testing.T, api promAPI) {
	t.Helper()
	now := time.Now()
	view := dashboardView(t, now, time.Hour)
	for _, q := range chartQueries(t) {
		if _, empty := emptyInDemoReason(q.panelQuery); empty {
			continue
		}
		if _, quiet := mayBeEmptyInDemo[q.panel]; quiet {
			continue
		}
		// Grafana's expression and step, over the hour up to now: Grafana rounds the
		// end down to the step, which may fall before a new series' first points.
		sent := q.in(t, view)
		lines, err := api.lines(sent.Expr, now.Add(-time.Hour), now, sent.Step)
		if err != nil {
			t.Errorf("%s at 1h: %v", q.panelQuery, err)
			continue
		}
		var last time.Time
		for _, l := range lines {
			if l.last.After(last) {
				last = l.last
			}
		}
		if now.Sub(last) > 2*sent.Step {
			t.Errorf("%s at 1h: the last point is at %s, %s before now, more than two steps of %s", q.panelQuery,
				last.Format(time.TimeOnly), now.Sub(last).Round(time.Second), sent.Step)
		}
	}
}

// e2eDeadline bounds the wait for data in the end-to-end test, at any -e2e.clock:
// at the quiet 01:00 every panel shows data about 3m15s after Prometheus starts.
const e2eDeadline = 6 * time.Minute

// panelProblem runs a panel's query as Grafana does and says what is wrong with its
// answer, or "" if the panel shows what it should: a stat's one value at end, or a
// time series over the dashboard's range, which shows data if any point has a value.
func panelProblem(api promAPI, q panelQuery, expr string, start, end time.Time) (string, error) {
	var series int
	var finite bool
	var err error
	if q.instant {
		var samples []sample
		samples, err = api.query(expr)
		series, finite = len(samples), anyFinite(samples)
	} else {
		series, finite, err = api.queryRange(expr, start, end, 5*time.Second)
	}
	reason, mayBeEmpty := emptyInDemoReason(q)
	_, quiet := mayBeEmptyInDemo[q.panel]
	switch {
	case err != nil:
		return "", err
	case series == 0 && quiet:
		return "", nil
	case series == 0 && !mayBeEmpty:
		return "no data", nil
	case series > 0 && mayBeEmpty:
		return "has data, but the test says it should be empty in demo mode (" + reason + ")", nil
	case series > 0 && !finite:
		return "only NaN or infinite values", nil
	}
	return "", nil
}
