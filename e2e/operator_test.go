package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
)

// What an operator reads: warnings, errors and log lines of the built binary.

// A token file every user can read is accepted, with a warning that says how to
// close it, at --config.check and at start; a private one draws none.
func TestWorldReadableTokenWarns(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o644, true}, {0o604, true}, {0o640, false}, {0o600, false}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			dir, cfgPath := writeOperationConfig(t, "http://127.0.0.1:1", "")
			if err := os.Chmod(filepath.Join(dir, "token"), tc.mode); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(t.Context(), exporterBin, "--config.check", "--config.file="+cfgPath)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("--config.check: %v\n%s", err, out)
			}
			const warning = "which lets every user of the machine who can reach its directory open it"
			if got := strings.Contains(string(out), warning); got != tc.warn {
				t.Fatalf("warned %v, want %v:\n%s", got, tc.warn, out)
			}
			if tc.warn && !strings.Contains(string(out), "chmod 0600") {
				t.Errorf("the warning does not say how to fix it:\n%s", out)
			}
			if tc.mode == 0o644 {
				e := startExporter(t, "--config.file="+cfgPath)
				e.logs.waitFor(t, warning)
				if !strings.Contains(e.logs.String(), "level=warn") {
					t.Errorf("the warning at start is not at warn level:\n%s", e.logs)
				}
			}
		})
	}
}

// timeRE finds the times of a logfmt line: time= and every value written as RFC 3339.
var timeRE = regexp.MustCompile(`(\w+)="?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))`)

// Every time in a log line is in one zone, the process's, with its offset: here
// Tokyo's, while the operation's API is in Bogota's.
func TestLogTimesShareOneZone(t *testing.T) {
	t.Setenv("TZ", "Asia/Tokyo")
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	_, cfgPath := writeOperationConfig(t, failing.URL, "")
	e := startExporter(t, "--config.file="+cfgPath)
	e.get(t, "/metrics")
	e.logs.waitFor(t, "no_call_before=")
	var line string
	for l := range strings.SplitSeq(e.logs.String(), "\n") {
		if strings.Contains(l, "no_call_before=") {
			line = l
		}
	}
	times := timeRE.FindAllStringSubmatch(line, -1)
	keys := map[string]bool{}
	for _, m := range times {
		keys[m[1]] = true
		if !strings.HasSuffix(m[2], "+09:00") {
			t.Errorf("%s=%s is not in the process's zone, +09:00:\n%s", m[1], m[2], line)
		}
	}
	if !keys["time"] || !keys["no_call_before"] || !keys["window"] {
		t.Errorf("the line does not hold time=, window= and no_call_before= as times with an offset:\n%s", line)
	}
}

// SIGTERM, as systemctl stop sends it, stops the exporter cleanly, and the log says so.
func TestSIGTERMIsLogged(t *testing.T) {
	e := startExporter(t, "--demo")
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	e.logs.waitFor(t, "msg=stopped")
	err := e.cmd.Wait()
	if err != nil {
		t.Fatalf("exit: %v, want 0", err)
	}
	if want := `msg="shutting down: stopped by a signal" signal=terminated`; !strings.Contains(e.logs.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, e.logs)
	}
}

// An address given twice, or taken by another address of the same exporter, is
// named as such, not as another process's.
func TestListenAddressGivenTwice(t *testing.T) {
	addr := freePort(t)
	_, port, _ := strings.Cut(addr, ":")
	for _, tc := range []struct {
		name  string
		addrs []string
		want  string
	}{
		{"the same address twice", []string{addr, addr}, "address " + addr + " is given twice with --web.listen-address"},
		{"every interface, then one", []string{":" + port, addr}, "address " + addr + " is already taken by :" + port + ", also given with --web.listen-address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--demo"}
			for _, a := range tc.addrs {
				args = append(args, "--web.listen-address="+a)
			}
			cmd := exec.CommandContext(t.Context(), exporterBin, args...)
			out, err := cmd.CombinedOutput()
			if err == nil || cmd.ProcessState.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1:\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "another process") {
				t.Errorf("the log does not say %q:\n%s", tc.want, out)
			}
		})
	}
}

