// Package collector turns Wolkvox chat_1 records into Prometheus metrics.
package collector

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Namespace prefixes every metric of the exporter.
const Namespace = "wolkvox"

// family is what a Desc is made of; client_golang keeps it to itself, and the
// history writer needs it.
type family struct {
	name, help string
	labels     []string
}

var families = map[*prometheus.Desc]family{}

func newDesc(subsystem, name, help string, labels ...string) *prometheus.Desc {
	fq := prometheus.BuildFQName(Namespace, subsystem, name)
	d := prometheus.NewDesc(fq, help, labels, nil)
	families[d] = family{fq, help, labels}
	return d
}

var (
	chatsDesc = newDesc("", "chats_total",
		"Chats closed, each counted once by conn_id.", "operation", "channel", "skill", "feeling", "last_participant")
	answerDelayDesc = newDesc("chat", "answer_delay_seconds",
		"Time from the customer starting the chat to the agent answering (the report's ASA).", "operation", "channel", "skill")
	durationDesc = newDesc("chat", "duration_seconds",
		"Chat length (chat_duration); timed_out is true for chats the platform closed by timeout (cod_act TIMEOUTCHAT), about a day after they opened.",
		"operation", "channel", "skill", "timed_out")
	handleTimeDesc = newDesc("chat", "handle_time_seconds",
		"Time the agent spent on the chat (time_on_agent).", "operation", "channel", "skill")
	customerCharsDesc = newDesc("chat", "customer_characters_total",
		"Characters typed by customers.", "operation", "channel", "skill")
	agentCharsDesc = newDesc("chat", "agent_characters_total",
		"Characters typed by agents.", "operation", "channel", "skill")
	agentMessagesDesc = newDesc("chat", "agent_messages_total",
		"Times agents wrote to customers.", "operation", "channel", "skill")
	dispositionsDesc = newDesc("chat", "dispositions_total",
		"Chats by disposition code (cod_act) and its description.", "operation", "channel", "skill", "code", "description")
	agentChatsDesc = newDesc("agent", "chats_total",
		"Chats per agent (agent_metrics: true).", "operation", "agent_id", "agent_name")
	agentHandleDesc = newDesc("agent", "handle_time_seconds_total",
		"Handle time per agent (agent_metrics: true).", "operation", "agent_id", "agent_name")

	upDesc = newDesc("", "up",
		"1 if the last chat_1 API call succeeded, 0 if it failed or none has ended yet.", "operation")
	requestsDesc = newDesc("api", "requests_total",
		"chat_1 API calls by result. Each call costs one call of the daily quota.", "operation", "result")
	requestDurationDesc = newDesc("api", "request_duration_seconds",
		"Duration of chat_1 API calls.", "operation")
	truncatedDesc = newDesc("api", "truncated_responses_total",
		"Answers that hit the API's 60000-record cap; the window is then split.", "operation")
	truncatedQueriesDesc = newDesc("query", "truncated_total",
		"Answers cut at the record cap even for the shortest window: chats of that window may be missing.", "operation")
	skippedSecondsDesc = newDesc("query", "skipped_seconds_total",
		"Time between the saved cursor and the start of a window, left unread because the gap passed max_catchup.", "operation")
	backoffDesc = newDesc("api", "backoff_until_timestamp_seconds",
		"Unix time before which no API call is made after failures or a spent quota, 0 if none.", "operation")
	storageWriteFailsDesc = newDesc("storage", "write_failures_total",
		"Failed saves of the state file (--storage.path). Chats of such a call are read again.", "operation")
	storageLoadFailsDesc = newDesc("storage", "load_failures_total",
		"State files set aside at load because they were unreadable, corrupt, newer or about another upstream.", "operation")
	quotaDesc = newDesc("api", "daily_quota",
		"Configured daily call quota of the operation's token (daily_quota).", "operation")
	minIntervalDesc = newDesc("query", "min_interval_seconds",
		"Configured least time between two API calls (min_interval).", "operation")
	lastSuccessDesc = newDesc("", "last_success_timestamp_seconds",
		"Unix time of the last successful API call, 0 if none.", "operation")
	lastRecordsDesc = newDesc("", "last_query_records",
		"Records in the last successful answer.", "operation")
	skippedDesc = newDesc("", "records_skipped_total",
		"Records skipped (conn_id_empty), elements of data that are not records (not_a_record), or single observations skipped for an empty or invalid value.", "operation", "reason")
	trackedDesc = newDesc("", "tracked_chats",
		"Chat ids remembered so that overlapping windows do not count a chat twice.", "operation")
	chatSeriesDesc = newDesc("chat", "series",
		"Series of the chat metrics of the operation, which max_series bounds.", "operation")
	chatSeriesLimitDesc = newDesc("chat", "series_limit",
		"Configured most series of the chat metrics of the operation (max_series).", "operation")
	foldedDesc = newDesc("chat", "records_folded_total",
		"Chats counted with some labels folded into other, because their label set would pass max_series.", "operation")
	reconcileMissedDesc = newDesc("reconcile", "missed_chats_total",
		"Chats found only by the daily re-read: live polling missed them. They are in the chat counters.", "operation")
	reconcileExtraDesc = newDesc("reconcile", "extra_chats_total",
		"Chats counted live that the daily re-read of their day did not return.", "operation")
	reconcileDayChatsDesc = newDesc("reconcile", "day_chats",
		"Distinct chats of the last re-read day, in the part of it that was counted: the report's total for it.", "operation")
	reconcileDayMissedDesc = newDesc("reconcile", "day_missed_chats",
		"Chats of the last re-read day found only by the re-read.", "operation")
	reconcileDayStartDesc = newDesc("reconcile", "day_start_timestamp_seconds",
		"Unix time of the start of the last re-read day, 0 if none.", "operation")
	reconcileSuccessDesc = newDesc("reconcile", "last_success_timestamp_seconds",
		"Unix time of the last successful re-read of a day, or of the start of counting before the first.", "operation")
	reconcileDelayDesc = newDesc("reconcile", "listing_delay_seconds",
		"How long after closing the chats found late on the last re-read day were at least still not listed; 0 if unknown.", "operation")
	reloadOKDesc = newDesc("exporter", "config_last_reload_successful",
		"1 if the last configuration reload succeeded.")
	reloadTimeDesc = newDesc("exporter", "config_last_reload_success_timestamp_seconds",
		"Unix time of the last successful configuration reload.")
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
	store     *store

	mu  sync.RWMutex
	cfg *config.Config
	ops []*operation

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
// Call PrepareStorage first.
func WithStorage(dir string) Option {
	return func(c *Collector) {
		if dir != "" {
			c.store = &store{dir: dir}
		}
	}
}

// WithUserAgent sets the User-Agent of API calls.
func WithUserAgent(ua string) Option { return func(c *Collector) { c.userAgent = ua } }

// New returns a Collector with no operations; Reload or Apply gives it some.
func New(logger log.Logger, opts ...Option) *Collector {
	c := &Collector{logger: logger, now: time.Now, hold: DefaultNewSeriesHold}
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

// Apply puts cfg in force. An operation that keeps its name and server keeps
// its counters, cursor and dedupe memory. A new operation starts from its saved
// state, if storage is on and it has one.
func (c *Collector) Apply(cfg *config.Config) error {
	buckets := bucketSet{
		answerDelay: cfg.Histograms.AnswerDelay,
		duration:    cfg.Histograms.Duration,
		handleTime:  cfg.Histograms.HandleTime,
	}
	c.mu.RLock()
	existing := make(map[string]*operation, len(c.ops))
	for _, op := range c.ops {
		existing[op.name] = op
	}
	c.mu.RUnlock()

	ops := make([]*operation, 0, len(cfg.Operations))
	for _, oc := range cfg.Operations {
		s := &settings{cfg: oc, buckets: buckets}
		old, keep := existing[oc.Name]
		var prev *settings
		if keep {
			prev = old.currentSettings()
			keep = prev.upstream() == s.upstream()
		}
		if keep && prev.cfg.URL() == oc.URL() && prev.cfg.APIToken() == oc.APIToken() && prev.cfg.Location().String() == oc.Location().String() &&
			prev.cfg.MaxResponseSize == oc.MaxResponseSize {
			s.client = prev.client
		} else {
			client, err := c.newClient(oc)
			if err != nil {
				return fmt.Errorf("operation %q: %w", oc.Name, err)
			}
			s.client = client
		}
		if keep {
			old.update(s)
			ops = append(ops, old)
			continue
		}
		ops = append(ops, newOperation(s, c.now, c.logger, c.store))
		level.Info(c.logger).Log("msg", "operation configured", "operation", oc.Name, "url", oc.URL(),
			"min_interval", oc.MinInterval, "overlap", oc.Overlap, "calls_per_day_max", oc.CallsPerDay(), "daily_quota", oc.DailyQuota)
	}
	c.mu.Lock()
	c.cfg = cfg
	c.ops = ops
	c.mu.Unlock()
	return nil
}

func (c *Collector) newClient(oc config.Operation) (*wolkvox.Client, error) {
	return wolkvox.NewClient(wolkvox.Options{
		BaseURL:         oc.URL(),
		Server:          oc.Server,
		Token:           oc.APIToken(),
		Location:        oc.Location(),
		MaxResponseSize: int64(oc.MaxResponseSize),
		RecordCap:       c.recordCap,
		UserAgent:       c.userAgent,
		Transport:       c.transport,
	})
}

// Config returns the configuration in force.
func (c *Collector) Config() *config.Config {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cfg
}

// Refresh queries every operation whose min_interval has passed and waits for the
// answers until ctx ends. Calls that outlast ctx go on and update later scrapes.
func (c *Collector) Refresh(ctx context.Context) {
	c.mu.RLock()
	ops := c.ops
	c.mu.RUnlock()
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Go(func() { op.refresh(ctx) })
	}
	wg.Wait()
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		chatsDesc, answerDelayDesc, durationDesc, handleTimeDesc, customerCharsDesc, agentCharsDesc,
		agentMessagesDesc, dispositionsDesc, agentChatsDesc, agentHandleDesc,
		upDesc, requestsDesc,
		requestDurationDesc, truncatedDesc, truncatedQueriesDesc, skippedSecondsDesc, backoffDesc,
		storageWriteFailsDesc, storageLoadFailsDesc, quotaDesc, minIntervalDesc, lastSuccessDesc, lastRecordsDesc,
		skippedDesc, trackedDesc, chatSeriesDesc, chatSeriesLimitDesc, foldedDesc, reloadOKDesc, reloadTimeDesc,
		reconcileMissedDesc, reconcileExtraDesc, reconcileDayChatsDesc, reconcileDayMissedDesc, reconcileDayStartDesc,
		reconcileSuccessDesc, reconcileDelayDesc,
	} {
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
		op.collect(ch, now, c.hold)
	}
}

// emitter sends one operation's const metrics, its name as the first label.
type emitter struct {
	ch   chan<- prometheus.Metric
	name string
}

func (e emitter) labels(values []string) []string { return append([]string{e.name}, values...) }

func (e emitter) gauge(d *prometheus.Desc, v float64, labels ...string) {
	e.ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, e.labels(labels)...)
}

func (e emitter) counter(d *prometheus.Desc, v float64, labels ...string) {
	e.ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, e.labels(labels)...)
}

func (e emitter) hist(d *prometheus.Desc, h *histogram, labels ...string) {
	e.ch <- prometheus.MustNewConstHistogram(d, h.count, h.sum, h.cumulative(), e.labels(labels)...)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
