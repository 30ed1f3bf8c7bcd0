package collector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

const (
	// maxWindow is the longest window the API accepts.
	maxWindow = 31 * 24 * time.Hour
	// minSplitWindow is where halving a cut window stops.
	minSplitWindow = time.Minute
)

// settings is an immutable snapshot of an operation's configuration.
type settings struct {
	cfg     config.Operation
	buckets bucketSet
	client  *wolkvox.Client
}

// sameLabeling tells whether two settings turn the same record into the same series.
func (s *settings) sameLabeling(o *settings) bool {
	return s.cfg.AgentMetrics == o.cfg.AgentMetrics &&
		s.cfg.MaxLabelValues == o.cfg.MaxLabelValues &&
		maps.Equal(s.cfg.Skills, o.cfg.Skills) &&
		slices.Equal(s.buckets.answerDelay, o.buckets.answerDelay) &&
		slices.Equal(s.buckets.duration, o.buckets.duration) &&
		slices.Equal(s.buckets.handleTime, o.buckets.handleTime)
}

// upstream names the data an operation reads: the same Wolkvox server returns the
// same chats, whatever the token or the URL it is reached through (a proxy, or the
// demo's simulator on a new port).
func (s *settings) upstream() string { return "server " + s.cfg.Server }

// operation polls one Wolkvox operation and holds everything learned from it.
type operation struct {
	name   string
	now    func() time.Time
	logger log.Logger
	store  *store // nil without --storage.path

	// writeMu serializes the writers of state: a call's commit and a reload.
	writeMu sync.Mutex

	// rereading is the daily re-read in progress, and windows the live windows of
	// the days it may re-read: what a call's goroutine keeps between calls, under
	// writeMu. Neither is saved: after a restart a re-read starts its day again.
	rereading *rereadProgress
	windows   []liveWindow

	mu          sync.RWMutex
	settings    *settings
	state       *state
	nextCall    time.Time
	nextReread  time.Time
	inflight    chan struct{} // closed when the running calls end
	writeFails  float64
	loadFails   float64
	lastSaveErr string
}

func newOperation(s *settings, now func() time.Time, logger log.Logger, st *store) *operation {
	o := &operation{
		name:     s.cfg.Name,
		now:      now,
		logger:   log.With(logger, "operation", s.cfg.Name),
		store:    st,
		settings: s,
		state:    newState(s),
	}
	if st != nil {
		loaded, discarded := st.load(s, o.logger)
		if loaded != nil {
			o.state = loaded
		}
		if discarded {
			o.loadFails++
		}
	}
	return o
}

// update swaps in new settings from a reload. Counts restart only if records would
// now map to other series; the cursor and the dedupe memory always survive, so no
// chat is lost or counted twice across a reload. A new token clears the backoff:
// it may have a quota of its own.
func (o *operation) update(s *settings) {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.mu.Lock()
	old, cur := o.settings, o.state
	o.settings = s
	newToken := old.cfg.APIToken() != s.cfg.APIToken()
	if newToken {
		o.nextCall = time.Time{}
	}
	o.mu.Unlock()

	relabel := !old.sameLabeling(s)
	if !relabel && !newToken {
		return
	}
	next := cur.clone()
	if relabel {
		next.restartCounts(s)
		level.Info(o.logger).Log("msg", "labels or buckets changed on reload: chat counters restart from zero")
	}
	if newToken {
		next.failures, next.backoffUntil, next.failing = 0, time.Time{}, ""
		level.Info(o.logger).Log("msg", "token changed on reload: any backoff is cleared")
	}
	// The restart of counts must be shown even if it cannot be saved: the old
	// series no longer match the configuration.
	_ = o.save(s, next)
	o.show(next)
}

