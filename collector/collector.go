// Package collector is the exporter's Prometheus face: a Collector that exposes
// what each operation's poller learned, the handler that refreshes it before a
// scrape gathers, and the reload of the configuration.
package collector

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/common/config"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Collector polls every configured operation and exposes what it learned. It is safe
// for concurrent scrapes.
type Collector struct {
	logger    log.Logger
	now       func() time.Time
	userAgent string
	transport http.RoundTripper
	recordCap int
	hold      time.Duration
	store     *poller.Store
	// tokens is what the calls made with each token share, whatever operation and
	// API make them.
	tokens *wolkvox.Tokens

	mu  sync.RWMutex
	cfg *config.Config
	ops []*poller.Operation

	reloadMu   sync.Mutex // serializes reloads
	reloadOK   bool
	reloadTime time.Time
}

// Option configures a Collector.
type Option func(*Collector)

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(c *Collector) { c.now = now } }

// WithTransport replaces the HTTP transport of API calls, for tests and proxies.
func WithTransport(rt http.RoundTripper) Option { return func(c *Collector) { c.transport = rt } }

// WithRecordCap replaces the API's 60000-record cap, for tests.
func WithRecordCap(n int) Option { return func(c *Collector) { c.recordCap = n } }

// WithStorage keeps each operation's state in dir, so counts survive restarts.
// Call poller.PrepareStorage first.
func WithStorage(dir string) Option {
	return func(c *Collector) {
		if dir != "" {
			c.store = poller.OpenStorage(dir)
		}
	}
}

// WithTokens makes the Collector share what the calls made with each token share
// (wolkvox.Tokens) with others holding the same, for tests of more than one.
func WithTokens(t *wolkvox.Tokens) Option { return func(c *Collector) { c.tokens = t } }

// WithUserAgent sets the User-Agent of API calls.
func WithUserAgent(ua string) Option { return func(c *Collector) { c.userAgent = ua } }

// New returns a Collector with no operations; Reload or Apply gives it some.
func New(logger log.Logger, opts ...Option) *Collector {
	c := &Collector{logger: logger, now: time.Now, hold: DefaultNewSeriesHold, tokens: wolkvox.NewTokens()}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Reload loads a configuration and applies it. If loading fails, the last good
// configuration stays in force and the failure shows in the reload gauge.
func (c *Collector) Reload(load func() (*config.Config, error)) error {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	cfg, err := load()
	if err == nil {
		err = c.Apply(cfg)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reloadOK = err == nil
	if err != nil {
		return err
	}
	c.reloadTime = c.now()
	return nil
}

// Apply puts cfg in force, whole or not at all: every operation's settings and
// client are built first, and only then do operations change. An operation that
// keeps its name and server keeps its counters, cursor and dedupe memory. A new
// operation starts from its saved state, if storage is on and it has one.
func (c *Collector) Apply(cfg *config.Config) error {
	c.mu.RLock()
	existing := make(map[string]*poller.Operation, len(c.ops))
	for _, op := range c.ops {
		existing[op.Name()] = op
	}
	c.mu.RUnlock()

	settings := make([]*poller.Settings, len(cfg.Operations))
	kept := make([]*poller.Operation, len(cfg.Operations))
	for i, oc := range cfg.Operations {
		s := &poller.Settings{Config: oc, Tally: tally.SettingsOf(oc, cfg.Histograms)}
		opts := c.clientOptions(oc)
		if old := existing[oc.Name]; old != nil && poller.Upstream(old.Settings().Config) == poller.Upstream(oc) {
			kept[i] = old
			if prev := old.Settings().Client; prev.Serves(opts) {
				s.Client = prev
			}
		}
		if s.Client == nil {
			client, err := wolkvox.NewClient(opts)
			if err != nil {
				return fmt.Errorf("operation %q: %w", oc.Name, err)
			}
			s.Client = client
		}
		settings[i] = s
	}

	ops := make([]*poller.Operation, len(settings))
	for i, s := range settings {
		if kept[i] != nil {
			kept[i].Update(s)
			ops[i] = kept[i]
			continue
		}
		ops[i] = poller.New(s, c.now, c.logger, c.store)
		oc := s.Config
		keyvals := []any{"msg", "operation configured", "operation", oc.Name, "url", oc.URL(),
			"min_interval", oc.MinInterval, "overlap", oc.Overlap, "calls_per_day_max", oc.CallsPerDay(), "daily_quota", oc.DailyQuota}
		if oc.Realtime.Enabled() {
			keyvals = append(keyvals, "realtime_interval", oc.Realtime.Interval, "realtime_apis", strings.Join(oc.Realtime.APIs, ","))
		}
		level.Info(c.logger).Log(keyvals...)
	}
	c.mu.Lock()
	c.cfg = cfg
	c.ops = ops
	c.mu.Unlock()
	var inUse []promconfig.Secret
	for _, oc := range cfg.Operations {
		inUse = append(inUse, oc.APIToken())
	}
	c.tokens.Retain(inUse...) // a token a reload retired leaves nothing behind
	return nil
}

func (c *Collector) clientOptions(oc config.Operation) wolkvox.Options {
	opts := wolkvox.OperationOptions(oc)
	opts.RecordCap, opts.UserAgent, opts.Transport, opts.Tokens = c.recordCap, c.userAgent, c.transport, c.tokens
	return opts
}

// Config returns the configuration in force.
func (c *Collector) Config() *config.Config {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cfg
}

// Statuses returns what each operation shows now, in the configuration's order.
func (c *Collector) Statuses() []poller.Status {
	c.mu.RLock()
	ops := c.ops
	c.mu.RUnlock()
	out := make([]poller.Status, len(ops))
	for i, op := range ops {
		out[i] = op.Status()
	}
	return out
}

// Refresh queries every operation whose min_interval has passed and waits for the
// answers until ctx ends. Calls that outlast ctx go on and update later scrapes.
func (c *Collector) Refresh(ctx context.Context) {
	c.mu.RLock()
	ops := c.ops
	c.mu.RUnlock()
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Go(func() { op.Refresh(ctx) })
	}
	wg.Wait()
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It only reads state: API calls happen in
// Refresh, before the scrape gathers. Each operation's metrics come from one state,
// so a scrape never mixes the chats of one call with the health of another.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	ops := c.ops
	reloadOK, reloadTime := boolFloat(c.reloadOK), unixSeconds(c.reloadTime)
	c.mu.RUnlock()
	ch <- prometheus.MustNewConstMetric(reloadOKDesc, prometheus.GaugeValue, reloadOK)
	ch <- prometheus.MustNewConstMetric(reloadTimeDesc, prometheus.GaugeValue, reloadTime)
	now := c.now()
	for _, op := range ops {
		st := op.Status()
		e := emitter{ch, op.Name()}
		e.health(st)
		e.realtime(st, now)
		e.chats(st.Tally, now, c.hold)
	}
}
