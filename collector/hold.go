package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolkvox-exporter/wolkvox_exporter/poller"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
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

// shownAt reports whether a series born at born shows its values at now, or still
// only 0; born is zero for series shown at once.
func shownAt(born, now time.Time, hold time.Duration) bool {
	return born.IsZero() || !now.Before(born.Add(hold))
}

// Chats is what an operation's wolkvox_chats_total adds up to on /metrics now, and
// the chats of label sets the hold still shows at 0.
func (c *Collector) Chats(st poller.Status) (shown, held float64) {
	now := c.now()
	st.Tally.Each(tally.ChatsFamily, func(_ tally.Labels, cell *tally.Cell, born time.Time) {
		if shownAt(born, now, c.hold) {
			shown += cell.Sum
		} else {
			held += cell.Sum
		}
	})
	return shown, held
}

// heldEmitter emits chat series as the hold shows them at now.
type heldEmitter struct {
	emitter
	now  time.Time
	hold time.Duration
}

func (e heldEmitter) counter(d *prometheus.Desc, born time.Time, v float64, labels ...string) {
	if !shownAt(born, e.now, e.hold) {
		v = 0
	}
	if born.IsZero() {
		e.emitter.counter(d, v, labels...)
		return
	}
	e.ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(d, prometheus.CounterValue, v, born, e.labels(labels)...)
}

func (e heldEmitter) hist(d *prometheus.Desc, born time.Time, h *tally.Cell, labels ...string) {
	if !shownAt(born, e.now, e.hold) {
		empty := tally.NewHistogram(h.Bounds)
		h = &empty
	}
	if born.IsZero() {
		e.emitter.hist(d, h, labels...)
		return
	}
	e.ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(d, h.Count, h.Sum, h.Cumulative(), born, e.labels(labels)...)
}