// Each command's help lists the flags it uses: the backfill's, none of the server's;
// --help lists every command's, the server's first, as serving is the default.
func TestHelpListsTheCommandsFlags(t *testing.T) {
	serveOnly := []string{"web.listen-address", "web.max-requests", "collector.new-series-hold", "scrape.timeout-offset", "web.telemetry-path", "config.check"}
	for _, tc := range []struct {
		args          []string
		want, notWant []string
	}{
		{[]string{"help", "backfill"}, []string{"--operation", "--config.file", "--storage.path"}, serveOnly},
		{[]string{"help", "serve"}, append([]string{"--config.file"}, serveOnly...), []string{"--operation"}},
		{[]string{"--help"}, append([]string{"--config.file", "backfill", "--operation"}, serveOnly...), nil},
	} {
		out, err := exec.CommandContext(t.Context(), exporterBin, tc.args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%v does not list %s:\n%s", tc.args, w, out)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(string(out), w) {
				t.Errorf("%v lists %s, which it does not use:\n%s", tc.args, w, out)
			}
		}
	}
}

// The landing page says what someone opening it wants to know: that it runs the
// demo, and each operation's state, which changes with the calls, with what is open
// now.
func TestLandingPageShowsTheOperations(t *testing.T) {
	e := startExporter(t, "--demo")
	_, landing := e.get(t, "/")
	for _, want := range []string{"Demo mode.", "as the wall clock says", `<iframe class="status" src="/status"`} {
		if !strings.Contains(landing, want) {
			t.Errorf("the landing page does not show %q:\n%s", want, landing)
		}
	}
	_, before := e.get(t, "/status")
	for _, want := range []string{"<td>demo</td><td>no call yet</td><td>never</td><td>0</td><td>not paused</td>", "<td>nothing read lately</td>"} {
		if !strings.Contains(before, want) {
			t.Errorf("the state before any call does not show %q:\n%s", want, before)
		}
	}
	e.get(t, "/metrics") // the first call
	_, after := e.get(t, "/status")
	if !strings.Contains(after, "<td>demo</td><td>up</td>") || !strings.Contains(after, " America/Bogota (") || !strings.Contains(after, " ago)</td>") {
		t.Errorf("the state after a call does not show the operation up, with its last success in its zone:\n%s", after)
	}
	open := 0.0
	for _, m := range e.metrics(t)["wolkvox_chats_active"].GetMetric() {
		open += m.GetGauge().GetValue()
	}
	if want := "<td>" + strconv.FormatFloat(open, 'f', -1, 64) + " chats open ("; open == 0 || !strings.Contains(after, want) || !strings.Contains(after, "agents: ") {
		t.Errorf("the landing page does not show the %v chats open and the agents /metrics shows:\n%s", open, after)
	}
	// The chats counted are those /metrics shows: the first answer's series show at once.
	total := 0.0
	for _, m := range e.metrics(t)["wolkvox_chats_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	if want := "</td><td>" + strconv.FormatFloat(total, 'f', -1, 64) + "</td>"; total == 0 || !strings.Contains(after, want) {
		t.Errorf("the landing page does not show the %v chats /metrics shows:\n%s", total, after)
	}
}

// With --log.format=json every line the process writes is a JSON object with the
// same leading keys, the web toolkit's and the TSDB writer's lines included.
func TestEveryLogLineIsJSON(t *testing.T) {
	e := startExporter(t, "--demo", "--log.format=json", "--log.level=debug")
	e.get(t, "/metrics") // the calls, which log at debug
	e.get(t, "/")
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	e.logs.waitFor(t, `"msg":"stopped"`)
	if err := e.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v, want 0", err)
	}
	yesterday := time.Now().In(testkit.Zone(t, "America/Bogota")).AddDate(0, 0, -1).Format(time.DateOnly)
	backfill := runBackfill(t, "--demo", "--operation=demo", "--from="+yesterday, "--to="+yesterday,
		"--output="+t.TempDir(), "--label=job=wolkvox", "--label=instance=test:19655", "--log.format=json", "--log.level=debug")

	for _, tc := range []struct {
		name, log string
		want      []string // messages some line must have
	}{
		{"serve", e.logs.String(), []string{"Listening on", "TLS is disabled.", "chat_1 query done", "stopped"}},
		{"backfill", backfill, []string{"write block completed"}},
	} {
		msgs := map[string]bool{}
		for line := range strings.Lines(tc.log) {
			var fields map[string]any
			if err := json.Unmarshal([]byte(line), &fields); err != nil {
				t.Errorf("%s: a line is not JSON (%v): %s", tc.name, err, line)
				continue
			}
			for _, key := range []string{"level", "time", "caller", "msg"} {
				if _, ok := fields[key].(string); !ok {
					t.Errorf("%s: a line has no %s: %s", tc.name, key, line)
				}
			}
			msgs[fmt.Sprint(fields["msg"])] = true
		}
		for _, msg := range tc.want {
			if !msgs[msg] {
				t.Errorf("%s: no line says %q:\n%s", tc.name, msg, tc.log)
			}
		}
	}
}
