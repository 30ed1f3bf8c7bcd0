package config_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/units"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
)

func TestLoadGood(t *testing.T) {
	cfg, err := config.Load(filepath.Join("testdata", "good.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Operations) != 2 {
		t.Fatalf("got %d operations", len(cfg.Operations))
	}
	main, second := cfg.Operations[0], cfg.Operations[1]
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"token from token_file, relative to the config, trimmed", string(main.APIToken()), "tok-from-file-7788"},
		{"inline token", string(second.APIToken()), "inline-token-1234"},
		{"default URL", main.URL(), "https://wv0010.wolkvox.com"},
		{"base_url without trailing slash", second.URL(), "http://127.0.0.1:8080"},
		{"timezone", main.Location().String(), "America/Bogota"},
		{"default timezone", second.Location().String(), "America/Bogota"},
		{"default min_interval", time.Duration(second.MinInterval), 5 * time.Minute},
		{"default overlap", time.Duration(second.Overlap), 10 * time.Minute},
		{"default request_timeout", time.Duration(second.RequestTimeout), 55 * time.Second},
		{"default max_catchup", time.Duration(second.MaxCatchup), 24 * time.Hour},
		{"default max_backoff", time.Duration(second.MaxBackoff), time.Hour},
		{"default daily_quota", main.DailyQuota, 1000},
		{"default max_label_values", main.MaxLabelValues, 100},
		{"max_label_values", second.MaxLabelValues, 20},
		{"max_response_size", int64(second.MaxResponseSize), int64(64 * units.MiB)},
		{"default max_response_size", int64(main.MaxResponseSize), int64(256 * units.MiB)},
		{"agent_metrics default off", main.AgentMetrics, false},
		{"agent_metrics", second.AgentMetrics, true},
		{"skills", main.Skills["12"], "sales"},
		{"calls per day at 5m, and the daily re-read", main.CallsPerDay(), 288 + 1},
		{"reconcile on by default", main.Reconcile.Enabled, true},
		{"default reconcile.after", time.Duration(main.Reconcile.After), 2 * time.Hour},
		{"answer_delay buckets", fmt.Sprint(cfg.Histograms.AnswerDelay), "[10 20 30]"},
		{"default duration buckets", fmt.Sprint(cfg.Histograms.Duration), fmt.Sprint(config.DefaultHistograms.Duration)},
		{"no real-time call by default", main.Realtime.Enabled(), false},
		{"real-time interval, seconds accepted", time.Duration(second.Realtime.Interval), 90 * time.Second},
		{"real-time APIs default to both", fmt.Sprint(second.Realtime.APIs), "[chats agents]"},
		{"calls per day with real-time calls: 288, the re-read, 2 * 960", second.CallsPerDay(), 288 + 1 + 2*960},
	} {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestBadConfigs(t *testing.T) {
	const op = "operations:\n  - name: main\n    server: \"0010\"\n    token: abc123\n"
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{"empty file", "", "at least one operation"},
		{"no operations", "operations: []\n", "at least one operation"},
		{"unknown top-level key", op + "bogus: 1\n", "field bogus not found"},
		{"unknown operation key (strict through defaults)", op + "    min_intervall: 5m\n", "line 5: field min_intervall not found; did you mean min_interval?"},
		{"unknown key with a dash", op + "    token-file: token\n", "line 5: field token-file not found; did you mean token_file?"},
		{"unknown key in capitals", "OPERATIONS:\n  - name: x\n", "line 1: field OPERATIONS not found; did you mean operations?"},
		{"unknown nested key", op + "    reconcile: {enabeld: true}\n", "field enabeld not found; did you mean enabled?"},
		{"unknown histogram key", op + "histograms:\n  answer: [1]\n", "field answer not found"},
		{"missing name", "operations:\n  - server: \"1\"\n    token: a\n", "operations[0]: name"},
		{"bad name", strings.Replace(op, "main", "my op", 1), `name "my op"`},
		{"duplicate name", op + "  - name: main\n    server: \"2\"\n    token: b\n    min_interval: 10m\n", "used twice"},
		{"server with a dot", strings.Replace(op, `"0010"`, `"0010.evil.com"`, 1), "letters and digits only"},
		{"missing server", "operations:\n  - name: x\n    token: a\n", "server"},
		{"token and token_file", op + "    token_file: /x\n", "not both"},
		{"no token", "operations:\n  - name: x\n    server: \"1\"\n", "token or token_file is required"},
		{"missing token file", "operations:\n  - name: x\n    server: \"1\"\n    token_file: nope\n", "token_file"},
		{"token with a newline", "operations:\n  - name: x\n    server: \"1\"\n    token: \"ab\\ncd\"\n", "whitespace"},
		{"bad timezone", op + "    timezone: Mars/Olympus\n", "timezone"},
		{"base_url without scheme", op + "    base_url: wv0010.wolkvox.com\n", "base_url"},
		{"base_url with credentials", op + "    base_url: https://u:p@proxy.example\n", "credentials"},
		{"min_interval too small", op + "    min_interval: 100ms\n", "at least 1s"},
		{"bad duration", op + "    overlap: ten\n", `line 5: operations[0].overlap: "ten" is not a duration: write a number and a unit, such as 90s`},
		{"duration without a unit", op + "    min_interval: 5\n", `line 5: operations[0].min_interval: "5" is not a duration`},
		{"number that is not one", op + "    daily_quota: many\n", "line 5: operations[0].daily_quota: cannot unmarshal !!str `many` into int"},
		{"bucket that is not a number", op + "histograms:\n  answer_delay: [5, ten]\n", "line 6: histograms.answer_delay: cannot unmarshal !!str `ten` into float64"},
		{"two bad values, each named", op + "    overlap: ten\n    max_catchup: a\n", "line 5: operations[0].overlap: \"ten\" is not a duration: write a number and a unit, such as 90s, 5m, 1h or 1d\nline 6: operations[0].max_catchup:"},
		{"a check names the line", op + "    min_interval: 100ms\n", `line 5: operation "main": min_interval 100ms must be at least 1s`},
		{"a check on the second operation", op + "  - name: b\n    server: \"2\"\n    token: xyz\n    overlap: 2d\n", `line 8: operation "b": overlap 2d must be at most 1d`},
		{"server given as the host's prefix", strings.Replace(op, `"0010"`, `wv0010`, 1), `line 3: operation "main": server "wv0010" is the API host's name, not the server number: set server: "0010"`},
		{"server given as the host name", strings.Replace(op, `"0010"`, `wv0010.wolkvox.com`, 1), `set server: "0010"`},
		{"server given as a URL", strings.Replace(op, `"0010"`, `https://WV0042.wolkvox.com/`, 1), `set server: "0042"`},
		{"max_catchup below overlap", op + "    max_catchup: 5m\n", "max_catchup 5m must be at least overlap 10m"},
		{"max_catchup too long", op + "    max_catchup: 100d\n", "at most 90d"},
		{"max_backoff below min_interval", op + "    max_backoff: 1m\n", "max_backoff 1m must be at least min_interval 5m"},
		{"negative quota", op + "    daily_quota: -3\n", "daily_quota"},
		{"zero label values", op + "    max_label_values: 0\n", "max_label_values"},
		{"size without unit", op + "    max_response_size: 12\n", `line 5: operations[0].max_response_size: size "12" needs a unit`},
		{"budget: 60s polling spends more than 1000 calls a day", op + "    min_interval: 60s\n",
			`line 5: operation "main": min_interval allows 1441 API calls per day (86400s / min_interval, and the daily re-read), more than daily_quota 1000: set min_interval to 90s or more, or raise daily_quota if the licence allows more calls a day`},
		{"budget: a smaller quota", op + "    daily_quota: 100\n", "set min_interval to 15m or more"},
		{"budget: shared token", op + "  - name: b\n    server: \"2\"\n    token: abc123\n    min_interval: 2m\n",
			`operations "b", "main" share one token and together may make 1010 API calls per day (86400s / min_interval and the daily re-read, summed), more than daily_quota 1000: give each a min_interval of 3m or more, or raise daily_quota`},
		{"reconcile.after of a day or more", op + "    reconcile: {after: 1d}\n", "line 5: operation \"main\": reconcile.after 1d must be at least 0 and less than 1d"},
		{"realtime: an unknown key", op + "    realtime: {interval: 5m, api: [chats]}\n", "field api not found; did you mean apis?"},
		{"realtime: an unknown API", op + "    realtime:\n      interval: 5m\n      apis: [chats, calls]\n", `line 7: operation "main": realtime.apis: "calls" is not a real-time API: use chats or agents`},
		{"realtime: an API twice", op + "    realtime: {interval: 5m, apis: [agents, agents]}\n", `realtime.apis names "agents" twice`},
		{"realtime: no API", op + "    realtime: {interval: 5m, apis: []}\n", "realtime.apis is empty"},
		{"realtime: APIs without an interval", op + "    realtime: {apis: [chats]}\n", "realtime.apis needs realtime.interval"},
		{"realtime: an interval under a second", op + "    realtime: {interval: 500ms}\n", "realtime.interval 500ms must be at least 1s"},
		{"realtime: an interval without a unit", op + "    realtime: {interval: 300}\n", `"300" is not a duration`},
		// 288 + 1 + 2 * 480: the message names realtime and gives the arithmetic.
		{"budget: realtime calls past the quota", op + "    realtime:\n      interval: 3m\n",
			`line 6: operation "main": may make 1249 API calls per day, more than daily_quota 1000: 288 for chat_1 (86400s / min_interval 5m), 1 for the daily re-read and 960 for realtime (86400s / realtime.interval 3m, for each of 2 API(s)): set realtime.interval to 5m or more, call fewer realtime.apis, or raise daily_quota if the licence allows more calls a day`},
		{"budget: realtime with chat_1 past the quota alone", op + "    min_interval: 60s\n    realtime: {interval: 1h, apis: [agents]}\n",
			"1440 for chat_1 (86400s / min_interval 1m), 1 for the daily re-read and 24 for realtime (86400s / realtime.interval 1h, for each of 1 API(s)): make a longer min_interval"},
		{"budget: shared token with realtime", op + "  - name: b\n    server: \"2\"\n    token: abc123\n    realtime: {interval: 5m}\n",
			`operations "b", "main" share one token and together may make 1154 API calls per day (86400s / min_interval, the daily re-read and 576 real-time calls (realtime), summed), more than daily_quota 1000: give each a min_interval of 10m or more, a longer realtime.interval, fewer realtime.apis, or raise daily_quota`},
		{"reconcile.after past max_catchup", op + "    max_catchup: 1h\n    overlap: 10m\n    reconcile:\n      after: 2h\n", "line 8: operation \"main\": reconcile.after 2h must be less than max_catchup 1h"},
		{"unknown reconcile key", op + "    reconcile: {aftr: 1h}\n", "field aftr not found; did you mean after?"},
		{"timezone neither a name nor an offset", op + "    timezone: \"-5\"\n", `timezone "-5" is neither a known IANA time zone (e.g. America/Bogota) nor an offset from UTC (e.g. -05:00)`},
		{"buckets not increasing", op + "histograms:\n  duration: [10, 5]\n", "strictly increasing"},
		{"bucket not positive", op + "histograms:\n  handle_time: [0, 5]\n", "positive"},
		{"empty buckets", op + "histograms:\n  answer_delay: []\n", "at least one bucket"},
		{"two documents", op + "---\n" + op, "more than one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.yaml), "testdata")
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
			if !strings.Contains(tc.wantErr, "did you mean") && strings.Contains(err.Error(), "did you mean") {
				t.Fatalf("error %q suggests a key that is not close", err)
			}
			if strings.Contains(err.Error(), "abc123") {
				t.Fatalf("error %q holds the token", err)
			}
		})
	}
}

