// Package grafanatest asks Prometheus for a dashboard panel's data the way Grafana
// 12 does, so that a test can see what a panel shows without a Grafana: the step
// from the panel's width or maxDataPoints and its interval, the time range rounded
// down to the step, an instant query evaluated at the rounded end, and Grafana's
// variables. Grafana's rules are those of its Prometheus data source (pkg/promlib),
// as observed against Grafana 12.4. It also reads the dashboards the grafana package
// builds, panel by panel, and says how wide a panel is drawn.
package grafanatest

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultScrapeInterval is the Prometheus data source's scrape interval unless it is
// set: the least step of a panel without an interval of its own.
const DefaultScrapeInterval = 15 * time.Second

// Panel is a panel of a dashboard's JSON model.
type Panel map[string]any

// Get walks a path of keys; nil where one is missing.
func (p Panel) Get(path ...string) any { return Dig(map[string]any(p), path...) }

// Str is the string at path, or "".
func (p Panel) Str(path ...string) string {
	s, _ := p.Get(path...).(string)
	return s
}

// Dig walks a path of keys through decoded JSON; nil where one is missing.
func Dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// View is where a dashboard is looked at from: its time range, ending now, its time
// zone, the width of a panel in pixels, and the values of its variables.
type View struct {
	From, Now time.Time
	Zone      *time.Location
	// Width is how many pixels wide a panel of so many grid columns is drawn.
	Width func(columns float64) float64
	// ScrapeInterval is the data source's; zero is DefaultScrapeInterval.
	ScrapeInterval time.Duration
	// Vars are the values of the dashboard's own variables, by name.
	Vars map[string]string
}

// Query is one query of a panel as Grafana sends it.
type Query struct {
	RefID string
	// Expr has every variable replaced by its value.
	Expr    string
	Instant bool
	// At is when an instant query is evaluated.
	At time.Time
	// Start, End and Step are a range query's.
	Start, End time.Time
	Step       time.Duration
	// From and To are the panel's own time range, before any rounding.
	From, To time.Time
}

// Queries are the queries Grafana sends for panel p, looked at from v.
func (v View) Queries(p Panel) ([]Query, error) {
	from, to, err := v.panelRange(p)
	if err != nil {
		return nil, err
	}
	step, err := v.step(p, to.Sub(from))
	if err != nil {
		return nil, err
	}
	start, end := v.align(from, step), v.align(to, step)
	vars := map[string]string{
		"__range":         strconv.FormatInt(rangeSeconds(to.Sub(from)), 10) + "s",
		"__range_s":       strconv.FormatInt(rangeSeconds(to.Sub(from)), 10),
		"__range_ms":      strconv.FormatInt(to.Sub(from).Milliseconds(), 10),
		"__interval":      PromDuration(step),
		"__interval_ms":   strconv.FormatInt(step.Milliseconds(), 10),
		"__rate_interval": PromDuration(max(step+v.scrapeInterval(), 4*v.scrapeInterval())),
	}
	maps.Copy(vars, v.Vars)
	targets := p.Targets()
	out := make([]Query, 0, len(targets))
	for _, t := range targets {
		substituted, err := Substitute(t.Expr, vars)
		if err != nil {
			return nil, fmt.Errorf("panel %q, query %s: %w", p.Str("title"), t.RefID, err)
		}
		q := Query{RefID: t.RefID, Expr: substituted, Instant: t.Instant, Step: step, From: from, To: to}
		if t.Instant {
			q.At = end
		} else {
			q.Start, q.End = start, end
		}
		out = append(out, q)
	}
	return out, nil
}

// panelRange is the panel's time range: its relative time (timeFrom) where it has
// one, the dashboard's otherwise.
func (v View) panelRange(p Panel) (from, to time.Time, err error) {
	rel := p.Str("timeFrom")
	switch rel {
	case "":
		return v.From, v.Now, nil
	case "now/d":
		y, m, d := v.Now.In(v.Zone).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, v.Zone), v.Now, nil
	}
	d, err := ParseDuration(rel)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("panel %q: relative time %q: %w", p.Str("title"), rel, err)
	}
	return v.Now.Add(-d), v.Now, nil
}

