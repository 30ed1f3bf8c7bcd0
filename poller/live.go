package poller

import (
	"context"
	"errors"
	"time"

	"github.com/go-kit/log/level"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/logtime"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// liveSpan is the span live polling reads at now from st.
func liveSpan(now time.Time, s *Settings, st *state) (wolkvox.Span, time.Duration) {
	cfg := s.Config
	plan := wolkvox.Live{
		Overlap: time.Duration(cfg.Overlap), MaxCatchup: time.Duration(cfg.MaxCatchup),
		DayAligned: cfg.Reconcile.Enabled, Location: cfg.Location(),
	}
	return plan.Span(now, st.cursor, st.maxSpan)
}

// call makes one live query and merges its answer.
func (o *Operation) call(started time.Time) {
	o.mu.RLock()
	s, base := o.settings, o.state
	o.mu.RUnlock()
	span, skipped := liveSpan(started, s, base)
	w := span.Window()
	if base.cursor.IsZero() {
		o.anchor(s, w.From)
	}
	b := tally.NewBatch(base.tally, base.seenBefore, base.LastRecords) // answers are alike in size
	ans, elapsed, sent, err := o.exchange(s, w, b.Add)
	if !sent {
		return
	}
	text := windowText(w)
	saved := o.settle(s, b, base.generation, "query", text, started, ans, err, elapsed, func(next *state) {
		o.commit(next, s, b, span, w, skipped, started, ans)
	})
	if saved {
		o.logWindow(w, started)
		level.Debug(o.logger).Log("msg", "chat_1 query done", "window", text, "result", ans.Result,
			"records", ans.Records, "not_records", ans.NotRecords, "new_chats", len(b.IDs), "duration", elapsed)
	}
}

// exchange sends one chat_1 query for w, passing each record of the answer to each.
// sent is false for a call that never reached the API: it cost no quota.
func (o *Operation) exchange(s *Settings, w wolkvox.Window, each func(*wolkvox.Record)) (ans wolkvox.Answer, elapsed time.Duration, sent bool, err error) {
	clock := time.Now()
	ans, err = s.Client.Chats(context.Background(), w.From, w.To, each)
	elapsed = time.Since(clock)
	if errors.Is(err, wolkvox.ErrNotSent) {
		level.Warn(o.logger).Log("msg", "chat_1 query skipped", "window", windowText(w), "err", err)
		return ans, elapsed, false, err
	}
	return ans, elapsed, true, err
}

// windowText writes a window's bounds, date_ini and date_end, as log values.
func windowText(w wolkvox.Window) string {
	return logtime.Format(w.From) + ".." + logtime.Format(w.To)
}

// settle records a call's outcome in a new state and, if the call succeeded, has
// merge add what its answer taught; then the state is saved and shown. It reports
// whether the answer was merged and saved. generation is the one of the state the
// batch counted on; what names the call in the log: "query" or "re-read".
func (o *Operation) settle(s *Settings, b *tally.Batch, generation int, what, win string, started time.Time,
	ans wolkvox.Answer, err error, elapsed time.Duration, merge func(next *state)) bool {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.mu.RLock()
	cur := o.state // a reload may have replaced the state the call started from
	o.mu.RUnlock()
	next := cur.clone()
	next.CallTime.Observe(elapsed.Seconds())

	if err != nil {
		result := wolkvox.ResultHTTPError
		if we, ok := errors.AsType[*wolkvox.Error](err); ok {
			result = we.Result
		}
		next.Requests[result]++
		next.Up = false
		o.failed(next, s, result, started, what, win, err, elapsed)
		_ = o.save(s, next) // keeps the backoff across a restart; counts did not change
		o.show(next)
		return false
	}

	next.Requests[ans.Result]++
	next.Up = true
	next.LastSuccess = o.now()
	next.LastRecords = ans.Records
	if next.failing != "" {
		level.Info(o.logger).Log("msg", "chat_1 queries succeed again", "after", next.failing, "window", win)
	}
	next.failing, next.failures, next.BackoffUntil = "", 0, time.Time{}
	if generation != next.generation {
		// A reload changed the labels while this call ran: read the window again.
		level.Info(o.logger).Log("msg", "answer dropped: labels changed by a reload during the call", "window", win)
		_ = o.save(s, next)
		o.show(next)
		return false
	}
	b.Delta.Skipped[tally.ReasonNotARecord] += float64(ans.NotRecords)
	var unsaved *state // what to show if the answer cannot be saved
	if o.store != nil {
		unsaved = next.clone()
	}
	merge(next)
	if err := o.save(s, next); err != nil {
		// Counts that a restart would lose must never reach Prometheus: it would
		// count them twice. The window is read again by the next call.
		o.show(unsaved)
		return false
	}
	o.show(next)
	return true
}

// anchor makes from the cursor of a state that has none, and saves it, before the
// first call is sent. Counting then starts there for good: if that call fails, or
// the process dies before its answer is saved, the next call still reads from
// from, not from its own now - overlap, which would leave out the chats closed in
// between.
func (o *Operation) anchor(s *Settings, from time.Time) {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.mu.RLock()
	cur := o.state
	o.mu.RUnlock()
	if !cur.cursor.IsZero() {
		return
	}
	next := cur.clone()
	next.cursor, next.countingSince = from, from
	_ = o.save(s, next) // a failure is counted and logged; the cursor holds in memory
	o.show(next)
}

// failed sets the backoff after a failed call and logs the failure when it is new:
// a failure that repeats is logged at debug level only.
func (o *Operation) failed(next *state, s *Settings, result wolkvox.Result, started time.Time, what, win string, err error, elapsed time.Duration) {
	// Every call until the quota resets, at midnight, would fail and still cost a
	// call: the quota is the token's, so no API is called with it meanwhile.
	next.BackoffUntil, next.failures = pause(s, result, started, next.failures, time.Duration(s.Config.MinInterval), time.Duration(s.Config.MaxBackoff))
	logger := failureLogger(o.logger, next.failing, result)
	next.failing = result
	keyvals := []any{"msg", "chat_1 " + what + " failed; counters unchanged, the window will be read again",
		"window", win, "result", result, "err", err, "duration", elapsed}
	if !next.BackoffUntil.IsZero() {
		keyvals = append(keyvals, "no_call_before", logtime.Format(next.BackoffUntil))
	}
	if result == wolkvox.ResultUnauthorized {
		keyvals = append(keyvals, "fix", "the API refused the token: put the operation's token in its token_file (or token) and check its server, "+
			"then reload (SIGHUP or POST /-/reload); a changed token is tried at once")
	}
	logger.Log(keyvals...)
}

// commit merges a successful live answer to window w of span into next and moves
// the cursor. started is when the call started.
func (o *Operation) commit(next *state, s *Settings, b *tally.Batch, span wolkvox.Span, w wolkvox.Window, skipped time.Duration, started time.Time, ans wolkvox.Answer) {
	o.countForDay(next, s, b, w.From, started)
	next.tally.Merge(b.Delta, next.birth(o.now()))
	if skipped > 0 {
		next.SkippedSeconds += skipped.Seconds()
		level.Warn(o.logger).Log("msg", "the gap since the last query is longer than max_catchup: chats that closed in the skipped part are not counted",
			"skipped", skipped, "from", logtime.Format(w.From), "max_catchup", s.Config.MaxCatchup)
	}
	switch span.Answered(w, ans.Truncated) {
	case wolkvox.Split:
		// Chats already counted are remembered, so nothing counts twice.
		next.TruncatedResponses++
		level.Warn(o.logger).Log("msg", "answer cut at the record cap; the next call asks for half the window",
			"records", ans.Records, "next_window_length", span.Max)
	case wolkvox.Missing:
		next.TruncatedResponses++
		next.TruncatedQueries++
		level.Error(o.logger).Log("msg", "answer cut at the record cap even for the shortest window; chats may be missing",
			"records", ans.Records, "window_length", w.To.Sub(w.From))
	}
	next.cursor, next.maxSpan = span.Next, span.Max
	// A chat first seen in a window ending before the cursor can no longer be
	// returned: its close time is at most that end. Where clocks go back near the
	// cursor, an hour of wall time happens twice and the API, which compares wall
	// times, returns both: chats are remembered that much longer.
	cursor, end := next.cursor.Add(-wolkvox.ClocksBack(next.cursor, s.Config.Location())).Unix(), w.To.Unix()
	seen := make(map[uint64]int64, len(next.seen)+len(b.IDs))
	for id, firstSeen := range next.seen {
		if firstSeen >= cursor {
			seen[id] = firstSeen
		}
	}
	for id := range b.IDs {
		seen[id] = end
	}
	next.seen = seen
}
