package collector_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// baseConfig is one operation polled every 5 minutes, re-reading 10 minutes.
const baseConfig = `
operations:
  - name: main
    server: "0010"
    token: ` + testToken + `
    base_url: %s
    min_interval: 5m
    overlap: 10m
    request_timeout: 10s
`

func fileHandler(t *testing.T, status int, name string) http.Handler {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// goldenConfig has small buckets so the expected exposition stays readable.
const goldenConfig = baseConfig + `    agent_metrics: true
    skills: {"12": sales}
histograms:
  answer_delay: [20, 60]
  duration: [60, 600]
  handle_time: [60, 300]
`

func TestExposition(t *testing.T) {
	h := newHarness(t, fileHandler(t, http.StatusOK, "chats.json"), goldenConfig)
	h.refresh()
	expected, err := os.Open(filepath.Join("testdata", "chats.prom"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = expected.Close() }()
	// Everything but the call duration, which is measured in real time.
	names := []string{
		"wolkvox_chats_total", "wolkvox_chat_answer_delay_seconds", "wolkvox_chat_duration_seconds",
		"wolkvox_chat_handle_time_seconds", "wolkvox_chat_customer_characters_total", "wolkvox_chat_agent_characters_total",
		"wolkvox_chat_agent_messages_total", "wolkvox_chat_dispositions_total", "wolkvox_agent_chats_total",
		"wolkvox_agent_handle_time_seconds_total", "wolkvox_records_skipped_total", "wolkvox_up", "wolkvox_api_requests_total",
		"wolkvox_api_truncated_responses_total", "wolkvox_api_daily_quota", "wolkvox_query_min_interval_seconds",
		"wolkvox_last_success_timestamp_seconds", "wolkvox_last_query_records", "wolkvox_tracked_chats",
		"wolkvox_exporter_config_last_reload_successful", "wolkvox_exporter_config_last_reload_success_timestamp_seconds",
	}
	if err := testutil.GatherAndCompare(h.reg, expected, names...); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(h.coll, "wolkvox_api_request_duration_seconds"); n != 1 {
		t.Fatalf("%d request duration series, want 1", n)
	}
}

func TestLint(t *testing.T) {
	h := newHarness(t, fileHandler(t, http.StatusOK, "chats.json"), goldenConfig)
	h.refresh()
	problems, err := testutil.CollectAndLint(h.coll)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// Customer personal data reaches no label.
func TestNoPersonalDataInMetrics(t *testing.T) {
	h := newHarness(t, fileHandler(t, http.StatusOK, "chats.json"), goldenConfig)
	h.refresh()
	text := exposition(t, h)
	for _, pii := range []string{"Ana", "Pérez", "example.com", "+57", "1020304050", "u-1", "refund", "Bruno", "Carla"} {
		if strings.Contains(text, pii) {
			t.Errorf("metrics hold customer data %q", pii)
		}
	}
}

func exposition(t *testing.T, h *harness) string {
	t.Helper()
	srv := httptest.NewServer(collector.Handler(h.coll, h.reg, 0, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return string(b)
}

func chat(id string, closed time.Time) simulator.Chat {
	return simulator.Chat{
		ConnID: id, Channel: "WhatsApp", SkillID: "12", AgentID: "7", AgentName: "Luis",
		CustomerName: "Ana Pérez", CustomerEmail: "ana@example.com",
		Opened: closed.Add(-10 * time.Minute), Closed: closed,
		AnswerDelay: 15 * time.Second, Duration: 9 * time.Minute, HandleTime: 8 * time.Minute,
		CustomerChars: 100, AgentChars: 200, AgentAnswers: 4,
		CodAct: "SALE", CodActDescription: "Sale closed", Feeling: "neutral", LastParticipant: "agent",
	}
}

// Overlapping windows return chats again; each is counted once, including a chat
// opened a day before the window that returns it.
func TestNoDoubleCountAcrossOverlappingWindows(t *testing.T) {
	t0 := startTime
	var chats simulator.Chats
	for i := range 30 {
		// One chat a minute, from 15 minutes before the first query to 15 minutes after.
		chats = append(chats, chat(fmt.Sprintf("c%02d", i), t0.Add(time.Duration(i-15)*time.Minute+7*time.Second)))
	}
	old := chat("timeout-1", t0.Add(-2*time.Minute))
	old.Opened = old.Closed.Add(-23*time.Hour - 10*time.Minute)
	old.CodAct, old.CodActDescription = "TIMEOUTCHAT", "Closed by timeout"
	chats = append(chats, old)
	sim := simulator.NewServer(chats, simulator.Options{})
	h := newHarness(t, sim, baseConfig)

	distinct := map[string]bool{}
	for step := range 4 {
		h.refresh()
		now := h.clock.Now()
		for _, c := range chats {
			if !c.Closed.After(now) && !c.Closed.Before(t0.Add(-10*time.Minute)) {
				distinct[c.ConnID] = true
			}
		}
		if got, want := h.sum("wolkvox_chats_total"), float64(len(distinct)); got != want {
			t.Fatalf("step %d: %v chats counted, want %v distinct chats", step, got, want)
		}
		h.clock.Advance(5 * time.Minute)
	}
	served := sim.Served()
	if len(served) <= len(distinct) {
		t.Fatalf("the upstream served %d records for %d chats: the windows did not overlap", len(served), len(distinct))
	}
	if got := h.value("wolkvox_chat_dispositions_total", map[string]string{"code": "TIMEOUTCHAT"}); got != 1 {
		t.Fatalf("the day-old TIMEOUTCHAT chat counted %v times", got)
	}
	// Each window starts overlap before the previous one's end.
	ws := h.upstream.Windows()
	want := []window{
		{wire(t0.Add(-10 * time.Minute)), wire(t0)},
		{wire(t0.Add(-10 * time.Minute)), wire(t0.Add(5 * time.Minute))},
		{wire(t0.Add(-5 * time.Minute)), wire(t0.Add(10 * time.Minute))},
		{wire(t0), wire(t0.Add(15 * time.Minute))},
	}
	if fmt.Sprint(ws) != fmt.Sprint(want) {
		t.Fatalf("windows %v, want %v", ws, want)
	}
}

// The dedupe memory forgets a chat by when it was first seen, not by its date: a
// chat stays remembered while a later window can still return it.
func TestDedupeMemoryIsBounded(t *testing.T) {
	t0 := startTime
	old := chat("old-date", t0.Add(-time.Minute))
	old.Opened = t0.Add(-30 * time.Hour) // a date no window ever covers
	sim := simulator.NewServer(simulator.Chats{old}, simulator.Options{})
	h := newHarness(t, sim, baseConfig)
	steps := []struct {
		tracked float64
		why     string
	}{
		{1, "first seen in the window ending at t0"},
		{1, "the next window starts at t0-10m, before t0: it could return the chat again"},
		{1, "the window after starts at t0-5m"},
		{0, "windows now start at t0 or later: the chat (closed t0-1m) cannot come back"},
	}
	for i, s := range steps {
		h.refresh()
		if got := h.value("wolkvox_tracked_chats", nil); got != s.tracked {
			t.Fatalf("step %d: tracked_chats = %v, want %v: %s", i, got, s.tracked, s.why)
		}
		h.clock.Advance(5 * time.Minute)
	}
	if got := h.sum("wolkvox_chats_total"); got != 1 {
		t.Fatalf("chats counted %v times", got)
	}
}

// Many concurrent scrapes make one upstream call per min_interval.
func TestCallBudget(t *testing.T) {
	sim := simulator.NewServer(simulator.Chats{chat("a", startTime.Add(-time.Minute))}, simulator.Options{})
	h := newHarness(t, sim, baseConfig)
	scrapeMany := func() {
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				h.coll.Refresh(context.Background())
				_, _ = h.reg.Gather()
			})
		}
		wg.Wait()
	}
	steps := []struct {
		advance time.Duration
		calls   int
	}{
		{0, 1},
		{4*time.Minute + 59*time.Second, 1},
		{time.Second, 2}, // 5m after the first call
		{time.Minute, 2},
		{10 * time.Minute, 3},
	}
	for i, s := range steps {
		h.clock.Advance(s.advance)
		scrapeMany()
		if got := sim.Requests(); got != s.calls {
			t.Fatalf("step %d: %d upstream calls, want %d", i, got, s.calls)
		}
	}
	if got := h.value("wolkvox_chats_total", nil); got != 1 {
		t.Fatalf("chat counted %v times", got)
	}
}

// 100 scrapers at once through the handler, while the API is slow, make one call per
// min_interval, and each is served the chats.
func TestConcurrentScrapesShareOneCall(t *testing.T) {
	sim := simulator.NewServer(simulator.Chats{chat("a", startTime.Add(-time.Minute))}, simulator.Options{Latency: 200 * time.Millisecond})
	h := newHarness(t, sim, baseConfig)
	srv := httptest.NewServer(collector.Handler(h.coll, h.reg, 0, promhttp.HandlerOpts{}))
	defer srv.Close()
	for round, wantCalls := range []int{1, 2} {
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "wolkvox_chats_total{") {
					t.Errorf("scrape: %d, %v", resp.StatusCode, err)
				}
			})
		}
		wg.Wait()
		if got := sim.Requests(); got != wantCalls {
			t.Fatalf("round %d: %d upstream calls for 100 concurrent scrapes, want %d", round, got, wantCalls)
		}
		h.clock.Advance(5 * time.Minute)
	}
}

