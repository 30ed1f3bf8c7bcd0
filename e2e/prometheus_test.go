package e2e

import (
	"context"
	"debug/buildinfo"
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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/grafanatest"
)

// Real Prometheus servers for the tests: the versions installed, a server started
// for a test, and its HTTP API.

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
// skips, except under CI=true, where it must run. Under -short a test that needs
// Prometheus skips before it asks, which this checks.
func promInstalls(t *testing.T) []promInstall {
	t.Helper()
	if testing.Short() {
		t.Fatal("a test that needs Prometheus must skip under -short before it looks for one")
	}
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

func anyFinite(samples []sample) bool {
	for _, s := range samples {
		if v := sampleValue(s); !math.IsNaN(v) && !math.IsInf(v, 0) {
			return true
		}
	}
	return false
}

// startPrometheus starts p's server with a configuration and a data directory,
// listening on addr, and flags, until the test ends; its log shows if the test fails.
func startPrometheus(t *testing.T, p promInstall, cfgPath, data, addr string, flags ...string) promAPI {
	t.Helper()
	log := &lockedBuffer{}
	prom := exec.CommandContext(t.Context(), p.prometheus, append([]string{"--config.file=" + cfgPath, "--storage.tsdb.path=" + data,
		"--web.listen-address=" + addr, "--log.level=warn"}, flags...)...)
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

// copyBlocks copies the blocks of the directory from into the directory to, as a
// user would before moving them into a Prometheus data directory.
func copyBlocks(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o750); err != nil {
		t.Fatal(err)
	}
	cp := exec.CommandContext(t.Context(), "cp", "-r", from+"/.", to)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
}

// startPrometheusOnHistory starts a Prometheus with flags, scraping nothing, with a
// copy of the backfill's directory as its data directory.
func startPrometheusOnHistory(t *testing.T, p promInstall, history string, flags ...string) promAPI {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	copyBlocks(t, history, data)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfgPath, "global:\n  evaluation_interval: 1m\n")
	api := startPrometheus(t, p, cfgPath, data, freePort(t), flags...)
	api.waitReady(t) // once it has opened the blocks
	return api
}

// sumAt is the sum of the series of expr at a time, 0 if there is none.
func sumAt(t *testing.T, api promAPI, expr string, at time.Time) float64 {
	t.Helper()
	samples, err := api.queryAt("sum("+expr+")", at)
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, s := range samples {
		total += sampleValue(s)
	}
	return total
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
		"step": {grafanatest.PromDuration(step)},
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