// step is max(the panel's interval, or the scrape interval; the range over the
// panel's maxDataPoints, or its width in pixels, rounded).
func (v View) step(p Panel, r time.Duration) (time.Duration, error) {
	least := v.scrapeInterval()
	if s := p.Str("interval"); s != "" {
		d, err := ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("panel %q: interval %q: %w", p.Str("title"), s, err)
		}
		least = d
	}
	points, _ := p.Get("maxDataPoints").(float64)
	if points <= 0 {
		columns, _ := p.Get("gridPos", "w").(float64)
		if v.Width == nil || columns <= 0 {
			return 0, fmt.Errorf("panel %q: no maxDataPoints and no width", p.Str("title"))
		}
		points = math.Floor(v.Width(columns))
	}
	return max(least, RoundInterval(time.Duration(float64(r)/points))), nil
}

// align rounds t down to a multiple of step in the view's time zone, as Grafana
// aligns a query's range (AlignTimeRange).
func (v View) align(t time.Time, step time.Duration) time.Time {
	_, offset := t.In(v.Zone).Zone()
	shifted := t.UnixMilli() + int64(offset)*1000
	return time.UnixMilli(shifted - mod(shifted, step.Milliseconds()) - int64(offset)*1000)
}

func (v View) scrapeInterval() time.Duration {
	if v.ScrapeInterval > 0 {
		return v.ScrapeInterval
	}
	return DefaultScrapeInterval
}

func mod(a, b int64) int64 { return ((a % b) + b) % b }

// rangeSeconds is a range in whole seconds, rounded to the nearest, as $__range is.
func rangeSeconds(d time.Duration) int64 { return int64(math.Round(d.Seconds())) }

// PromDuration writes d as PromQL takes it, in whole milliseconds or seconds.
func PromDuration(d time.Duration) string {
	if d%time.Second != 0 {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// roundSteps are Grafana's nice intervals: an interval under the first of a pair
// becomes the second.
var roundSteps = []struct{ below, round time.Duration }{
	{1500 * time.Millisecond, time.Second}, {3500 * time.Millisecond, 2 * time.Second},
	{7500 * time.Millisecond, 5 * time.Second}, {12500 * time.Millisecond, 10 * time.Second},
	{17500 * time.Millisecond, 15 * time.Second}, {25 * time.Second, 20 * time.Second},
	{45 * time.Second, 30 * time.Second}, {90 * time.Second, time.Minute},
	{210 * time.Second, 2 * time.Minute}, {450 * time.Second, 5 * time.Minute},
	{1050 * time.Second, 10 * time.Minute}, {2100 * time.Second, 20 * time.Minute},
	{4500 * time.Second, time.Hour}, {3 * time.Hour, 2 * time.Hour}, {6 * time.Hour, 6 * time.Hour},
	{24 * time.Hour, 12 * time.Hour}, {7 * 24 * time.Hour, 24 * time.Hour},
	{21 * 24 * time.Hour, 7 * 24 * time.Hour}, {42 * 24 * time.Hour, 30 * 24 * time.Hour},
}

// RoundInterval is Grafana's roundInterval: an interval made a nice one.
func RoundInterval(d time.Duration) time.Duration {
	for _, r := range roundSteps {
		if d < r.below {
			return r.round
		}
	}
	return 365 * 24 * time.Hour
}

// AutoInterval is an interval variable on auto over range r: the range over count,
// rounded, and at least least.
func AutoInterval(r time.Duration, count float64, least time.Duration) time.Duration {
	return max(RoundInterval(time.Duration(float64(r)/count)), least)
}

var durationRE = regexp.MustCompile(`^(\d+)(ms|s|m|h|d|w|y)$`)

// ParseDuration reads a Grafana duration: a number and one unit, up to y.
func ParseDuration(s string) (time.Duration, error) {
	m := durationRE.FindStringSubmatch(s)
	if m == nil {
		return 0, errors.New("not a number and a unit")
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, err
	}
	unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
		"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

var variableRE = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)

// Substitute replaces Grafana variables by their values in vars; it fails on one it
// does not know.
func Substitute(expr string, vars map[string]string) (string, error) {
	var unknown []string
	out := variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := variableRE.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		v, ok := vars[name]
		if !ok {
			unknown = append(unknown, name)
			return m
		}
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown Grafana variable(s) %s", strings.Join(unknown, ", "))
	}
	return out, nil
}