// The budget arithmetic: a token may poll as often as its quota allows, no more; the
// daily re-read costs one call more.
func TestBudgetBoundary(t *testing.T) {
	for _, tc := range []struct {
		interval string
		quota    int
		reread   bool
		ok       bool
	}{
		{"87s", 1000, false, true},  // ceil(86400/87) = 994 calls
		{"86s", 1000, false, false}, // ceil(86400/86) = 1005 calls
		{"15s", 5760, false, true},  // exactly 5760
		{"15s", 5759, false, false},
		{"15s", 5761, true, true}, // 5760 and the re-read
		{"15s", 5760, true, false},
	} {
		y := fmt.Sprintf("operations:\n  - name: a\n    server: \"1\"\n    token: t\n    min_interval: %s\n    daily_quota: %d\n    reconcile: {enabled: %v}\n", tc.interval, tc.quota, tc.reread)
		_, err := config.Parse([]byte(y), ".")
		if (err == nil) != tc.ok {
			t.Errorf("min_interval %s, quota %d: err = %v, want ok=%v", tc.interval, tc.quota, err, tc.ok)
		}
	}
}

// The token shows in no dump of the configuration, nor when an operation or the
// configuration is printed, with any verb.
func TestSecretNeverPrinted(t *testing.T) {
	const tok = "s3cr3t-value"
	cfg, err := config.Parse([]byte("operations:\n  - name: a\n    server: \"1\"\n    token: "+tok+"\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	dump, err := cfg.Dump()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(cfg)
	op := cfg.Operations[0]
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", op), "%s": fmt.Sprintf("%s", op), "%q": fmt.Sprintf("%q", op), "%x": fmt.Sprintf("%x", op),
		"%+v": fmt.Sprintf("%+v", op), "%#v": fmt.Sprintf("%#v", op), "%+v config": fmt.Sprintf("%+v", *cfg),
		"%v pointer": fmt.Sprintf("%v", &op), "yaml dump": string(dump), "json": string(js),
	}
	for how, out := range outputs {
		if strings.Contains(out, tok) {
			t.Errorf("%s reveals the token: %s", how, out)
		}
	}
	if !strings.Contains(string(dump), "token: <secret>") || !strings.Contains(outputs["%v"], "token: <secret>") {
		t.Errorf("the dump or the printed operation does not show the token as redacted:\n%s\n%s", dump, outputs["%v"])
	}
	if string(op.APIToken()) != tok {
		t.Error("APIToken does not return the token")
	}
}

// The example config shipped at the top of the repository must load.
func TestExampleConfig(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "config.example.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("example-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// token_file in the example is absolute; point it at the temporary one.
	text := strings.ReplaceAll(string(data), "/etc/wolkvox_exporter/token", filepath.Join(dir, "token"))
	if _, err := config.Parse([]byte(text), dir); err != nil {
		t.Fatal(err)
	}
}

// A reconcile block with one key keeps the other's default; a fixed offset from UTC
// is a time zone.
func TestReconcileDefaultsAndOffsetZone(t *testing.T) {
	cfg, err := config.Parse([]byte("operations:\n  - name: a\n    server: \"1\"\n    token: t\n    timezone: \"-05:00\"\n    reconcile: {after: 30m}\n"+
		"  - name: b\n    server: \"2\"\n    token: u\n    timezone: \"+05:45\"\n    reconcile: {enabled: false}\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Operations[0], cfg.Operations[1]
	if !a.Reconcile.Enabled || time.Duration(a.Reconcile.After) != 30*time.Minute {
		t.Errorf("a: reconcile %+v, want enabled after 30m", a.Reconcile)
	}
	if b.Reconcile.Enabled || time.Duration(b.Reconcile.After) != 2*time.Hour {
		t.Errorf("b: reconcile %+v, want disabled, after the default 2h", b.Reconcile)
	}
	when := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	if got := when.In(a.Location()).Format("15:04 -07:00"); got != "07:00 -05:00" {
		t.Errorf("-05:00 reads 12:00 UTC as %s", got)
	}
	if got := when.In(b.Location()).Format("15:04 -07:00"); got != "17:45 +05:45" {
		t.Errorf("+05:45 reads 12:00 UTC as %s", got)
	}
}

// An Operation built in code, not loaded, still has a time zone.
func TestLocationOfAnOperationBuiltInCode(t *testing.T) {
	for _, tc := range []struct{ timezone, want string }{
		{"", "America/Bogota"},
		{"America/Santiago", "America/Santiago"},
		{"-05:00", "UTC-05:00"},
		{"Not/AZone", "UTC"},
	} {
		op := config.Operation{Name: "code", Server: "1", Timezone: tc.timezone}
		if got := op.Location(); got == nil || got.String() != tc.want {
			t.Errorf("timezone %q: location %v, want %s", tc.timezone, got, tc.want)
		}
	}
}
