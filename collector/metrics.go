package collector

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/times"
	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// descs describe every metric of the exporter: its own, and the families tally
// defines.
var descs []*prometheus.Desc

func newDesc(subsystem, name, help string, labels ...string) *prometheus.Desc {
	d := prometheus.NewDesc(prometheus.BuildFQName(tally.Namespace, subsystem, name), help, labels, nil)
	descs = append(descs, d)
	return d
}

const op = tally.OperationLabel

var (
	upDesc = newDesc("", "up",
		"1 if the last chat_1 API call succeeded, 0 if it failed or none has ended yet.", op)
	requestsDesc = newDesc("api", "requests_total",
		"API calls by API (chat_1, and the real-time chats and agents) and result. Each costs one call of the token's daily quota, but result=\"unreachable\": those were never sent.", op, "api", "result")
	requestDurationDesc = newDesc("api", "request_duration_seconds",
		"Duration of API calls, by API.", op, "api")
	realtimeIntervalDesc = newDesc("realtime", "interval_seconds",
		"Configured least time between two calls of each real-time API (realtime.interval); absent when no real-time call is made.", op)
	realtimeLastSuccessDesc = newDesc("realtime", "last_success_timestamp_seconds",
		"Unix time of the last successful call of a real-time API: when the values shown were read. Before the first, when the exporter began calling it (its start, or the reload that enabled it).", op, "api")
	realtimeSkippedDesc = newDesc("realtime", "skipped_total",
		"What real-time answers held that was left out, by reason: elements that are not objects (not_an_object), chats without a conversation, counted open with no age (no_conversation), and message dates that do not parse (date_invalid).", op, "api", "reason")
	truncatedDesc = newDesc("api", "truncated_responses_total",
		"Answers that hit the API's 60000-record cap; the window is then split.", op)
	truncatedQueriesDesc = newDesc("query", "truncated_total",
		"Answers cut at the record cap even for the shortest window: chats of that window may be missing.", op)
	skippedSecondsDesc = newDesc("query", "skipped_seconds_total",
		"Time between the saved cursor and the start of a window, left unread because the gap passed max_catchup.", op)
	backoffDesc = newDesc("api", "backoff_until_timestamp_seconds",
		"Unix time before which no API call is made after failures or a spent quota, 0 if none.", op)
	storageWriteFailsDesc = newDesc("storage", "write_failures_total",
		"Failed saves of the state file (--storage.path). Chats of such a call are read again.", op)
	storageLoadFailsDesc = newDesc("storage", "load_failures_total",
		"State files set aside at load because they were unreadable, corrupt, newer or about another upstream.", op)
	quotaDesc = newDesc("api", "daily_quota",
		"Configured daily call quota of the operation's token (daily_quota).", op)
	minIntervalDesc = newDesc("query", "min_interval_seconds",
		"Configured least time between two API calls (min_interval).", op)
	lastSuccessDesc = newDesc("", "last_success_timestamp_seconds",
		"Unix time of the last successful API call, 0 if none.", op)
	lastRecordsDesc = newDesc("", "last_query_records",
		"Records in the last successful answer.", op)
	skippedDesc = newDesc("", "records_skipped_total",
		"Records skipped (conn_id_empty), elements of data that are not records (not_a_record), or single observations skipped for an empty or invalid value.", op, "reason")
	trackedDesc = newDesc("", "tracked_chats",
		"Chat ids remembered so that overlapping windows do not count a chat twice.", op)
	chatSeriesDesc = newDesc("chat", "series",
		"Series of the chat metrics of the operation, and of what is open now, which max_series bounds.", op)
	chatSeriesLimitDesc = newDesc("chat", "series_limit",
		"Configured most series of the chat metrics of the operation (max_series).", op)
	foldedDesc = newDesc("chat", "records_folded_total",
		"Chats counted with some labels folded into other, because their label set would pass max_series.", op)
	reconcileMissedDesc = newDesc("reconcile", "missed_chats_total",
		"Chats found only by the daily re-read: live polling missed them. They are in the chat counters.", op)
	reconcileExtraDesc = newDesc("reconcile", "extra_chats_total",
		"Chats counted live that the daily re-read of their day did not return.", op)
	reconcileDayChatsDesc = newDesc("reconcile", "day_chats",
		"Distinct chats of the last re-read day, in the part of it that was counted: the report's total for it.", op)
	reconcileDayMissedDesc = newDesc("reconcile", "day_missed_chats",
		"Chats of the last re-read day found only by the re-read.", op)
	reconcileDayStartDesc = newDesc("reconcile", "day_start_timestamp_seconds",
		"Unix time of the start of the last re-read day; absent, as the other reconcile_day metrics, until a day has been re-read.", op)
	reconcileSuccessDesc = newDesc("reconcile", "last_success_timestamp_seconds",
		"Unix time of the last successful re-read of a day, or of the start of counting before the first.", op)
	reconcileDelayDesc = newDesc("reconcile", "listing_delay_seconds",
		"How long after closing the chats found late on the last re-read day were at least still not listed; 0 if unknown, absent until a day has been re-read.", op)
	reloadOKDesc = newDesc("exporter", "config_last_reload_successful",
		"1 if the last configuration reload succeeded.")
	reloadTimeDesc = newDesc("exporter", "config_last_reload_success_timestamp_seconds",
		"Unix time of the last successful configuration reload.")
)

