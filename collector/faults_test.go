package collector_test

import (
	"cmp"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// The fault suite runs every case as good answer -> faulty answer(s) -> good answer
// again, and checks after each step that the exporter kept its promises: a scrape
// answers in time, wolkvox_up is right, no counter goes down, each call is counted
// once under its result, a failed answer leaves the chat counters untouched, every
// chat served in a successful answer is counted exactly once, and the fault is logged
// in words an operator can act on.

// faultMinInterval is the min_interval of the fault configs; the clock moves by it
// between steps.
const faultMinInterval = 5 * time.Minute

// faultConfig is one operation whose retries after a failure are allowed after
// min_interval: max_backoff equals min_interval, so every step may call.
func faultConfig(token, requestTimeout, extra string) string {
	return `
operations:
  - name: main
    server: "0010"
    token: ` + token + `
    base_url: %s
    min_interval: 5m
    max_backoff: 5m
    overlap: 10m
    request_timeout: ` + requestTimeout + `
` + extra
}

// Scrapes in the suite announce a 2 s scrape timeout and the handler keeps 1 s of
// it, so a scrape waits at most 1 s for the API.
const (
	faultScrapeTimeout = "2"
	faultScrapeOffset  = time.Second
)

// faultChats are the good answers' chats: g0-g3 close before the first call (at
// startTime), g4-g7 between the fault and the recovery.
func faultChats() simulator.Chats {
	var cs simulator.Chats
	for i, m := range []int{-8, -6, -4, -2, 1, 3, 7, 9} {
		cs = append(cs, chat(fmt.Sprintf("g%d", i), startTime.Add(time.Duration(m)*time.Minute)))
	}
	return cs
}

// skipReasons restates the documented reasons of wolkvox_records_skipped_total.
var skipReasons = func() []string {
	out := []string{"conn_id_empty", "not_a_record"}
	for _, f := range []string{"answer_delay", "duration", "handle_time", "customer_characters", "agent_characters", "agent_messages"} {
		out = append(out, f+"_empty", f+"_invalid")
	}
	return out
}()

// eachField is one count per observation: every observed field skipped once.
func eachField(suffix string, n float64) map[string]float64 {
	out := map[string]float64{}
	for _, r := range skipReasons[1:] {
		if strings.HasSuffix(r, suffix) {
			out[r] = n
		}
	}
	return out
}

func mergeCounts(ms ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

// faultEnv is what a case's upstream may use.
type faultEnv struct {
	t     *testing.T
	token string
	// stop is closed when the test ends, so held handlers return.
	stop <-chan struct{}
	// scraped is closed once the scrape of the first faulty step has answered.
	scraped chan struct{}
	// headersRead is closed once the client has read the headers of a response
	// carrying signalHeader.
	headersRead chan struct{}
	// elsewhere records the requests that reached another host than the
	// configured one (see redirectElsewhere).
	elsewhere *headerLog
}

type headerLog struct {
	mu      sync.Mutex
	headers []http.Header
}

func (l *headerLog) add(h http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.headers = append(l.headers, h.Clone())
}

func (l *headerLog) all() []http.Header {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.headers)
}

// signalHeader marks a response whose headers the test wants to know were read.
const signalHeader = "X-Test-Signal"

// signalTransport closes headersRead when it hands the client a response that
// carries signalHeader.
type signalTransport struct {
	next        http.RoundTripper
	once        sync.Once
	headersRead chan struct{}
}

func (s *signalTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(r)
	if err == nil && resp.Header.Get(signalHeader) != "" {
		s.once.Do(func() { close(s.headersRead) })
	}
	return resp, err
}

// script answers the first call well, the next faultCalls calls with fault, and the
// rest well again.
type script struct {
	good, fault http.Handler
	faultCalls  int
	mu          sync.Mutex
	n           int
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := s.n
	s.n++
	s.mu.Unlock()
	if i >= 1 && i <= s.faultCalls {
		s.fault.ServeHTTP(w, r)
		return
	}
	s.good.ServeHTTP(w, r)
}

// recordKeys are the fields of a full record, in wire order.
var recordKeys = []string{
	"conn_id", "channel", "date", "skill_id", "agent_id", "agent_name", "cod_act", "description_cod_act",
	"feeling", "last_participant_who_spoke", "ASA", "chat_duration", "time_on_agent", "customer_chars",
	"agent_chars", "agent_anwers ",
}

// record is a full chat_1 record as JSON text. overrides are pairs of key and raw
// JSON value, written as is (so they may hold invalid UTF-8 or any JSON type); an
// empty value drops the key.
func record(id string, overrides ...string) string {
	vals := map[string]string{
		"conn_id": `"` + id + `"`, "channel": `"Web"`, "date": `"2026-11-23 09:50:00"`, "skill_id": `"12"`,
		"agent_id": `"7"`, "agent_name": `"Luis"`, "cod_act": `"SALE"`, "description_cod_act": `"Sale closed"`,
		"feeling": `"neutral"`, "last_participant_who_spoke": `"agent"`, "ASA": `"15"`, "chat_duration": `"00:09:00"`,
		"time_on_agent": `"480"`, "customer_chars": `"100"`, "agent_chars": `"200"`, "agent_anwers ": `"4"`, //nolint:gocritic // mapKey: the API's key has this trailing space
	}
	keys := slices.Clone(recordKeys)
	for i := 0; i+1 < len(overrides); i += 2 {
		if _, ok := vals[overrides[i]]; !ok {
			keys = append(keys, overrides[i])
		}
		vals[overrides[i]] = overrides[i+1]
	}
	var b strings.Builder
	b.WriteByte('{')
	for _, k := range keys {
		if vals[k] == "" {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", k, vals[k])
	}
	b.WriteByte('}')
	return b.String()
}

// answer is a documented 200 answer holding records (JSON text each).
func answer(records ...string) string {
	return fmt.Sprintf(`{"code":200,"error":null,"msg":"%d records were found","data":[%s]}`, len(records), strings.Join(records, ","))
}

func respond(status int, contentType, body string) func(*faultEnv) http.Handler {
	return func(*faultEnv) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if contentType != "" {
				w.Header().Set("Content-Type", contentType)
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		})
	}
}

