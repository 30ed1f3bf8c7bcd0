package main

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
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

// Substitutions for Grafana's variables: $__range covers the whole test;
// multi-value variables match everything. The dashboards' own variables with a
// list of values (the rate window, the SL threshold) take their defaults.
var grafanaVariables = map[string]string{
	"__range":   "10m",
	"operation": ".*",
	"channel":   ".*",
	"skill":     ".*",
}

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

// promInstall is one version of Prometheus: its server and its promtool.
type promInstall struct {
	version              string
	prometheus, promtool string
}

// promInstallsEnv lists the directories that hold the Prometheus versions to test
// against, separated as in PATH. Without it, every directory of PATH that holds
// both prometheus and promtool counts, once per version.
const promInstallsEnv = "WOLKVOX_TEST_PROMETHEUS"

// promInstalls finds the Prometheus versions to test against. Without any the test
// skips, except under CI=true, where it must run.
func promInstalls(t *testing.T) []promInstall {
	t.Helper()
	dirs, explicit := os.LookupEnv(promInstallsEnv)
	if !explicit {
		dirs = os.Getenv("PATH")
	}
	var found []promInstall
	seen := map[string]bool{}
	for _, dir := range filepath.SplitList(dirs) {
		server, tool := filepath.Join(dir, "prometheus"), filepath.Join(dir, "promtool")
		_, errServer := os.Stat(server)
		_, errTool := os.Stat(tool)
		if errServer != nil || errTool != nil {
			if explicit {
				t.Fatalf("%s names %s, which does not hold both prometheus and promtool", promInstallsEnv, dir)
			}
			continue
		}
		version := promVersion(t, server)
		if seen[version] {
			continue
		}
		seen[version] = true
		found = append(found, promInstall{version, server, tool})
	}
	if len(found) == 0 {
		msg := "prometheus and promtool not found in PATH; install Prometheus (Debian/Ubuntu: apt-get install -y prometheus) to run the end-to-end test"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return found
}

var versionRE = regexp.MustCompile(`^prometheus, version (\S*) `)

// promVersion is what prometheus --version says, or, for a binary built by go install
// (which leaves the version empty), the version its Go module stands for: Prometheus
// M.m.p is the module version v0.(100M+m).p.
func promVersion(t *testing.T, server string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), server, "--version").CombinedOutput() //nolint:gosec // G702: a Prometheus the tester chose
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", server, err, out)
	}
	if m := versionRE.FindSubmatch(out); m != nil && len(m[1]) > 0 {
		return string(m[1])
	}
	info, err := buildinfo.ReadFile(server)
	if err != nil {
		t.Fatalf("%s states no version: %v", server, err)
	}
	var major, minor, patch int
	if _, err := fmt.Sscanf(info.Main.Version, "v0.%d.%d", &minor, &patch); err != nil {
		t.Fatalf("%s: module version %q: %v", server, info.Main.Version, err)
	}
	major, minor = minor/100, minor%100
	return fmt.Sprintf("%d.%d.%d", major, minor, patch)
}