// familyDescs describe the chat families.
var familyDescs = func() map[*tally.Family]*prometheus.Desc {
	out := map[*tally.Family]*prometheus.Desc{}
	for _, f := range tally.Families {
		if name := prometheus.BuildFQName(tally.Namespace, f.Subsystem, f.Short); name != f.Name {
			panic("collector: family " + f.Name + " is named " + name + " by BuildFQName")
		}
		out[f] = newDesc(f.Subsystem, f.Short, f.Help, f.LabelNames()...)
	}
	return out
}()

// nowDescs describe the families of what is open now.
var nowDescs = func() map[*tally.NowFamily]*prometheus.Desc {
	out := map[*tally.NowFamily]*prometheus.Desc{}
	for _, f := range tally.NowFamilies {
		out[f] = newDesc(f.Subsystem, f.Name, f.Help, append([]string{op}, f.Labels...)...)
	}
	return out
}()

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

func (e emitter) hist(d *prometheus.Desc, h *tally.Cell, labels ...string) {
	e.ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum, h.Cumulative(), e.labels(labels)...)
}

// health sends the operation's metrics other than the chat families.
func (e emitter) health(st poller.Status) {
	cfg := st.Config
	e.gauge(upDesc, boolFloat(st.Up))
	for _, r := range wolkvox.Results {
		e.counter(requestsDesc, st.Requests[r], string(wolkvox.APIChat1), string(r))
	}
	e.hist(requestDurationDesc, &st.CallTime, string(wolkvox.APIChat1))
	e.counter(truncatedDesc, st.TruncatedResponses)
	e.counter(truncatedQueriesDesc, st.TruncatedQueries)
	e.counter(skippedSecondsDesc, st.SkippedSeconds)
	e.gauge(backoffDesc, unixSeconds(st.BackoffUntil))
	e.counter(storageWriteFailsDesc, st.WriteFailures)
	e.counter(storageLoadFailsDesc, st.LoadFailures)
	e.gauge(quotaDesc, float64(cfg.DailyQuota))
	e.gauge(minIntervalDesc, time.Duration(cfg.MinInterval).Seconds())
	e.gauge(lastSuccessDesc, unixSeconds(st.LastSuccess))
	e.gauge(lastRecordsDesc, float64(st.LastRecords))
	e.gauge(trackedDesc, float64(st.Tracked))
	e.gauge(chatSeriesDesc, float64(st.Tally.SeriesCount()+st.Open.Series()+st.AgentsNow.Series()))
	e.gauge(chatSeriesLimitDesc, float64(cfg.MaxSeries))
	e.counter(foldedDesc, st.Tally.Folded)
	for _, r := range tally.SkipReasons() {
		e.counter(skippedDesc, st.Tally.Skipped[r], r)
	}
	if r := st.Reconciled; r != nil {
		e.counter(reconcileMissedDesc, r.Missed)
		e.counter(reconcileExtraDesc, r.Extra)
		e.gauge(reconcileSuccessDesc, unixSeconds(r.LastSuccess))
		// A day's figures exist once a day has been re-read: a 0 before would read as
		// a day without chats.
		if !r.DayStart.IsZero() {
			e.gauge(reconcileDayChatsDesc, r.DayChats)
			e.gauge(reconcileDayMissedDesc, r.DayMissed)
			e.gauge(reconcileDayStartDesc, unixSeconds(r.DayStart))
			e.gauge(reconcileDelayDesc, r.Delay.Seconds())
		}
	}
}

