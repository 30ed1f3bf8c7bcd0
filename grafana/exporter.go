package grafana

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/gauge"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The operators' dashboard: API health, call budget, latency, data quality, state
// and the daily re-read.

// upOrDown colours a 0-or-1 stat: red at 0, green at 1.
var upOrDown = []threshold{{"red", 0}, {"green", 1}}

// alarmAtOne colours a count red from 1 on.
var alarmAtOne = []threshold{{"text", 0}, {"red", 1}}

func exporterDashboard(day day) *dashboard.DashboardBuilder {
	return base(day, "wolkvox-exporter", "Wolkvox exporter",
		"Operator view of wolkvox_exporter: API health, call budget, latency, data quality, state and the daily re-read.").
		Tags([]string{"wolkvox", "exporter"}).
		WithVariable(datasourceVariable()).
		WithVariable(operationVariable("wolkvox_up")).
		WithVariable(windowVariable()).
		WithPanel(statPanel("API up", "Whether the last chat_1 call of each operation succeeded (wolkvox_up).", 6, 4, unitCount, 0, upOrDown,
			target{op("wolkvox_up"), "{{operation}}"}).ColorMode(common.BigValueColorModeBackground).
			Mappings(words(state{"1", "up", "green"}, state{"0", "down", "red"}))).
		WithPanel(statPanel("API: since last success", "Time since each operation's last successful chat_1 call. The exporter calls the API only while Prometheus scrapes it, at most every min_interval.",
			6, 4, unitDuration, 0, []threshold{{"green", 0}, {"orange", 900}, {"red", 3600}},
			target{"time() - " + op("wolkvox_last_success_timestamp_seconds"), "{{operation}}"})).
		WithPanel(callsToday(day)).
		WithPanel(quotaGauge(day)).
		WithPanel(statPanel("Configured min_interval", "Least time between two chat_1 calls of each operation (min_interval).",
			6, 4, unitDuration, 0, plain, target{op("wolkvox_query_min_interval_seconds"), "{{operation}}"})).
		WithPanel(todayCount(day, "Truncated today", "Answers cut at the 60,000-record cap today; the exporter reads their windows again in halves.",
			plain, "wolkvox_api_truncated_responses_total", unitCount)).
		WithPanel(statPanel("Config reload", "Whether the last reload of the exporter's configuration succeeded; a failed one leaves the last good configuration in force.",
			6, 4, unitCount, 0, upOrDown, target{"wolkvox_exporter_config_last_reload_successful", "{{instance}}"}).ColorMode(common.BigValueColorModeBackground).
			Mappings(words(state{"1", "loaded", "green"}, state{"0", "failed", "red"}))).
		WithPanel(statPanel("Config: since reload", "Time since the exporter last loaded its configuration successfully.",
			6, 4, unitDuration, 0, plain, target{"time() - wolkvox_exporter_config_last_reload_success_timestamp_seconds", "{{instance}}"})).
		WithPanel(colorsByRegexp(lines("API calls per hour, by API and result", sentences(
			"Calls per hour of each API (chat_1, and the real-time chats and agents) by result, not stacked; results with no call in the window are not drawn. Each call of any API costs one of the token's daily quota.",
			windowText, sinceStartText), 12, unitPerHour,
			target{callsPerHour(op("wolkvox_api_requests_total"), "operation", "api", "result") + " > 0", "{{operation}} · {{api}} · {{result}}"}), resultColors)).
		WithPanel(lines("API request latency p50 / p90 / p99", sentences("Duration of API calls, in seconds, by API.", windowText), 12, unitDuration,
			target{latency(0.5), "p50 {{operation}} {{api}}"}, target{latency(0.9), "p90 {{operation}} {{api}}"}, target{latency(0.99), "p99 {{operation}} {{api}}"})).
		WithPanel(lines("Records per answer", "Records in each operation's last successful answer; 60,000 is the API's cap.", 12, unitCount,
			target{op("wolkvox_last_query_records"), "{{operation}}"})).
		WithPanel(statPanel("Skipped records by reason", sentences(
			"Records skipped today, by reason: elements that are not records, records without conn_id, and single fields left out for an empty or invalid value. Reasons with none are not listed.",
			day.todayText(), exactText), 12, 8, unitCount, 0, []threshold{{"text", 0}, {"orange", 1}},
			target{"sort_desc(" + sumBy(day.today(op("wolkvox_records_skipped_total")), "reason") + " > 0)", "{{reason}}"}).
			TextMode(common.BigValueTextModeValueAndName).NoValue("none skipped").TimeFrom("now/d").HideTimeOverride(false)).
		WithPanel(lines("Tracked chats (dedupe memory)", "Chat ids the exporter remembers so that overlapping windows count a chat once.", 12, unitCount,
			target{op("wolkvox_tracked_chats"), "{{operation}}"})).
		WithPanel(lines("API: age of last success", "Time since each operation's last successful chat_1 call; it climbs between polls and falls back at each success.",
			12, unitDuration, target{"time() - " + op("wolkvox_last_success_timestamp_seconds"), "{{operation}}"})).
		WithPanel(todayCount(day, "Cut at 1 minute", "Answers cut at the record cap even for the shortest window the exporter splits to (one minute) today: chats beyond the cap in that minute are missing.",
			alarmAtOne, "wolkvox_query_truncated_total", unitCount)).
		WithPanel(todayCount(day, "History skipped", "Time of history skipped today after gaps longer than max_catchup: chats closed then are not counted.",
			alarmAtOne, "wolkvox_query_skipped_seconds_total", unitDuration)).
		WithPanel(todayCount(day, "Save failures", "Failed saves of the state file today (--storage.path); counts wait until a save succeeds.",
			alarmAtOne, "wolkvox_storage_write_failures_total", unitCount)).
		WithPanel(statPanel("API backoff left", "Time left before the exporter calls the API again after a refused or failed call.",
			6, 4, unitDuration, 0, plain, target{"clamp_min(" + op("wolkvox_api_backoff_until_timestamp_seconds") + " - time(), 0)", "{{operation}}"})).
		WithPanel(statPanel("Real-time: last read", sentences(
			"How long ago each enabled real-time API of each operation was last read (before the first read, since the exporter began calling it). "+
				"The \"Now\" panels show nothing once it passes twice realtime.interval; WolkvoxRealtimeStale fires at three intervals.",
			"Empty when no operation sets realtime.interval."),
			6, 4, unitDuration, 0, []threshold{{"green", 0}, {"orange", 900}, {"red", 1800}},
			target{"time() - " + op("wolkvox_realtime_last_success_timestamp_seconds"), "{{operation}} {{api}}"}).
			NoValue("no real-time call configured")).
		WithPanel(statPanel("Daily re-read age", "Time since each operation's last completed daily re-read (or since counting began); it should stay under a day plus reconcile.after.",
			6, 4, unitDuration, 0, []threshold{{"green", 0}, {"red", 108000}},
			target{"time() - max by (operation) (" + op("wolkvox_reconcile_last_success_timestamp_seconds") + ")", "{{operation}}"})).
		WithPanel(colorsByRegexp(lines("Daily re-read: chats found late and extra",
			"Chats of the last re-read day that reached the counters only with the re-read (listed late), and chats counted live that the report no longer lists (extra), in the last day.",
			12, unitCount,
			target{"max by (operation) (" + op("wolkvox_reconcile_day_missed_chats") + ")", "{{operation}} found late"},
			target{"sum by (operation) ((" + op("wolkvox_reconcile_extra_chats_total") + " - " + op("wolkvox_reconcile_extra_chats_total") + " offset 1d) >= 0 or " +
				op("wolkvox_reconcile_extra_chats_total") + ")", "{{operation}} extra, last day"}),
			colored{{"found late", "orange"}, {"extra, last day", "red"}})).
		WithPanel(versionTable())
}