func runTool(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// promAPI is a Prometheus server's HTTP API.
type promAPI struct {
	ctx  context.Context // the test's
	base string
}

type apiResponse struct {
	Status    string          `json:"status"`
	Error     string          `json:"error"`
	ErrorType string          `json:"errorType"`
	Data      json.RawMessage `json:"data"`
}

func (p promAPI) get(path string, params url.Values) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, p.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("HTTP %d, undecodable answer: %w", resp.StatusCode, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return r.Data, nil
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query and returns its samples (scalars as one sample).
func (p promAPI) query(expr string) ([]sample, error) { return p.queryAt(expr, time.Time{}) }

// queryAt runs an instant query at a time, or now if at is zero.
func (p promAPI) queryAt(expr string, at time.Time) ([]sample, error) {
	params := url.Values{"query": {expr}}
	if !at.IsZero() {
		params.Set("time", strconv.FormatInt(at.Unix(), 10))
	}
	data, err := p.get("/api/v1/query", params)
	if err != nil {
		return nil, err
	}
	var res struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, err
	}
	switch res.ResultType {
	case "vector":
		var v []sample
		err := json.Unmarshal(res.Result, &v)
		return v, err
	case "scalar":
		var s [2]any
		err := json.Unmarshal(res.Result, &s)
		return []sample{{Value: s}}, err
	default:
		return nil, fmt.Errorf("unexpected result type %q", res.ResultType)
	}
}

// queryRange runs expr over [start, end] as a time series panel does, and reports
// whether any point is a finite number, and how many series it returned.
func (p promAPI) queryRange(expr string, start, end time.Time, step time.Duration) (series int, finite bool, err error) {
	data, err := p.get("/api/v1/query_range", url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {step.String()},
	})
	if err != nil {
		return 0, false, err
	}
	var res struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return 0, false, err
	}
	if res.ResultType != "matrix" {
		return 0, false, fmt.Errorf("unexpected result type %q", res.ResultType)
	}
	for _, r := range res.Result {
		for _, v := range r.Values {
			if f := sampleValue(sample{Value: v}); !math.IsNaN(f) && !math.IsInf(f, 0) {
				finite = true
			}
		}
	}
	return len(res.Result), finite, nil
}

// scalarOf returns the first sample's value of expr, or NaN.
func (p promAPI) scalarOf(expr string) float64 {
	v, err := p.query(expr)
	if err != nil || len(v) == 0 {
		return math.NaN()
	}
	return sampleValue(v[0])
}

