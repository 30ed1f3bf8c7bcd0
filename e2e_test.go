package main

import (
	"context"
	"encoding/json"
	"fmt"
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
)

// The stack as shipped, against a real Prometheus: the example config and rules pass
// promtool, the exporter's output passes promtool check metrics, and every query of
// every dashboard panel returns data from the exporter in demo mode.

// Substitutions for Grafana's variables: $__rate_interval spans several scrapes and
// API calls; $__range covers the whole test; multi-value variables match everything.
var grafanaVariables = map[string]string{
	"__rate_interval": "1m",
	"__range":         "10m",
	"__interval":      "5s",
	"operation":       ".*",
	"channel":         ".*",
	"skill":           ".*",
	"sl_threshold":    "20",
}

// emptyInDemo names the panels that have no data in demo mode, and why.
var emptyInDemo = map[string]string{
	"Chats and handle time per agent": "agent metrics are off by default, and in demo mode (agent_metrics: true enables them)",
}

// promBinaries finds prometheus and promtool. Without them the test skips, except
// under CI=true, where it must run.
func promBinaries(t *testing.T) (prometheus, promtool string) {
	t.Helper()
	var missing []string
	for _, name := range []string{"prometheus", "promtool"} {
		path, err := exec.LookPath(name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		if name == "prometheus" {
			prometheus = path
		} else {
			promtool = path
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s not found in PATH; install Prometheus (Debian/Ubuntu: apt-get install -y prometheus) to run the end-to-end test", strings.Join(missing, " and "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return prometheus, promtool
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
func (p promAPI) query(expr string) ([]sample, error) {
	data, err := p.get("/api/v1/query", url.Values{"query": {expr}})
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
}

func (q panelQuery) String() string {
	return fmt.Sprintf("%s, panel %q, query %s", q.dashboard, q.panel, q.refID)
}

type dashboardJSON struct {
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panelJSON `json:"panels"`
}

type panelJSON struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panelJSON `json:"panels"` // a collapsed row keeps its panels here
}

var variableRE = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)

// substitute replaces Grafana variables; it fails on one it does not know.
func substitute(expr string) (string, error) {
	var unknown []string
	out := variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := variableRE.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		v, ok := grafanaVariables[name]
		if !ok {
			unknown = append(unknown, name)
			return m
		}
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown Grafana variable(s) %v", unknown)
	}
	return out, nil
}

func loadDashboards(t *testing.T) (queries []panelQuery, variableQueries map[string]string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("grafana", "dashboards", "*.json"))
	if err != nil || len(files) < 2 {
		t.Fatalf("dashboards not found: %v %v", files, err)
	}
	variableQueries = map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboardJSON
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var walk func([]panelJSON)
		walk = func(ps []panelJSON) {
			for _, p := range ps {
				for _, tg := range p.Targets {
					queries = append(queries, panelQuery{filepath.Base(f), p.Title, tg.RefID, tg.Expr})
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, _ := v.Query.(string)
			if m, ok := v.Query.(map[string]any); ok {
				q, _ = m["query"].(string)
			}
			variableQueries[filepath.Base(f)+" variable "+v.Name] = q
		}
	}
	return queries, variableQueries
}

var metricNameRE = regexp.MustCompile(`\bwolkvox_\w+`)

func TestEndToEndWithPrometheus(t *testing.T) {
	prometheusBin, promtool := promBinaries(t)

	// The shipped configuration and rules.
	runTool(t, "prometheus", promtool, "check", "config", "prometheus.yml")
	runTool(t, ".", promtool, "check", "rules", filepath.Join("prometheus", "rules.yml"), filepath.Join("prometheus", "alerts.yml"))
	runTool(t, "prometheus", promtool, "test", "rules", "rules_test.yml")

	e := startExporter(t, "--demo")
	_, exposition := e.get(t, "/metrics")
	check := exec.CommandContext(t.Context(), promtool, "check", "metrics")
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
	runTool(t, dir, promtool, "check", "config", cfgPath)
	promLog := &lockedBuffer{}
	prom := exec.CommandContext(t.Context(), prometheusBin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	prom.Stdout, prom.Stderr = promLog, promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = prom.Process.Kill()
		_ = prom.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
		}
	})
	api := promAPI{ctx: t.Context(), base: "http://" + promAddr}

	// Wait until Prometheus has seen four API calls (one each 15s in demo mode) and
	// evaluated the rules: every rate over $__rate_interval then spans new chats.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		calls := api.scalarOf(`max(wolkvox_api_requests_total{result="success"}) - min(min_over_time(wolkvox_api_requests_total{result="success"}[10m]))`)
		rules := api.scalarOf(`count(operation:wolkvox_chats:rate5m)`)
		if calls >= 4 && rules > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no data in Prometheus after 3 minutes (calls %v, rule series %v)", calls, rules)
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
	if len(queries) < 30 {
		t.Fatalf("only %d panel queries found", len(queries))
	}
	used := map[string]bool{}
	for _, q := range queries {
		expr, err := substitute(q.expr)
		if err != nil {
			t.Errorf("%s: %v\n  expr: %s", q, err, q.expr)
			continue
		}
		reason, mayBeEmpty := emptyInDemo[q.panel]
		// Every metric a query names must exist, even where a fallback would hide it.
		for _, name := range metricNameRE.FindAllString(expr, -1) {
			used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] = true
			if n := api.scalarOf(fmt.Sprintf(`count({__name__=%q})`, name)); !(n > 0) && !mayBeEmpty {
				t.Errorf("%s: metric %s does not exist in Prometheus\n  expr: %s", q, name, expr)
			}
		}
		samples, err := api.query(expr)
		switch {
		case err != nil:
			t.Errorf("%s: %v\n  expr: %s", q, err, expr)
		case len(samples) == 0 && !mayBeEmpty:
			t.Errorf("%s: no data\n  expr: %s", q, expr)
		case len(samples) > 0 && mayBeEmpty:
			t.Errorf("%s: has data, but the test says it should be empty in demo mode (%s)\n  expr: %s", q, reason, expr)
		case len(samples) > 0 && !anyFinite(samples):
			t.Errorf("%s: only NaN or infinite values\n  expr: %s", q, expr)
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
		selector, err := substitute(m[1])
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

func anyFinite(samples []sample) bool {
	for _, s := range samples {
		if v := sampleValue(s); !math.IsNaN(v) && !math.IsInf(v, 0) {
			return true
		}
	}
	return false
}