// blockingSource holds every query until released, to model a slow API.
type blockingSource struct {
	simulator.Chats
	entered chan struct{}
	release chan struct{}
}

func (b *blockingSource) ChatsClosedBetween(from, to time.Time) []simulator.Chat {
	b.entered <- struct{}{}
	<-b.release
	return b.Chats.ChatsClosedBetween(from, to)
}

// A scrape waits no longer than the scraper's timeout; the slow call finishes in
// the background and the next scrape shows its result.
func TestScrapeTimeout(t *testing.T) {
	src := &blockingSource{
		Chats:   simulator.Chats{chat("slow-1", startTime.Add(-time.Minute))},
		entered: make(chan struct{}, 1),
		release: make(chan struct{}),
	}
	h := newHarness(t, simulator.NewServer(src, simulator.Options{}), baseConfig)
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(src.release) }) }
	t.Cleanup(letGo) // runs before the upstream closes, so a failure ends the test
	srv := httptest.NewServer(collector.Handler(h.coll, h.reg, 900*time.Millisecond, promhttp.HandlerOpts{}))
	defer srv.Close()

	scraped := make(chan string, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1") // 100ms to wait, after the offset
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			scraped <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		scraped <- string(b)
	}()
	<-src.entered // the call is in the upstream and stays there
	var body string
	select {
	case body = <-scraped:
	case <-time.After(20 * time.Second):
		t.Fatal("the scrape waited for the slow call")
	}
	if !strings.Contains(body, `wolkvox_up{operation="main"} 0`) || strings.Contains(body, "wolkvox_chats_total{") {
		t.Fatalf("the first scrape should show no data yet:\n%s", body)
	}
	letGo()
	h.refresh() // waits for the call still running, starts none (min_interval)
	if got := h.value("wolkvox_chats_total", nil); got != 1 {
		t.Fatalf("after the slow call: %v chats, want 1", got)
	}
	if got := h.value("wolkvox_up", nil); got != 1 {
		t.Fatalf("up = %v after the slow call succeeded", got)
	}
	if n := len(h.upstream.Windows()); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

