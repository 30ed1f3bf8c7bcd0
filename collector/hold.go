package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The new-series hold. Prometheus' rate() and increase() take the first sample of a
// series as their base, so a series that appears at 5 loses those 5. A label set
// seen for the first time after the first answer since start is therefore exposed
// at 0 for the hold, at least one scrape interval of every Prometheus that scrapes
// the exporter, and with its counts after. The series of the first answer show at
// once, so that a first scrape matches what the API served.
//
// Each held series also carries its birth as its created timestamp. A Prometheus
// that ingests created timestamps (--enable-feature=created-timestamp-zero-ingestion,
// which scrapes protobuf) starts such a series from 0 at its birth by itself, and
// needs no hold.

// DefaultNewSeriesHold is how long a new series shows 0 before its values.
const DefaultNewSeriesHold = time.Minute

// WithNewSeriesHold sets how long a label set seen for the first time is exposed at
// 0 before its counts. 0 disables the hold.
func WithNewSeriesHold(d time.Duration) Option { return func(c *Collector) { c.hold = d } }

// series holds what the series of one label set share: when they first appeared.
type series struct {
	born time.Time // zero for series of the first answer, shown at once
}

// shownAt reports whether the series shows its values at now, or still only 0.
func (s series) shownAt(now time.Time, hold time.Duration) bool {
	return s.born.IsZero() || !now.Before(s.born.Add(hold))
}

// birth is when the series a commit creates are born: zero for the first answer
// merged into st since start, which shows at once, and now for every later one.
func birth(st *state, now time.Time) time.Time {
	if !st.committed {
		st.committed = true
		return time.Time{}
	}
	return now
}

// heldEmitter emits chat series as the hold shows them at now.
type heldEmitter struct {
	emitter
	now  time.Time
	hold time.Duration
}

func (e heldEmitter) counter(d *prometheus.Desc, s series, v float64, labels ...string) {
	if !s.shownAt(e.now, e.hold) {
		v = 0
	}
	if s.born.IsZero() {
		e.emitter.counter(d, v, labels...)
		return
	}
	e.ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(d, prometheus.CounterValue, v, s.born, e.labels(labels)...)
}

func (e heldEmitter) hist(d *prometheus.Desc, s series, h *histogram, labels ...string) {
	if !s.shownAt(e.now, e.hold) {
		h = newHistogram(h.bounds)
	}
	if s.born.IsZero() {
		e.emitter.hist(d, h, labels...)
		return
	}
	e.ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(d, h.count, h.sum, h.cumulative(), s.born, e.labels(labels)...)
}