// refresh starts the calls that are due, unless calls are running: a live query
// once min_interval and any backoff have passed, and the daily re-read (see
// reconcile.go). It then waits for the running calls or for ctx, whichever ends
// first. Concurrent scrapes share the calls.
func (o *operation) refresh(ctx context.Context) {
	o.mu.Lock()
	done := o.inflight
	if done == nil {
		now := o.now()
		settled := !now.Before(o.state.backoffUntil)
		live := settled && !now.Before(o.nextCall)
		reread := settled && !now.Before(o.nextReread) && rereadDay(o.state, o.settings, now) != nil
		if !live && !reread {
			o.mu.Unlock()
			return
		}
		done = make(chan struct{})
		o.inflight = done
		if live {
			o.nextCall = now.Add(time.Duration(o.settings.cfg.MinInterval))
		}
		if reread {
			o.nextReread = now.Add(time.Duration(o.settings.cfg.MinInterval))
		}
		go o.calls(now, live, reread, done) // outlives the scrape that starts it, bounded by request_timeout
	}
	o.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// calls makes the due calls in the background: they outlive the scrape that started
// them and are bounded by request_timeout only. The re-read waits for the live
// query, and does not follow one that failed.
func (o *operation) calls(started time.Time, live, reread bool, done chan struct{}) {
	defer func() {
		o.mu.Lock()
		o.inflight = nil
		o.mu.Unlock()
		close(done)
	}()
	if live {
		o.call(started)
	}
	if reread {
		o.mu.RLock()
		failing := started.Before(o.state.backoffUntil)
		o.mu.RUnlock()
		if !failing {
			o.reread(started)
		}
	}
}

// window is the span the next call asks for: from the cursor (or overlap before
// now, at start) to now, unless it must be shorter. skipped is how much history
// before a cursor older than max_catchup is left out. With the daily re-read on, a
// window does not cross the midnights that start yesterday and today, the days a
// re-read may read, so that each chat counted in them belongs to one local day:
// dayEnd is then the midnight the window stops at, else zero.
func window(now time.Time, s *settings, st *state) (from, to, dayEnd time.Time, skipped time.Duration) {
	to = now.Truncate(time.Second)
	from = to.Add(-time.Duration(s.cfg.Overlap))
	if !st.cursor.IsZero() {
		from = st.cursor
		if earliest := to.Add(-time.Duration(s.cfg.MaxCatchup)); from.Before(earliest) {
			skipped = earliest.Sub(from)
			from = earliest
		}
	}
	span := maxWindow
	if st.maxSpan > 0 {
		span = min(span, st.maxSpan)
	}
	if to.Sub(from) > span {
		to = from.Add(span)
	}
	if to.Before(from) {
		to = from // the clock went back
	}
	if s.cfg.Reconcile.Enabled {
		today, _ := wolkvox.Day(now, s.cfg.Location())
		yesterday, _ := wolkvox.Day(today.Add(-time.Second), s.cfg.Location())
		for _, midnight := range []time.Time{yesterday, today} {
			if from.Before(midnight) && !to.Before(midnight) {
				return from, midnight.Add(-time.Second), midnight, skipped // date_end covers its whole second
			}
		}
	}
	return from, to, time.Time{}, skipped
}

// call makes one live query and merges its answer.
func (o *operation) call(started time.Time) {
	o.mu.RLock()
	s, base := o.settings, o.state
	o.mu.RUnlock()
	from, to, dayEnd, skipped := window(started, s, base)
	if base.cursor.IsZero() {
		o.anchor(s, from)
	}
	b := newBatch(s, base, base.seenBefore)
	ans, elapsed, sent, err := o.exchange(s, from, to, b.add)
	if !sent {
		return
	}
	win := o.windowText(s, from, to)
	saved := o.settle(s, b, "query", win, started, ans, err, elapsed, func(next *state) {
		o.commit(next, s, b, from, to, dayEnd, skipped, started.Truncate(time.Second), ans)
	})
	if saved {
		o.logWindow(liveWindow{from: from, to: to, called: started})
		level.Debug(o.logger).Log("msg", "chat_1 query done", "window", win, "result", ans.Result,
			"records", ans.Records, "not_records", ans.NotRecords, "new_chats", len(b.ids), "duration", elapsed)
	}
}

// exchange sends one chat_1 query for [from, to], passing each record of the answer
// to each. sent is false for a call that never reached the API: it cost no quota.
func (o *operation) exchange(s *settings, from, to time.Time, each func(*wolkvox.Record)) (ans wolkvox.Answer, elapsed time.Duration, sent bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.RequestTimeout))
	defer cancel()
	clock := time.Now()
	ans, err = s.client.Chats(ctx, from, to, each)
	elapsed = time.Since(clock)
	if errors.Is(err, wolkvox.ErrNotSent) {
		level.Warn(o.logger).Log("msg", "chat_1 query skipped", "window", o.windowText(s, from, to), "err", err)
		return ans, elapsed, false, err
	}
	return ans, elapsed, true, err
}

