package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// repoRoot is the repository's root, which holds the files it ships: go test runs
// a package's tests in the package's directory.
const repoRoot = ".."

// exporterBin is the binary, built once from the module's root for the tests, which
// run it as a user would.
var exporterBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wolkvox_exporter-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exporterBin = filepath.Join(dir, "wolkvox_exporter")
	build := exec.Command("go", "build", "-o", exporterBin, repoRoot) //nolint:noctx // runs before any test, with nothing to cancel it
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir) // a leftover temporary directory fails no test
	os.Exit(code)
}

const e2eToken = "e2e-token-5d2f-never-shown"

// officeHours is the simulated time that tests needing chats replay the simulator's
// traffic from: 10:00 on a weekday in Bogota. Traffic follows the hour of the day,
// so on the wall clock a test would see few chats at night.
var officeHours = time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("GMT-5", -5*3600))

// officeTraffic is the simulator's traffic as it is at officeHours, starting now.
func officeTraffic(seed int64, chatsPerHour float64) simulator.Source {
	return simulator.Replay(simulator.NewTraffic(seed, chatsPerHour), officeHours)
}

// lockedBuffer holds a process's stderr while it runs.
type lockedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return l.b.Write(p)
}

// waitFor waits until the buffer holds s. Lines are read from the process's pipe
// while it runs, so a line the process wrote before answering a request may not be
// here yet when the answer is.
func (l *lockedBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		if strings.Contains(l.b.String(), s) {
			l.mu.Unlock()
			return
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("the log did not show %q within 30s:\n%s", s, l.String())
		}
	}
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// exporter is a running wolkvox_exporter process.
type exporter struct {
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
	logs *lockedBuffer
}

// listeningRE finds the listening address in a logfmt or a JSON log line.
var listeningRE = regexp.MustCompile(`msg="Listening on" address=(\S+)|^\{"address":"([^"]+)",.*"msg":"Listening on"`)

// startExporter runs the binary on a free loopback port and waits until it listens.
func startExporter(t *testing.T, args ...string) *exporter {
	t.Helper()
	logs := &lockedBuffer{}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--web.listen-address=") }) {
		args = append([]string{"--web.listen-address=127.0.0.1:0"}, args...)
	}
	cmd := exec.CommandContext(t.Context(), exporterBin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &exporter{cmd: cmd, logs: logs}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("exporter log:\n%s", logs.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logs, line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1] + m[2]:
				default:
				}
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("the exporter exited before listening:\n%s", logs.String())
		}
		e.url = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("the exporter did not listen within 30s:\n%s", logs.String())
	}
	return e
}

func (e *exporter) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return request(t, http.MethodGet, e.url+path, nil)
}

