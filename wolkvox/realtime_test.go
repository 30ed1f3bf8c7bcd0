package wolkvox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// The customer's data in the fixtures: none of it may be kept or reach an error.
var personalData = []string{
	"+57 310 555 0147", "310 555", "Valentina", "Quintero", "1019283746", "necesito ayuda",
}

// realtimeCall makes one call of a real-time API and returns what it got, printed,
// or the error's result.
type realtimeCall func(context.Context, *wolkvox.Client) (wolkvox.RealtimeAnswer, any, error)

var realtimeCalls = map[wolkvox.API]realtimeCall{
	wolkvox.APIChats: func(ctx context.Context, c *wolkvox.Client) (wolkvox.RealtimeAnswer, any, error) {
		got, err := c.OpenChats(ctx)
		return got.RealtimeAnswer, got, err
	},
	wolkvox.APIAgents: func(ctx context.Context, c *wolkvox.Client) (wolkvox.RealtimeAnswer, any, error) {
		got, err := c.Agents(ctx)
		return got.RealtimeAnswer, got, err
	},
}

// resultOf is the answer's result, or the error's.
func resultOf(t *testing.T, ans wolkvox.RealtimeAnswer, err error) wolkvox.Result {
	t.Helper()
	if err == nil {
		return ans.Result
	}
	we, ok := errors.AsType[*wolkvox.Error](err)
	if !ok {
		t.Fatalf("error %v is not a *wolkvox.Error", err)
	}
	return we.Result
}

// The envelope's quirks and the API's errors, the same for both real-time APIs.
func TestRealtimeEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		file   string
		result wolkvox.Result
	}{
		{"data null", 200, "data_null.json", wolkvox.ResultEmpty},
		{"data missing", 200, "data_missing.json", wolkvox.ResultEmpty},
		{"data an empty list, code a string", 200, "data_empty.json", wolkvox.ResultEmpty},
		{"404 with Wolkvox JSON is nothing open", 404, "not_found_empty.json", wolkvox.ResultEmpty},
		{"404 that is not Wolkvox JSON", 404, "not_json.html", wolkvox.ResultHTTPError},
		{"404 for an API the server lacks", 404, "not_found_api.json", wolkvox.ResultAPIError},
		{"403 daily quota spent", 403, "quota.json", wolkvox.ResultQuotaExceeded},
		{"quota code inside a 200 answer", 200, "quota_in_200.json", wolkvox.ResultQuotaExceeded},
		{"code 500 inside a 200 answer", 200, "realtime_chats_code_500.json", wolkvox.ResultAPIError},
		{"code \"500\" inside a 200 answer", 200, "server_error_in_200.json", wolkvox.ResultAPIError},
		{"403 too many simultaneous requests", 403, "concurrency.json", wolkvox.ResultConcurrencyLimited},
		{"403 invalid token", 403, "bad_token.json", wolkvox.ResultUnauthorized},
		{"401 no token", 401, "no_token.json", wolkvox.ResultUnauthorized},
		{"502 from a proxy", 502, "not_json.html", wolkvox.ResultHTTPError},
		{"200 that is not JSON", 200, "not_json.html", wolkvox.ResultDecodeError},
		{"200 cut mid-message", 200, "realtime_broken.json", wolkvox.ResultDecodeError},
		{"data neither list nor object", 200, "data_string.json", wolkvox.ResultDecodeError},
	} {
		for _, api := range wolkvox.RealtimeAPIs {
			t.Run(string(api)+"/"+tc.name, func(t *testing.T) {
				srv := serveFixture(t, tc.status, tc.file)
				ans, _, err := realtimeCalls[api](context.Background(), newClient(t, srv.URL))
				if got := resultOf(t, ans, err); got != tc.result {
					t.Fatalf("result %q (err %v), want %q", got, err, tc.result)
				}
				if err == nil && ans.Status != tc.status {
					t.Fatalf("status %d, want %d", ans.Status, tc.status)
				}
			})
		}
	}
}

