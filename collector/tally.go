package collector

import (
	"maps"
	"math"
	"sort"
	"time"
)

// histogram accumulates observations for a const histogram.
type histogram struct {
	bounds []float64 // upper bounds, shared and never modified
	counts []uint64  // per bucket, not cumulative; the last one is past every bound
	count  uint64
	sum    float64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	h.counts[sort.SearchFloat64s(h.bounds, v)]++
	h.count++
	h.sum += v
}

func (h *histogram) clone() *histogram {
	c := *h
	c.counts = append([]uint64(nil), h.counts...)
	return &c
}

func (h *histogram) add(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.count += o.count
	h.sum += o.sum
}

// cumulative returns the buckets as client_golang's const histograms want them.
func (h *histogram) cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(h.bounds))
	var running uint64
	for i, b := range h.bounds {
		running += h.counts[i]
		out[b] = running
	}
	return out
}

// scope is the channel and skill a chat belongs to.
type scope struct{ channel, skill string }

type chatKey struct {
	scope
	feeling, lastParticipant string
}

type dispositionKey struct {
	scope
	code, description string
}

type agentKey struct{ id, name string }

type counter struct {
	series
	v float64
}

// scopeStats holds the per-scope observations of chats.
type scopeStats struct {
	series
	answerDelay, duration, handleTime        *histogram
	timedOutDuration                         *histogram // the duration of chats closed by timeout
	customerChars, agentChars, agentMessages float64
}

// observe adds a chat's observations; NaN ones were skipped.
func (st *scopeStats) observe(o *[numObserved]float64, timedOut bool) {
	duration := st.duration
	if timedOut {
		duration = st.timedOutDuration
	}
	for i, h := range [...]*histogram{st.answerDelay, duration, st.handleTime} {
		if !math.IsNaN(o[i]) {
			h.observe(o[i])
		}
	}
	for i, sum := range [...]*float64{&st.customerChars, &st.agentChars, &st.agentMessages} {
		if v := o[obsCustomerChars+i]; !math.IsNaN(v) {
			*sum += v
		}
	}
}

type agentStats struct {
	series
	chats, handleSeconds float64
}

// tally is the accumulated chat state of an operation, or the part of it that one
// answer adds (merged only if the answer succeeds).
type tally struct {
	buckets      bucketSet
	chats        map[chatKey]*counter
	scopes       map[scope]*scopeStats
	dispositions map[dispositionKey]*counter
	agents       map[agentKey]*agentStats
	skipped      map[string]float64
	folded       float64 // chats counted with labels folded into "other" by max_series
}

type bucketSet struct{ answerDelay, duration, handleTime []float64 }

// scopeSeries is how many series one channel and skill pair exposes: four
// histograms (a line per bound, +Inf, _sum and _count), the duration twice, and
// three counters.
func (b bucketSet) scopeSeries() int {
	return len(b.answerDelay) + 2*len(b.duration) + len(b.handleTime) + 4*3 + 3
}

// seriesCount is how many series the tally exposes (max_series bounds it).
func (t *tally) seriesCount() int {
	return len(t.chats) + len(t.scopes)*t.buckets.scopeSeries() + len(t.dispositions) + agentSeries*len(t.agents)
}

// agentSeries is how many series one agent exposes: chats and handle time.
const agentSeries = 2

func newTally(b bucketSet) *tally {
	return &tally{
		buckets:      b,
		chats:        map[chatKey]*counter{},
		scopes:       map[scope]*scopeStats{},
		dispositions: map[dispositionKey]*counter{},
		agents:       map[agentKey]*agentStats{},
		skipped:      map[string]float64{},
	}
}

// entry returns m[k], creating it with born if missing.
func entry[K comparable, V any](m map[K]*V, k K, born time.Time, create func(series) *V) *V {
	v, ok := m[k]
	if !ok {
		v = create(series{born: born})
		m[k] = v
	}
	return v
}

func (t *tally) chat(k chatKey, born time.Time) *counter {
	return entry(t.chats, k, born, func(s series) *counter { return &counter{series: s} })
}

func (t *tally) disposition(k dispositionKey, born time.Time) *counter {
	return entry(t.dispositions, k, born, func(s series) *counter { return &counter{series: s} })
}

func (t *tally) scope(k scope, born time.Time) *scopeStats {
	return entry(t.scopes, k, born, func(s series) *scopeStats {
		return &scopeStats{
			series:      s,
			answerDelay: newHistogram(t.buckets.answerDelay),
			duration:    newHistogram(t.buckets.duration),
			handleTime:  newHistogram(t.buckets.handleTime),

			timedOutDuration: newHistogram(t.buckets.duration),
		}
	})
}

func (t *tally) agent(k agentKey, born time.Time) *agentStats {
	return entry(t.agents, k, born, func(s series) *agentStats { return &agentStats{series: s} })
}

// merge adds d into t; series new to t are born at born. Both must use the same
// buckets.
func (t *tally) merge(d *tally, born time.Time) {
	for k, v := range d.chats {
		t.chat(k, born).v += v.v
	}
	for k, v := range d.scopes {
		st := t.scope(k, born)
		st.answerDelay.add(v.answerDelay)
		st.duration.add(v.duration)
		st.timedOutDuration.add(v.timedOutDuration)
		st.handleTime.add(v.handleTime)
		st.customerChars += v.customerChars
		st.agentChars += v.agentChars
		st.agentMessages += v.agentMessages
	}
	for k, v := range d.dispositions {
		t.disposition(k, born).v += v.v
	}
	for k, v := range d.agents {
		st := t.agent(k, born)
		st.chats += v.chats
		st.handleSeconds += v.handleSeconds
	}
	for k, v := range d.skipped {
		t.skipped[k] += v
	}
	t.folded += d.folded
}

func (t *tally) clone() *tally {
	c := newTally(t.buckets)
	for k, v := range t.chats {
		cv := *v
		c.chats[k] = &cv
	}
	for k, v := range t.dispositions {
		cv := *v
		c.dispositions[k] = &cv
	}
	for k, v := range t.scopes {
		cv := *v
		cv.answerDelay, cv.duration, cv.handleTime = v.answerDelay.clone(), v.duration.clone(), v.handleTime.clone()
		cv.timedOutDuration = v.timedOutDuration.clone()
		c.scopes[k] = &cv
	}
	for k, v := range t.agents {
		cv := *v
		c.agents[k] = &cv
	}
	maps.Copy(c.skipped, t.skipped)
	c.folded = t.folded
	return c
}