// --web.max-requests bounds the scrapes served at once, the wait for the API
// included: past it a scrape is answered 503 at once, not queued behind the API.
func TestMaxRequestsCoverTheWaitForTheAPI(t *testing.T) {
	src := &blockingSource{
		Chats:   simulator.Chats{chat("slow-1", startTime.Add(-time.Minute))},
		entered: make(chan struct{}, 1),
		release: make(chan struct{}),
	}
	h := newHarness(t, simulator.NewServer(src, simulator.Options{}), strings.Replace(baseConfig, "request_timeout: 10s", "request_timeout: 60s", 1))
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(src.release) }) }
	t.Cleanup(letGo)
	srv := httptest.NewServer(collector.Handler(h.coll, h.reg, 0, promhttp.HandlerOpts{MaxRequestsInFlight: 1}))
	defer srv.Close()
	get := func(status chan<- int) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Error(err)
			return
		}
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "60")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		status <- resp.StatusCode
	}
	first, second := make(chan int, 1), make(chan int, 1)
	go get(first)
	<-src.entered // the first scrape waits for the API, holding the one slot
	go get(second)
	select {
	case status := <-second:
		if status != http.StatusServiceUnavailable {
			t.Errorf("a second scrape while the first waits for the API: %d, want 503", status)
		}
	case <-time.After(scrapeDeadline):
		t.Error("a second scrape past --web.max-requests was queued behind the API call")
	}
	letGo()
	if status := <-first; status != http.StatusOK {
		t.Errorf("the first scrape: %d, want 200", status)
	}
}