// chatsText prints open chats in one line each, first message in Bogota.
func chatsText(chats []wolkvox.OpenChat) string {
	var b strings.Builder
	for _, c := range chats {
		first := "-"
		if !c.FirstMessage.IsZero() {
			first = c.FirstMessage.In(bogota).Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(&b, "%s %s %s\n", c.AgentID, c.Channel, first)
	}
	return b.String()
}

// Every quirk of api=chats, one fixture each.
func TestOpenChatsQuirks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string
		result  wolkvox.Result
		agents  []string
		chats   string // chatsText
		skipped map[string]int
	}{
		{
			name: "the vendor's example", file: "realtime_chats_vendor.json", result: wolkvox.ResultSuccess,
			agents: []string{"1001"}, chats: "1001 whatsapp -\n",
			skipped: map[string]int{wolkvox.SkipDateInvalid: 1}, // its date is "..."
		},
		{
			// Channels as Record's, the earliest message whatever its place, agent_id
			// a number or after the chats, agents without chats listed, unknown fields.
			name: "agents and chats as a list, code a number", file: "realtime_chats.json", result: wolkvox.ResultSuccess,
			agents: []string{"1001", "1002", "1005", "1003", "1004"},
			chats:  "1001 whatsapp 2026-11-23 09:40:05\n1001 web 2026-11-23 09:55:00\n1005 facebook 2026-11-23 08:00:00\n",
		},
		{
			name: "data, active_chats and conversation as single objects", file: "realtime_chats_single_object.json", result: wolkvox.ResultSuccess,
			agents: []string{"2001"}, chats: "2001 instagram 2026-11-23 09:30:00\n",
		},
		{
			name: "elements that are not objects", file: "realtime_chats_not_objects.json", result: wolkvox.ResultSuccess,
			agents: []string{"1001", "1002"}, chats: "1001 web 2026-11-23 09:00:00\n",
			// data: a string, a number, a list, a boolean; active_chats: a string, and
			// "none" for a list; conversation: a boolean, a list, a string.
			skipped: map[string]int{wolkvox.SkipNotAnObject: 9},
		},
		{
			name: "chats without a conversation are open, with no first message", file: "realtime_chats_no_conversation.json", result: wolkvox.ResultSuccess,
			agents:  []string{"1001"},
			chats:   strings.Repeat("1001 whatsapp -\n", 6),
			skipped: map[string]int{wolkvox.SkipNoConversation: 5}, // the sixth has a message without a date
		},
		{
			name: "dates that do not parse are counted, missing ones not", file: "realtime_chats_dates.json", result: wolkvox.ResultSuccess,
			agents:  []string{"1001"},
			chats:   "1001 web 2026-11-23 09:05:00\n1001 web -\n1001 web 2026-11-23 09:00:00\n1001 web 2026-11-23 09:00:00\n",
			skipped: map[string]int{wolkvox.SkipDateInvalid: 3},
		},
		{
			name: "nothing but what is not an agent", file: "data_string.json", result: wolkvox.ResultDecodeError,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serveFixture(t, 200, tc.file)
			got, err := newClient(t, srv.URL).OpenChats(context.Background())
			if r := resultOf(t, got.RealtimeAnswer, err); r != tc.result {
				t.Fatalf("result %q (err %v), want %q", r, err, tc.result)
			}
			if err != nil {
				return
			}
			if !slices.Equal(got.Agents, tc.agents) {
				t.Errorf("agents %q, want %q", got.Agents, tc.agents)
			}
			if s := chatsText(got.Chats); s != tc.chats {
				t.Errorf("chats:\n%s\nwant:\n%s", s, tc.chats)
			}
			if !maps.Equal(got.Skipped, tc.skipped) {
				t.Errorf("skipped %v, want %v", got.Skipped, tc.skipped)
			}
			for reason := range got.Skipped {
				if !slices.Contains(wolkvox.APIChats.SkipReasons(), reason) {
					t.Errorf("reason %q is not among api=chats's SkipReasons", reason)
				}
			}
		})
	}
}