const (
	jsonType = "application/json; charset=utf-8"
	htmlType = "text/html; charset=UTF-8"
)

func wolkvoxError(status int, text string) func(*faultEnv) http.Handler {
	return respond(status, jsonType, fmt.Sprintf(`{"code":%d,"error":%q,"msg":%q,"data":null}`, status, text, text))
}

const htmlPage = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>\n"

// hold blocks until the client gives up or the test ends.
func hold(env *faultEnv, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-env.stop:
	}
}

// hangBeforeHeaders never answers.
func hangBeforeHeaders(env *faultEnv) http.Handler {
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { hold(env, r) })
}

// hangMidBody sends one whole record, then nothing more.
func hangMidBody(env *faultEnv) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", jsonType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"code":200,"error":null,"data":[` + record("hang-1") + `,`))
		_ = http.NewResponseController(w).Flush()
		hold(env, r)
	})
}

// trickle sends a valid answer one byte a second.
func trickle(env *faultEnv) http.Handler {
	body := answer(record("trickle-1"))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", jsonType)
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := range len(body) {
			if _, err := w.Write([]byte{body[i]}); err != nil || rc.Flush() != nil {
				return
			}
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			case <-env.stop:
				return
			}
		}
	})
}

// answerAfterScrape holds the call until the scrape that started it has answered,
// then fails it with a 503: the scrape must not wait for the call.
func answerAfterScrape(env *faultEnv) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-env.scraped:
		case <-env.stop:
			return
		}
		w.Header().Set("Content-Type", htmlType)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html><body>Service Unavailable</body></html>"))
	})
}

// resetMidBody sends the headers and part of a longer body, waits until the client
// has read the headers, then resets the connection.
func resetMidBody(env *faultEnv) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			env.t.Error(err)
			return
		}
		defer func() { _ = conn.Close() }()
		body := `{"code":200,"error":null,"data":[` + record("reset-1") + `,` + record("reset-2")[:30]
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%s: 1\r\nContent-Length: %d\r\n\r\n%s",
			jsonType, signalHeader, len(body)+10000, body)
		select {
		case <-env.headersRead:
		case <-env.stop:
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // Close sends a reset
		}
	})
}

// redirectElsewhere redirects every call to a second server, which records what it
// receives and would answer with a chat.
func redirectElsewhere(env *faultEnv) http.Handler {
	env.elsewhere = &headerLog{}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.elsewhere.add(r.Header)
		w.Header().Set("Content-Type", jsonType)
		_, _ = w.Write([]byte(answer(record("elsewhere-1"))))
	}))
	env.t.Cleanup(other.Close)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	})
}

