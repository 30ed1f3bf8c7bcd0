package poller

import (
	"maps"
	"slices"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Settings is an immutable snapshot of an operation's configuration.
type Settings struct {
	Config config.Operation
	Tally  tally.Settings
	Client *wolkvox.Client
}

// state is everything an operation has learned. A published state is never
// modified: a call builds the next one from a copy, so scrapes read a consistent
// state without waiting for calls, and the same snapshot is what gets saved.
type state struct {
	// generation changes when the chat counts restart, so an answer read before
	// that is not merged after it. Not saved.
	generation int

	tally *tally.Tally
	// seen maps the hash of each counted conn_id to the Unix end of the window that
	// first returned it. It is never modified once set: a commit builds a new one,
	// so copies of the state share it.
	seen map[uint64]int64
	// cursor is the start of the next window; zero until the first call is made.
	cursor time.Time
	// maxSpan, when set, caps the length of the next window: an answer was cut at
	// the record cap, so the exporter catches up in shorter windows.
	maxSpan time.Duration
	// committed is set once an answer has been merged (see the new-series hold).
	committed bool
	// countingSince is the start of the first window: counting starts there for good.
	countingSince time.Time
	// days are the local days still to re-read, oldest first: yesterday and today at
	// most (see reread.go). Like seen, each is never modified once published.
	days []*countedDay
	// reconciled sums what the daily re-reads found.
	reconciled Reconciled

	Health
	failures int // consecutive failures that back off
	// Not saved: the failure in progress, "" when calls succeed.
	failing wolkvox.Result

	// realtime is the health of each real-time API called; each is replaced, not
	// modified, by the next call.
	realtime map[wolkvox.API]*RealtimeHealth
	// open and agentsNow are the last reads of the real-time APIs, nil before the
	// first; agentNames the agents' names the last read of api=agents gave. Not saved.
	open       *tally.OpenNow
	agentsNow  *tally.AgentsNow
	agentNames map[string]string
}

// Health is what the calls of an operation tell about the API.
type Health struct {
	// Up is whether the last call succeeded. Not saved: it describes this process's calls.
	Up                 bool
	Requests           map[wolkvox.Result]float64
	TruncatedResponses float64 // answers cut at the record cap
	TruncatedQueries   float64 // cut even at the shortest window: chats missing
	SkippedSeconds     float64 // history left out because a gap passed max_catchup
	CallTime           tally.Cell
	LastSuccess        time.Time
	LastRecords        int
	BackoffUntil       time.Time // no call before this; zero when none
}

// CallTimeBuckets are the bounds of wolkvox_api_request_duration_seconds.
var CallTimeBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60}

func newState(s *Settings) *state {
	return &state{
		generation: 1,
		tally:      tally.New(s.Tally),
		seen:       map[uint64]int64{},
		Health:     Health{Requests: map[wolkvox.Result]float64{}, CallTime: tally.NewHistogram(CallTimeBuckets)},
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
	c.tally = st.tally.Clone()
	c.Requests = maps.Clone(st.Requests)
	c.CallTime = st.CallTime.Clone()
	c.days = slices.Clone(st.days)
	c.realtime = maps.Clone(st.realtime)
	return &c
}

// restartCounts empties the chat counts for new labels or buckets. The cursor and
// dedupe memory stay, so no chat is counted twice.
func (st *state) restartCounts(s *Settings) {
	st.tally = tally.New(s.Tally)
	st.generation++
}

// birth is when the series a merge creates are born: zero for the first answer
// merged since start, whose series show at once, and now for every later one (see
// the new-series hold).
func (st *state) birth(now time.Time) time.Time {
	if !st.committed {
		st.committed = true
		return time.Time{}
	}
	return now
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

// pause is when calls may go on after a failed call of result, started at started,
// and the failures in a row since: at midnight when the token's quota is spent,
// which no API may then call with; after a backoff growing from interval to ceiling
// for a failure that backs off; at once otherwise.
func pause(s *Settings, result wolkvox.Result, started time.Time, failures int, interval, ceiling time.Duration) (until time.Time, failuresNow int) {
	switch {
	case result == wolkvox.ResultQuotaExceeded:
		_, reset := wolkvox.Day(started, s.Config.Location())
		s.Client.Token().SpendQuota(reset)
		return reset, failures
	case backsOff(result):
		failures++
		return started.Add(failureBackoff(failures, interval, ceiling)), failures
	}
	return time.Time{}, 0
}

// failureLogger logs a failure at warn when it differs from the last, and at debug
// while it repeats.
func failureLogger(logger log.Logger, last, result wolkvox.Result) log.Logger {
	if result != last {
		return level.Warn(logger)
	}
	return level.Debug(logger)
}

// backsOff tells whether a failed result delays the next call beyond min_interval.
func backsOff(r wolkvox.Result) bool {
	switch r {
	case wolkvox.ResultTimeout, wolkvox.ResultHTTPError, wolkvox.ResultUnreachable, wolkvox.ResultConcurrencyLimited,
		wolkvox.ResultAPIError, wolkvox.ResultDecodeError,
		wolkvox.ResultUnauthorized: // a refused token stays refused until the config changes, and each call costs quota
		return true
	}
	return false
}

// Upstream names the data an operation reads: the same Wolkvox server returns the
// same chats, whatever the token or the URL it is reached through (a proxy, or the
// demo's simulator on a new port). A state belongs to its upstream.
func Upstream(op config.Operation) string { return "server " + op.Server }
