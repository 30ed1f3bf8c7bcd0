package collector_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
)

const testToken = "tok-9c1e77-do-not-leak"

// startTime is 10:00 in Bogota.
var startTime = time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)

var bogota = func() *time.Location {
	loc, err := time.LoadLocation("America/Bogota")
	if err != nil {
		panic(err)
	}
	return loc
}()

// window is one request's date_ini and date_end as sent.
type window struct{ from, to string }

// recorder wraps an upstream and remembers the windows it was asked for.
type recorder struct {
	next    http.Handler
	mu      sync.Mutex
	windows []window
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	r.mu.Lock()
	r.windows = append(r.windows, window{q.Get("date_ini"), q.Get("date_end")})
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

func (r *recorder) Windows() []window {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]window(nil), r.windows...)
}

// harness is a collector on a fake clock, pointed at an httptest upstream.
type harness struct {
	t        *testing.T
	clock    *testkit.Clock // the collector's: time moves only when a test says so
	upstream *recorder
	coll     *collector.Collector
	reg      *prometheus.Registry
	logs     *testkit.SyncBuffer
	url      string
	cfgYAML  string
	opts     []collector.Option
}

// newHarness starts upstream and a collector configured by cfgYAML, where %s is the
// upstream's URL and the token is testToken.
func newHarness(t *testing.T, upstream http.Handler, cfgYAML string, opts ...collector.Option) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		clock:    testkit.NewClock(startTime),
		upstream: &recorder{next: upstream},
		logs:     &testkit.SyncBuffer{},
		cfgYAML:  cfgYAML,
		opts:     opts,
	}
	srv := httptest.NewServer(h.upstream)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.restart()
	return h
}

// restart replaces the collector with a new one, as a restarted process would:
// only what it saved (WithStorage) carries over.
func (h *harness) restart() {
	h.t.Helper()
	logger := log.NewLogfmtLogger(h.logs) // every level, debug included
	h.coll = collector.New(logger, append([]collector.Option{collector.WithClock(h.clock.Now)}, h.opts...)...)
	if err := h.reload(h.cfgYAML); err != nil {
		h.t.Fatal(err)
	}
	h.reg = prometheus.NewRegistry()
	h.reg.MustRegister(h.coll)
}

func (h *harness) reload(cfgYAML string) error {
	return h.coll.Reload(func() (*config.Config, error) {
		return config.Parse([]byte(fmt.Sprintf(cfgYAML, h.url)), ".")
	})
}

// refresh runs a scrape's API step and waits for any call it starts.
func (h *harness) refresh() {
	h.t.Helper()
	h.refreshWithin(30 * time.Second)
}

// refreshWithin is refresh with a bound of its own, for calls that are slow by design.
func (h *harness) refreshWithin(d time.Duration) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	h.coll.Refresh(ctx)
	if ctx.Err() != nil {
		h.t.Fatalf("refresh did not finish in %s", d)
	}
}

// families gathers the registry into metric families by name.
func (h *harness) families() map[string]*dto.MetricFamily {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// value returns the value of the series of name whose labels include want, or NaN.
// For histograms it returns the sample count.
func (h *harness) value(name string, want map[string]string) float64 {
	h.t.Helper()
	mf, ok := h.families()[name]
	if !ok {
		return math.NaN()
	}
	for _, m := range mf.GetMetric() {
		if matches(m, want) {
			return metricValue(m)
		}
	}
	return math.NaN()
}

// sum adds every series of name, or all sample counts of a histogram.
func (h *harness) sum(name string) float64 {
	h.t.Helper()
	total := 0.0
	if mf, ok := h.families()[name]; ok {
		for _, m := range mf.GetMetric() {
			total += metricValue(m)
		}
	}
	return total
}

func matches(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, lp := range m.GetLabel() {
		got[lp.GetName()] = lp.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return math.NaN()
}

// counters snapshots every counter and histogram count, to check none decreases.
func (h *harness) counters() map[string]float64 {
	out := map[string]float64{}
	for name, mf := range h.families() {
		if mf.GetType() != dto.MetricType_COUNTER && mf.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for _, m := range mf.GetMetric() {
			var key strings.Builder
			key.WriteString(name)
			for _, lp := range m.GetLabel() {
				fmt.Fprintf(&key, ",%s=%s", lp.GetName(), lp.GetValue())
			}
			out[key.String()] = metricValue(m)
		}
	}
	return out
}

// requests is how many calls reached the upstream.
func (h *harness) requests() int { return len(h.upstream.Windows()) }

// scrapeDeadline is how long a scrape through the HTTP handler may take before the
// test calls it hung: a functional bound, far above any scrape budget used in tests.
const scrapeDeadline = 10 * time.Second

// scrape serves one scrape through collector.Handler, as Prometheus would with
// X-Prometheus-Scrape-Timeout-Seconds set to scrapeTimeout, and returns the body. It
// fails the test unless a 200 with valid UTF-8 arrives within scrapeDeadline. The
// API call the scrape starts may still be running: refresh waits for it.
func (h *harness) scrape(offset time.Duration, scrapeTimeout string) string {
	h.t.Helper()
	return h.scrapeAccepting(offset, scrapeTimeout, "")
}

// openMetricsAccept is what Prometheus asks for by default.
const openMetricsAccept = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"

// scrapeAccepting is scrape with an Accept header: "" gets the text format.
func (h *harness) scrapeAccepting(offset time.Duration, scrapeTimeout, accept string) string {
	h.t.Helper()
	srv := httptest.NewServer(collector.Handler(h.coll, h.reg, offset, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodGet, srv.URL, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", scrapeTimeout)
	client := &http.Client{Timeout: scrapeDeadline}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatalf("the scrape did not answer within %s: %v", scrapeDeadline, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("reading the scrape: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("the scrape answered %d:\n%s", resp.StatusCode, b)
	}
	if !utf8.Valid(b) {
		h.t.Fatal("the scrape is not valid UTF-8")
	}
	return string(b)
}

// logMark and logsSince cut the log output: logsSince(mark) is what was logged
// after logMark returned mark.
func (h *harness) logMark() int { return len(h.logs.String()) }

func (h *harness) logsSince(mark int) string { return h.logs.String()[mark:] }

func wire(t time.Time) string { return t.In(bogota).Format("20060102150405") }
