package collector_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// bodyTransport answers every request with body, without a socket, so the
// benchmark measures ingesting the answer, not the loopback.
type bodyTransport struct{ body []byte }

func (t bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{}, Request: r,
		Body: io.NopCloser(bytes.NewReader(t.body)), ContentLength: int64(len(t.body)),
	}, nil
}

const ingestConfig = `
operations:
  - name: main
    server: "0010"
    token: ` + testToken + `
    base_url: https://wv0010.example
    agent_metrics: true
    skills: {"12": sales, "14": support}
`

// BenchmarkIngest takes one generated answer through the whole pipeline: decode,
// normalize, dedupe and aggregate, streamed from the response body. Each iteration
// is the first call of a new collector, so every chat is new to it.
func BenchmarkIngest(b *testing.B) {
	cfg, err := config.Parse([]byte(ingestConfig), ".")
	if err != nil {
		b.Fatal(err)
	}
	clock := func() time.Time { return startTime }
	for _, n := range []int{1000, 10000, 60000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			var body bytes.Buffer
			if _, err := simulator.WriteAnswer(&body, simulator.AnswerOptions{Records: n, Seed: 1}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(body.Len()))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			var c *collector.Collector
			for b.Loop() {
				c = collector.New(log.NewNopLogger(), collector.WithClock(clock),
					collector.WithTransport(bodyTransport{body.Bytes()}))
				if err := c.Apply(cfg); err != nil {
					b.Fatal(err)
				}
				c.Refresh(context.Background())
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			total := float64(n) * float64(b.N)
			b.ReportMetric(total/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/record")

			// Every generated chat has its own conn_id: each is counted once.
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			chats := gatheredSum(b, reg, "wolkvox_chats_total")
			if chats != float64(n) {
				b.Fatalf("%v chats counted, want %d", chats, n)
			}
		})
	}
}