// A chat's channel is normalized as a chat_1 record's is: one definition.
func TestOpenChatChannelAsRecord(t *testing.T) {
	for _, channel := range []string{"WhatsApp", " Web ", "FACEBOOK", "instagram", "Web  Chat", "", "Línea\tÉtica"} {
		t.Run(channel, func(t *testing.T) {
			record := fmt.Sprintf(`{"code":200,"data":[{"conn_id":"c-1","channel":%q}]}`, channel)
			open := fmt.Sprintf(`{"code":200,"data":[{"agent_id":"1","active_chats":[{"channel":%q}]}]}`, channel)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("api") == string(wolkvox.APIChat1) {
					_, _ = io.WriteString(w, record)
					return
				}
				_, _ = io.WriteString(w, open)
			}))
			defer srv.Close()
			c := newClient(t, srv.URL)
			_, recs, err := query(t, c)
			if err != nil || len(recs) != 1 {
				t.Fatalf("chat_1: %d records, err %v", len(recs), err)
			}
			got, err := c.OpenChats(context.Background())
			if err != nil || len(got.Chats) != 1 {
				t.Fatalf("chats: %d chats, err %v", len(got.Chats), err)
			}
			if got.Chats[0].Channel != recs[0].Channel {
				t.Fatalf("open chat's channel %q, record's %q", got.Chats[0].Channel, recs[0].Channel)
			}
		})
	}
}

func TestAgentsQuirks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string
		agents  []wolkvox.AgentState
		skipped map[string]int
	}{
		{"the vendor's example", "realtime_agents_vendor.json", []wolkvox.AgentState{{}}, nil},
		{
			// Statuses in one form, agent_id a number, keys in any case, unknown
			// fields ignored, a null element and a string skipped.
			"agents as a list, code a string", "realtime_agents.json",
			[]wolkvox.AgentState{
				{ID: "1001", Name: "Luis Gómez", Status: "ready"},
				{ID: "1002", Name: "Marta", Status: "break - lunch"},
				{ID: "1003", Name: "Pedro", Status: "busy"},
				{ID: "1004", Name: "Sofía", Status: ""},
				{ID: "1005", Name: "Jorge", Status: "acw"},
			},
			map[string]int{wolkvox.SkipNotAnObject: 1},
		},
		{"data as a single object", "realtime_agents_single_object.json", []wolkvox.AgentState{{ID: "7", Name: "Luis", Status: "ringing"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serveFixture(t, 200, tc.file)
			got, err := newClient(t, srv.URL).Agents(context.Background())
			if err != nil || got.Result != wolkvox.ResultSuccess || got.Status != 200 {
				t.Fatalf("result %q, status %d, err %v", got.Result, got.Status, err)
			}
			if !slices.Equal(got.Agents, tc.agents) {
				t.Errorf("agents:\n got %+v\nwant %+v", got.Agents, tc.agents)
			}
			if !maps.Equal(got.Skipped, tc.skipped) {
				t.Errorf("skipped %v, want %v", got.Skipped, tc.skipped)
			}
		})
	}
}

// A real-time call is sent as chat_1's is, to real_time.php.
func TestRealtimeRequestShape(t *testing.T) {
	for _, api := range wolkvox.RealtimeAPIs {
		t.Run(string(api), func(t *testing.T) {
			var got *http.Request
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Clone(context.Background())
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write(fixture(t, "not_found_empty.json"))
			}))
			defer srv.Close()
			c := newClient(t, srv.URL+"/", func(o *wolkvox.Options) { o.UserAgent = "wolkvox_exporter/test" })
			if _, _, err := realtimeCalls[api](context.Background(), c); err != nil {
				t.Fatal(err)
			}
			for what, c := range map[string][2]string{
				"path":           {got.URL.Path, "/api/v2/real_time.php"},
				"query":          {got.URL.RawQuery, "api=" + string(api)},
				"wolkvox_server": {got.Header.Get("wolkvox_server"), "0010"},
				"wolkvox-token":  {got.Header.Get("wolkvox-token"), testToken},
				"Accept":         {got.Header.Get("Accept"), "application/json"},
				"User-Agent":     {got.Header.Get("User-Agent"), "wolkvox_exporter/test"},
			} {
				if c[0] != c[1] {
					t.Errorf("%s = %q, want %q", what, c[0], c[1])
				}
			}
		})
	}
}