// manySkills is one answer with n chats, each with a skill of its own.
func manySkills(n int) (string, []string) {
	var b strings.Builder
	ids := make([]string, n)
	b.WriteString(`{"code":200,"error":null,"data":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		ids[i] = fmt.Sprintf("k%d", i)
		fmt.Fprintf(&b, `{"conn_id":"k%d","channel":"WhatsApp","skill_id":"s%d"}`, i, i)
	}
	b.WriteString(`]}`)
	return b.String(), ids
}

type faultCase struct {
	name string
	// fault answers the faulty calls.
	fault func(*faultEnv) http.Handler
	// calls is how many calls in a row get the fault; 0 means 1.
	calls          int
	requestTimeout string // "" means 10s
	extraConfig    string // more keys of the operation, each line indented by 4
	opts           []collector.Option

	wantUp     float64
	wantResult wolkvox.Result
	// wantLog is a phrase of the line that logs the fault, at level warn or error
	// if warns is set.
	wantLog string
	warns   bool
	// counted are the conn_ids the faulty answers add, when they succeed.
	counted []string
	// wantSkipped is what the faulty answers add to wolkvox_records_skipped_total,
	// by reason (absent: 0), unless anySkips is set.
	wantSkipped map[string]float64
	anySkips    bool
	// guard runs after each call, before anything gathers the metrics: a case whose
	// failure would make gathering very slow fails fast there.
	guard func(t *testing.T, h *harness)
	// check runs more assertions at the end.
	check func(t *testing.T, h *harness, env *faultEnv)
}

func faultCases() []faultCase {
	hugeBody, hugeIDs := manySkills(100000)
	return []faultCase{
		{
			name: "no answer before request_timeout", fault: hangBeforeHeaders, requestTimeout: "3s",
			wantResult: wolkvox.ResultTimeout, wantLog: "timeout: no complete answer before the request timeout", warns: true,
		},
		{
			name: "body hangs after one record", fault: hangMidBody, requestTimeout: "3s",
			wantResult: wolkvox.ResultTimeout, wantLog: "timeout: no complete answer before the request timeout", warns: true,
		},
		{
			name: "body trickles one byte a second", fault: trickle, requestTimeout: "3s",
			wantResult: wolkvox.ResultTimeout, wantLog: "timeout: no complete answer before the request timeout", warns: true,
		},
		{
			// The upstream answers only once the scrape has answered, and the call may
			// last longer than the scrape deadline: a scrape that waits for it fails.
			name: "scrape does not wait for a hanging call", fault: answerAfterScrape, requestTimeout: "15s",
			wantResult: wolkvox.ResultHTTPError, wantLog: "HTTP 503: answer is not Wolkvox JSON", warns: true,
		},
		{
			name: "connection reset mid-body", fault: resetMidBody,
			wantResult: wolkvox.ResultHTTPError, wantLog: "connection failed during the answer: read tcp", warns: true,
		},
		{
			name: "truncated JSON", fault: respond(200, jsonType, `{"code":200,"error":null,"data":[`+record("cut-1")+`,{"conn_id":"cut-2","chan`),
			wantResult: wolkvox.ResultDecodeError, wantLog: "HTTP 200: record 2: answer ends early", warns: true,
		},
		{
			name: "HTML error page with status 200", fault: respond(200, htmlType, htmlPage),
			wantResult: wolkvox.ResultDecodeError, wantLog: "HTTP 200: answer is not a JSON object", warns: true,
		},
		{
			name: "HTTP 500 with an empty body", fault: respond(500, "", ""),
			wantResult: wolkvox.ResultHTTPError, wantLog: "HTTP 500: answer is not Wolkvox JSON: (empty body)", warns: true,
		},
		{
			name: "HTTP 502 HTML page from a proxy", fault: respond(502, htmlType, htmlPage),
			wantResult: wolkvox.ResultHTTPError, wantLog: `HTTP 502: answer is not Wolkvox JSON: \"<!DOCTYPE html>`, warns: true,
		},
		{
			name: "HTTP 503 plain text", fault: respond(503, "text/plain", "upstream connect error or disconnect/reset before headers"),
			wantResult: wolkvox.ResultHTTPError, wantLog: "HTTP 503: answer is not Wolkvox JSON", warns: true,
		},
		{
			name: "HTTP 500 with a Wolkvox error", fault: wolkvoxError(500, "INTERNAL SERVER ERROR"),
			wantResult: wolkvox.ResultAPIError, wantLog: "api_error: HTTP 500: INTERNAL SERVER ERROR", warns: true,
		},
		{
			name: "401 PLEASE ENTER THE WOLKVOX-TOKEN", fault: wolkvoxError(401, "PLEASE ENTER THE WOLKVOX-TOKEN"),
			wantResult: wolkvox.ResultUnauthorized, wantLog: "unauthorized: HTTP 401: PLEASE ENTER THE WOLKVOX-TOKEN", warns: true,
		},
		{
			name: "401 without a body", fault: respond(401, "", ""),
			wantResult: wolkvox.ResultUnauthorized, wantLog: "unauthorized: HTTP 401", warns: true,
		},
		{
			name: "403 TOKEN LIMIT EXCEEDED", fault: wolkvoxError(403, "TOKEN LIMIT EXCEEDED"),
			wantResult: wolkvox.ResultQuotaExceeded, wantLog: "quota_exceeded: HTTP 403: TOKEN LIMIT EXCEEDED", warns: true,
		},
		{
			name: "403 EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS", fault: wolkvoxError(403, "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"),
			wantResult: wolkvox.ResultConcurrencyLimited, wantLog: "concurrency_limited: HTTP 403: EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)", warns: true,
		},
		{
			name: "403 PLEASE VALIDATE TOKEN", fault: wolkvoxError(403, "PLEASE VALIDATE TOKEN"),
			wantResult: wolkvox.ResultUnauthorized, wantLog: "unauthorized: HTTP 403: PLEASE VALIDATE TOKEN", warns: true,
		},
		{
			name: "403 HTML page during the vendor's backups", fault: respond(403, htmlType, "<html><body><h1>403 Forbidden</h1></body></html>"),
			wantResult: wolkvox.ResultHTTPError, wantLog: "http_error: HTTP 403: answer is not Wolkvox JSON", warns: true,
		},
		{
			// No chat closed in the window: a success that moves the window.
			name: "404 empty window", fault: respond(404, jsonType, `{"code":"404","error":"Validate dates entered","msg":"Validate dates entered","data":[]}`),
			wantUp: 1, wantResult: wolkvox.ResultEmpty, wantLog: "result=empty records=0",
		},
		{
			name: "404 HTML page", fault: respond(404, htmlType, "<html><head><title>404 Not Found</title></head><body>Not Found</body></html>"),
			wantResult: wolkvox.ResultHTTPError, wantLog: "http_error: HTTP 404: answer is not Wolkvox JSON", warns: true,
		},
		{
			name: "400 THE API YOU WANT TO CONSULT DOES NOT EXIST", fault: wolkvoxError(400, "THE API YOU WANT TO CONSULT DOES NOT EXIST"),
			wantResult: wolkvox.ResultAPIError, wantLog: "api_error: HTTP 400: THE API YOU WANT TO CONSULT DOES NOT EXIST", warns: true,
		},
		{
			name: "200 carrying TOKEN LIMIT EXCEEDED", fault: respond(200, jsonType, `{"code":403,"error":"TOKEN LIMIT EXCEEDED","msg":"TOKEN LIMIT EXCEEDED","data":null}`),
			wantResult: wolkvox.ResultQuotaExceeded, wantLog: "quota_exceeded: HTTP 200: code 403: TOKEN LIMIT EXCEEDED", warns: true,
		},
		{
			// The records come before the code: they must not count.
			name: "200 carrying code 500 after records", fault: respond(200, jsonType, `{"data":[`+record("e-1")+`],"code":"500","msg":"report failed"}`),
			wantResult: wolkvox.ResultAPIError, wantLog: "api_error: HTTP 200: code 500: report failed", warns: true,
		},
		{
			name: "200 carrying code 404 Validate dates entered", fault: respond(200, jsonType, `{"code":"404","error":"Validate dates entered","data":[]}`),
			wantUp: 1, wantResult: wolkvox.ResultEmpty, wantLog: "result=empty records=0",
		},
		{
			// Numbers where strings are expected are read as their text; anything else
			// skips only that observation, and the record still counts.
			name: "wrong JSON types",
			fault: respond(200, jsonType, answer(
				record("w-num", "skill_id", `12`, "ASA", `15`, "chat_duration", `540`, "time_on_agent", `480.5`,
					"customer_chars", `100`, "agent_chars", `200`, "agent_anwers ", `4`),
				record("w-obj", "channel", `{"name":"Web"}`, "feeling", `["neutral"]`, "ASA", `{"seconds":15}`,
					"chat_duration", `["00:09:00"]`, "time_on_agent", `true`, "customer_chars", `{"n":1}`,
					"agent_chars", `[200]`, "agent_anwers ", `{"x":null}`, "date", `{"y":2026}`),
				`{"conn_id":9001}`,
				record("w-5", "conn_id", `{"id":"w-5"}`),
				record("g1", "channel", `["Web"]`, "ASA", `false`), // counted in the first answer
			)),
			wantUp: 1, wantResult: wolkvox.ResultSuccess, wantLog: "result=success records=5",
			counted:     []string{"w-num", "w-obj", "9001", `{"id":"w-5"}`},
			wantSkipped: mergeCounts(eachField("_invalid", 1), eachField("_empty", 1)),
			check: func(t *testing.T, h *harness, _ *faultEnv) {
				t.Helper()
				// w-num and w-5: numbers read as values.
				if got := h.value("wolkvox_chat_customer_characters_total", map[string]string{"channel": "web", "skill": "12"}); got != 200 {
					t.Errorf("customer characters of web/12 = %v, want 200 (100 as a number, 100 as a string)", got)
				}
				if got := h.value("wolkvox_chat_handle_time_seconds", map[string]string{"channel": "web", "skill": "12"}); got != 2 {
					t.Errorf("handle time observations of web/12 = %v, want 2", got)
				}
			},
		},
		{
			// Elements of data that are not records, valid JSON all, staying in the
			// window call after call: each is skipped and counted every time, and every
			// record around them counts once.
			name: "elements that are not records", calls: 3,
			fault:  respond(200, jsonType, answer(record("o-1"), `"o-2"`, `42`, `[{"conn_id":"o-x"}]`, `true`, record("o-3"))),
			wantUp: 1, wantResult: wolkvox.ResultSuccess, wantLog: "result=success records=2 not_records=4",
			counted:     []string{"o-1", "o-3"},
			wantSkipped: map[string]float64{"not_a_record": 4 * 3},
		},
		{
			name: "invalid UTF-8", extraConfig: "    agent_metrics: true\n",
			fault: respond(200, jsonType, answer(
				record("u-1", "channel", "\"Whats\xffApp\"", "agent_name", "\"Lu\xc3\x28s\"", "cod_act", "\"SA\xfe\xffLE\"",
					"description_cod_act", "\"Sale \xed\xa0\x80 closed\"", "feeling", "\"neu\xfftral\"", "skill_id", "\"1\xff2\""),
				record("u-\xff\xfe"),
				record("u-\xff\xfe", "channel", `"Facebook"`), // the same chat again
				record("u-3", "ASA", "\"1\xff5\""),
			)),
			wantUp: 1, wantResult: wolkvox.ResultSuccess, wantLog: "result=success records=4",
			counted:     []string{"u-1", "u-\xff\xfe", "u-3"},
			wantSkipped: map[string]float64{"answer_delay_invalid": 1},
			check: func(t *testing.T, h *harness, _ *faultEnv) {
				t.Helper()
				if got := h.value("wolkvox_chats_total", map[string]string{"channel": "facebook"}); got == got && got != 0 {
					t.Errorf("the repeated chat counted again under its second channel: %v", got)
				}
			},
		},
		{
			name: "body over max_response_size", extraConfig: "    max_response_size: 64KiB\n",
			fault: func(env *faultEnv) http.Handler {
				recs := make([]string, 300)
				for i := range recs {
					recs[i] = record(fmt.Sprintf("big-%d", i), "comments", `"`+strings.Repeat("x", 200)+`"`)
				}
				return respond(200, jsonType, answer(recs...))(env)
			},
			wantResult: wolkvox.ResultDecodeError, wantLog: "answer exceeds max_response_size", warns: true,
		},
		{
			name:   "record with every field missing",
			fault:  respond(200, jsonType, answer(`{}`, `{"conn_id":"m-1"}`, `null`, `{"conn_id":"   "}`, `{"conn_id":null}`)),
			wantUp: 1, wantResult: wolkvox.ResultSuccess, wantLog: "result=success records=4",
			counted:     []string{"m-1"},
			wantSkipped: mergeCounts(map[string]float64{"conn_id_empty": 3}, eachField("_empty", 1)),
			check: func(t *testing.T, h *harness, _ *faultEnv) {
				t.Helper()
				unknown := map[string]string{"channel": "unknown", "skill": "unknown", "feeling": "unknown", "last_participant": "unknown"}
				if got := h.value("wolkvox_chats_total", unknown); got != 1 {
					t.Errorf("chats with every label unknown = %v, want 1", got)
				}
				if got := h.value("wolkvox_chat_dispositions_total", map[string]string{"code": "unknown", "description": "unknown"}); got != 1 {
					t.Errorf("dispositions unknown = %v, want 1", got)
				}
			},
		},
		{
			name: "100000 distinct skill values", fault: respond(200, jsonType, hugeBody),
			requestTimeout: "3m", opts: []collector.Option{collector.WithRecordCap(1000000)},
			wantUp: 1, wantResult: wolkvox.ResultSuccess, wantLog: "result=success records=100000",
			counted: hugeIDs, wantSkipped: eachField("_empty", 100000),
			guard: func(t *testing.T, h *harness) {
				t.Helper()
				if n := testutil.CollectAndCount(h.coll, "wolkvox_chats_total"); n > 2*101 {
					t.Fatalf("wolkvox_chats_total has %d series: the label cap did not hold", n)
				}
			},
			check: func(t *testing.T, h *harness, _ *faultEnv) {
				t.Helper()
				// max_label_values is 100: "12" from the good answers, s0-s98, then "other".
				skills := map[string]float64{}
				for _, m := range h.families()["wolkvox_chats_total"].GetMetric() {
					skills[labelValue(m, "skill")] += metricValue(m)
				}
				if len(skills) != 101 || skills["other"] != 100000-99 || skills["s98"] != 1 || skills["s99"] != 0 {
					t.Errorf("%d skill values (want 101), other = %v (want %d)", len(skills), skills["other"], 100000-99)
				}
				for name, mf := range h.families() {
					if n := len(mf.GetMetric()); n > 2*101 {
						t.Errorf("%s has %d series: the label cap did not hold", name, n)
					}
				}
			},
		},
		{
			name: "negative durations and counts",
			fault: respond(200, jsonType, answer(
				record("n-1", "ASA", `"-5"`, "chat_duration", `"-00:01:00"`, "time_on_agent", `"-1e3"`,
					"customer_chars", `"-3"`, "agent_chars", `"-0.5"`, "agent_anwers ", `"-1"`),
				record("n-2", "ASA", `"00:00:-5"`, "chat_duration", `"-Inf"`, "time_on_agent", `-480`,
					"customer_chars", `"-1e9"`, "agent_chars", `"-Infinity"`, "agent_anwers ", `"- 7"`),
			)),
			wantUp: 1, wantResult: wolkvox.ResultSuccess, wantLog: "result=success records=2",
			counted: []string{"n-1", "n-2"}, wantSkipped: eachField("_invalid", 2),
			check: func(t *testing.T, h *harness, _ *faultEnv) {
				t.Helper()
				if got := h.value("wolkvox_chat_duration_seconds", map[string]string{"channel": "web"}); got != 0 {
					t.Errorf("%v negative durations observed", got)
				}
				if got := h.value("wolkvox_chat_customer_characters_total", map[string]string{"channel": "web"}); got != 0 {
					t.Errorf("negative character counts added %v", got)
				}
			},
		},
		{
			// Finite, non-negative values in the API's formats. Whether they are
			// observed is a plausibility decision left open here (see the report); a
			// sum must stay finite either way.
			name: "absurd durations and counts",
			fault: respond(200, jsonType, answer(
				record("a-1", "ASA", `"999:59:59"`, "chat_duration", `"1e12"`, "time_on_agent", `"100000:00:00"`,
					"customer_chars", `"1e15"`, "agent_chars", `"99999999999"`, "agent_anwers ", `"1e6"`),
				record("a-2", "chat_duration", `"8760:00:00"`, "ASA", `"86399.999"`),
			)),
			wantUp: 1, wantResult: wolkvox.ResultSuccess, wantLog: "result=success records=2",
			counted: []string{"a-1", "a-2"}, anySkips: true,
		},
		{
			// The date field is not used for counting: any form, or none, counts once.
			name: "dates in other formats",
			fault: respond(200, jsonType, answer(
				record("dt-1", "date", `"2026/11/23 09:50:00"`),
				record("dt-2", "date", `"23-11-2026 09:50"`),
				record("dt-3", "date", `"2026-11-23-09"`),
				record("dt-4", "date", `"20261123095000"`),
				record("dt-5", "date", `"2026-11-23T09:50:00-05:00"`),
				record("dt-6", "date", `""`),
				record("dt-7", "date", `"ayer a las 9"`),
				record("dt-8", "date", `1795445400`),
				record("dt-9", "date", `{"date":"2026-11-23"}`),
				record("dt-10", "date", ""),
				record("g2", "date", `"2026-11-22 09:58:00"`), // counted in the first answer, other date
			)),
			wantUp: 1, wantResult: wolkvox.ResultSuccess, wantLog: "result=success records=11",
			counted: []string{"dt-1", "dt-2", "dt-3", "dt-4", "dt-5", "dt-6", "dt-7", "dt-8", "dt-9", "dt-10"},
			check: func(t *testing.T, h *harness, _ *faultEnv) {
				t.Helper()
				if got := h.value("wolkvox_chats_total", map[string]string{"channel": "web"}); got != 10 {
					t.Errorf("%v chats with odd dates counted, want 10", got)
				}
			},
		},
		{
			// The same answer twice in a row: duplicates within each, and across them
			// and the first answer, count once, under the labels first seen.
			name: "duplicates within and across answers", calls: 2,
			fault: respond(200, jsonType, answer(
				record("d-1"),
				record("d-1", "channel", `"Facebook"`),
				record(" d-1 ", "channel", `"Facebook"`),
				record("d-2"),
				record("g1", "channel", `"Instagram"`),
				record("g1", "channel", `"Instagram"`),
			)),
			wantUp: 1, wantResult: wolkvox.ResultSuccess, wantLog: "result=success records=6",
			counted: []string{"d-1", "d-2"},
			check: func(t *testing.T, h *harness, _ *faultEnv) {
				t.Helper()
				for _, ch := range []string{"facebook", "instagram"} {
					if got := h.value("wolkvox_chats_total", map[string]string{"channel": ch}); got == got && got != 0 {
						t.Errorf("a repeated chat counted again under channel %s: %v", ch, got)
					}
				}
				if got := h.value("wolkvox_chats_total", map[string]string{"channel": "web"}); got != 2 {
					t.Errorf("web chats = %v, want 2 (d-1, d-2)", got)
				}
			},
		},
		{
			name: "redirect to another host", fault: redirectElsewhere,
			wantResult: wolkvox.ResultHTTPError, wantLog: "refused redirect to http://127.0.0.1:", warns: true,
			check: func(t *testing.T, _ *harness, env *faultEnv) {
				t.Helper()
				for _, hdr := range env.elsewhere.all() {
					for k, vs := range hdr {
						for _, v := range vs {
							if strings.Contains(v, env.token) {
								t.Errorf("the other host received the token in header %s", k)
							}
						}
					}
				}
				if n := len(env.elsewhere.all()); n != 0 {
					t.Errorf("the other host received %d requests", n)
				}
			},
		},
	}
}