// A failed call sets up to 0, leaves counters and the cursor as they were, and the
// next success re-reads the gap.
func TestFailureKeepsCountersAndCursor(t *testing.T) {
	t0 := startTime
	var chats simulator.Chats
	for i := range 6 {
		chats = append(chats, chat(fmt.Sprintf("f%d", i), t0.Add(time.Duration(i*4-2)*time.Minute)))
	}
	sim := simulator.NewServer(chats, simulator.Options{})
	// No growing backoff, so every step makes a call.
	h := newHarness(t, sim, baseConfig+"    max_backoff: 5m\n")

	h.refresh() // t0: f0 (t0-2m)
	before := h.counters()
	faults := []*simulator.Fault{
		{Status: http.StatusBadGateway, Body: "<html>Bad Gateway</html>"},
		{Status: http.StatusForbidden, Body: `{"code":403,"error":"EXCEEDS THE LIMIT OF SIMULTANEOUS REQUESTS PER TOKEN (2)"}`},
		{Status: 200, Body: `{"code":200,"data":[{"conn_id":"f1"},{"conn_id":"f2"`}, // cut mid-answer
		{Status: 200, Body: `{"data":[{"conn_id":"f1","channel":"Web"}],"code":"500","msg":"report failed"}`},
	}
	for i, f := range faults {
		sim.SetFault(f)
		h.clock.Advance(5 * time.Minute)
		h.refresh()
		if up := h.value("wolkvox_up", nil); up != 0 {
			t.Fatalf("fault %d: up = %v", i, up)
		}
		after := h.counters()
		for k, v := range before {
			if after[k] < v {
				t.Fatalf("fault %d: %s went down from %v to %v", i, k, v, after[k])
			}
			if !strings.HasPrefix(k, "wolkvox_api_") && after[k] != v {
				t.Fatalf("fault %d: %s changed from %v to %v", i, k, v, after[k])
			}
		}
		before = after
	}
	sim.SetFault(nil)
	h.clock.Advance(5 * time.Minute)
	h.refresh()
	if up := h.value("wolkvox_up", nil); up != 1 {
		t.Fatal("up did not return to 1")
	}
	ws := h.upstream.Windows()
	if first, last := ws[1], ws[len(ws)-1]; first.from != last.from || last.from != wire(t0.Add(-10*time.Minute)) {
		t.Fatalf("the window start moved during failures: %v", ws)
	}
	// Now t0+25m: every chat up to f5 (t0+18m) is counted once.
	if got := h.sum("wolkvox_chats_total"); got != 6 {
		t.Fatalf("%v chats after recovery, want 6", got)
	}
	wantResults := map[string]float64{"success": 2, "http_error": 1, "concurrency_limited": 1, "decode_error": 1, "api_error": 1}
	for result, want := range wantResults {
		if got := h.value("wolkvox_api_requests_total", map[string]string{"result": result}); got != want {
			t.Errorf("requests{result=%q} = %v, want %v", result, got, want)
		}
	}
}

