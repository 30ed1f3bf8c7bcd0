// Command peakrss ingests generated chat_1 answers through the whole pipeline (a
// loopback upstream that generates the answer as it sends it, the API client, the
// collector) and reports how long it took and the process's peak resident set
// size. scripts/peak-rss.sh runs it under /usr/bin/time -v.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolkvox-exporter/wolkvox_exporter/backfill"
	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

const configYAML = `
operations:
  - name: main
    server: "0010"
    token: peak-rss-token
    base_url: %s
    agent_metrics: true
    min_interval: 5m
`

func main() {
	records := flag.Int("records", 60000, "records per answer")
	calls := flag.Int("calls", 1, "answers to ingest, one per min_interval, each with new chats")
	backfillDays := flag.Int("backfill-days", 0, "instead, backfill this many days of -records chats each, at a 5-minute step")
	format := flag.String("format", backfill.FormatBlocks, "with -backfill-days: blocks or openmetrics")
	openChats := flag.Int("open-chats", 0, "instead, read an api=chats answer of this many open chats, -messages each")
	messages := flag.Int("messages", 20, "with -open-chats: messages in each chat's conversation")
	flag.Parse()
	run := func() error { return run(*records, *calls) }
	switch {
	case *backfillDays > 0:
		run = func() error { return runBackfill(*records, *backfillDays, *format) }
	case *openChats > 0:
		run = func() error { return runOpenChats(*openChats, *messages) }
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(1)
	}
}

// serve starts upstream on loopback and returns the configuration of an operation
// that reads it, and how to stop it.
func serve(upstream http.Handler, extra ...string) (*config.Config, func(), error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: upstream, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() { _ = srv.Close() }
	cfg, err := config.Parse([]byte(fmt.Sprintf(configYAML, "http://"+ln.Addr().String())+strings.Join(extra, "")), ".")
	if err != nil {
		stop()
		return nil, nil, err
	}
	return cfg, stop, nil
}

// runBackfill backfills days of generated answers, each generated as it is sent, to
// a temporary directory of blocks, or file of text.
func runBackfill(records, days int, format string) error {
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		day, err := time.ParseInLocation("20060102", r.URL.Query().Get("date_ini")[:8], time.FixedZone("GMT-5", -5*3600))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.Copy(w, simulator.NewAnswerReader(simulator.AnswerOptions{Records: records, Seed: day.Unix(), Day: day}))
	})
	cfg, stop, err := serve(upstream)
	if err != nil {
		return err
	}
	defer stop()
	dir, err := os.MkdirTemp("", "peakrss-backfill")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	first := time.Date(2026, 10, 1, 0, 0, 0, 0, cfg.Operations[0].Location())
	output := filepath.Join(dir, "history")
	start := time.Now()
	sum, err := backfill.Run(context.Background(), backfill.Options{
		Operation: cfg.Operations[0], Histograms: cfg.Histograms, From: first.Format(time.DateOnly),
		To: first.AddDate(0, 0, days-1).Format(time.DateOnly), Output: output, Format: format,
		Step: 5 * time.Minute, MaxCalls: days, Out: io.Discard,
	})
	if err != nil {
		return err
	}
	size, err := dirSize(output)
	if err != nil {
		return err
	}
	fmt.Printf("backfilled %d days, %d records, %d calls, %v, %.1f MB of %s written\n",
		sum.Days, sum.Records, sum.Calls, time.Since(start).Round(time.Millisecond), float64(size)/1e6, format)
	if hwm, err := peakRSS(); err == nil {
		fmt.Printf("peak RSS (VmHWM): %s\n", hwm)
	}
	return nil
}

// dirSize is the bytes of the files under path, a file or a directory.
func dirSize(path string) (int64, error) {
	var size int64
	err := filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		size += fi.Size()
		return err
	})
	return size, err
}

func run(records, calls int) error {
	// The upstream generates each answer as it writes it: it holds no body either.
	var (
		mu   sync.Mutex
		seed int64
		sent int64
	)
	upstream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		seed++
		s := seed
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		n, _ := io.Copy(w, simulator.NewAnswerReader(simulator.AnswerOptions{Records: records, Seed: s}))
		mu.Lock()
		sent += n
		mu.Unlock()
	})
	cfg, stop, err := serve(upstream)
	if err != nil {
		return err
	}
	defer stop()

	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return now
	}
	c := collector.New(log.NewNopLogger(), collector.WithClock(clock))
	if err := c.Apply(cfg); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	start := time.Now()
	for range calls {
		c.Refresh(context.Background())
		clockMu.Lock()
		now = now.Add(5 * time.Minute)
		clockMu.Unlock()
	}
	elapsed := time.Since(start)

	counted, err := chatsCounted(reg)
	if err != nil {
		return err
	}
	if want := float64(records * calls); counted != want {
		return fmt.Errorf("%v chats counted, want %v", counted, want)
	}
	mu.Lock()
	mb := float64(sent) / 1e6
	mu.Unlock()
	fmt.Printf("ingested %d records (%.1f MB) in %d call(s), %v, %.0f records/s\n",
		records*calls, mb, calls, elapsed.Round(time.Millisecond), float64(records*calls)/elapsed.Seconds())
	if hwm, err := peakRSS(); err == nil {
		fmt.Printf("peak RSS (VmHWM): %s\n", hwm)
	}
	return nil
}

// runOpenChats reads one generated api=chats answer of chats open chats through the
// collector, as a real-time read.
func runOpenChats(chats, messages int) error {
	var sent atomic.Int64
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.URL.Query().Get("api") != "chats" {
			w.WriteHeader(http.StatusNotFound) // chat_1: nothing; agents: not read
			_, _ = io.WriteString(w, `{"code":404,"error":"Validate dates entered","msg":"Validate dates entered","data":[]}`)
			return
		}
		n, _ := io.Copy(w, simulator.NewOpenChatsReader(simulator.OpenChatsOptions{Chats: chats, Messages: messages, Agents: 50, Seed: 1}))
		sent.Add(n)
	})
	cfg, stop, err := serve(upstream, "    realtime: {interval: 5m, apis: [chats]}\n")
	if err != nil {
		return err
	}
	defer stop()
	c := collector.New(log.NewNopLogger())
	if err := c.Apply(cfg); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	start := time.Now()
	c.Refresh(context.Background())
	elapsed := time.Since(start)
	open, err := sumOf(reg, "wolkvox_chats_active")
	if err != nil {
		return err
	}
	if open != float64(chats) {
		return fmt.Errorf("%v chats shown open, want %d", open, chats)
	}
	fmt.Printf("read %d open chats of %d messages each (%.1f MB) in %v\n", chats, messages, float64(sent.Load())/1e6, elapsed.Round(time.Millisecond))
	if hwm, err := peakRSS(); err == nil {
		fmt.Printf("peak RSS (VmHWM): %s\n", hwm)
	}
	return nil
}

func chatsCounted(reg *prometheus.Registry) (float64, error) {
	return sumOf(reg, "wolkvox_chats_total")
}

// sumOf is the sum of the series of the metric name that reg gathers.
func sumOf(reg *prometheus.Registry, name string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return total, nil
}

// peakRSS reads the kernel's high-water mark of the process's resident set (Linux).
func peakRSS() (string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("no VmHWM in /proc/self/status")
}
