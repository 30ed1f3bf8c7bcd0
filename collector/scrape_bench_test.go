package collector_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// loadedCollector is a collector with one operation holding chatSeries chat series
// (and the scope, disposition and histogram series they imply), whose next API call
// is far away: every scrape only gathers and encodes.
func loadedCollector(tb testing.TB, chatSeries int) (*collector.Collector, *prometheus.Registry) {
	tb.Helper()
	channels := []string{"WhatsApp", "Web", "Facebook", "Instagram"}
	feelings := []string{"very negative", "negative", "neutral", "positive", "very positive"}
	participants := []string{"agent", "customer", "chat-bot"}
	closed := time.Date(2026, 11, 23, 14, 58, 0, 0, time.UTC)
	// 4 channels x 5 feelings x 3 participants = 60 chat series per skill.
	chats := make(simulator.Chats, chatSeries)
	for i := range chats {
		c := chat(fmt.Sprint("bench-", i), closed)
		c.Channel, c.SkillID = channels[i%4], fmt.Sprintf("skill-%d", i/60)
		c.Feeling, c.LastParticipant = feelings[(i/4)%5], participants[(i/20)%3]
		chats[i] = c
	}
	srv := httptest.NewServer(simulator.NewServer(chats, simulator.Options{}))
	tb.Cleanup(srv.Close)
	cfg, err := config.Parse(fmt.Appendf(nil, `
operations:
  - name: main
    server: "0010"
    token: bench-token
    base_url: %s
    max_label_values: 1000
    max_series: 1000000
`, srv.URL), ".")
	if err != nil {
		tb.Fatal(err)
	}
	// The clock stands still: after the first call, the next is never due.
	c := collector.New(log.NewNopLogger(), collector.WithClock(func() time.Time { return startTime }))
	if err := c.Apply(cfg); err != nil {
		tb.Fatal(err)
	}
	c.Refresh(tb.Context())
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if got := gatheredSum(tb, reg, "wolkvox_chats_total"); got != float64(chatSeries) {
		tb.Fatalf("%v chats counted, want %d", got, chatSeries)
	}
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
		{"chat-series-5000", collector.Handler(c, reg, 0, promhttp.HandlerOpts{}), ""},
		{"chat-series-5000-gzip", collector.Handler(c, reg, 0, promhttp.HandlerOpts{}), "gzip"},
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
	h := collector.Handler(c, reg, 0, promhttp.HandlerOpts{})
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
