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

// gapLookback is how far before the range's start exact counts look for a counter's
// last value: between the end of a backfilled history and the exporter's first
// scrape, no sample bridges the gap (docs/history.md: The day you install).
const gapLookback = "1h"

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

// exact is what the counters sel selects added over the panel's range, exactly:
// their difference (not increase(), which extrapolates to the window's edges), so
// that a count equals the Wolkvox report's for the same chats. A series that began in
// the range counts all it has; one that ended in it counts what it had. A counter
// that restarted in the range (an exporter without --storage.path restarted) adds
// what it had counted before the restart: the peak of the range, where the counter
// is below it now. (A counter that restarted and has counted past that peak since is
// not told from one that did not.)
func exact(sel string) string {
	last := fmt.Sprintf("last_over_time(%s[$__range])", sel)
	start := fmt.Sprintf("last_over_time(%s[%s] offset $__range)", sel, gapLookback)
	peak := fmt.Sprintf("(max_over_time(%s[$__range]) > %s)", sel, last)
	diff := fmt.Sprintf("(%s - %s)", last, start)
	return fmt.Sprintf("((%[1]s + %[2]s) >= 0 or %[1]s >= 0 or %[3]s + %[2]s or %[3]s)", diff, peak, last)
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
