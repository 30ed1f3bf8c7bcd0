package grafana

import (
	"fmt"
	"strings"
)

// The query patterns of the dashboards, each written once.

// window is the dashboard variable every rate and ratio is taken over.
const window = "$window"

// minChats is the fewest chats a share or percentile is drawn from: over fewer, a
// point is an accident of a handful of chats, often 0% or 100%.
const minChats = 20

// selector writes metric with the matchers given.
func selector(metric string, matchers ...string) string {
	return metric + "{" + strings.Join(matchers, ", ") + "}"
}

// chatMatchers filter chat metrics by the supervisors' dashboard's variables.
var chatMatchers = []string{`operation=~"$operation"`, `channel=~"$channel"`, `skill=~"$skill"`}

// chat selects a chat metric as the dashboard's variables filter it, with more
// matchers.
func chat(metric string, more ...string) string {
	return selector(metric, append(append([]string{}, chatMatchers...), more...)...)
}

// op selects an operation's metric by the dashboard's operation variable.
func op(metric string, more ...string) string {
	return selector(metric, append([]string{`operation=~"$operation"`}, more...)...)
}

// A count is what the counters sel selects added over a stat's window, exactly: the
// difference of their values at the window's two ends (not increase(), which
// extrapolates to the window's edges), so that it equals the Wolkvox report's for
// the same chats. Grafana evaluates a stat's query at now rounded down to the
// panel's step (maxDataPoints and interval keep that step to a second), and
// $__range is the panel's whole range, rounded to the second: 0s in the first half
// second of a day, which no range selector takes. So neither end may lean on
// $__range to the second. The end is the last sample at or before the evaluation.
// The start is the last sample at the window's start: for today, at the dashboard's
// midnight, found by a subquery that lands on it whatever the evaluation time; for a
// window of a fixed length, at $__range before the evaluation. A series that began
// in the window counts all it has. A counter below its value at the window's start
// restarted (an exporter without --storage.path restarted): what it had counted
// before, up to its peak, counts too. (A counter that restarted and has counted
// past its value at the window's start since is not told from one that did not.)
type count func(sel string) string

// lastLookback is how far before the evaluation a count's end, or the start of a
// window, looks for a counter's last sample: over a stop of the exporter, or
// between the end of a backfilled history and the exporter's first scrape, no sample
// bridges the gap (docs/history.md: The day you install).
const lastLookback = "1d"

// counted is what sel counted since start, the value at the window's start; peak is
// the range its peak is taken over, which holds the window.
func counted(sel, start, peak string) string {
	last := fmt.Sprintf("last_over_time(%s[%s])", sel, lastLookback)
	restarted := fmt.Sprintf("(max_over_time(%s[%s]) > %s)", sel, peak, last)
	diff := fmt.Sprintf("(%s - (%s))", last, start)
	return fmt.Sprintf("(%[1]s >= 0 or %[1]s + %[2]s or %[3]s + %[2]s or %[3]s)", diff, restarted, last)
}

// overRange is what sel counted over the panel's range, which ends now: a window of
// a fixed length, such as the last hour.
func overRange(sel string) string {
	return counted(sel, fmt.Sprintf("last_over_time(%s[%s] offset $__range)", sel, lastLookback), "$__range")
}

// today is what sel counted since midnight in the dashboards' time zone, with no
// word of $__range: the value at midnight is the last sample of the day before it,
// taken at the one midnight of the last 25 hours (a day is 25 hours long where
// clocks go back). A counter's peak is taken over the day before the evaluation: a
// peak from before midnight is not above the value at midnight, unless the counter
// restarted then too.
func (d day) today(sel string) string {
	atMidnight := fmt.Sprintf("last_over_time((last_over_time(%s[%s]) and on () %s)[25h:%s])", sel, lastLookback, d.midnight(), d.resolution)
	return counted(sel, atMidnight, "1d")
}

// sumBy aggregates expr by the labels given, or whole without any.
func sumBy(expr string, by ...string) string {
	if len(by) == 0 {
		return "sum(" + expr + ")"
	}
	return fmt.Sprintf("sum by (%s) (%s)", strings.Join(by, ", "), expr)
}

// on matches by the labels given, or on none.
func on(by ...string) string { return "on (" + strings.Join(by, ", ") + ")" }

// rate is the per-second rate of sel over the window.
func rate(sel string) string { return fmt.Sprintf("rate(%s[%s])", sel, window) }

// enough keeps expr where the counters den added at least minChats over the window,
// in each group of by.
func enough(expr, den string, by ...string) string {
	return fmt.Sprintf("((%s) and %s (%s >= %d))", expr, on(by...), sumBy(fmt.Sprintf("increase(%s[%s])", den, window), by...), minChats)
}

// ratio is the share of num in den over the window, in each group of by, drawn
// from minChats at least.
func ratio(num, den string, by ...string) string {
	return enough(sumBy(rate(num), by...)+" / "+sumBy(rate(den), by...), den, by...)
}

// quantile is the q quantile of a histogram over the window, in each group of by,
// drawn from minChats at least.
func quantile(q float64, metric string, sel func(string, ...string) string, by ...string) string {
	return enough(fmt.Sprintf("histogram_quantile(%g, %s)", q, sumBy(rate(sel(metric+"_bucket")), append([]string{"le"}, by...)...)),
		sel(metric+"_count"), by...)
}

// perHour is a counter's rate over the window, in chats (or calls) per hour.
func perHour(sel string, by ...string) string { return "3600 * " + sumBy(rate(sel), by...) }
