package wolkvox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

const testToken = "tok-3f9a1c-secret"

var bogota = func() *time.Location {
	loc, err := time.LoadLocation("America/Bogota")
	if err != nil {
		panic(err)
	}
	return loc
}()

func newClient(tb testing.TB, baseURL string, mod ...func(*wolkvox.Options)) *wolkvox.Client {
	tb.Helper()
	o := wolkvox.Options{
		BaseURL:         baseURL,
		Server:          "0010",
		Token:           promconfig.Secret(testToken),
		Location:        bogota,
		MaxResponseSize: 1 << 20,
	}
	for _, m := range mod {
		m(&o)
	}
	c, err := wolkvox.NewClient(o)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func serveFixture(t *testing.T, status int, name string) *httptest.Server {
	t.Helper()
	body := fixture(t, name)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

var (
	windowFrom = time.Date(2026, 11, 23, 9, 50, 0, 0, bogota)
	windowTo   = time.Date(2026, 11, 23, 10, 0, 0, 0, bogota)
)

func query(t *testing.T, c *wolkvox.Client) (wolkvox.Answer, []*wolkvox.Record, error) {
	t.Helper()
	var recs []*wolkvox.Record
	ans, err := c.Chats(context.Background(), windowFrom, windowTo, func(r *wolkvox.Record) { recs = append(recs, r) })
	return ans, recs, err
}

// TestQuirks covers every wire quirk of API.md, one case each.
func TestQuirks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		file    string
		result  wolkvox.Result
		connIDs []string
	}{
		{"records as a list, code a number", 200, "two_records.json", wolkvox.ResultSuccess, []string{"c-1", "c-2"}},
		{"code as a string", 200, "code_string.json", wolkvox.ResultSuccess, []string{"c-9"}},
		{"data as a single object", 200, "single_object.json", wolkvox.ResultSuccess, []string{"c-5"}},
		{"data null", 200, "data_null.json", wolkvox.ResultEmpty, nil},
		{"data missing", 200, "data_missing.json", wolkvox.ResultEmpty, nil},
		{"data an empty list", 200, "data_empty.json", wolkvox.ResultEmpty, nil},
		{"404 with Wolkvox JSON is an empty window", 404, "not_found_empty.json", wolkvox.ResultEmpty, nil},
		{"404 that is not Wolkvox JSON", 404, "not_json.html", wolkvox.ResultHTTPError, nil},
		{"404 for a report the server lacks", 404, "not_found_api.json", wolkvox.ResultAPIError, nil},
		{"error code inside a 200 answer", 200, "quota_in_200.json", wolkvox.ResultQuotaExceeded, nil},
		{"string error code inside a 200 answer", 200, "server_error_in_200.json", wolkvox.ResultAPIError, nil},
		{"401 no token", 401, "no_token.json", wolkvox.ResultUnauthorized, nil},
		{"403 invalid token", 403, "bad_token.json", wolkvox.ResultUnauthorized, nil},
		{"403 daily quota spent, text in msg", 403, "quota.json", wolkvox.ResultQuotaExceeded, nil},
		{"403 too many simultaneous requests", 403, "concurrency.json", wolkvox.ResultConcurrencyLimited, nil},
		{"400 missing parameters", 400, "missing_params.json", wolkvox.ResultAPIError, nil},
		{"502 from a proxy", 502, "not_json.html", wolkvox.ResultHTTPError, nil},
		{"403 during backups without JSON", 403, "not_json.html", wolkvox.ResultHTTPError, nil},
		{"200 that is not JSON", 200, "not_json.html", wolkvox.ResultDecodeError, nil},
		{"200 cut mid-record", 200, "truncated.json", wolkvox.ResultDecodeError, nil},
		{"data neither list nor object", 200, "data_string.json", wolkvox.ResultDecodeError, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serveFixture(t, tc.status, tc.file)
			ans, recs, err := query(t, newClient(t, srv.URL))
			got := ans.Result
			var we *wolkvox.Error
			if err != nil {
				if !errors.As(err, &we) {
					t.Fatalf("error %v is not a *wolkvox.Error", err)
				}
				got = we.Result
			}
			if got != tc.result {
				t.Fatalf("result = %q (err %v), want %q", got, err, tc.result)
			}
			if err == nil {
				var ids []string
				for _, r := range recs {
					ids = append(ids, r.ConnID)
				}
				if strings.Join(ids, ",") != strings.Join(tc.connIDs, ",") || ans.Records != len(tc.connIDs) {
					t.Fatalf("records %v (count %d), want %v", ids, ans.Records, tc.connIDs)
				}
			}
		})
	}
}

