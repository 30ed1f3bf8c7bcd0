package collector

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
)

// loadedCollector is a collector with one operation holding chatSeries chat series
// (and the scope, disposition and histogram series they imply), whose next API call
// is far away: every scrape only gathers and encodes.
func loadedCollector(tb testing.TB, chatSeries int) (*Collector, *prometheus.Registry) {
	tb.Helper()
	cfg, err := config.Parse([]byte(`
operations:
  - name: main
    server: "0010"
    token: bench-token
    max_label_values: 1000
    max_series: 100000
`), ".")
	if err != nil {
		tb.Fatal(err)
	}
	c := New(log.NewNopLogger())
	if err := c.Apply(cfg); err != nil {
		tb.Fatal(err)
	}
	op := c.ops[0]
	st := newState(op.settings)
	channels := []string{"whatsapp", "web", "facebook", "instagram"}
	feelings := []string{"very_negative", "negative", "neutral", "positive", "very_positive"}
	participants := []string{"agent", "customer", "chatbot"}
	// 4 channels x 5 feelings x 3 participants = 60 chat series per skill.
	for i := 0; len(st.tally.chats) < chatSeries; i++ {
		sc := scope{channel: channels[i%4], skill: fmt.Sprintf("skill-%d", i/60)}
		st.tally.chat(chatKey{sc, feelings[(i/4)%5], participants[(i/20)%3]}, time.Time{}).v = float64(i)
		ss := st.tally.scope(sc, time.Time{})
		ss.answerDelay.observe(float64(i % 300))
		ss.duration.observe(float64(i % 3000))
		ss.handleTime.observe(float64(i % 900))
		st.tally.disposition(dispositionKey{sc, "INFO", "Information provided"}, time.Time{}).v++
	}
	op.state = st
	op.nextCall = time.Now().Add(24 * time.Hour)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return c, reg
}

func scrape(tb testing.TB, h http.Handler) {
	tb.Helper()
	scrapeWith(tb, h, "")
}

// discardWriter is a ResponseWriter that keeps only the status and the body size:
// the benchmarks measure rendering, not a buffer growing.
type discardWriter struct {
	header http.Header
	status int
	bytes  int
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) WriteHeader(status int)      { d.status = status }
func (d *discardWriter) Write(p []byte) (int, error) { d.bytes += len(p); return len(p), nil }

func scrapeWith(tb testing.TB, h http.Handler, encoding string) {
	tb.Helper()
	req := httptest.NewRequestWithContext(tb.Context(), http.MethodGet, "/metrics", nil)
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	w := &discardWriter{header: http.Header{}, status: http.StatusOK}
	h.ServeHTTP(w, req)
	if w.status != http.StatusOK || w.bytes == 0 {
		tb.Fatalf("scrape answered %d with %d bytes", w.status, w.bytes)
	}
}

// BenchmarkScrape serves /metrics between API calls with 5,000 chat series (and the
// scope, disposition and histogram series that go with them, 21,000 lines in all),
// gathered and encoded by promhttp at every scrape. Baseline in the same run: 5,000
// plain client_golang counters.
func BenchmarkScrape(b *testing.B) {
	const series = 5000
	c, reg := loadedCollector(b, series)
	for _, bc := range []struct {
		name     string
		handler  http.Handler
		encoding string
	}{
		{"chat-series-5000", Handler(c, reg, 0, promhttp.HandlerOpts{}), ""},
		{"chat-series-5000-gzip", Handler(c, reg, 0, promhttp.HandlerOpts{}), "gzip"},
		{"baseline-5000-plain-counters", func() http.Handler {
			plain := prometheus.NewRegistry()
			vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baseline_chats_total", Help: "h"},
				[]string{"operation", "channel", "skill", "feeling", "last_participant"})
			plain.MustRegister(vec)
			for i := range series {
				vec.WithLabelValues("main", fmt.Sprint(i%4), fmt.Sprint(i/60), fmt.Sprint(i%5), fmt.Sprint(i%3)).Add(float64(i))
			}
			return promhttp.HandlerFor(plain, promhttp.HandlerOpts{})
		}(), ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				scrapeWith(b, bc.handler, bc.encoding)
			}
		})
	}
}

// BenchmarkConcurrentScrapes has 100 scrapers (2 CPUs x 50) hitting /metrics at
// once between API calls; the baseline is one scraper at a time.
func BenchmarkConcurrentScrapes(b *testing.B) {
	c, reg := loadedCollector(b, 5000)
	h := Handler(c, reg, 0, promhttp.HandlerOpts{})
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			scrape(b, h)
		}
	})
	b.Run("100-scrapers", func(b *testing.B) {
		b.SetParallelism(100 / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				scrape(b, h)
			}
		})
	})
}

// The dedupe memory of 100,000 tracked chats stays under 16 MiB, counted as the
// live heap it adds, and a state's copy (made once per API call) costs the same.
func TestDedupeMemory(t *testing.T) {
	const chats = 100_000
	const bound = 16 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	seen := make(map[uint64]int64)
	for i := range chats {
		seen[connKey(fmt.Sprintf("CHAT-%010d-%d", i, i*7919))] = int64(i / 1000)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	t.Logf("%d tracked chats: %.1f MiB, %.0f bytes each", len(seen), grown/(1<<20), grown/chats)
	if len(seen) != chats {
		t.Fatalf("%d distinct keys, want %d", len(seen), chats)
	}
	if grown > bound {
		t.Fatalf("dedupe memory for %d chats is %.0f bytes, over %d", chats, grown, bound)
	}
	runtime.KeepAlive(seen)
}

// BenchmarkStateSave is the save after each API call: a state with 5,000 chat
// series and 100,000 tracked chats, encoded and written atomically.
func BenchmarkStateSave(b *testing.B) {
	c, _ := loadedCollector(b, 5000)
	op := c.ops[0]
	for i := range 100_000 {
		op.state.seen[connKey(fmt.Sprint("chat-", i))] = int64(i / 1000)
	}
	st := &store{dir: b.TempDir()}
	b.ReportAllocs()
	for b.Loop() {
		if err := st.save(op.settings, op.state); err != nil {
			b.Fatal(err)
		}
	}
	if fi, err := os.Stat(st.path("main")); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "MiB/file")
	}
}
