package backfill_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/backfill"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// answers is an API that serves answers generated beforehand, by date_ini's day.
type answers map[string][]byte

func (a answers) RoundTrip(r *http.Request) (*http.Response, error) {
	body, ok := a[r.URL.Query().Get("date_ini")[:8]]
	if !ok {
		return nil, fmt.Errorf("no answer for %s", r.URL.Query().Get("date_ini"))
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBackfill30Days backfills 30 days of 20,000 chats each (600,000 records)
// from answers generated beforehand, at the default 5-minute step, to a file. It
// reports the process's CPU time per run, and the output's size.
func BenchmarkBackfill30Days(b *testing.B) {
	const days, perDay = 30, 20000
	cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: \"0010\"\n    token: bench\n    base_url: http://wolkvox.invalid\n"), ".")
	if err != nil {
		b.Fatal(err)
	}
	op := cfg.Operations[0]
	first := time.Date(2026, 10, 1, 0, 0, 0, 0, op.Location())
	api := answers{}
	for d := range days {
		day := first.AddDate(0, 0, d)
		var body bytes.Buffer
		if _, err := simulator.WriteAnswer(&body, simulator.AnswerOptions{Records: perDay, Seed: int64(d + 1), Day: day}); err != nil {
			b.Fatal(err)
		}
		api[day.Format("20060102")] = body.Bytes()
	}
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(b.TempDir(), "history.om")
		cpu := cpuTime()
		sum, err := backfill.Run(context.Background(), backfill.Options{
			Operation: op, Histograms: cfg.Histograms, From: first.Format(time.DateOnly), To: first.AddDate(0, 0, days-1).Format(time.DateOnly),
			Output: out, Step: 5 * time.Minute, Transport: api, Out: io.Discard,
			Labels: nil, MaxCalls: days,
		})
		if err != nil || sum.Records != days*perDay {
			b.Fatalf("%+v, %v", sum, err)
		}
		b.ReportMetric((cpuTime() - cpu).Seconds(), "cpu-s/op")
		size = fileSize(b, out)
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB-output")
}