// Records come in one form whatever the API's spelling: label values normalized,
// numbers parsed, each number's problem kept.
func TestRecordFields(t *testing.T) {
	srv := serveFixture(t, 200, "two_records.json")
	_, recs, err := query(t, newClient(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	n := func(v float64) wolkvox.Number { return wolkvox.Number{Value: v} }
	want := []wolkvox.Record{
		{
			ConnID: "c-1", Channel: "whatsapp", SkillID: "12", AgentID: "7", AgentName: "Luis", // sent "WhatsApp"
			CodAct: "SALE", CodActDescription: "Sale closed", Feeling: "very_positive", LastParticipant: "agent", // "very positive"
			AnswerDelay: n(18), Duration: n(125), HandleTime: n(95.5), CustomerChars: n(120), AgentChars: n(340), // "00:02:05"
			AgentAnswers: n(6), // from the documented key "agent_anwers " with its trailing space
			Date:         "2026-11-22 15:04:05",
		},
		{
			ConnID: "c-2", Channel: "web", SkillID: "14",
			CodAct: "TIMEOUTCHAT", CodActDescription: "Closed by timeout", Feeling: "negative", LastParticipant: "chatbot", // "chat-bot"
			AnswerDelay: wolkvox.Number{Err: wolkvox.ErrEmpty}, Duration: n(45), HandleTime: n(30), CustomerChars: n(15), AgentChars: n(20),
			AgentAnswers: n(2), // from "agent_answers"; numbers sent as JSON numbers read as numbers
			Date:         "2026-11-23 09:58:00",
		},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i := range want {
		if got := fmt.Sprintf("%+v", *recs[i]); got != fmt.Sprintf("%+v", want[i]) {
			t.Errorf("record %d:\n got %s\nwant %+v", i, got, want[i])
		}
	}
}

func TestRequestShape(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(fixture(t, "not_found_empty.json"))
	}))
	defer srv.Close()
	if _, _, err := query(t, newClient(t, srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"path":           {got.URL.Path, "/api/v2/reports_manager.php"},
		"api":            {got.URL.Query().Get("api"), "chat_1"},
		"date_ini":       {got.URL.Query().Get("date_ini"), "20261123095000"},
		"date_end":       {got.URL.Query().Get("date_end"), "20261123100000"},
		"wolkvox_server": {got.Header.Get("wolkvox_server"), "0010"},
		"wolkvox-token":  {got.Header.Get("wolkvox-token"), testToken},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", what, c[0], c[1])
		}
	}
}

// The window is formatted in the operation's zone, whatever the caller's.
func TestWindowInOperationZone(t *testing.T) {
	var dateIni string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dateIni = r.URL.Query().Get("date_ini")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(fixture(t, "not_found_empty.json"))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	utc := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC) // 10:00 in Bogota (GMT-5)
	if _, err := c.Chats(context.Background(), utc, utc.Add(time.Minute), func(*wolkvox.Record) {}); err != nil {
		t.Fatal(err)
	}
	if dateIni != "20261123100000" {
		t.Fatalf("date_ini = %q, want 20261123100000", dateIni)
	}
}

func TestResponseSizeCap(t *testing.T) {
	// The JSON ends before the file's trailing newline, which the decoder need not read.
	body := bytes.TrimSpace(fixture(t, "two_records.json"))
	srv := serveFixture(t, 200, "two_records.json")
	for _, tc := range []struct {
		limit int64
		want  wolkvox.Result
	}{
		{int64(len(body)), wolkvox.ResultSuccess},
		{int64(len(body)) - 1, wolkvox.ResultDecodeError},
		{1024, wolkvox.ResultDecodeError},
	} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			c := newClient(t, srv.URL, func(o *wolkvox.Options) { o.MaxResponseSize = tc.limit })
			ans, _, err := query(t, c)
			got := ans.Result
			if we, ok := errors.AsType[*wolkvox.Error](err); ok {
				got = we.Result
			}
			if got != tc.want {
				t.Fatalf("limit %d: result %q (err %v), want %q", tc.limit, got, err, tc.want)
			}
		})
	}
}