func sampleValue(s sample) float64 {
	str, _ := s.Value[1].(string)
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// panelQuery is one target of one panel, where the test reports it.
type panelQuery struct {
	dashboard, panel, refID, expr string
	instant                       bool // one value at the dashboard's end, not a time series
}

func (q panelQuery) String() string {
	return fmt.Sprintf("%s, panel %q, query %s", q.dashboard, q.panel, q.refID)
}

// withDashboardDefaults returns vars with the default of each of the dashboards'
// custom variables that vars does not set, and the Window on auto for vars' range.
func withDashboardDefaults(t *testing.T, vars map[string]string) map[string]string {
	t.Helper()
	out := maps.Clone(vars)
	for _, d := range readDashboards(t) {
		list, _ := dig(d.d, "templating", "list").([]any)
		for _, v := range list {
			name, _ := dig(v, "name").(string)
			def, _ := dig(v, "current", "value").(string)
			if _, set := out[name]; !set && dig(v, "type") == "custom" {
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
	for _, d := range readDashboards(t) {
		for _, p := range d.panels {
			raw, _ := p.get("targets").([]any)
			for _, tg := range raw {
				refID, _ := dig(tg, "refId").(string)
				expr, _ := dig(tg, "expr").(string)
				instant, _ := dig(tg, "instant").(bool)
				queries = append(queries, panelQuery{d.file, p.str("title"), refID, expr, instant})
			}
		}
		list, _ := dig(d.d, "templating", "list").([]any)
		for _, v := range list {
			if dig(v, "type") != "query" {
				continue
			}
			q, _ := dig(v, "query").(string)
			if nested, ok := dig(v, "query", "query").(string); ok {
				q = nested
			}
			name, _ := dig(v, "name").(string)
			variableQueries[d.file+" variable "+name] = q
		}
	}
	return queries, variableQueries
}

var metricNameRE = regexp.MustCompile(`\bwolkvox_\w+`)

func TestEndToEndWithPrometheus(t *testing.T) {
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
	runTool(t, "prometheus", p.promtool, "check", "config", "prometheus.yml")
	runTool(t, ".", p.promtool, "check", "rules", filepath.Join("prometheus", "rules.yml"), filepath.Join("prometheus", "alerts.yml"))
	runTool(t, "prometheus", p.promtool, "test", "rules", "rules_test.yml")

	e := startExporter(t, "--demo", "--demo.clock="+clock.Format(time.RFC3339))
	_, exposition := e.get(t, "/metrics")
	check := exec.CommandContext(t.Context(), p.promtool, "check", "metrics")
	check.Stdin = strings.NewReader(exposition)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}

	// A Prometheus on loopback scraping the exporter every 5s with the shipped rules.
	dir := t.TempDir()
	rulesDir, err := filepath.Abs("prometheus")
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

// linesReachNow checks each chart at "Last 1 hour", as Grafana draws it at 1600 px:
// its last point is within two steps of now.
func linesReachNow(t *testing.T, api promAPI) {
	t.Helper()
	const r = time.Hour
	vars := rangeVariables(t, r)
	for _, q := range chartQueries(t) {
		if _, empty := emptyInDemoReason(q.panelQuery); empty {
			continue
		}
		if _, quiet := mayBeEmptyInDemo[q.panel]; quiet {
			continue
		}
		expr, err := grafanatest.Substitute(q.expr, vars)
		if err != nil {
			t.Fatalf("%s: %v", q.panelQuery, err)
		}
		step, now := panelStep(q.columns, r), time.Now()
		lines, err := api.lines(expr, now.Add(-r), now, step)
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
		if now.Sub(last) > 2*step {
			t.Errorf("%s at 1h: the last point is at %s, %s before now, more than two steps of %s", q.panelQuery,
				last.Format(time.TimeOnly), now.Sub(last).Round(time.Second), step)
		}
	}
}

// startPrometheus starts p's server with a configuration and a data directory,
// listening on addr, until the test ends; its log shows if the test fails.
func startPrometheus(t *testing.T, p promInstall, cfgPath, data, addr string) promAPI {
	t.Helper()
	log := &lockedBuffer{}
	prom := exec.CommandContext(t.Context(), p.prometheus, "--config.file="+cfgPath, "--storage.tsdb.path="+data,
		"--web.listen-address="+addr, "--log.level=warn")
	prom.Stdout, prom.Stderr = log, log
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = prom.Process.Kill()
		_ = prom.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	return promAPI{ctx: t.Context(), base: "http://" + addr}
}

// startScrapingPrometheus starts p's server scraping target, as job wolkvox, every
// second, in a data directory of its own, and waits until it is ready.
func startScrapingPrometheus(t *testing.T, p promInstall, target string) (api promAPI, data string) {
	t.Helper()
	return startScrapingPrometheusOn(t, p, target, "")
}

// startScrapingPrometheusOn is startScrapingPrometheus with a copy of the blocks of
// history in its data directory from the start; "" is none.
func startScrapingPrometheusOn(t *testing.T, p promInstall, target, history string) (api promAPI, data string) {
	t.Helper()
	dir := t.TempDir()
	cfg, data := filepath.Join(dir, "prometheus.yml"), filepath.Join(dir, "data")
	if history != "" {
		copyBlocks(t, history, data)
	}
	writeFile(t, cfg, fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: wolkvox\n    static_configs:\n      - targets: [%q]\n", target))
	api = startPrometheus(t, p, cfg, data, freePort(t))
	api.waitReady(t)
	return api, data
}

// e2eDeadline bounds the wait for data in the end-to-end test, at any -e2e.clock:
// at the quiet 01:00 every panel shows data about 3m15s after Prometheus starts.
const e2eDeadline = 6 * time.Minute

// waitReady waits until the server answers /-/ready: until then, its API answers 503.
func (p promAPI) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.base+"/-/ready", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus not ready within a minute: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling a starting server
	}
}

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

func anyFinite(samples []sample) bool {
	for _, s := range samples {
		if v := sampleValue(s); !math.IsNaN(v) && !math.IsInf(v, 0) {
			return true
		}
	}
	return false
}