func TestFaults(t *testing.T) {
	for i, tc := range faultCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own token, so its calls never wait for another's
			runFault(t, tc, fmt.Sprintf("tok-fault-%02d-do-not-leak", i))
		})
	}
}

func runFault(t *testing.T, tc faultCase, token string) {
	t.Helper()
	stop := make(chan struct{})
	env := &faultEnv{t: t, token: token, stop: stop, scraped: make(chan struct{}), headersRead: make(chan struct{})}
	sim := simulator.NewServer(faultChats(), simulator.Options{Token: token})
	calls := max(tc.calls, 1)
	upstream := &script{good: sim, fault: tc.fault(env), faultCalls: calls}
	transport := &signalTransport{next: http.DefaultTransport.(*http.Transport).Clone(), headersRead: env.headersRead}
	opts := append([]collector.Option{collector.WithNewSeriesHold(0), collector.WithTransport(transport)}, tc.opts...)
	h := newHarness(t, upstream, faultConfig(token, cmp.Or(tc.requestTimeout, "10s"), tc.extraConfig), opts...)
	t.Cleanup(func() { close(stop) }) // runs before the upstream closes, so held handlers return

	var scrapes []string
	// step serves a scrape (which must answer in time whatever the upstream does),
	// then waits for the call it started, however long the machine's load makes it.
	step := func(afterScrape func()) map[string]float64 {
		t.Helper()
		scrapes = append(scrapes, h.scrape(faultScrapeOffset, faultScrapeTimeout))
		if afterScrape != nil {
			afterScrape()
		}
		h.refreshWithin(3 * time.Minute)
		if tc.guard != nil {
			tc.guard(t, h)
		}
		return h.counters()
	}
	// scrapedUp checks wolkvox_up as a scrape shows it. No call is due between
	// steps, so the scrape shows the state the last call left.
	scrapedUp := func(step string, want float64) {
		t.Helper()
		body := h.scrape(faultScrapeOffset, faultScrapeTimeout)
		scrapes = append(scrapes, body)
		if line := fmt.Sprintf("wolkvox_up{operation=\"main\"} %v\n", want); !strings.Contains(body, line) {
			t.Errorf("%s: the scrape does not show %s", step, strings.TrimSpace(line))
		}
	}
	requests := func(result wolkvox.Result) float64 {
		return h.value("wolkvox_api_requests_total", map[string]string{"result": string(result)})
	}
	skipped := func() map[string]float64 {
		out := map[string]float64{}
		for _, r := range skipReasons {
			out[r] = h.value("wolkvox_records_skipped_total", map[string]string{"reason": r})
		}
		return out
	}

	// 1. A good answer: g0-g3.
	c0 := step(nil)
	if up := h.value("wolkvox_up", nil); up != 1 {
		t.Fatalf("up = %v after the first good answer", up)
	}
	scrapedUp("first good answer", 1)
	firstWindow := h.upstream.Windows()[0]
	servedBefore := distinctIDs(sim.Served())
	if got := h.sum("wolkvox_chats_total"); got != float64(len(servedBefore)) || len(servedBefore) != 4 {
		t.Fatalf("first answer: %v chats counted, %d served", got, len(servedBefore))
	}

	// 2. The fault, calls times in a row.
	mark := h.logMark()
	callsBefore, resultBefore, allBefore, skippedBefore := h.requests(), requests(tc.wantResult), h.sum("wolkvox_api_requests_total"), skipped()
	prev := c0
	for i := range calls {
		h.clock.Advance(faultMinInterval)
		var afterScrape func()
		if i == 0 {
			afterScrape = func() { close(env.scraped) }
		}
		cur := step(afterScrape)
		assertNotDecreased(t, fmt.Sprintf("faulty call %d", i+1), prev, cur)
		if tc.wantUp == 0 {
			assertChatStateUnchanged(t, fmt.Sprintf("faulty call %d", i+1), c0, cur)
		}
		if up := h.value("wolkvox_up", nil); up != tc.wantUp {
			t.Errorf("faulty call %d: up = %v, want %v", i+1, up, tc.wantUp)
		}
		scrapedUp(fmt.Sprintf("faulty call %d", i+1), tc.wantUp)
		prev = cur
	}
	if got := h.requests() - callsBefore; got != calls {
		t.Fatalf("%d calls reached the upstream during the fault, want %d", got, calls)
	}
	if got := requests(tc.wantResult) - resultBefore; got != float64(calls) {
		t.Errorf("wolkvox_api_requests_total{result=%q} rose by %v, want %d", tc.wantResult, got, calls)
	}
	if got := h.sum("wolkvox_api_requests_total") - allBefore; got != float64(calls) {
		t.Errorf("wolkvox_api_requests_total rose by %v in all, want %d: each call counts once", got, calls)
	}
	if !tc.anySkips {
		after := skipped()
		for _, r := range skipReasons {
			if got, want := after[r]-skippedBefore[r], tc.wantSkipped[r]; got != want {
				t.Errorf("records_skipped_total{reason=%q} rose by %v, want %v", r, got, want)
			}
		}
	}
	want := union(servedBefore, tc.counted)
	if got := h.sum("wolkvox_chats_total"); got != float64(len(want)) {
		t.Errorf("after the fault: %v chats counted, want %d", got, len(want))
	}
	logs := h.logsSince(mark)
	if line := lineWith(logs, tc.wantLog); line == "" {
		t.Errorf("no log line says %q; logged:\n%s", tc.wantLog, logs)
	} else if !strings.Contains(line, "operation=main") {
		t.Errorf("the fault is logged without the operation: %s", line)
	} else if tc.warns && !strings.Contains(line, "level=warn") && !strings.Contains(line, "level=error") {
		t.Errorf("the fault is logged below warn: %s", line)
	}

	// 3. Good answers again, over a window that re-reads chats already counted.
	if tc.wantResult == wolkvox.ResultQuotaExceeded {
		// No call is due before the next midnight in the operation's zone.
		h.clock.Advance(nextMidnight(h.clock.Now(), bogota).Add(faultMinInterval).Sub(h.clock.Now()))
	} else {
		h.clock.Advance(faultMinInterval)
	}
	successBefore := requests(wolkvox.ResultSuccess)
	c2 := step(nil)
	assertNotDecreased(t, "recovery", prev, c2)
	if up := h.value("wolkvox_up", nil); up != 1 {
		t.Errorf("recovery: up = %v, want 1", up)
	}
	scrapedUp("recovery", 1)
	if got := requests(wolkvox.ResultSuccess) - successBefore; got != 1 {
		t.Errorf("recovery: success rose by %v, want 1", got)
	}
	ws := h.upstream.Windows()
	if last := ws[len(ws)-1]; tc.wantUp == 0 && last.from != firstWindow.from {
		t.Errorf("the window start moved during the failure: first %v, recovery %v", firstWindow, last)
	}
	served := sim.Served()
	if calls == 1 && len(served) <= len(distinctIDs(served)) {
		t.Fatalf("the good answers served %d records for %d chats: the windows did not overlap", len(served), len(distinctIDs(served)))
	}
	want = union(distinctIDs(served), tc.counted)
	if got := h.sum("wolkvox_chats_total"); got != float64(len(want)) {
		t.Errorf("after recovery: %v chats counted, want %d (each chat served in a successful answer, once)", got, len(want))
	}
	assertFinite(t, h)
	for where, text := range map[string]string{"logs": h.logs.String(), "scrapes": strings.Join(scrapes, "\n")} {
		if strings.Contains(text, token) {
			t.Errorf("the token appears in the %s", where)
		}
	}
	if tc.check != nil {
		tc.check(t, h, env)
	}
}