// todayCount is a stat of what a counter of each operation counted today, exactly.
func todayCount(day day, title, description string, colors []threshold, metric, unit string) *stat.PanelBuilder {
	return statPanel(title, sentences(description, day.todayText(), exactText), 6, 4, unit, 0, colors,
		target{sumBy(day.today(op(metric)), "operation"), "{{operation}}"}).TimeFrom("now/d").HideTimeOverride(false)
}

// state is a value of a 0-or-1 metric, the word it shows as and its colour.
type state = struct{ value, text, color string }

// callsToday lists each operation's calls today beside its daily quota, a row an
// operation.
func callsToday(day day) *table.PanelBuilder {
	return tablePanel("API calls today", sentences(
		"chat_1 calls made today that cost quota (all but those never sent, result unreachable), beside the daily quota the exporter keeps to, a row an operation.",
		day.todayText(), exactText), 4,
		target{sumBy(day.today(op("wolkvox_api_requests_total", quotaSpent)), "operation"), "__auto"},
		target{"max by (operation) (" + op("wolkvox_api_daily_quota") + ")", "__auto"}).
		Span(6).TimeFrom("now/d").HideTimeOverride(false).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"indexByName":   map[string]any{"operation": 0, "Value #A": 1, "Value #B": 2},
			"renameByName":  map[string]any{"operation": "Operation", "Value #A": "Calls today", "Value #B": "Daily quota"},
		}})
}

