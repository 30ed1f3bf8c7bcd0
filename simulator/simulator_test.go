package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

const apiPath = "/api/v2/reports_manager.php"

// gmt5 equals America/Bogota (no DST) without depending on tzdata.
var gmt5 = time.FixedZone("GMT-5", -5*3600)

func at(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, gmt5)
}

func target(api string, from, to time.Time) string {
	return fmt.Sprintf("%s?api=%s&date_ini=%s&date_end=%s", apiPath, api,
		from.In(gmt5).Format("20060102150405"), to.In(gmt5).Format("20060102150405"))
}

type answer struct {
	status int
	body   []byte
}

// do calls the handler directly; headers are set as net/http would deliver them (canonical keys).
func do(h http.Handler, url string, hdr map[string]string) answer {
	return doCtx(context.Background(), h, url, hdr)
}

func doCtx(ctx context.Context, h http.Handler, url string, hdr map[string]string) answer {
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return answer{w.Code, w.Body.Bytes()}
}

var auth = map[string]string{"wolkvox_server": "0010", "wolkvox-token": "secret"}

type envelope struct {
	Code  json.RawMessage
	Error *string
	Msg   string
	Data  json.RawMessage
}

// decode parses a 200 answer; every record value must be a JSON string.
func decode(t *testing.T, body []byte) (env envelope, recs []map[string]string, single bool) {
	t.Helper()
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("bad JSON %q: %v", truncate(body), err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(env.Data), []byte("{")) {
		var rec map[string]string
		if err := json.Unmarshal(env.Data, &rec); err != nil {
			t.Fatalf("data object: %v", err)
		}
		return env, []map[string]string{rec}, true
	}
	if err := json.Unmarshal(env.Data, &recs); err != nil {
		t.Fatalf("data list: %v", err)
	}
	return env, recs, false
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

func connIDs(recs []map[string]string) []string {
	var ids []string
	for _, r := range recs {
		ids = append(ids, r["conn_id"])
	}
	return ids
}

func chatIDs(cs []simulator.Chat) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ConnID)
	}
	return ids
}

func chat(id string, closed time.Time) simulator.Chat {
	return simulator.Chat{
		ConnID: id, Channel: "WhatsApp", SkillID: "12", AgentID: "1001", AgentName: "Laura Gómez",
		CustomerName: "Ana Díaz", CustomerEmail: "ana@example.com", CustomerPhone: "573001112233", CustomerID: "1020304050",
		Opened: closed.Add(-10 * time.Minute), Closed: closed,
		AnswerDelay: 12 * time.Second, Duration: 10 * time.Minute, HandleTime: 9 * time.Minute,
		CustomerChars: 300, AgentChars: 500, AgentAnswers: 6,
		CodAct: "INFO", CodActDescription: "Information provided", Feeling: "neutral", LastParticipant: "agent",
	}
}