func TestRealtimeResponseSizeCap(t *testing.T) {
	for api, file := range map[wolkvox.API]string{wolkvox.APIChats: "realtime_chats.json", wolkvox.APIAgents: "realtime_agents.json"} {
		// The JSON ends before the file's trailing newline, which the decoder need not read.
		body := bytes.TrimSpace(fixture(t, file))
		srv := serveFixture(t, 200, file)
		for _, tc := range []struct {
			limit int64
			want  wolkvox.Result
		}{
			{int64(len(body)), wolkvox.ResultSuccess},
			{int64(len(body)) - 1, wolkvox.ResultDecodeError},
			{100, wolkvox.ResultDecodeError},
		} {
			t.Run(fmt.Sprintf("%s/%d", api, tc.limit), func(t *testing.T) {
				c := newClient(t, srv.URL, func(o *wolkvox.Options) { o.MaxResponseSize = tc.limit })
				ans, _, err := realtimeCalls[api](context.Background(), c)
				if got := resultOf(t, ans, err); got != tc.want {
					t.Fatalf("result %q (err %v), want %q", got, err, tc.want)
				}
				if err != nil && !strings.Contains(err.Error(), "max_response_size") {
					t.Fatalf("error %q does not name the cap", err)
				}
			})
		}
	}
}

// A real-time call never follows a redirect that would carry the token away, and
// no error holds the token, even one the server echoes back.
func TestRealtimeKeepsTheToken(t *testing.T) {
	var elsewhereHits atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhereHits.Add(1)
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(fixture(t, "not_found_empty.json"))
	}))
	defer elsewhere.Close()
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			tok := r.Header.Get("wolkvox-token")
			fmt.Fprintf(w, `{"code": 403, "error": "PLEASE VALIDATE TOKEN %s", "msg": "token %s", "data": []}`, tok, tok)
		}
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    wolkvox.Result
	}{
		{"redirect to another host", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+r.URL.Path+"?"+r.URL.RawQuery, http.StatusFound)
		}, wolkvox.ResultHTTPError},
		{"token echoed in a 403", echo(http.StatusForbidden), wolkvox.ResultUnauthorized},
		{"token echoed in a 200", echo(http.StatusOK), wolkvox.ResultUnauthorized},
		{"token echoed in a body that is not JSON", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>bad gateway for "+r.Header.Get("wolkvox-token")+"</html>")
		}, wolkvox.ResultHTTPError},
	} {
		for _, api := range wolkvox.RealtimeAPIs {
			t.Run(string(api)+"/"+tc.name, func(t *testing.T) {
				srv := httptest.NewServer(tc.handler)
				defer srv.Close()
				ans, _, err := realtimeCalls[api](context.Background(), newClient(t, srv.URL))
				if got := resultOf(t, ans, err); got != tc.want {
					t.Fatalf("result %q (err %v), want %q", got, err, tc.want)
				}
				if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testToken[4:12]) {
					t.Fatalf("error holds the token: %v", err)
				}
			})
		}
	}
	if n := elsewhereHits.Load(); n != 0 {
		t.Fatalf("the other host received %d requests", n)
	}
}