// realtime sends what the real-time calls tell, and what is open now: each API's
// last read, unless it is older than twice realtime.interval, so that a dashboard
// never shows an old "now" as current.
func (e emitter) realtime(st poller.Status, now time.Time) {
	rt := st.Config.Realtime
	for _, name := range config.RealtimeAPIs {
		api := wolkvox.API(name)
		h := st.Realtime[api]
		if h == nil {
			if !slices.Contains(rt.APIs, name) {
				continue // never called
			}
			h = poller.NewRealtimeHealth()
		}
		for _, r := range wolkvox.Results {
			e.counter(requestsDesc, h.Requests[r], name, string(r))
		}
		e.hist(requestDurationDesc, &h.CallTime, name)
		for _, reason := range api.SkipReasons() {
			e.counter(realtimeSkippedDesc, h.Skipped[reason], name, reason)
		}
		if slices.Contains(rt.APIs, name) {
			e.gauge(realtimeLastSuccessDesc, unixSeconds(times.Later(h.LastSuccess, st.RealtimeSince)), name)
		}
	}
	if !rt.Enabled() {
		return
	}
	e.gauge(realtimeIntervalDesc, time.Duration(rt.Interval).Seconds())
	shown := nowShown(st, now)
	if o := shown.Open; o != nil {
		for ch, c := range o.Channels {
			e.gauge(nowDescs[tally.ChatsActive], c.Open, ch)
			if c.Dated {
				e.gauge(nowDescs[tally.ChatActiveOldest], c.Oldest.Seconds(), ch)
			}
		}
		if st.Config.AgentMetrics {
			for k, v := range o.Agents {
				e.gauge(nowDescs[tally.AgentChatsActive], v, k[0], k[1])
			}
		}
	}
	if a := shown.Agents; a != nil {
		for status, n := range a.Statuses {
			e.gauge(nowDescs[tally.AgentsByStatus], n, status)
		}
	}
}

// Now is what /metrics shows of what is open now: each API's last read, unless it is
// older than twice realtime.interval, so that a dashboard never shows an old "now"
// as current; nil where there is none to show.
type Now struct {
	Enabled bool // real-time calls are on
	Open    *tally.OpenNow
	Agents  *tally.AgentsNow
}

// Now is what /metrics shows now of what is open now for the operation of st.
func (c *Collector) Now(st poller.Status) Now { return nowShown(st, c.now()) }

func nowShown(st poller.Status, now time.Time) Now {
	rt := st.Config.Realtime
	out := Now{Enabled: rt.Enabled()}
	fresh := func(api string, at time.Time) bool {
		return rt.Enabled() && slices.Contains(rt.APIs, api) && !at.IsZero() && now.Sub(at) <= 2*time.Duration(rt.Interval)
	}
	if st.Open != nil && fresh(config.RealtimeChats, st.Open.At) {
		out.Open = st.Open
	}
	if st.AgentsNow != nil && fresh(config.RealtimeAgents, st.AgentsNow.At) {
		out.Agents = st.AgentsNow
	}
	return out
}

// chats sends the series of every chat family of t, as the new-series hold shows
// them at now.
func (e emitter) chats(t *tally.Tally, now time.Time, hold time.Duration) {
	held := heldEmitter{e, now, hold}
	for _, f := range tally.Families {
		t.Each(f, func(labels tally.Labels, c *tally.Cell, born time.Time) {
			if f.Kind == tally.Histogram {
				held.hist(familyDescs[f], born, c, labels...)
			} else {
				held.counter(familyDescs[f], born, c.Sum, labels...)
			}
		})
	}
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