func TestWindowFilteringByCloseTime(t *testing.T) {
	from, to := at(2026, 3, 10, 10, 0, 0), at(2026, 3, 10, 11, 0, 0)
	src := simulator.Chats{
		chat("after", to.Add(time.Second)),
		chat("before", from.Add(-time.Second)),
		chat("at-to", to),
		chat("at-from", from),
		chat("mid", from.Add(30*time.Minute)),
		chat("in-last-second", to.Add(500*time.Millisecond)), // the API's resolution is one second
	}
	old := chat("opened-yesterday", from.Add(5*time.Minute))
	old.Opened = from.Add(-23 * time.Hour)
	src = append(src, old)

	tests := []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{"inclusive bounds, sorted by close", from, to, []string{"at-from", "opened-yesterday", "mid", "at-to", "in-last-second"}},
		{"one-second window", to, to, []string{"at-to", "in-last-second"}},
		{"next window", to.Add(time.Second), to.Add(time.Hour), []string{"after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := simulator.NewServer(src, simulator.Options{Location: gmt5})
			a := do(s, target("chat_1", tt.from, tt.to), auth)
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			_, recs, _ := decode(t, a.body)
			if got := connIDs(recs); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("Chats source", func(t *testing.T) {
		got := chatIDs(src.ChatsClosedBetween(from, to))
		want := []string{"at-to", "at-from", "mid", "opened-yesterday"} // source order, exact bounds
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func TestTrafficDeterministicAcrossWindows(t *testing.T) {
	t0 := at(2026, 3, 10, 9, 0, 0)
	a, b := simulator.NewTraffic(42, 300), simulator.NewTraffic(42, 300)
	first := a.ChatsClosedBetween(t0, t0.Add(2*time.Hour))
	second := b.ChatsClosedBetween(t0.Add(time.Hour), t0.Add(3*time.Hour))
	byID := map[string]simulator.Chat{}
	for _, c := range second {
		byID[c.ConnID] = c
	}
	overlap := 0
	for _, c := range first {
		if c.Closed.Before(t0.Add(time.Hour)) {
			continue
		}
		overlap++
		if d, ok := byID[c.ConnID]; !ok || d != c {
			t.Fatalf("chat %s differs across windows:\n%+v\n%+v", c.ConnID, c, d)
		}
	}
	if overlap < 100 {
		t.Fatalf("only %d chats in the overlap", overlap)
	}

	// Adjacent windows partition a larger one (close times are whole seconds).
	whole := a.ChatsClosedBetween(t0, t0.Add(2*time.Hour))
	parts := append(b.ChatsClosedBetween(t0, t0.Add(time.Hour-time.Second)), b.ChatsClosedBetween(t0.Add(time.Hour), t0.Add(2*time.Hour))...)
	if fmt.Sprint(chatIDs(whole)) != fmt.Sprint(chatIDs(parts)) {
		t.Errorf("split windows return %d chats, whole window %d", len(parts), len(whole))
	}

	// A window too long to cache takes the uncached path: same chats.
	long := simulator.NewTraffic(42, 300).ChatsClosedBetween(t0.Add(-7*24*time.Hour), t0.Add(2*time.Hour))
	var tail []simulator.Chat
	for _, c := range long {
		if !c.Closed.Before(t0) {
			tail = append(tail, c)
		}
	}
	if !slices.Equal(tail, whole) {
		t.Errorf("long window disagrees with a short one: %d vs %d chats", len(tail), len(whole))
	}

	// Concurrent callers share the cache safely and see the same chats.
	shared := simulator.NewTraffic(42, 300)
	var wg sync.WaitGroup
	got := make([][]simulator.Chat, 4)
	for i := range got {
		wg.Go(func() { got[i] = shared.ChatsClosedBetween(t0, t0.Add(2*time.Hour)) })
	}
	wg.Wait()
	for i := range got {
		if !slices.Equal(got[i], whole) {
			t.Errorf("concurrent caller %d saw %d chats, want %d", i, len(got[i]), len(whole))
		}
	}

	other := simulator.NewTraffic(43, 300).ChatsClosedBetween(t0, t0.Add(2*time.Hour))
	if len(other) > 0 && len(first) > 0 && other[0] == first[0] {
		t.Errorf("seeds 42 and 43 give the same first chat")
	}

	// Over the wire too: the same conn_id carries the same record in every window.
	s1 := simulator.NewServer(a, simulator.Options{Location: gmt5})
	s2 := simulator.NewServer(simulator.NewTraffic(42, 300), simulator.Options{Location: gmt5})
	_, r1, _ := decode(t, do(s1, target("chat_1", t0, t0.Add(2*time.Hour)), auth).body)
	_, r2, _ := decode(t, do(s2, target("chat_1", t0.Add(time.Hour), t0.Add(3*time.Hour)), auth).body)
	recs := map[string]map[string]string{}
	for _, r := range r2 {
		recs[r["conn_id"]] = r
	}
	same := 0
	for _, r := range r1 {
		if o, ok := recs[r["conn_id"]]; ok {
			same++
			if fmt.Sprint(o) != fmt.Sprint(r) {
				t.Fatalf("record differs:\n%v\n%v", r, o)
			}
		}
	}
	if same != overlap {
		t.Errorf("%d records shared over the wire, want %d", same, overlap)
	}
}

func TestEmptyWindowAnswers404(t *testing.T) {
	s := simulator.NewServer(simulator.Chats{chat("x", at(2026, 3, 10, 12, 0, 0))}, simulator.Options{Location: gmt5})
	a := do(s, target("chat_1", at(2026, 3, 10, 8, 0, 0), at(2026, 3, 10, 9, 0, 0)), auth)
	if a.status != http.StatusNotFound {
		t.Fatalf("status %d, want 404", a.status)
	}
	var env envelope
	if err := json.Unmarshal(a.body, &env); err != nil {
		t.Fatalf("404 body is not JSON: %s", a.body)
	}
	if !strings.Contains(env.Msg, "Validate dates entered") {
		t.Errorf("msg %q", env.Msg)
	}
	if len(s.Served()) != 0 {
		t.Errorf("an empty answer served %d chats", len(s.Served()))
	}
}

func TestErrors(t *testing.T) {
	from, to := at(2026, 3, 10, 8, 0, 0), at(2026, 3, 10, 9, 0, 0)
	ok := target("chat_1", from, to)
	without := func(key string) map[string]string {
		h := map[string]string{}
		for k, v := range auth {
			if k != key {
				h[k] = v
			}
		}
		return h
	}
	with := func(key, val string) map[string]string {
		h := without(key)
		h[key] = val
		return h
	}
	tests := []struct {
		name   string
		url    string
		hdr    map[string]string
		status int
		text   string // "" means not a Wolkvox error body
	}{
		{"missing token", ok, without("wolkvox-token"), 401, "PLEASE ENTER THE WOLKVOX-TOKEN"},
		{"empty token", ok, with("wolkvox-token", ""), 401, "PLEASE ENTER THE WOLKVOX-TOKEN"},
		{"wrong token", ok, with("wolkvox-token", "nope"), 403, "PLEASE VALIDATE TOKEN"},
		{"wrong server", ok, with("wolkvox_server", "0099"), 403, "PLEASE VALIDATE TOKEN"},
		{"missing server", ok, without("wolkvox_server"), 403, "PLEASE VALIDATE TOKEN"},
		{"unknown report", target("chat_2", from, to), auth, 400, "THE API YOU WANT TO CONSULT DOES NOT EXIST"},
		{"missing api", strings.Replace(ok, "api=chat_1&", "", 1), auth, 400, "THE API YOU WANT TO CONSULT DOES NOT EXIST"},
		{"missing date_ini", apiPath + "?api=chat_1&date_end=20260310090000", auth, 400, "SOME PARAMETERS ARE REQUIRED"},
		{"unparseable date_end", apiPath + "?api=chat_1&date_ini=20260310080000&date_end=2026-03-10", auth, 400, "SOME PARAMETERS ARE REQUIRED"},
		{"impossible date", apiPath + "?api=chat_1&date_ini=20260231080000&date_end=20260310090000", auth, 400, "SOME PARAMETERS ARE REQUIRED"},
		{"end before start", target("chat_1", to, from), auth, 400, "SOME PARAMETERS ARE REQUIRED"},
		{"window over 31 days", target("chat_1", from, from.AddDate(0, 0, 31).Add(time.Second)), auth, 400, "THE MAXIMUM RANGE OF DATES TO CONSULT IS 31 DAYS"},
		{"window of 31 days is fine", target("chat_1", from, from.AddDate(0, 0, 31)), auth, 404, "Validate dates entered"},
		{"wrong path", "/api/v2/other.php", auth, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := simulator.NewServer(simulator.Chats{}, simulator.Options{Location: gmt5, Token: "secret", Server: "0010"})
			a := do(s, tt.url, tt.hdr)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			var env envelope
			err := json.Unmarshal(a.body, &env)
			if tt.text == "" {
				if err == nil {
					t.Errorf("wrong path answered a Wolkvox JSON body: %s", a.body)
				}
				return
			}
			if err != nil {
				t.Fatalf("body is not JSON: %s", a.body)
			}
			if env.Error == nil || *env.Error != tt.text || env.Msg != tt.text {
				t.Errorf("body %s, want error and msg %q", a.body, tt.text)
			}
			if tt.status != 404 && (string(env.Code) != strconv.Itoa(tt.status) || string(env.Data) != "null") {
				t.Errorf("body %s, want code %d and data null", a.body, tt.status)
			}
			if s.Requests() != 1 {
				t.Errorf("Requests() = %d, want 1", s.Requests())
			}
		})
	}
}

func TestHeaderSpellings(t *testing.T) {
	url := target("chat_1", at(2026, 3, 10, 8, 0, 0), at(2026, 3, 10, 9, 0, 0))
	tests := []struct {
		name string
		set  func(h http.Header)
	}{
		{"canonical keys", func(h http.Header) { h.Set("wolkvox_server", "0010"); h.Set("wolkvox-token", "secret") }},
		{"raw keys", func(h http.Header) { h["wolkvox_server"] = []string{"0010"}; h["wolkvox-token"] = []string{"secret"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := simulator.NewServer(simulator.Chats{}, simulator.Options{Location: gmt5, Token: "secret", Server: "0010"})
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
			tt.set(r.Header)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != http.StatusNotFound {
				t.Errorf("status %d, want 404 (accepted, empty): %s", w.Code, w.Body)
			}
		})
	}
	t.Run("over HTTP", func(t *testing.T) {
		hs := httptest.NewServer(simulator.NewServer(simulator.Chats{}, simulator.Options{Location: gmt5, Token: "secret", Server: "0010"}))
		defer hs.Close()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, hs.URL+url, nil)
		req.Header["wolkvox_server"] = []string{"0010"}
		req.Header["wolkvox-token"] = []string{"secret"}
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
}

// blocking holds requests inside the source until release is closed.
type blocking struct {
	entered chan string
	release chan struct{}
}

func (b blocking) ChatsClosedBetween(from, _ time.Time) []simulator.Chat {
	b.entered <- from.String()
	<-b.release
	return nil
}

func TestSimultaneousRequestLimit(t *testing.T) {
	src := blocking{entered: make(chan string, 10), release: make(chan struct{})}
	s := simulator.NewServer(src, simulator.Options{Location: gmt5})
	url := target("chat_1", at(2026, 3, 10, 8, 0, 0), at(2026, 3, 10, 9, 0, 0))
	token := func(tok string) map[string]string { return map[string]string{"wolkvox-token": tok} }

	results := make(chan answer, 4)
	var wg sync.WaitGroup
	start := func(tok string) {
		wg.Go(func() { results <- do(s, url, token(tok)) })
	}
	start("a")
	start("a")
	<-src.entered
	<-src.entered // two requests of token a in flight

	thirdDone := make(chan answer, 1)
	go func() { thirdDone <- do(s, url, token("a")) }()
	select {
	case third := <-thirdDone:
		var env envelope
		_ = json.Unmarshal(third.body, &env)
		if third.status != http.StatusForbidden || env.Msg != "EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)" {
			t.Errorf("third request: %d %s", third.status, third.body)
		}
	case <-src.entered:
		t.Errorf("a third request of the same token got in")
		wg.Go(func() { results <- <-thirdDone })
	}

	start("b") // the limit is per token
	<-src.entered

	close(src.release)
	wg.Wait()
	close(results)
	for a := range results {
		if a.status != http.StatusNotFound {
			t.Errorf("held request answered %d, want 404", a.status)
		}
	}
	if a := do(s, url, token("a")); a.status != http.StatusNotFound {
		t.Errorf("after release: %d %s", a.status, a.body)
	}
	if s.Requests() != 5 {
		t.Errorf("Requests() = %d, want 5", s.Requests())
	}
}

func TestLatencyHonoursCancellation(t *testing.T) {
	s := simulator.NewServer(simulator.Chats{}, simulator.Options{Location: gmt5, Latency: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan answer, 1)
	go func() {
		done <- doCtx(ctx, s, target("chat_1", at(2026, 3, 10, 8, 0, 0), at(2026, 3, 10, 9, 0, 0)), auth)
	}()
	select {
	case a := <-done:
		if len(a.body) != 0 {
			t.Errorf("cancelled request got a body: %s", a.body)
		}
	case <-time.After(10 * time.Second): // guard only: an hour-long Latency would hang here
		t.Fatal("request not cancelled during Latency")
	}
	if s.Requests() != 1 {
		t.Errorf("Requests() = %d, want 1", s.Requests())
	}
}

func TestQuotaResetsAtMidnightInLocation(t *testing.T) {
	var mu sync.Mutex
	now := at(2026, 3, 10, 18, 59, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := simulator.NewServer(simulator.Chats{}, simulator.Options{Location: gmt5, DailyQuota: 2, Now: clock})
	url := target("chat_1", at(2026, 3, 10, 8, 0, 0), at(2026, 3, 10, 9, 0, 0))
	steps := []struct {
		name   string
		now    time.Time
		hdr    map[string]string
		status int
	}{
		{"first call", at(2026, 3, 10, 18, 59, 0), auth, 404},
		{"second call", at(2026, 3, 10, 18, 59, 30), auth, 404},
		{"quota used", at(2026, 3, 10, 18, 59, 59), auth, 403},
		{"UTC midnight does not reset", at(2026, 3, 10, 19, 1, 0), auth, 403},
		{"last second of the local day", at(2026, 3, 10, 23, 59, 59), auth, 403},
		{"local midnight resets", at(2026, 3, 11, 0, 0, 0), auth, 404},
		{"an error costs quota too", at(2026, 3, 11, 0, 0, 1), map[string]string{}, 401},
		{"used up again", at(2026, 3, 11, 0, 0, 2), auth, 403},
	}
	for _, st := range steps {
		mu.Lock()
		now = st.now
		mu.Unlock()
		a := do(s, url, st.hdr)
		if a.status != st.status {
			t.Fatalf("%s: status %d, want %d: %s", st.name, a.status, st.status, a.body)
		}
		if st.status == 403 && !bytes.Contains(a.body, []byte(`"TOKEN LIMIT EXCEEDED"`)) {
			t.Errorf("%s: body %s", st.name, a.body)
		}
	}
}

func TestRecordCap(t *testing.T) {
	base := at(2026, 3, 10, 8, 0, 0)
	src := simulator.Chats{
		chat("e", base.Add(5*time.Minute)),
		chat("b", base.Add(2*time.Minute)),
		chat("d", base.Add(1*time.Minute)),
		chat("a", base.Add(2*time.Minute)), // ties with b: ConnID decides
		chat("c", base.Add(3*time.Minute)),
	}
	tests := []struct {
		cap  int
		want []string
	}{
		{3, []string{"d", "a", "b"}},
		{1, []string{"d"}},
		{0, []string{"d", "a", "b", "c", "e"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("cap ", tt.cap), func(t *testing.T) {
			s := simulator.NewServer(src, simulator.Options{Location: gmt5, RecordCap: tt.cap})
			env, recs, _ := decode(t, do(s, target("chat_1", base, base.Add(time.Hour)), auth).body)
			if got := connIDs(recs); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if want := fmt.Sprintf("%d records were found", len(tt.want)); env.Msg != want {
				t.Errorf("msg %q, want %q", env.Msg, want)
			}
			if got := chatIDs(s.Served()); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Served %v, want %v", got, tt.want)
			}
		})
	}
}

// scanWriter counts patterns in a streamed answer without keeping it.
type scanWriter struct {
	header   http.Header
	status   int
	writes   int
	patterns []string
	counts   []int
	tail     []byte
	head     []byte
}

func (w *scanWriter) Header() http.Header { return w.header }
func (w *scanWriter) WriteHeader(s int)   { w.status = s }
func (w *scanWriter) Write(p []byte) (int, error) {
	w.writes++
	if len(w.head) < 200 {
		w.head = append(w.head, p[:min(len(p), 200-len(w.head))]...)
	}
	for i, pat := range w.patterns {
		// len(pat)-1 bytes of the previous writes: catches matches across writes, never counts one twice.
		keep := w.tail[max(0, len(w.tail)-(len(pat)-1)):]
		w.counts[i] += bytes.Count(append(append([]byte(nil), keep...), p...), []byte(pat))
	}
	w.tail = append(w.tail, p...)
	w.tail = append([]byte(nil), w.tail[max(0, len(w.tail)-64):]...)
	return len(p), nil
}

func TestDefaultRecordCapIs60000(t *testing.T) {
	base := at(2026, 3, 10, 0, 0, 0)
	src := make(simulator.Chats, 60001)
	for i := range src {
		src[i] = simulator.Chat{ConnID: fmt.Sprintf("c%06d", i), Closed: base.Add(time.Duration(i) * time.Second)} // lean: speed under -race
	}
	s := simulator.NewServer(src, simulator.Options{Location: gmt5})
	w := &scanWriter{header: http.Header{}, status: 200, patterns: []string{`"conn_id":`, `"c059999"`, `"c060000"`}, counts: make([]int, 3)}
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, target("chat_1", base, base.Add(24*time.Hour)), nil)
	r.Header.Set("wolkvox-token", "t")
	s.ServeHTTP(w, r)
	if w.status != http.StatusOK || !bytes.HasPrefix(w.head, []byte(`{"code":200,"error":null,"msg":"60000 records were found","data":[{`)) {
		t.Fatalf("status %d, head %s", w.status, w.head)
	}
	if w.counts[0] != 60000 || w.counts[1] != 1 || w.counts[2] != 0 {
		t.Errorf("records %d, last kept %d, first cut %d; want 60000, 1, 0", w.counts[0], w.counts[1], w.counts[2])
	}
	if w.writes < 100 {
		t.Errorf("answer written in %d writes: not streamed", w.writes)
	}
	if len(s.Served()) != 60000 {
		t.Errorf("Served %d", len(s.Served()))
	}
}

func TestCodeAlternatesByRequestNumber(t *testing.T) {
	base := at(2026, 3, 10, 8, 0, 0)
	s := simulator.NewServer(simulator.Chats{chat("a", base), chat("b", base)}, simulator.Options{Location: gmt5})
	url := target("chat_1", base, base.Add(time.Hour))
	steps := []struct {
		hdr  map[string]string
		code string // raw JSON; "" for an error answer
	}{
		{auth, `200`},
		{auth, `"200"`},
		{map[string]string{}, ""}, // request 3 is an error, yet still numbered
		{auth, `"200"`},
		{auth, `200`},
	}
	for i, st := range steps {
		a := do(s, url, st.hdr)
		if st.code == "" {
			continue
		}
		env, _, _ := decode(t, a.body)
		if string(env.Code) != st.code {
			t.Errorf("request %d: code %s, want %s", i+1, env.Code, st.code)
		}
	}
}

func TestSingleRecordSometimesAnObject(t *testing.T) {
	base := at(2026, 3, 10, 8, 0, 0)
	s := simulator.NewServer(simulator.Chats{chat("one", base), chat("two", base.Add(2*time.Hour))}, simulator.Options{Location: gmt5})
	oneURL := target("chat_1", base, base.Add(time.Hour))
	steps := []struct {
		url        string
		wantSingle bool
	}{
		{oneURL, true},
		{oneURL, false},
		{target("chat_1", base, base.Add(3*time.Hour)), false}, // two records: always a list, not a one-record occasion
		{oneURL, true},
		{oneURL, false},
	}
	for i, st := range steps {
		_, recs, single := decode(t, do(s, st.url, auth).body)
		if single != st.wantSingle {
			t.Errorf("answer %d: data as object = %v, want %v", i+1, single, st.wantSingle)
		}
		if recs[0]["conn_id"] != "one" {
			t.Errorf("answer %d: first record %v", i+1, recs[0]["conn_id"])
		}
	}
}

func TestAnswersKey(t *testing.T) {
	base := at(2026, 3, 10, 8, 0, 0)
	tests := []struct {
		key, want, absent string
	}{
		{"", "agent_anwers ", "agent_anwers"},
		{"agent_answers", "agent_answers", "agent_anwers "},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.key), func(t *testing.T) {
			s := simulator.NewServer(simulator.Chats{chat("a", base), chat("b", base)}, simulator.Options{Location: gmt5, AnswersKey: tt.key})
			_, recs, _ := decode(t, do(s, target("chat_1", base, base), auth).body)
			if v, ok := recs[0][tt.want]; !ok || v != "6" {
				t.Errorf("key %q = %q, %v; record %v", tt.want, v, ok, recs[0])
			}
			if _, ok := recs[0][tt.absent]; ok {
				t.Errorf("key %q present too", tt.absent)
			}
			for _, k := range []string{"conn_id", "channel", "date", "customer_name", "customer_email", "customer_phone", "customer_chars",
				"agent_id", "agent_name", "agent_chars", "time_on_agent", "chat_duration", "cod_act", "description_cod_act", "comments",
				"customer_id", "skill_id", "ASA", "last_participant_who_spoke", "extra_field", "comment", "user_id", "feeling",
				"date_close", "transfer", "agent_average_response_time"} {
				if _, ok := recs[0][k]; !ok {
					t.Errorf("field %q missing", k)
				}
			}
		})
	}
}

// parseDuration accepts both wire formats: plain seconds (maybe decimal) and HH:MM:SS.
func parseDuration(t *testing.T, v string) (time.Duration, bool) {
	t.Helper()
	if p := strings.Split(v, ":"); len(p) == 3 {
		h, e1 := strconv.Atoi(p[0])
		m, e2 := strconv.Atoi(p[1])
		s, e3 := strconv.Atoi(p[2])
		if e1 != nil || e2 != nil || e3 != nil || len(p[1]) != 2 || len(p[2]) != 2 {
			t.Fatalf("bad HH:MM:SS %q", v)
		}
		return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("bad seconds %q", v)
	}
	return time.Duration(f * float64(time.Second)), false
}

func TestDurationFormatsRoundTrip(t *testing.T) {
	t.Run("fixed chats", func(t *testing.T) {
		base := at(2026, 3, 10, 8, 0, 0)
		tests := []struct {
			handle, dur   time.Duration
			wantHandle    string
			wantDurations []string // either format is allowed, depending on conn_id
		}{
			{95 * time.Second, 100 * time.Second, "95", []string{"100", "00:01:40"}},
			{95500 * time.Millisecond, 25*time.Hour + 3*time.Minute + 4*time.Second, "95.5", []string{"90184", "25:03:04"}},
			{95250 * time.Millisecond, 100400 * time.Millisecond, "95.25", []string{"100", "00:01:40"}},
			{1234567 * time.Microsecond, 2 * time.Second, "1.235", []string{"2", "00:00:02"}},
		}
		for i, tt := range tests {
			c := chat(fmt.Sprint("d", i), base)
			c.HandleTime, c.Duration, c.AnswerDelay = tt.handle, tt.dur, 95400*time.Millisecond
			s := simulator.NewServer(simulator.Chats{c, chat("other", base)}, simulator.Options{Location: gmt5})
			_, recs, _ := decode(t, do(s, target("chat_1", base, base), auth).body)
			r := recs[0]
			if r["conn_id"] == "other" {
				r = recs[1]
			}
			if r["time_on_agent"] != tt.wantHandle || r["ASA"] != "95" {
				t.Errorf("%d: time_on_agent %q ASA %q", i, r["time_on_agent"], r["ASA"])
			}
			if d := r["chat_duration"]; d != tt.wantDurations[0] && d != tt.wantDurations[1] {
				t.Errorf("%d: chat_duration %q, want one of %v", i, d, tt.wantDurations)
			}
		}
	})

	t.Run("traffic", func(t *testing.T) {
		from := at(2026, 3, 10, 9, 0, 0)
		s := simulator.NewServer(simulator.NewTraffic(7, 300), simulator.Options{Location: gmt5})
		_, recs, _ := decode(t, do(s, target("chat_1", from, from.Add(6*time.Hour)), auth).body)
		served := s.Served()
		if len(recs) != len(served) || len(recs) < 500 {
			t.Fatalf("%d records, %d served", len(recs), len(served))
		}
		var clock, decimals int
		for i, r := range recs {
			c := served[i]
			if r["conn_id"] != c.ConnID {
				t.Fatalf("record %d is %s, served %s", i, r["conn_id"], c.ConnID)
			}
			d, hms := parseDuration(t, r["chat_duration"])
			if hms {
				clock++
			}
			if d != c.Duration {
				t.Errorf("%s: chat_duration %q, want %v", c.ConnID, r["chat_duration"], c.Duration)
			}
			h, err := strconv.ParseFloat(r["time_on_agent"], 64)
			if err != nil || h != c.HandleTime.Seconds() {
				t.Errorf("%s: time_on_agent %q, want %v s", c.ConnID, r["time_on_agent"], c.HandleTime.Seconds())
			}
			if strings.Contains(r["time_on_agent"], ".") {
				decimals++
			}
			if a, _ := parseDuration(t, r["ASA"]); a != c.AnswerDelay || strings.Contains(r["ASA"], ":") {
				t.Errorf("%s: ASA %q, want %v", c.ConnID, r["ASA"], c.AnswerDelay)
			}
			if r["date"] != c.Opened.In(gmt5).Format("2006-01-02 15:04:05") || r["date_close"] != c.Closed.In(gmt5).Format("2006-01-02 15:04:05") {
				t.Errorf("%s: date %q date_close %q", c.ConnID, r["date"], r["date_close"])
			}
			if c.HandleTime > c.Duration {
				t.Errorf("%s: handle time %v over duration %v", c.ConnID, c.HandleTime, c.Duration)
			}
		}
		if share := float64(clock) / float64(len(recs)); share < 0.35 || share > 0.65 {
			t.Errorf("HH:MM:SS share %.2f, want about half", share)
		}
		if decimals == 0 || decimals > len(recs)/2 {
			t.Errorf("%d of %d time_on_agent values have decimals", decimals, len(recs))
		}
	})
}

func TestServedAccounting(t *testing.T) {
	base := at(2026, 3, 10, 8, 0, 0)
	src := simulator.Chats{chat("a", base), chat("b", base.Add(time.Minute)), chat("c", base.Add(2*time.Minute)), chat("d", base.Add(3*time.Minute))}
	s := simulator.NewServer(src, simulator.Options{Location: gmt5})
	steps := []struct {
		url    string
		hdr    map[string]string
		fault  *simulator.Fault
		status int
	}{
		{target("chat_1", base, base.Add(time.Minute)), auth, nil, 200},                    // a b
		{target("chat_1", base, base.Add(time.Minute)), map[string]string{}, nil, 401},     // none
		{target("chat_1", base.Add(time.Hour), base.Add(2*time.Hour)), auth, nil, 404},     // none
		{target("chat_1", base.Add(time.Minute), base.Add(3*time.Minute)), auth, nil, 200}, // b c d: b again
		{target("chat_1", base, base.Add(time.Hour)), auth, &simulator.Fault{Status: 502, Body: "<html>bad gateway</html>"}, 502},
		{apiPath + "?api=chat_1&agent_dni=1001&date_ini=20260310080200&date_end=20260310080200", auth, nil, 200}, // c
	}
	for i, st := range steps {
		s.SetFault(st.fault)
		if a := do(s, st.url, st.hdr); a.status != st.status {
			t.Fatalf("step %d: status %d, want %d: %s", i, a.status, st.status, a.body)
		}
	}
	want := []string{"a", "b", "b", "c", "d", "c"}
	served := s.Served()
	if got := chatIDs(served); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Served %v, want %v", got, want)
	}
	if served[0] != src[0] {
		t.Errorf("served chat differs from the source's: %+v", served[0])
	}
	served[0].ConnID = "mutated"
	if s.Served()[0].ConnID != "a" {
		t.Errorf("Served returns shared memory")
	}
	if s.Requests() != len(steps) {
		t.Errorf("Requests() = %d, want %d", s.Requests(), len(steps))
	}
}

func TestFault(t *testing.T) {
	base := at(2026, 3, 10, 8, 0, 0)
	s := simulator.NewServer(simulator.Chats{chat("a", base)}, simulator.Options{Location: gmt5, DailyQuota: 100})
	url := target("chat_1", base, base)
	backup := `{"code":403,"error":"PLEASE VALIDATE TOKEN","msg":"backup in progress"}`
	tests := []struct {
		fault  *simulator.Fault
		status int
		body   string
	}{
		{&simulator.Fault{Status: 502, Body: "<html>bad gateway</html>"}, 502, "<html>bad gateway</html>"},
		{&simulator.Fault{Status: 403, Body: backup}, 403, backup},
		{nil, 200, ""},
	}
	for i, tt := range tests {
		s.SetFault(tt.fault)
		if tt.fault != nil {
			tt.fault.Status = 200 // SetFault must keep its own copy
		}
		a := do(s, url, map[string]string{}) // even without a token: the fault answers first
		if tt.fault == nil {
			a = do(s, url, auth)
		}
		if a.status != tt.status || (tt.body != "" && string(a.body) != tt.body) {
			t.Errorf("%d: %d %s", i, a.status, a.body)
		}
	}
	if s.Requests() != 4 {
		t.Errorf("Requests() = %d, want 4", s.Requests())
	}
}

func TestEscaping(t *testing.T) {
	base := at(2026, 3, 10, 8, 0, 0)
	c := chat("esc", base)
	c.Comments = "said \"hi\"\n\tbye \\ </script> ñ"
	c.CustomerName = "bad \xff byte"
	s := simulator.NewServer(simulator.Chats{c, chat("other", base)}, simulator.Options{Location: gmt5})
	a := do(s, target("chat_1", base, base), auth)
	_, recs, _ := decode(t, a.body)
	if recs[0]["comments"] != c.Comments {
		t.Errorf("comments %q, want %q", recs[0]["comments"], c.Comments)
	}
	if recs[0]["customer_name"] != "bad \uFFFD byte" {
		t.Errorf("customer_name %q", recs[0]["customer_name"])
	}
}

func TestTimeoutChatsOpenedADayBeforeTheWindow(t *testing.T) {
	from := at(2026, 3, 10, 15, 0, 0)
	s := simulator.NewServer(simulator.NewTraffic(3, 300), simulator.Options{Location: gmt5})
	_, recs, _ := decode(t, do(s, target("chat_1", from, from.Add(time.Hour)), auth).body)
	old := 0
	for _, r := range recs {
		if r["cod_act"] != "TIMEOUTCHAT" {
			continue
		}
		if r["description_cod_act"] != "Closed by timeout" {
			t.Errorf("description %q", r["description_cod_act"])
		}
		opened, err := time.ParseInLocation("2006-01-02 15:04:05", r["date"], gmt5)
		closed, err2 := time.ParseInLocation("2006-01-02 15:04:05", r["date_close"], gmt5)
		if err != nil || err2 != nil {
			t.Fatalf("dates %q %q", r["date"], r["date_close"])
		}
		if life := closed.Sub(opened); life < 22*time.Hour || life >= 24*time.Hour {
			t.Errorf("%s: timed out after %v", r["conn_id"], life)
		}
		if opened.Before(from.Add(-22 * time.Hour)) {
			old++
		}
	}
	if old < 10 {
		t.Errorf("only %d TIMEOUTCHAT records opened a day before the window", old)
	}
}

func TestTrafficIsRealistic(t *testing.T) {
	from := at(2026, 3, 10, 0, 0, 0)
	cs := simulator.NewTraffic(11, 300).ChatsClosedBetween(from, from.Add(24*time.Hour-time.Second))
	n := float64(len(cs))
	if n < 6500 || n > 7900 {
		t.Fatalf("%d chats in a day at 300/hour", len(cs))
	}
	count := map[string]map[string]int{"channel": {}, "skill": {}, "agent": {}, "feeling": {}, "last": {}, "cod": {}, "customer": {}}
	var fast, slow, opensByHour = 0, 0, [24]int{}
	for _, c := range cs {
		count["channel"][c.Channel]++
		count["skill"][c.SkillID]++
		count["agent"][c.AgentID+" "+c.AgentName]++
		count["feeling"][c.Feeling]++
		count["last"][c.LastParticipant]++
		count["cod"][c.CodAct]++
		count["customer"][c.CustomerName]++
		if c.AnswerDelay <= 30*time.Second {
			fast++
		}
		if c.AnswerDelay >= 2*time.Minute {
			slow++
		}
		if c.HandleTime > c.Duration || c.HandleTime <= 0 || !c.Closed.Equal(c.Opened.Add(c.Duration)) {
			t.Fatalf("inconsistent times: %+v", c)
		}
		if c.CustomerName == "" || c.CustomerID == "" || c.AgentAnswers < 1 {
			t.Fatalf("missing data: %+v", c)
		}
		if c.Opened.After(from) {
			opensByHour[c.Opened.In(gmt5).Hour()]++
		}
	}
	ch := count["channel"]
	if ordered := ch["WhatsApp"] > ch["Web"] && ch["Web"] > ch["Facebook"] && ch["Facebook"] > ch["Instagram"] && ch["Instagram"] > 0; !ordered {
		t.Errorf("channel mix %v", ch)
	}
	if k := len(count["skill"]); k < 4 || k > 6 {
		t.Errorf("%d skills", k)
	}
	if k := len(count["agent"]); k < 10 || k > 14 {
		t.Errorf("%d agents", k)
	}
	if k := len(count["customer"]); k < 100 {
		t.Errorf("only %d customer names", k)
	}
	f := count["feeling"]
	if neg := float64(f["negative"]+f["very negative"]) / n; neg < 0.10 || neg > 0.20 {
		t.Errorf("negative share %.2f, feelings %v", neg, f)
	}
	if len(f) != 5 {
		t.Errorf("feelings %v", f)
	}
	l := count["last"]
	if ordered := l["agent"] > l["customer"] && l["customer"] > l["chat-bot"] && l["chat-bot"] > 0; !ordered || len(l) != 3 {
		t.Errorf("last participants %v", l)
	}
	if share := float64(count["cod"]["TIMEOUTCHAT"]) / n; share < 0.2 || share > 0.5 || len(count["cod"]) < 4 {
		t.Errorf("timeout share %.2f, codes %v", share, count["cod"])
	}
	if share := float64(fast) / n; share < 0.7 || slow == 0 {
		t.Errorf("answered within 30 s: %.2f, after 2 min: %d", share, slow)
	}
	if opensByHour[10] < 3*opensByHour[2] {
		t.Errorf("no daily pattern: %v", opensByHour)
	}
}

func TestDemo(t *testing.T) {
	// Office hours, whatever the hour the test runs at.
	base, stop, err := simulator.Demo(1, at(2026, 3, 10, 10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	now := time.Now()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+target("chat_1", now.Add(-2*time.Hour), now.Add(time.Hour)), nil)
	req.Header.Set("wolkvox_server", "0001")
	req.Header.Set("wolkvox-token", "demo")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, truncate(body))
	}
	_, recs, _ := decode(t, body)
	if len(recs) < 20 {
		t.Errorf("only %d chats in two hours of demo traffic", len(recs))
	}
	for _, r := range recs {
		closed, err := time.ParseInLocation("2006-01-02 15:04:05", r["date_close"], gmt5)
		if err != nil || closed.After(time.Now()) {
			t.Fatalf("chat %s closes in the future: %q", r["conn_id"], r["date_close"])
		}
	}
	stop()
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, base+apiPath, nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("server still answers after stop")
	}
}

// Replay serves the source's chats of the chosen time as if they happened now: the
// same chats, moved by one whole-second shift.
func TestReplay(t *testing.T) {
	src := simulator.NewTraffic(42, 300)
	night := at(2026, 3, 10, 3, 0, 0)
	before := time.Now().Truncate(time.Second)
	replayed := simulator.Replay(src, night)
	after := time.Now().Truncate(time.Second)

	now := time.Now()
	got := replayed.ChatsClosedBetween(now.Add(-time.Hour), now)
	if len(got) == 0 {
		t.Fatal("no chats in the replayed hour")
	}
	byID := map[string]simulator.Chat{}
	for _, c := range src.ChatsClosedBetween(night.Add(-2*time.Hour), night.Add(2*time.Hour)) {
		byID[c.ConnID] = c
	}
	shift := got[0].Closed.Sub(byID[got[0].ConnID].Closed)
	if shift < before.Sub(night) || shift > after.Sub(night) || shift%time.Second != 0 {
		t.Fatalf("shift %v, want whole seconds between %v and %v", shift, before.Sub(night), after.Sub(night))
	}
	want := src.ChatsClosedBetween(now.Add(-time.Hour-shift), now.Add(-shift))
	if fmt.Sprint(chatIDs(got)) != fmt.Sprint(chatIDs(want)) {
		t.Fatalf("replayed %d chats, the source has %d at the replayed time", len(got), len(want))
	}
	for i, c := range got {
		o := want[i]
		if c.Closed != o.Closed.Add(shift) || c.Opened != o.Opened.Add(shift) || c.Feeling != o.Feeling || c.AnswerDelay != o.AnswerDelay {
			t.Fatalf("chat %s replayed as %+v, want %+v moved by %v", c.ConnID, c, o, shift)
		}
	}
	// The night's traffic, not the wall clock's: a busy hour holds several times more.
	busy := simulator.Replay(src, at(2026, 3, 10, 11, 0, 0)).ChatsClosedBetween(now.Add(-time.Hour), now)
	if len(busy) < 3*len(got) {
		t.Errorf("%d chats in a replayed night hour, %d in a replayed busy hour", len(got), len(busy))
	}
}

// With a visibility delay, a chat is listed only that long after it closed.
func TestVisibilityDelay(t *testing.T) {
	closed := at(2026, 3, 10, 12, 0, 0)
	now := closed.Add(5 * time.Second)
	s := simulator.NewServer(simulator.Chats{chat("late", closed)}, simulator.Options{
		Location: gmt5, VisibilityDelay: 12 * time.Second, Now: func() time.Time { return now },
	})
	window := target("chat_1", closed.Add(-time.Minute), closed.Add(time.Minute))
	if a := do(s, window, auth); a.status != http.StatusNotFound {
		t.Fatalf("5 s after closing: status %d, want 404 (not listed yet)", a.status)
	}
	now = closed.Add(12 * time.Second)
	if _, recs, _ := decode(t, do(s, window, auth).body); len(recs) != 1 {
		t.Fatalf("12 s after closing: %d records, want 1", len(recs))
	}
}

// The API compares wall-clock times: where clocks go back, both occurrences of the
// repeated hour are in a window that spans it.
func TestWindowsInWallClockTime(t *testing.T) {
	santiago, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	// On 4 April 2026 clocks go back at 24:00 to 23:00: 23:30 happens twice.
	first := time.Date(2026, 4, 5, 2, 30, 0, 0, time.UTC)  // 23:30 -03
	second := time.Date(2026, 4, 5, 3, 30, 0, 0, time.UTC) // 23:30 -04
	s := simulator.NewServer(simulator.Chats{chat("first", first), chat("second", second)}, simulator.Options{Location: santiago})
	get := func(ini, end string) []string {
		a := do(s, apiPath+"?api=chat_1&date_ini="+ini+"&date_end="+end, auth)
		_, recs, _ := decode(t, a.body)
		var ids []string
		for _, r := range recs {
			ids = append(ids, r["conn_id"])
		}
		return ids
	}
	if got := get("20260404000000", "20260404235959"); fmt.Sprint(got) != "[first second]" {
		t.Errorf("the whole 25-hour day: %v, want both", got)
	}
	if got := get("20260404232000", "20260404234000"); fmt.Sprint(got) != "[first second]" {
		t.Errorf("23:20..23:40: %v, want both", got)
	}
	if got := get("20260405000000", "20260405235959"); len(got) != 0 {
		t.Errorf("the next day: %v, want none", got)
	}
}