// callsPerHour is the rate of API calls of the counters sel selects, in calls an
// hour, summed by the labels given. A counter that began in the window (the
// exporter's first start) is taken over the part of the window it has samples in:
// rate() spreads its calls over the whole window, and after a start it would climb
// from 0 for a window's length, as if calls had slowed down. That slope is deriv(),
// which only a restart of the counter fools: across one, rate() counts.
func callsPerHour(sel string, by ...string) string {
	overSamples := fmt.Sprintf("deriv(%[1]s[%[2]s]) and resets(%[1]s[%[2]s]) == 0", sel, window)
	return "3600 * " + sumBy(fmt.Sprintf("(%s) or %s", overSamples, rate(sel)), by...)
}

// latency is a quantile of the API calls' duration over the window.
func latency(q float64) string {
	return fmt.Sprintf("histogram_quantile(%g, %s)", q, sumBy(rate(op("wolkvox_api_request_duration_seconds_bucket")), "le", "operation", "api"))
}

// colorsByRegexp fixes the colour of each series whose name ends with a name.
func colorsByRegexp(p *timeseries.PanelBuilder, colors colored) *timeseries.PanelBuilder {
	for _, c := range colors {
		p = p.OverrideByRegexp(".* · "+c.name+"|.* "+c.name, fixedColor(c.color))
	}
	return p
}

// quotaSpent selects the calls that cost quota: all but those never sent.
const quotaSpent = `result!="unreachable"`

// quotaGauge is the share of each operation's daily quota spent today.
func quotaGauge(day day) *gauge.PanelBuilder {
	calls := sumBy(day.today(op("wolkvox_api_requests_total", quotaSpent)), "operation")
	return gauge.NewPanelBuilder().Title("Quota used today").
		Description(sentences("Share of each operation's daily_quota spent today (calls made today over the quota).", day.todayText(), exactText)).
		Datasource(datasource).Span(6).Height(4).Unit(unitShare).Decimals(0).Min(0).Max(1).
		Thresholds(thresholds(threshold{"green", 0}, threshold{"orange", 0.8}, threshold{"red", 0.95})).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		ShowThresholdMarkers(true).ShowThresholdLabels(false).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		Interval(instantInterval).MaxDataPoints(instantMaxDataPoints).
		Targets(queries(true, []target{{calls + " / on (operation) max by (operation) (" + op("wolkvox_api_daily_quota") + ")", "{{operation}}"}})).
		TimeFrom("now/d").HideTimeOverride(false)
}

// versionTable lists each exporter's version, revision and Go.
func versionTable() *table.PanelBuilder {
	return tablePanel("Exporter version", "Version, revision and Go version of each exporter instance.", 4,
		target{"max by (instance, version, revision, goversion) (wolkvox_exporter_build_info)", "__auto"}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true, "Value": true},
			"indexByName":   map[string]any{"instance": 0, "version": 1, "revision": 2, "goversion": 3},
			"renameByName":  map[string]any{"instance": "Instance", "version": "Version", "revision": "Revision", "goversion": "Go"},
		}})
}