// Records reach the callback while the body is still arriving: the answer is
// decoded as a stream, never read whole first.
func TestStreamsRecords(t *testing.T) {
	firstSeen := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"code":200,"data":[{"conn_id":"first"}`)
		w.(http.Flusher).Flush()
		select {
		case <-firstSeen:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, `,{"conn_id":"second"}]}`)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ids []string
	ans, err := newClient(t, srv.URL).Chats(ctx, windowFrom, windowTo, func(r *wolkvox.Record) {
		ids = append(ids, r.ConnID)
		if r.ConnID == "first" {
			close(firstSeen)
		}
	})
	if err != nil {
		t.Fatalf("the client waited for the whole body before decoding: %v", err)
	}
	if ans.Records != 2 || strings.Join(ids, ",") != "first,second" {
		t.Fatalf("records %v", ids)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	for _, tc := range []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		timeout time.Duration
	}{
		{"the caller's deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, 0},
		{"the request timeout", func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			c := newClient(t, srv.URL, func(o *wolkvox.Options) { o.RequestTimeout = tc.timeout })
			_, err := c.Chats(ctx, windowFrom, windowTo, func(*wolkvox.Record) {})
			var we *wolkvox.Error
			if !errors.As(err, &we) || we.Result != wolkvox.ResultTimeout {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if !wolkvox.SpentQuota(err) {
				t.Fatal("a call the API saw and never answered spent no quota, want spent")
			}
		})
	}
}

// A redirect must never carry the token to another host.
func TestRedirects(t *testing.T) {
	var elsewhereHits atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhereHits.Add(1)
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(fixture(t, "not_found_empty.json"))
	}))
	defer elsewhere.Close()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("hop") {
		case "":
			if r.URL.Query().Get("date_ini") == "" {
				http.Error(w, "bad", http.StatusBadRequest)
				return
			}
			target := srv.URL + r.URL.Path + "?" + r.URL.RawQuery + "&hop=1"
			if r.Header.Get("X-Test-Away") != "" {
				target = elsewhere.URL + r.URL.Path + "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusFound)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write(fixture(t, "not_found_empty.json"))
		}
	}))
	defer srv.Close()

	sameHost := newClient(t, srv.URL)
	if ans, _, err := query(t, sameHost); err != nil || ans.Result != wolkvox.ResultEmpty {
		t.Fatalf("same-host redirect: %v %v", ans, err)
	}

	away := newClient(t, srv.URL, func(o *wolkvox.Options) {
		o.Transport = headerTransport{"X-Test-Away", "1"}
	})
	_, _, err := query(t, away)
	var we *wolkvox.Error
	if !errors.As(err, &we) || we.Result != wolkvox.ResultHTTPError {
		t.Fatalf("cross-host redirect: err = %v, want http_error", err)
	}
	if n := elsewhereHits.Load(); n != 0 {
		t.Fatalf("the other host received %d requests", n)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatalf("error holds the token: %v", err)
	}
}

type headerTransport struct{ key, value string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.key, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

// A server or proxy that echoes the token back must not get it, nor any piece of it,
// into an error.
func TestErrorRedactsEchoedToken(t *testing.T) {
	wolkvoxJSON := func(tok string) string {
		return `{"code": 403, "error": "PLEASE VALIDATE TOKEN ` + tok + `", "msg": "token ` + tok + `"}`
	}
	for _, tc := range []struct {
		name   string
		status int
		body   func(tok string) string
		token  string // "" means testToken
	}{
		{"Wolkvox JSON in a 200", http.StatusOK, wolkvoxJSON, ""},
		{"Wolkvox JSON in a 403", http.StatusForbidden, wolkvoxJSON, ""},
		{"Wolkvox JSON in a 502", http.StatusBadGateway, wolkvoxJSON, ""},
		// The error quotes the first 120 characters of a body that is not JSON.
		{"HTML cut in the middle of the token", http.StatusBadGateway, func(tok string) string {
			return "<html><body>" + strings.Repeat("x", 120-12-len(tok)/2) + tok + "</body></html>"
		}, ""},
		{"HTML cut right after the token", http.StatusBadGateway, func(tok string) string {
			return "<html><body>" + strings.Repeat("x", 120-12-len(tok)) + tok + "</body></html>"
		}, ""},
		// The error quotes the snippet, escaping the token's quote and backslash.
		{"text echoing a token with a quote and a backslash", http.StatusInternalServerError, func(tok string) string {
			return "token " + tok + " refused"
		}, `tok"3f\9a1c-secret`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body(r.Header.Get("wolkvox-token")))
			}))
			defer srv.Close()
			token := testToken
			if tc.token != "" {
				token = tc.token
			}
			_, _, err := query(t, newClient(t, srv.URL, func(o *wolkvox.Options) { o.Token = promconfig.Secret(token) }))
			if err == nil {
				t.Fatal("no error")
			}
			const minPiece = 8
			for i := 0; i+minPiece <= len(token); i++ {
				if piece := token[i : i+minPiece]; strings.Contains(err.Error(), piece) {
					t.Fatalf("error %q holds %q of the token", err, piece)
				}
			}
			if !strings.Contains(err.Error(), "<secret>") {
				t.Fatalf("error %q does not show where the token was", err)
			}
		})
	}
}

