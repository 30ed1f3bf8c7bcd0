package backfill_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
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

// benchDays returns an operation and answers of days of perDay chats each, from
// 2026-10-01, generated beforehand.
func benchDays(b *testing.B, days, perDay int) (config.Operation, config.Histograms, answers, time.Time) {
	b.Helper()
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
	return op, cfg.Histograms, api, first
}

// backfillInto backfills the days into output in format and returns the summary.
func backfillInto(b *testing.B, op config.Operation, h config.Histograms, api answers, first time.Time, days int, output, format string) backfill.Summary {
	b.Helper()
	sum, err := backfill.Run(context.Background(), backfill.Options{
		Operation: op, Histograms: h, From: first.Format(time.DateOnly), To: first.AddDate(0, 0, days-1).Format(time.DateOnly),
		Output: output, Format: format, Step: 5 * time.Minute, Transport: api, Out: io.Discard, MaxCalls: days,
	})
	if err != nil {
		b.Fatalf("%+v, %v", sum, err)
	}
	return sum
}

// BenchmarkBackfill30Days backfills 30 days of 20,000 chats each (600,000 records)
// from answers generated beforehand, at the default 5-minute step, as blocks: the
// wall time is ns/op. It reports the process's CPU time per run, and the blocks' size.
func BenchmarkBackfill30Days(b *testing.B) {
	const days, perDay = 30, 20000
	op, h, api, first := benchDays(b, days, perDay)
	var size int64
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "history")
		cpu := cpuTime()
		if sum := backfillInto(b, op, h, api, first, days, out, backfill.FormatBlocks); sum.Records != days*perDay {
			b.Fatalf("%+v", sum)
		}
		b.ReportMetric((cpuTime() - cpu).Seconds(), "cpu-s/op")
		size = treeSize(b, out)
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB-output")
}

// BenchmarkBlocksAgainstPromtool writes 3 days of 20,000 chats as blocks, and, in the
// same run, the same days as OpenMetrics text that promtool (the first on PATH)
// turns into blocks. It reports the wall time of each path and how many times
// faster blocks are end to end.
func BenchmarkBlocksAgainstPromtool(b *testing.B) {
	const days, perDay = 3, 20000
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		b.Skip("no promtool on PATH")
	}
	version, _ := exec.CommandContext(b.Context(), promtool, "--version").Output()
	b.Logf("%s: %s", promtool, bytes.SplitN(version, []byte("\n"), 2)[0])
	op, h, api, first := benchDays(b, days, perDay)
	var blocks, text time.Duration
	for b.Loop() {
		dir := b.TempDir()
		start := time.Now()
		backfillInto(b, op, h, api, first, days, filepath.Join(dir, "blocks"), backfill.FormatBlocks)
		blocks += time.Since(start)

		start = time.Now()
		backfillInto(b, op, h, api, first, days, filepath.Join(dir, "history.om"), backfill.FormatOpenMetrics)
		create := exec.CommandContext(b.Context(), promtool, "tsdb", "create-blocks-from", "openmetrics", filepath.Join(dir, "history.om"), filepath.Join(dir, "promtool"))
		if out, err := create.CombinedOutput(); err != nil {
			b.Fatalf("promtool: %v\n%s", err, out)
		}
		text += time.Since(start)
	}
	b.ReportMetric(blocks.Seconds()/float64(b.N), "blocks-s/op")
	b.ReportMetric(text.Seconds()/float64(b.N), "text+promtool-s/op")
	b.ReportMetric(float64(text)/float64(blocks), "times-faster")
}
