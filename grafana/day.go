package grafana

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// DefaultTimezone is the dashboards' day unless another is asked for: the
// exporter's default timezone.
const DefaultTimezone = "America/Bogota"

// day is the dashboards' day: its time zone, and how PromQL finds its midnights.
// PromQL knows no time zone: a midnight is an evaluation time whose local time, the
// Unix time plus the zone's UTC offset then, is a whole number of days.
type day struct {
	zone string
	// first is the zone's UTC offset at offsetsFrom, in seconds, and changes its
	// changes since, up to offsetsTo.
	first   int
	changes []offsetChange
	// resolution is a subquery step that lands on every midnight of the zone.
	resolution string
}

// offsetChange is a change of a zone's UTC offset: by delta seconds, at a Unix time.
type offsetChange struct {
	at    int64
	delta int
}

// offsetsFrom and offsetsTo bound the years whose changes of UTC offset the
// dashboards know, so that a zone's dashboards are the same whenever they are built;
// they hold as long as the zone's rules for 2024-2039 stand.
var (
	offsetsFrom = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	offsetsTo   = time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
)

// newDay returns the day of an IANA time zone.
func newDay(zone string) (day, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return day{}, fmt.Errorf("time zone %q: %w", zone, err)
	}
	d := day{zone: zone}
	_, d.first = offsetsFrom.In(loc).Zone()
	step := gcd(3600, abs(d.first))
	for t, offset := offsetsFrom, d.first; ; {
		_, end := t.In(loc).ZoneBounds()
		if end.IsZero() || !end.Before(offsetsTo) {
			break
		}
		if _, next := end.In(loc).Zone(); next != offset {
			d.changes = append(d.changes, offsetChange{at: end.Unix(), delta: next - offset})
			step = gcd(step, abs(next))
			offset = next
		}
		t = end
	}
	if step == 0 { // UTC
		step = 3600
	}
	d.resolution = model.Duration(time.Duration(step) * time.Second).String()
	return d, nil
}

// offset is the zone's UTC offset at Unix time t, in seconds, as midnight writes it.
func (d day) offset(t int64) int {
	o := d.first
	for _, c := range d.changes {
		if t >= c.at {
			o += c.delta
		}
	}
	return o
}

// midnight is a one-element vector at the evaluation times that start a day of the
// zone, and empty at the others: its midnight, or, where clocks jump over midnight,
// the time they jump to.
func (d day) midnight() string {
	if len(d.changes) == 0 {
		// One offset: the midnights are one second of the UTC day.
		return fmt.Sprintf("(vector(time() %% 86400) == %d)", ((-d.first)%86400+86400)%86400)
	}
	// The local day of the evaluation time is one after that of a step before.
	step, _ := model.ParseDuration(d.resolution)
	return fmt.Sprintf("(floor(vector(%s) / 86400) - floor(vector(%s) / 86400) == 1)",
		d.local("time()"), d.local(fmt.Sprintf("time() - %d", int64(time.Duration(step)/time.Second))))
}

// local writes the local time, in seconds, of the Unix time t.
func (d day) local(t string) string {
	terms := []string{t}
	if d.first != 0 {
		terms = append(terms, fmt.Sprint(d.first))
	}
	for _, c := range d.changes {
		terms = append(terms, fmt.Sprintf("%d * (%s >= bool %d)", c.delta, t, c.at))
	}
	return strings.Join(terms, " + ")
}

// todayText says what "today" is in the descriptions.
func (d day) todayText() string {
	return "Today: since midnight in " + d.zone + ", the time zone these dashboards were generated for. For an " +
		"operation in another timezone, generate them for it (docs/dashboards.md), so that the day is the Wolkvox report's day."
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