// After quota_exceeded no call is made until the quota resets, at midnight in the
// operation's time zone: every call before would fail and still cost one.
func TestQuotaBackoff(t *testing.T) {
	sim := simulator.NewServer(simulator.Chats{}, simulator.Options{DailyQuota: 1})
	h := newHarness(t, sim, baseConfig)
	h.refresh() // 10:00 Bogota: the day's only call
	h.clock.Advance(5 * time.Minute)
	h.refresh() // 10:05: quota_exceeded
	if got := h.value("wolkvox_api_requests_total", map[string]string{"result": "quota_exceeded"}); got != 1 {
		t.Fatalf("quota_exceeded counted %v times, want 1", got)
	}
	midnight := time.Date(2026, 11, 24, 0, 0, 0, 0, bogota)
	if got := h.value("wolkvox_api_backoff_until_timestamp_seconds", nil); got != float64(midnight.Unix()) {
		t.Fatalf("backoff until %v, want %v (next midnight in Bogota)", got, midnight.Unix())
	}
	for h.clock.Now().Before(midnight.Add(-5 * time.Minute)) {
		h.clock.Advance(5 * time.Minute)
		h.refresh()
	}
	h.clock.Advance(5*time.Minute - time.Second)
	h.refresh() // 23:59:59
	if got := sim.Requests(); got != 2 {
		t.Fatalf("%d calls before midnight after the quota was spent, want 2", got)
	}
	h.clock.Advance(time.Second)
	h.refresh()
	if got := sim.Requests(); got != 3 {
		t.Fatalf("%d calls at midnight, want 3", got)
	}
}

