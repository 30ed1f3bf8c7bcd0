package collector

import "sort"

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

// scopeStats holds the per-scope observations of chats.
type scopeStats struct {
	answerDelay, duration, handleTime        *histogram
	customerChars, agentChars, agentMessages float64
}

type agentStats struct {
	chats, handleSeconds float64
}

// tally is the accumulated chat state of an operation, or the part of it that one
// answer adds (merged only if the answer succeeds).
type tally struct {
	buckets      bucketSet
	chats        map[chatKey]float64
	scopes       map[scope]*scopeStats
	dispositions map[dispositionKey]float64
	agents       map[agentKey]*agentStats
	skipped      map[string]float64
}

type bucketSet struct{ answerDelay, duration, handleTime []float64 }

func newTally(b bucketSet) *tally {
	return &tally{
		buckets:      b,
		chats:        map[chatKey]float64{},
		scopes:       map[scope]*scopeStats{},
		dispositions: map[dispositionKey]float64{},
		agents:       map[agentKey]*agentStats{},
		skipped:      map[string]float64{},
	}
}

func (t *tally) scope(s scope) *scopeStats {
	st, ok := t.scopes[s]
	if !ok {
		st = &scopeStats{
			answerDelay: newHistogram(t.buckets.answerDelay),
			duration:    newHistogram(t.buckets.duration),
			handleTime:  newHistogram(t.buckets.handleTime),
		}
		t.scopes[s] = st
	}
	return st
}

func (t *tally) agent(k agentKey) *agentStats {
	st, ok := t.agents[k]
	if !ok {
		st = &agentStats{}
		t.agents[k] = st
	}
	return st
}

// merge adds d into t. Both must use the same buckets.
func (t *tally) merge(d *tally) {
	for k, v := range d.chats {
		t.chats[k] += v
	}
	for k, v := range d.scopes {
		st := t.scope(k)
		st.answerDelay.add(v.answerDelay)
		st.duration.add(v.duration)
		st.handleTime.add(v.handleTime)
		st.customerChars += v.customerChars
		st.agentChars += v.agentChars
		st.agentMessages += v.agentMessages
	}
	for k, v := range d.dispositions {
		t.dispositions[k] += v
	}
	for k, v := range d.agents {
		st := t.agent(k)
		st.chats += v.chats
		st.handleSeconds += v.handleSeconds
	}
	for k, v := range d.skipped {
		t.skipped[k] += v
	}
}