func distinctIDs(chats []simulator.Chat) []string {
	var ids []string
	seen := map[string]bool{}
	for _, c := range chats {
		if !seen[c.ConnID] {
			seen[c.ConnID] = true
			ids = append(ids, c.ConnID)
		}
	}
	return ids
}

func union(a, b []string) map[string]bool {
	out := map[string]bool{}
	for _, s := range append(slices.Clone(a), b...) {
		out[s] = true
	}
	return out
}

func lineWith(logs, phrase string) string {
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, phrase) {
			return line
		}
	}
	return ""
}

func labelValue(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// nextMidnight is the first midnight in loc after t.
func nextMidnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// assertNotDecreased fails for a counter or histogram count that went down or
// vanished between two snapshots.
func assertNotDecreased(t *testing.T, step string, before, after map[string]float64) {
	t.Helper()
	for k, v := range before {
		if got, ok := after[k]; !ok {
			t.Errorf("%s: %s vanished", step, k)
		} else if got < v {
			t.Errorf("%s: %s went down from %v to %v", step, k, v, got)
		}
	}
}

// assertChatStateUnchanged fails if a failed call changed anything but the API
// metrics: its records must leave no trace.
func assertChatStateUnchanged(t *testing.T, step string, before, after map[string]float64) {
	t.Helper()
	for k, v := range after {
		if strings.HasPrefix(k, "wolkvox_api_") {
			continue
		}
		if was, ok := before[k]; !ok {
			t.Errorf("%s: a failed call added %s = %v", step, k, v)
		} else if was != v {
			t.Errorf("%s: a failed call changed %s from %v to %v", step, k, was, v)
		}
	}
}

// assertFinite fails for any sample, histogram sum included, that is not finite.
func assertFinite(t *testing.T, h *harness) {
	t.Helper()
	for name, mf := range h.families() {
		for _, m := range mf.GetMetric() {
			v := metricValue(m)
			if m.Histogram != nil {
				v = m.GetHistogram().GetSampleSum()
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				var labels []string
				for _, lp := range m.GetLabel() {
					labels = append(labels, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
				}
				t.Errorf("%s{%s} is %v", name, strings.Join(labels, ","), v)
			}
		}
	}
}

// backoffGauge is the Unix time before which an operation makes no call.
const backoffGauge = "wolkvox_api_backoff_until_timestamp_seconds"

// After TOKEN LIMIT EXCEEDED the quota is spent for the day: no call is made until
// the next midnight in the operation's time zone, and the backoff gauge says when.
func TestFaultQuotaWaitsForMidnight(t *testing.T) {
	const token = "tok-fault-quota-midnight"
	sim := simulator.NewServer(faultChats(), simulator.Options{Token: token})
	upstream := &script{good: sim, fault: wolkvoxError(403, "TOKEN LIMIT EXCEEDED")(nil), faultCalls: 1}
	h := newHarness(t, upstream, faultConfig(token, "10s", ""), collector.WithNewSeriesHold(0))

	h.refresh() // 10:00 Bogota: a good answer
	h.clock.Advance(faultMinInterval)
	h.refresh() // 10:05: TOKEN LIMIT EXCEEDED
	if got := h.value("wolkvox_api_requests_total", map[string]string{"result": "quota_exceeded"}); got != 1 {
		t.Fatalf("quota_exceeded = %v, want 1", got)
	}
	midnight := nextMidnight(h.clock.Now(), bogota) // 2026-11-24 00:00 Bogota
	switch got := h.value(backoffGauge, nil); {
	case math.IsNaN(got):
		t.Errorf("PENDING (backoff change): %s is not exposed; want %v, the next midnight in Bogota", backoffGauge, midnight.Unix())
	case got != float64(midnight.Unix()):
		t.Errorf("%s = %v, want %v (next midnight in Bogota)", backoffGauge, got, midnight.Unix())
	}

	calls := h.requests()
	for _, at := range []time.Time{
		h.clock.Now().Add(30*time.Minute + time.Second), // past the old fixed 30-minute pause
		midnight.Add(-time.Second),
	} {
		h.clock.Advance(at.Sub(h.clock.Now()))
		h.refresh()
		if got := h.requests(); got != calls {
			t.Errorf("PENDING (backoff change): a call at %s Bogota, after TOKEN LIMIT EXCEEDED and before the next midnight in the operation's zone",
				at.In(bogota).Format(time.DateTime))
			calls = got
		}
	}

	h.clock.Advance(midnight.Add(faultMinInterval).Sub(h.clock.Now()))
	h.refresh()
	if got := h.requests(); got != calls+1 {
		t.Errorf("%d calls after midnight, want 1", got-calls)
	}
	if up := h.value("wolkvox_up", nil); up != 1 {
		t.Errorf("up = %v after midnight, want 1", up)
	}
	if got := h.value(backoffGauge, nil); got != 0 {
		t.Errorf("PENDING (backoff change): %s = %v after a success, want 0", backoffGauge, got)
	}
	if got, want := h.sum("wolkvox_chats_total"), float64(len(distinctIDs(sim.Served()))); got != want || want != 8 {
		t.Errorf("%v chats counted, %v served", got, want)
	}
}

// A token the API refuses is logged when it starts being refused and when it works
// again, not at every scrape in between.
func TestFaultUnauthorizedLogsOncePerStateChange(t *testing.T) {
	for i, text := range []string{"PLEASE ENTER THE WOLKVOX-TOKEN", "PLEASE VALIDATE TOKEN"} {
		status := []int{401, 403}[i]
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			token := fmt.Sprintf("tok-fault-log-once-%d", status)
			sim := simulator.NewServer(faultChats(), simulator.Options{Token: token})
			const failures = 3
			upstream := &script{good: sim, fault: wolkvoxError(status, text)(nil), faultCalls: failures}
			h := newHarness(t, upstream, faultConfig(token, "10s", ""), collector.WithNewSeriesHold(0))
			h.refresh()

			mark := h.logMark()
			for range failures {
				h.clock.Advance(faultMinInterval)
				h.refresh()
				if up := h.value("wolkvox_up", nil); up != 0 {
					t.Fatalf("up = %v while the token is refused", up)
				}
			}
			if got := h.value("wolkvox_api_requests_total", map[string]string{"result": "unauthorized"}); got != failures {
				t.Fatalf("unauthorized = %v, want %d", got, failures)
			}
			lines := nonDebugLines(h.logsSince(mark))
			if len(lines) != 1 {
				t.Errorf("PENDING (log once per state change): %d lines above debug for %d refused calls in a row, want 1:\n%s",
					len(lines), failures, strings.Join(lines, "\n"))
			}
			if len(lines) == 0 || !strings.Contains(lines[0], text) || !strings.Contains(lines[0], "operation=main") {
				t.Errorf("the first refused call is not logged with the operation and %q:\n%s", text, strings.Join(lines, "\n"))
			}

			mark = h.logMark()
			h.clock.Advance(faultMinInterval)
			h.refresh()
			if up := h.value("wolkvox_up", nil); up != 1 {
				t.Fatalf("up = %v after the token works again", up)
			}
			if lines := nonDebugLines(h.logsSince(mark)); len(lines) != 1 {
				t.Errorf("PENDING (log once per state change): %d lines above debug when calls succeed again, want 1 saying so:\n%s",
					len(lines), strings.Join(lines, "\n"))
			}
			mark = h.logMark()
			h.clock.Advance(faultMinInterval)
			h.refresh()
			if lines := nonDebugLines(h.logsSince(mark)); len(lines) != 0 {
				t.Errorf("%d lines above debug for a second success in a row, want none:\n%s", len(lines), strings.Join(lines, "\n"))
			}
		})
	}
}

func nonDebugLines(logs string) []string {
	var out []string
	for line := range strings.SplitSeq(logs, "\n") {
		if line != "" && !strings.Contains(line, "level=debug") {
			out = append(out, line)
		}
	}
	return out
}

// Values the parsers accept must not push a sum to infinity: a counter or
// histogram sum at +Inf stays there until the exporter restarts, and every rate()
// over it is NaN.
func TestFaultHugeValuesKeepSumsFinite(t *testing.T) {
	huge := func(id string) string {
		return record(id, "ASA", `"1e308"`, "chat_duration", `"1.7e308"`, "time_on_agent", `"1e308"`,
			"customer_chars", `"1e308"`, "agent_chars", `"1.7e308"`, "agent_anwers ", `"1e308"`)
	}
	h := newHarness(t, respond(200, jsonType, answer(huge("huge-1"), huge("huge-2")))(nil),
		faultConfig("tok-fault-huge-values", "10s", "    agent_metrics: true\n"))
	h.refresh()
	if got := h.sum("wolkvox_chats_total"); got != 2 {
		t.Fatalf("%v chats counted, want 2", got)
	}
	assertFinite(t, h)
}