// The token appears in no log line at debug level, no error and no metric, even
// when the upstream echoes it back.
func TestTokenNeverLeaks(t *testing.T) {
	sim := simulator.NewServer(simulator.Chats{chat("x", startTime.Add(-time.Minute))}, simulator.Options{Token: testToken})
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("date_end") {
		case wire(startTime.Add(5 * time.Minute)):
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"code":403,"error":"PLEASE VALIDATE TOKEN %s","msg":"got %s"}`, r.Header.Get("wolkvox-token"), r.Header.Get("wolkvox-token"))
		case wire(startTime.Add(10 * time.Minute)):
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "<html>proxy saw token=%s</html>", r.Header.Get("wolkvox-token"))
		default:
			sim.ServeHTTP(w, r)
		}
	})
	h := newHarness(t, echo, baseConfig)
	for range 4 {
		h.refresh()
		h.clock.Advance(5 * time.Minute)
	}
	if h.value("wolkvox_api_requests_total", map[string]string{"result": "unauthorized"}) != 1 ||
		h.value("wolkvox_api_requests_total", map[string]string{"result": "http_error"}) != 1 {
		t.Fatal("the echoing failures did not happen as planned")
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "level=debug") || !strings.Contains(logs, "PLEASE VALIDATE TOKEN") {
		t.Fatalf("the test did not log what it should check:\n%s", logs)
	}
	dump, err := h.coll.Config().Dump()
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"logs": logs, "metrics": exposition(t, h), "config dump": string(dump)} {
		if strings.Contains(text, testToken) {
			t.Errorf("the token appears in %s:\n%s", where, text)
		}
	}
}

// Each label keeps at most max_label_values values; the rest become "other".
func TestLabelValueLimit(t *testing.T) {
	var chats simulator.Chats
	for i, ch := range []string{"WhatsApp", "Web", "Telegram", "Email", "WhatsApp"} {
		c := chat(fmt.Sprintf("l%d", i), startTime.Add(-time.Duration(i+1)*time.Minute))
		c.Channel = ch
		chats = append(chats, c)
	}
	h := newHarness(t, simulator.NewServer(chats, simulator.Options{}), baseConfig+"    max_label_values: 2\n")
	h.refresh()
	got := map[string]float64{}
	for _, ch := range []string{"whatsapp", "web", "telegram", "email", "other"} {
		if v := h.value("wolkvox_chats_total", map[string]string{"channel": ch}); v == v { // not NaN
			got[ch] = v
		}
	}
	// Chats arrive sorted by close time: Email (l3), Telegram (l2), Web (l1), WhatsApp (l0, l4 before it).
	want := map[string]float64{"whatsapp": 2, "email": 1, "other": 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("chats by channel %v, want %v", got, want)
	}
}

// An answer cut at the record cap is not the whole window: the exporter asks again
// for half of it and counts every chat once.
func TestTruncatedAnswerSplitsWindow(t *testing.T) {
	t0 := startTime
	var chats simulator.Chats
	for i := range 8 {
		chats = append(chats, chat(fmt.Sprintf("t%d", i), t0.Add(-9*time.Minute+time.Duration(i)*time.Minute)))
	}
	sim := simulator.NewServer(chats, simulator.Options{RecordCap: 3})
	h := newHarness(t, sim, baseConfig, collector.WithRecordCap(3))
	for range 12 {
		h.refresh()
		if got := h.sum("wolkvox_chats_total"); got > 8 {
			t.Fatalf("%v chats counted, there are 8", got)
		}
		h.clock.Advance(5 * time.Minute)
	}
	if got := h.sum("wolkvox_chats_total"); got != 8 {
		t.Fatalf("%v chats counted, want 8; windows %v", got, h.upstream.Windows())
	}
	if got := h.value("wolkvox_api_truncated_responses_total", nil); got < 1 {
		t.Fatal("no truncated answer was counted")
	}
	ws := h.upstream.Windows()
	// The first window was cut: the second starts at the same point and ends halfway.
	if ws[1].from != ws[0].from || ws[1].to != wire(t0.Add(-5*time.Minute)) {
		t.Fatalf("second window %v after the cut first window %v", ws[1], ws[0])
	}
}

// Operations with one token never call the API at the same time; a call that
// cannot get the token within its request_timeout is not sent and not counted.
func TestSharedTokenCallsNeverOverlap(t *testing.T) {
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	sim := simulator.NewServer(simulator.Chats{chat("s1", startTime.Add(-time.Minute))}, simulator.Options{})
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		sim.ServeHTTP(w, r)
	})
	// Two collectors that share what calls with each token share, as the operations
	// of one exporter do.
	tokens := wolkvox.NewTokens()
	slow := newHarness(t, upstream, baseConfig, collector.WithTokens(tokens))
	impatient := newHarness(t, sim, strings.NewReplacer("name: main", "name: other", "request_timeout: 10s", "request_timeout: 200ms").Replace(baseConfig),
		collector.WithTokens(tokens))

	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(letGo) // runs before the upstream closes, so a failure ends the test
	done := make(chan struct{})
	go func() { slow.refresh(); close(done) }()
	<-entered // slow's call holds the token
	impatient.refresh()
	if got := impatient.sum("wolkvox_api_requests_total"); got != 0 {
		t.Fatalf("a call that was never sent counted as %v requests", got)
	}
	if got := sim.Requests(); got != 0 {
		t.Fatalf("the other operation reached the API %d times while the token was busy", got)
	}
	if !strings.Contains(impatient.logs.String(), "chat_1 query skipped") {
		t.Fatalf("the skipped call was not logged:\n%s", impatient.logs.String())
	}
	letGo()
	<-done
	if got := slow.value("wolkvox_chats_total", nil); got != 1 {
		t.Fatalf("the operation holding the token counted %v chats, want 1", got)
	}
}