func (o *operation) windowText(s *settings, from, to time.Time) string {
	loc := s.cfg.Location()
	return fmt.Sprintf("%s..%s", from.In(loc).Format(wolkvox.DateLayout), to.In(loc).Format(wolkvox.DateLayout))
}

// settle records a call's outcome in a new state and, if the call succeeded, has
// merge add what its answer taught; then the state is saved and shown. It reports
// whether the answer was merged and saved. what names the call in the log: "query"
// or "re-read".
func (o *operation) settle(s *settings, b *batch, what, win string, started time.Time, ans wolkvox.Answer, err error, elapsed time.Duration, merge func(next *state)) bool {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.mu.RLock()
	cur := o.state // a reload may have replaced the state the call started from
	o.mu.RUnlock()
	next := cur.clone()
	next.callTime.observe(elapsed.Seconds())

	if err != nil {
		result := wolkvox.ResultHTTPError
		if we, ok := errors.AsType[*wolkvox.Error](err); ok {
			result = we.Result
		}
		next.requests[result]++
		next.up = false
		o.failed(next, s, result, started, what, win, err, elapsed)
		_ = o.save(s, next) // keeps the backoff across a restart; counts did not change
		o.show(next)
		return false
	}

	next.requests[ans.Result]++
	next.up = true
	next.lastSuccess = o.now()
	next.lastRecords = ans.Records
	if next.failing != "" {
		level.Info(o.logger).Log("msg", "chat_1 queries succeed again", "after", next.failing, "window", win)
	}
	next.failing, next.failures, next.backoffUntil = "", 0, time.Time{}
	if b.generation != next.generation {
		// A reload changed the labels while this call ran: read the window again.
		level.Info(o.logger).Log("msg", "answer dropped: labels changed by a reload during the call", "window", win)
		_ = o.save(s, next)
		o.show(next)
		return false
	}
	b.tally.skipped[reasonNotARecord] += float64(ans.NotRecords)
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
func (o *operation) anchor(s *settings, from time.Time) {
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
func (o *operation) failed(next *state, s *settings, result wolkvox.Result, started time.Time, what, win string, err error, elapsed time.Duration) {
	switch {
	case result == wolkvox.ResultQuotaExceeded:
		// Every call until the quota resets, at midnight, would fail and still cost a call.
		_, next.backoffUntil = wolkvox.Day(started, s.cfg.Location())
	case backsOff(result):
		next.failures++
		next.backoffUntil = started.Add(failureBackoff(next.failures, time.Duration(s.cfg.MinInterval), time.Duration(s.cfg.MaxBackoff)))
	default:
		next.failures, next.backoffUntil = 0, time.Time{}
	}
	logger := level.Debug(o.logger)
	if result != next.failing {
		logger = level.Warn(o.logger)
	}
	next.failing = result
	keyvals := []any{"msg", "chat_1 " + what + " failed; counters unchanged, the window will be read again",
		"window", win, "result", result, "err", err, "duration", elapsed}
	if !next.backoffUntil.IsZero() {
		keyvals = append(keyvals, "no_call_before", next.backoffUntil.In(s.cfg.Location()).Format(time.RFC3339))
	}
	if result == wolkvox.ResultUnauthorized {
		keyvals = append(keyvals, "fix", "the API refused the token: put the operation's token in its token_file (or token) and check its server, "+
			"then reload (SIGHUP or POST /-/reload); a changed token is tried at once")
	}
	logger.Log(keyvals...)
}

// commit merges a successful live answer into next and moves the cursor. now is
// when the call started; dayEnd is the midnight the window stopped at, if any.
func (o *operation) commit(next *state, s *settings, b *batch, from, to, dayEnd time.Time, skipped time.Duration, now time.Time, ans wolkvox.Answer) {
	o.countForDay(next, s, b, from, now)
	next.tally.merge(b.tally, birth(next, o.now()))
	next.limiter.commit(b.staged)
	if skipped > 0 {
		next.skippedSeconds += skipped.Seconds()
		level.Warn(o.logger).Log("msg", "the gap since the last query is longer than max_catchup: chats that closed in the skipped part are not counted",
			"skipped", skipped, "from", from.In(s.cfg.Location()).Format(time.RFC3339), "max_catchup", s.cfg.MaxCatchup)
	}
	overlap := time.Duration(s.cfg.Overlap)
	switch {
	case ans.Truncated && to.Sub(from) >= 2*minSplitWindow:
		// The answer was cut at the record cap: ask again from the same start with half
		// the window. Chats already counted are remembered, so nothing counts twice.
		next.truncatedResponses++
		next.cursor = from
		next.maxSpan = (to.Sub(from) / 2).Truncate(time.Second)
		level.Warn(o.logger).Log("msg", "answer cut at the record cap; the next call asks for half the window",
			"records", ans.Records, "next_window_length", next.maxSpan)
	default:
		if ans.Truncated {
			next.truncatedResponses++
			next.truncatedQueries++
			level.Error(o.logger).Log("msg", "answer cut at the record cap even for the shortest window; chats may be missing",
				"records", ans.Records, "window_length", to.Sub(from))
		}
		// Re-read overlap before now, where chats may still be arriving late; a window
		// that ended further back is settled, and so is a day once a window reached its
		// end: the daily re-read finds its late chats. The start never moves back:
		// chats forgotten below it could count again.
		next.cursor = laterOf(next.cursor, earlierOf(to, now.Add(-overlap)))
		if !dayEnd.IsZero() {
			next.cursor = laterOf(next.cursor, dayEnd)
		}
		switch {
		case next.maxSpan == 0:
		case !to.Before(now):
			next.maxSpan = 0 // caught up
		default:
			next.maxSpan *= 2 // widen again, to catch up with the clock
		}
	}
	// A chat first seen in a window ending before the cursor can no longer be
	// returned: its close time is at most that end. The new chats' window ends at
	// or after the cursor. Where clocks go back near the cursor, an hour of wall time
	// happens twice and the API, which compares wall times, returns both: chats are
	// remembered that much longer.
	cursor, end := next.cursor.Add(-clocksBack(next.cursor, s.cfg.Location())).Unix(), to.Unix()
	seen := make(map[uint64]int64, len(next.seen)+len(b.ids))
	for id, firstSeen := range next.seen {
		if firstSeen >= cursor {
			seen[id] = firstSeen
		}
	}
	for id := range b.ids {
		seen[id] = end
	}
	next.seen = seen
}

// save writes st to storage, if it is on. A failure is counted and logged once
// until saving works again.
func (o *operation) save(s *settings, st *state) error {
	if o.store == nil {
		return nil
	}
	err := o.store.save(s, st)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err == nil {
		o.lastSaveErr = ""
		return nil
	}
	o.writeFails++
	if o.lastSaveErr != err.Error() {
		level.Error(o.logger).Log("msg", "could not save the state; new chats are not shown until it is saved, and their window is read again", "err", err)
	}
	o.lastSaveErr = err.Error()
	return err
}

func (o *operation) currentSettings() *settings {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.settings
}

// collect sends the operation's metrics, all from one state, as at now.
func (o *operation) collect(ch chan<- prometheus.Metric, now time.Time, hold time.Duration) {
	o.mu.RLock()
	st, cfg, writeFails, loadFails := o.state, o.settings.cfg, o.writeFails, o.loadFails
	o.mu.RUnlock()
	e := emitter{ch, o.name}

	e.gauge(upDesc, boolFloat(st.up))
	for _, r := range wolkvox.Results {
		e.counter(requestsDesc, st.requests[r], string(r))
	}
	e.hist(requestDurationDesc, st.callTime)
	e.counter(truncatedDesc, st.truncatedResponses)
	e.counter(truncatedQueriesDesc, st.truncatedQueries)
	e.counter(skippedSecondsDesc, st.skippedSeconds)
	e.gauge(backoffDesc, unixSeconds(st.backoffUntil))
	e.counter(storageWriteFailsDesc, writeFails)
	e.counter(storageLoadFailsDesc, loadFails)
	e.gauge(quotaDesc, float64(cfg.DailyQuota))
	e.gauge(minIntervalDesc, time.Duration(cfg.MinInterval).Seconds())
	e.gauge(lastSuccessDesc, unixSeconds(st.lastSuccess))
	e.gauge(lastRecordsDesc, float64(st.lastRecords))
	e.gauge(trackedDesc, float64(len(st.seen)))
	e.gauge(chatSeriesDesc, float64(st.tally.seriesCount()))
	e.gauge(chatSeriesLimitDesc, float64(cfg.MaxSeries))
	e.counter(foldedDesc, st.tally.folded)
	for _, r := range skipReasons() {
		e.counter(skippedDesc, st.tally.skipped[r], r)
	}
	if cfg.Reconcile.Enabled {
		r := st.reconciled
		e.counter(reconcileMissedDesc, r.missed)
		e.counter(reconcileExtraDesc, r.extra)
		e.gauge(reconcileDayChatsDesc, r.dayChats)
		e.gauge(reconcileDayMissedDesc, r.dayMissed)
		e.gauge(reconcileDayStartDesc, unixSeconds(r.dayStart))
		e.gauge(reconcileSuccessDesc, unixSeconds(laterOf(r.lastSuccess, st.countingSince)))
		e.gauge(reconcileDelayDesc, r.delay.Seconds())
	}

	held := heldEmitter{e, now, hold}
	t := st.tally
	for k, c := range t.chats {
		held.counter(chatsDesc, c.series, c.v, k.channel, k.skill, k.feeling, k.lastParticipant)
	}
	for k, sc := range t.scopes {
		held.hist(answerDelayDesc, sc.series, sc.answerDelay, k.channel, k.skill)
		held.hist(durationDesc, sc.series, sc.duration, k.channel, k.skill, "false")
		held.hist(durationDesc, sc.series, sc.timedOutDuration, k.channel, k.skill, "true")
		held.hist(handleTimeDesc, sc.series, sc.handleTime, k.channel, k.skill)
		held.counter(customerCharsDesc, sc.series, sc.customerChars, k.channel, k.skill)
		held.counter(agentCharsDesc, sc.series, sc.agentChars, k.channel, k.skill)
		held.counter(agentMessagesDesc, sc.series, sc.agentMessages, k.channel, k.skill)
	}
	for k, c := range t.dispositions {
		held.counter(dispositionsDesc, c.series, c.v, k.channel, k.skill, k.code, k.description)
	}
	for k, a := range t.agents {
		held.counter(agentChatsDesc, a.series, a.chats, k.id, k.name)
		held.counter(agentHandleDesc, a.series, a.handleSeconds, k.id, k.name)
	}
}

// show makes st the state scrapes see.
func (o *operation) show(st *state) {
	o.mu.Lock()
	o.state = st
	o.mu.Unlock()
}

// clocksBack is how far clocks go back within two hours of t in loc, 0 if they do not.
func clocksBack(t time.Time, loc *time.Location) time.Duration {
	var back time.Duration
	for at, end := t.Add(-2*time.Hour), t.Add(2*time.Hour); ; {
		_, change := at.In(loc).ZoneBounds()
		if change.IsZero() || change.After(end) {
			return back
		}
		_, before := change.Add(-time.Second).In(loc).Zone()
		_, after := change.In(loc).Zone()
		back = max(back, time.Duration(before-after)*time.Second)
		at = change
	}
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlierOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