// holdingServer answers "empty" to each call only when the test sends on release;
// entered receives once per call that reaches it. It tracks calls and the most at once.
type holdingServer struct {
	*httptest.Server
	entered, release chan struct{}
	calls, inFlight  atomic.Int32
	most             atomic.Int32
}

func newHoldingServer(t *testing.T) *holdingServer {
	t.Helper()
	h := &holdingServer{entered: make(chan struct{}, 8), release: make(chan struct{})}
	body := fixture(t, "not_found_empty.json")
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		n := h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		for m := h.most.Load(); n > m; m = h.most.Load() {
			if h.most.CompareAndSwap(m, n) {
				break
			}
		}
		h.entered <- struct{}{}
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(body)
	}))
	t.Cleanup(h.Close)
	// Cleanups run last first: held calls are let go before the server closes, so a
	// failing test ends instead of hanging.
	t.Cleanup(func() { close(h.release) })
	return h
}

// Calls with one token never overlap, even from different clients of one Tokens: a
// second call waits for the first, and if its timeout ends first it is never sent,
// so it costs no quota.
func TestOneCallAtATimePerToken(t *testing.T) {
	srv := newHoldingServer(t)
	tokens := wolkvox.NewTokens()
	token := func(o *wolkvox.Options) { o.Token, o.Tokens = "shared-token-for-lock-test", tokens }
	first, second := newClient(t, srv.URL, token), newClient(t, srv.URL, token)
	done := make(chan error, 2)
	go func() { _, _, err := query(t, first); done <- err }()
	<-srv.entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := second.Chats(ctx, windowFrom, windowTo, func(*wolkvox.Record) {})
	if !errors.Is(err, wolkvox.ErrNotSent) {
		t.Fatalf("a call while another holds the token: err = %v, want ErrNotSent", err)
	}
	if wolkvox.SpentQuota(err) {
		t.Fatal("a call never sent spent quota")
	}
	if n := srv.calls.Load(); n != 1 {
		t.Fatalf("the server saw %d calls, want 1", n)
	}

	// A patient second call runs once the first ends.
	go func() { _, _, err := query(t, second); done <- err }()
	srv.release <- struct{}{}
	<-srv.entered
	srv.release <- struct{}{}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n, m := srv.calls.Load(), srv.most.Load(); n != 2 || m != 1 {
		t.Fatalf("%d calls, %d at once; want 2, 1", n, m)
	}
}

// A call whose request never left (no address for the host, no connection) cost no
// quota: it is unreachable, apart from the failures the API saw, such as a
// connection cut once the request was sent.
func TestUnreachableCallsCostNoQuota(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close() // after the request was read: the API saw it
		}
	}))
	defer cut.Close()
	noHost := func(o *wolkvox.Options) {
		o.Transport = &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}}
		}}
	}
	for _, tc := range []struct {
		name string
		url  string
		mod  []func(*wolkvox.Options)
		want wolkvox.Result
	}{
		{"connection refused", closedURL, nil, wolkvox.ResultUnreachable},
		{"no such host", closedURL, []func(*wolkvox.Options){noHost}, wolkvox.ResultUnreachable},
		{"connection cut after the request", cut.URL, nil, wolkvox.ResultHTTPError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := query(t, newClient(t, tc.url, tc.mod...))
			we, ok := errors.AsType[*wolkvox.Error](err)
			if !ok || we.Result != tc.want {
				t.Fatalf("err %v, want result %s", err, tc.want)
			}
			if we.Result.CostsQuota() != (tc.want != wolkvox.ResultUnreachable) {
				t.Errorf("%s: CostsQuota %v", we.Result, we.Result.CostsQuota())
			}
		})
	}
}