func request(t *testing.T, method, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (e *exporter) metrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	status, body := e.get(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics answered %d: %s", status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

func gaugeOrCounter(m *dto.Metric) float64 {
	if m.Counter != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// single returns the value of the one series of name with labels, failing if absent.
func single(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	for _, m := range mfs[name].GetMetric() {
		match := true
		for k, v := range labels {
			if labelsOf(m)[k] != v {
				match = false
			}
		}
		if match {
			return gaugeOrCounter(m)
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeOperationConfig writes, in a new directory, the token file and a
// configuration of one operation "main" reading url, with extra lines of its own;
// it returns the directory and the configuration's path.
func writeOperationConfig(t *testing.T, url, extra string) (dir, cfgPath string) {
	t.Helper()
	dir = t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), e2eToken)
	cfgPath = filepath.Join(dir, "config.yml")
	writeFile(t, cfgPath, "operations:\n"+operationYAML("main", url, extra))
	return dir, cfgPath
}

func operationYAML(name, url string, extra string) string {
	return fmt.Sprintf(`  - name: %s
    server: "0010"
    token_file: token
    base_url: %s
    min_interval: 1s
    daily_quota: 200000
%s`, name, url, extra)
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), e2eToken+"\n")
	for _, tc := range []struct {
		name, config string
		wantCode     int
		wantOut      string
	}{
		{"valid", "operations:\n" + operationYAML("main", "http://127.0.0.1:1", ""), 0, `msg="configuration is valid"`},
		{"valid, token inline", "operations:\n  - name: x\n    server: \"1\"\n    token: " + e2eToken + "\n", 0, `msg="configuration is valid"`},
		{"unknown key", "operations:\n" + operationYAML("main", "http://127.0.0.1:1", "    colour: blue\n"), 1, "line 8: field colour not found"},
		{"misspelt key", "operations:\n" + operationYAML("main", "http://127.0.0.1:1", "    max-backoff: 1h\n"), 1, "line 8: field max-backoff not found; did you mean max_backoff?"},
		{"quota overspent", "operations:\n  - name: x\n    server: \"1\"\n    token_file: token\n    min_interval: 1m\n", 1, "set min_interval to 90s or more, or raise daily_quota"},
		{"token in yaml with whitespace", "operations:\n  - name: x\n    server: \"1\"\n    token: \"" + e2eToken + " x\"\n", 1, "whitespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yml")
			writeFile(t, path, tc.config)
			cmd := exec.CommandContext(t.Context(), exporterBin, "--config.check", "--config.file="+path)
			out, err := cmd.CombinedOutput()
			code := 0
			if err != nil {
				code = cmd.ProcessState.ExitCode()
			}
			if code != tc.wantCode || !strings.Contains(string(out), tc.wantOut) {
				t.Fatalf("exit %d, output %q; want exit %d and %q", code, out, tc.wantCode, tc.wantOut)
			}
			if piece := tokenPiece(string(out), e2eToken); piece != "" {
				t.Fatalf("the output holds %q of the token: %s", piece, out)
			}
		})
	}
}

// The endpoints, a reload by HTTP that fails and keeps the last good config, and a
// reload by SIGHUP that succeeds. The token stays out of every answer and log line.
func TestEndpointsAndReload(t *testing.T) {
	sim := httptest.NewServer(simulator.NewServer(simulator.NewTraffic(7, 300), simulator.Options{Token: e2eToken}))
	defer sim.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), e2eToken+"\n")
	cfgPath := filepath.Join(dir, "config.yml")
	writeFile(t, cfgPath, "operations:\n"+operationYAML("main", sim.URL, ""))
	e := startExporter(t, "--config.file="+cfgPath, "--log.level=debug")

	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{"/", 200, "Wolkvox Exporter"},
		{"/-/healthy", 200, "Healthy"},
		{"/-/ready", 200, "Ready"},
		{"/-/reload", 405, "POST"},
		{"/config", 200, "token_file: token"},
		{"/nope", 404, ""},
	} {
		status, body := e.get(t, c.path)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %q, want %d containing %q", c.path, status, body, c.status, c.want)
		}
	}
	mfs := e.metrics(t)
	if up := single(t, mfs, "wolkvox_up", map[string]string{"operation": "main"}); up != 1 {
		t.Fatalf("wolkvox_up = %v", up)
	}
	if _, ok := mfs["wolkvox_exporter_build_info"]; !ok {
		t.Fatal("no build info")
	}

	writeFile(t, cfgPath, "operations: [ broken")
	status, body := request(t, http.MethodPost, e.url+"/-/reload", nil)
	if status != http.StatusInternalServerError || !strings.Contains(body, "last good configuration") {
		t.Fatalf("bad reload answered %d %q", status, body)
	}
	mfs = e.metrics(t)
	if v := single(t, mfs, "wolkvox_exporter_config_last_reload_successful", nil); v != 0 {
		t.Fatalf("reload gauge %v after a failed reload", v)
	}
	single(t, mfs, "wolkvox_up", map[string]string{"operation": "main"}) // still configured

	writeFile(t, cfgPath, "operations:\n"+operationYAML("main", sim.URL, "")+operationYAML("second", sim.URL, ""))
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mfs = e.metrics(t)
		if single(t, mfs, "wolkvox_exporter_config_last_reload_successful", nil) == 1 && len(mfs["wolkvox_up"].GetMetric()) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not load the second operation within 30s")
		}
		time.Sleep(50 * time.Millisecond) // polling a signal's effect
	}

	_, text := e.get(t, "/metrics")
	_, cfg := e.get(t, "/config")
	for where, s := range map[string]string{"metrics": text, "config": cfg, "debug log": e.logs.String()} {
		if strings.Contains(s, e2eToken) {
			t.Errorf("the token appears in %s", where)
		}
	}
	if !strings.Contains(e.logs.String(), "level=debug") {
		t.Error("no debug lines were logged, so the log check proves nothing")
	}
}