// A call never sent costs no quota and is unreachable; a connection cut in the
// middle of the answer is a network failure, not a malformed answer.
func TestRealtimeTransportFailures(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer func() { _ = conn.Close() }()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n" +
			`{"code":200,"data":[{"agent_id":"1001","active_chats":[{"channel":"web","conversation":[{"msg":"Hola`)
		_ = buf.Flush()
	}))
	defer cut.Close()
	// The answer's body never ends: the caller's timeout does.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"code":200,"data":[`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer hang.Close()
	for _, tc := range []struct {
		name string
		url  string
		want wolkvox.Result
	}{
		{"connection refused", closed.URL, wolkvox.ResultUnreachable},
		{"connection cut mid-answer", cut.URL, wolkvox.ResultHTTPError},
		{"no end before the timeout", hang.URL, wolkvox.ResultTimeout},
	} {
		for _, api := range wolkvox.RealtimeAPIs {
			t.Run(string(api)+"/"+tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				ans, _, err := realtimeCalls[api](ctx, newClient(t, tc.url))
				got := resultOf(t, ans, err)
				if got != tc.want || got.CostsQuota() != (tc.want != wolkvox.ResultUnreachable) {
					t.Fatalf("result %q (err %v), costs quota %v; want %q", got, err, got.CostsQuota(), tc.want)
				}
			})
		}
	}
}

// A broken answer fails the call without quoting it: the body holds the customers'
// phones and messages.
func TestRealtimeDecodeErrorQuotesNothing(t *testing.T) {
	const head = `{"code":200,"data":[{"agent_id":"1001","active_chats":[{"channel":"whatsapp","customer_phone":"+57 310 555 0147",` +
		`"conversation":[{"from":"+57 310 555 0147","msg":"Hola, soy Valentina Quintero y necesito ayuda`
	for _, tc := range []struct{ name, body string }{
		{"cut mid-message", string(fixture(t, "realtime_broken.json"))},
		{"bad escape in a message", head + ` \q","date":"2026-11-23 09:00:00"}]}]}]}`},
		{"control character in a message", head + "\x01\",\"date\":\"2026-11-23 09:00:00\"}]}]}]}"},
		{"missing comma after a message", head + `" "date":"2026-11-23 09:00:00"}]}]}]}`},
		{"phone as a bare word", `{"code":200,"data":[{"agent_id":"1","active_chats":[{"customer_phone":Valentina Quintero}]}]}`},
		{"not JSON", "<html>Valentina Quintero +57 310 555 0147</html>"},
	} {
		for _, api := range wolkvox.RealtimeAPIs {
			t.Run(string(api)+"/"+tc.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, tc.body) }))
				defer srv.Close()
				ans, _, err := realtimeCalls[api](context.Background(), newClient(t, srv.URL))
				if got := resultOf(t, ans, err); got != wolkvox.ResultDecodeError {
					t.Fatalf("result %q (err %v), want decode_error", got, err)
				}
				for _, pd := range personalData {
					if strings.Contains(err.Error(), pd) {
						t.Fatalf("error quotes the customer's %q: %v", pd, err)
					}
				}
			})
		}
	}
}

