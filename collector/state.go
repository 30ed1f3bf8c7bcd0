package collector

import (
	"maps"
	"slices"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// state is everything an operation has learned. A published state is never
// modified: a call builds the next one from a copy, so scrapes read a consistent
// state without waiting for calls, and the same snapshot is what gets saved.
type state struct {
	// generation changes when the chat counts restart, so an answer read before
	// that is not merged after it. Not saved.
	generation int

	tally   *tally
	limiter *labelLimiter
	// seen maps the hash of each counted conn_id to the Unix end of the window that
	// first returned it. It is never modified once set: a commit builds a new one,
	// so copies of the state share it.
	seen map[uint64]int64
	// cursor is the start of the next window; zero until the first call is made.
	cursor time.Time
	// maxSpan, when set, caps the length of the next window: an answer was cut at
	// the record cap, so the exporter catches up in smaller windows.
	maxSpan time.Duration
	// committed is set once an answer has been merged (see the new-series hold).
	committed bool
	// countingSince is the start of the first window: counting starts there for good.
	countingSince time.Time
	// days are the local days still to re-read, oldest first: yesterday and today at
	// most (see reconcile.go). Like seen, each is never modified once published.
	days []*countedDay
	// reconciled sums what the daily re-reads found.
	reconciled reconcileTotals

	requests           map[wolkvox.Result]float64
	truncatedResponses float64 // answers cut at the record cap
	truncatedQueries   float64 // cut even at the shortest window: chats missing
	skippedSeconds     float64 // history left out because a gap passed max_catchup
	callTime           *histogram
	lastSuccess        time.Time
	lastRecords        int

	failures     int       // consecutive failures that back off
	backoffUntil time.Time // no call before this; zero when none

	// Not saved: they describe this process's calls.
	up      bool
	failing wolkvox.Result // the failure in progress, "" when calls succeed
}

var callTimeBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60}

func newState(s *settings) *state {
	return &state{
		generation: 1,
		tally:      newTally(s.buckets),
		limiter:    newLabelLimiter(s.cfg.MaxLabelValues),
		seen:       map[uint64]int64{},
		requests:   map[wolkvox.Result]float64{},
		callTime:   newHistogram(callTimeBuckets),
	}
}

// seenBefore tells whether a chat was counted by a window that the next may overlap.
func (st *state) seenBefore(key uint64) bool {
	_, ok := st.seen[key]
	return ok
}

// clone returns a copy that the next call or reload may change; seen and the
// counted days are shared, as no one modifies them.
func (st *state) clone() *state {
	c := *st
	c.tally = st.tally.clone()
	c.limiter = st.limiter.clone()
	c.requests = maps.Clone(st.requests)
	c.callTime = st.callTime.clone()
	c.days = slices.Clone(st.days)
	return &c
}

// restartCounts empties the chat counts for new labels or buckets. The cursor and
// dedupe memory stay, so no chat is counted twice.
func (st *state) restartCounts(s *settings) {
	st.tally = newTally(s.buckets)
	st.limiter = newLabelLimiter(s.cfg.MaxLabelValues)
	st.generation++
}

// connKey is what the dedupe memory keeps of a conn_id: a 64-bit hash costs a
// fraction of the id's text, and two of 100,000 ids collide with odds near 1e-10.
// It is FNV-1a, written out so that hashing allocates nothing; the saved state
// depends on it, so it must never change.
func connKey(id string) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime64
	}
	return h
}

// failureBackoff is the wait after the n-th failure in a row: min_interval, doubled
// per failure, at most max_backoff.
func failureBackoff(n int, minInterval, maxBackoff time.Duration) time.Duration {
	d := minInterval
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// backsOff tells whether a failed result delays the next call beyond min_interval.
func backsOff(r wolkvox.Result) bool {
	switch r {
	case wolkvox.ResultTimeout, wolkvox.ResultHTTPError, wolkvox.ResultConcurrencyLimited,
		wolkvox.ResultAPIError, wolkvox.ResultDecodeError,
		wolkvox.ResultUnauthorized: // a refused token stays refused until the config changes, and each call costs quota
		return true
	}
	return false
}
