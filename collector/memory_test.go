package collector_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// streamTransport answers with a generated answer produced as it is read, so the
// test holds no body in memory.
type streamTransport struct{ records int }

func (t streamTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{}, Request: r, ContentLength: -1,
		Body: io.NopCloser(simulator.NewAnswerReader(simulator.AnswerOptions{Records: t.records, Seed: 3})),
	}, nil
}

// Ingesting a 60,000-record answer (54 MB) leaves only what the exporter must keep:
// the dedupe memory (60,000 ids of 8 bytes with their window end, about 24 bytes
// each in the map: 1.4 MiB) and the series (a few hundred). The bound, 8 MiB, is
// far below the answer's size: keeping records, their text or per-record maps
// would pass it.
func TestIngestLiveHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 54 MB")
	}
	const records, bound = 60000, 8 << 20
	cfg, err := config.Parse([]byte(ingestConfig), ".")
	if err != nil {
		t.Fatal(err)
	}
	base := testkit.LiveHeap()
	c := collector.New(log.NewNopLogger(), collector.WithClock(func() time.Time { return startTime }),
		collector.WithTransport(streamTransport{records}))
	if err := c.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	c.Refresh(context.Background())
	grew := int64(testkit.LiveHeap() - base) //nolint:gosec // G115: heap sizes are far below 2^63

	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if got := gatheredSum(t, reg, "wolkvox_chats_total"); got != records {
		t.Fatalf("%v chats counted, want %d", got, records)
	}
	t.Logf("live heap after ingesting %d records: +%.1f MiB", records, float64(grew)/(1<<20))
	if grew > bound {
		t.Fatalf("live heap grew by %d bytes, bound %d", grew, bound)
	}
	runtime.KeepAlive(c)
}

func gatheredSum(tb testing.TB, g prometheus.Gatherer, name string) float64 {
	tb.Helper()
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}