// What a decoded answer holds has nothing of the customer: an OpenChat has no field
// for it, and nothing else carries it.
func TestOpenChatsKeepNoPersonalData(t *testing.T) {
	var fields []string
	for f := range reflect.TypeFor[wolkvox.OpenChat]().Fields() {
		fields = append(fields, f.Name)
	}
	if want := []string{"AgentID", "Channel", "FirstMessage"}; !slices.Equal(fields, want) {
		t.Fatalf("OpenChat has fields %v, want only %v: customer data must not be kept", fields, want)
	}
	for _, file := range []string{"realtime_chats.json", "realtime_agents.json"} {
		srv := serveFixture(t, 200, file)
		c := newClient(t, srv.URL)
		open, err := c.OpenChats(context.Background())
		if err != nil || len(open.Chats) == 0 && file == "realtime_chats.json" {
			t.Fatalf("%s: %d chats, err %v", file, len(open.Chats), err)
		}
		agents, err := c.Agents(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		printed := fmt.Sprintf("%+v %+v %#v %#v", open, agents, open, agents)
		for _, pd := range append(personalData, "Laura", "Bienvenido", "con gusto") {
			if strings.Contains(printed, pd) {
				t.Fatalf("%s: the answer keeps %q: %s", file, pd, printed)
			}
		}
	}
}

// chat_1 and real-time calls with one token, on two clients of one Tokens, never
// run at once: the second waits for the first, and one whose timeout ends first is
// never sent.
func TestTokenSharedAcrossAPIs(t *testing.T) {
	chat1 := func(ctx context.Context, c *wolkvox.Client) error {
		_, err := c.Chats(ctx, windowFrom, windowTo, func(*wolkvox.Record) {})
		return err
	}
	realtime := func(api wolkvox.API) func(context.Context, *wolkvox.Client) error {
		return func(ctx context.Context, c *wolkvox.Client) error {
			_, _, err := realtimeCalls[api](ctx, c)
			return err
		}
	}
	for _, tc := range []struct {
		name          string
		first, second func(context.Context, *wolkvox.Client) error
	}{
		{"chat_1 then chats", chat1, realtime(wolkvox.APIChats)},
		{"chats then chat_1", realtime(wolkvox.APIChats), chat1},
		{"agents then chats", realtime(wolkvox.APIAgents), realtime(wolkvox.APIChats)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHoldingServer(t)
			tokens := wolkvox.NewTokens()
			shared := func(o *wolkvox.Options) { o.Token, o.Tokens = "token-of-two-apis", tokens }
			first, second := newClient(t, srv.URL, shared), newClient(t, srv.URL, shared)
			if first.Token() != second.Token() {
				t.Fatal("the clients do not share the token's state")
			}
			done := make(chan error, 2)
			go func() { done <- tc.first(context.Background(), first) }()
			<-srv.entered

			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := tc.second(ctx, second); !errors.Is(err, wolkvox.ErrNotSent) {
				t.Fatalf("a call while another holds the token: err = %v, want ErrNotSent", err)
			}
			go func() { done <- tc.second(context.Background(), second) }()
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
		})
	}
}

func TestTokenQuota(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 23, h, 0, 0, 0, bogota) }
	for _, tc := range []struct {
		name   string
		spends []time.Time
		want   time.Time
	}{
		{"not spent", nil, time.Time{}},
		{"spent once", []time.Time{at(24)}, at(24)},
		{"a later time replaces an earlier one", []time.Time{at(20), at(24)}, at(24)},
		{"an earlier time does not shorten it", []time.Time{at(24), at(20)}, at(24)},
		{"the zero time changes nothing", []time.Time{at(24), {}}, at(24)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens := wolkvox.NewTokens()
			for _, until := range tc.spends {
				tokens.For("quota-token").SpendQuota(until)
			}
			if got := tokens.For("quota-token").QuotaSpentUntil(); !got.Equal(tc.want) {
				t.Fatalf("QuotaSpentUntil = %v, want %v", got, tc.want)
			}
			if got := tokens.For("another-token").QuotaSpentUntil(); !got.IsZero() {
				t.Fatalf("another token's quota is spent until %v", got)
			}
		})
	}
}

// A client's token state is shared with a client of another API made from the same
// Tokens, so that a quota spent by one is seen by the other.
func TestQuotaSeenAcrossClients(t *testing.T) {
	tokens := wolkvox.NewTokens()
	shared := func(o *wolkvox.Options) { o.Token, o.Tokens = promconfig.Secret("quota-shared"), tokens }
	a, b := newClient(t, "https://wv0010.example", shared), newClient(t, "https://wv0010.example", shared)
	until := time.Date(2026, 11, 24, 0, 0, 0, 0, bogota)
	a.Token().SpendQuota(until)
	if got := b.Token().QuotaSpentUntil(); !got.Equal(until) {
		t.Fatalf("the other client sees the quota spent until %v, want %v", got, until)
	}
}