// servedByLabels counts distinct served chats per chats_total label set, by the
// documented normalization.
func servedByLabels(served []simulator.Chat, skills map[string]string) map[string]float64 {
	out := map[string]float64{}
	seen := map[string]bool{}
	for _, c := range served {
		if seen[c.ConnID] {
			continue
		}
		seen[c.ConnID] = true
		skill := c.SkillID
		if name, ok := skills[skill]; ok {
			skill = name
		}
		key := fmt.Sprintf("channel=%s,feeling=%s,last_participant=%s,skill=%s",
			strings.ToLower(c.Channel), strings.ReplaceAll(c.Feeling, " ", "_"), strings.ReplaceAll(c.LastParticipant, "-", ""), skill)
		out[key]++
	}
	return out
}

func countedByLabels(mfs map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mfs["wolkvox_chats_total"].GetMetric() {
		l := labelsOf(m)
		key := fmt.Sprintf("channel=%s,feeling=%s,last_participant=%s,skill=%s", l["channel"], l["feeling"], l["last_participant"], l["skill"])
		if v := m.GetCounter().GetValue(); v > 0 {
			out[key] += v
		}
	}
	return out
}

// A reviewer's check: point the binary at a fake upstream with base_url; the counts
// per label combination equal the distinct records served.
func TestCountsEqualRecordsServed(t *testing.T) {
	upstream := simulator.NewServer(officeTraffic(11, 600), simulator.Options{Token: e2eToken})
	sim := httptest.NewServer(upstream)
	defer sim.Close()
	skills := map[string]string{"12": "sales"}
	_, cfgPath := writeOperationConfig(t, sim.URL, "    skills: {\"12\": sales}\n")

	t.Run("first scrape", func(t *testing.T) {
		e := startExporter(t, "--config.file="+cfgPath)
		mfs := e.metrics(t)
		want, got := servedByLabels(upstream.Served(), skills), countedByLabels(mfs)
		if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("counted %v\nserved  %v", got, want)
		}
	})
	t.Run("several overlapping calls", func(t *testing.T) {
		// With no hold, every count shows at once and can be compared at any time.
		e := startExporter(t, "--config.file="+cfgPath, "--collector.new-series-hold=0")
		calls := upstream.Requests()
		var mfs map[string]*dto.MetricFamily
		for upstream.Requests() < calls+4 {
			mfs = e.metrics(t) // a scrape at least 1s after the last call makes the next one
			time.Sleep(100 * time.Millisecond)
		}
		// The scrape that made the last call waited for it; take one more to be sure no call runs.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			before := upstream.Requests()
			mfs = e.metrics(t)
			if upstream.Requests() == before {
				break
			}
		}
		served := upstream.Served()
		want, got := servedByLabels(served, skills), countedByLabels(mfs)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("counted %v\nserved  %v", got, want)
		}
	})
}

// --demo needs nothing but the binary, and counts chats from its first scrape.
func TestDemo(t *testing.T) {
	e := startExporter(t, "--demo", "--demo.clock="+officeHours.Format(time.RFC3339), "--config.file=/nonexistent/config.yml")
	mfs := e.metrics(t)
	if up := single(t, mfs, "wolkvox_up", map[string]string{"operation": "demo"}); up != 1 {
		t.Fatalf("demo wolkvox_up = %v\n%s", up, e.logs.String())
	}
	total := 0.0
	for _, m := range mfs["wolkvox_chats_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	if total == 0 {
		t.Fatal("the demo counted no chats on its first scrape")
	}
	if !strings.Contains(e.logs.String(), "demo mode") {
		t.Fatal("the demo did not say it is one")
	}
}
