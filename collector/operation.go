package collector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

const (
	// maxWindow is the longest window the API accepts.
	maxWindow = 31 * 24 * time.Hour
	// minSplitWindow is where halving a cut window stops.
	minSplitWindow = time.Minute
	// quotaBackoff spaces calls once the daily quota is spent: they would fail anyway.
	quotaBackoff = 30 * time.Minute
)

// settings is an immutable snapshot of an operation's configuration.
type settings struct {
	cfg     config.Operation
	buckets bucketSet
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

// sameUpstream tells whether two settings query the same data with the same token.
func (s *settings) sameUpstream(o *settings) bool {
	return s.cfg.URL() == o.cfg.URL() && s.cfg.Server == o.cfg.Server && s.cfg.APIToken() == o.cfg.APIToken()
}

// operation polls one Wolkvox operation and holds everything learned from it.
type operation struct {
	name   string
	client *wolkvox.Client
	now    func() time.Time
	logger log.Logger

	mu       sync.RWMutex
	settings *settings
	tally    *tally
	limiter  *labelLimiter
	// generation counts tally resets, so an answer read before one is not merged after it.
	generation int
	// seen maps each counted conn_id to the end of the window that first returned it.
	// Only the call goroutine writes it, under mu.
	seen map[string]time.Time
	// nextFrom is the start of the next window; zero before the first success.
	nextFrom time.Time
	// maxSpan, when set, caps the length of the next window: an answer was cut at the
	// record cap, so the exporter catches up in smaller windows.
	maxSpan time.Duration

	committed   bool // an answer has been merged since the operation was created
	up          bool
	lastSuccess time.Time
	lastRecords int
	requests    map[wolkvox.Result]float64
	truncated   float64
	callTime    *histogram
	nextCall    time.Time
	inflight    chan struct{} // closed when the running call ends
}

var callTimeBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60}

func newOperation(s *settings, client *wolkvox.Client, now func() time.Time, logger log.Logger) *operation {
	o := &operation{
		name:     s.cfg.Name,
		client:   client,
		now:      now,
		logger:   log.With(logger, "operation", s.cfg.Name),
		settings: s,
		seen:     map[string]time.Time{},
		requests: map[wolkvox.Result]float64{},
		callTime: newHistogram(callTimeBuckets),
	}
	o.resetTally()
	return o
}

func (o *operation) resetTally() {
	o.tally = newTally(o.settings.buckets)
	o.limiter = newLabelLimiter(o.settings.cfg.MaxLabelValues)
	o.generation++
}

// update swaps in new settings from a reload. Counts restart only if records would
// now map to other series; the cursor and the dedupe memory always survive, so no
// chat is lost or counted twice across a reload.
func (o *operation) update(s *settings) {
	o.mu.Lock()
	defer o.mu.Unlock()
	relabel := !o.settings.sameLabeling(s)
	o.settings = s
	if relabel {
		o.resetTally()
		level.Info(o.logger).Log("msg", "labels or buckets changed on reload: chat counters restart from zero")
	}
}

// refresh starts a call if min_interval has passed since the last one, then waits
// for the running call or for ctx, whichever ends first. Concurrent scrapes share
// one call.
func (o *operation) refresh(ctx context.Context) {
	o.mu.Lock()
	done := o.inflight
	if done == nil {
		now := o.now()
		if now.Before(o.nextCall) {
			o.mu.Unlock()
			return
		}
		done = make(chan struct{})
		o.inflight = done
		o.nextCall = now.Add(time.Duration(o.settings.cfg.MinInterval))
		go o.call(now, done)
	}
	o.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// window is the span the next call asks for: from overlap before the previous
// answer's end (or before now, at start) to now, unless it must be shorter.
func (o *operation) window(now time.Time, s *settings) (from, to time.Time) {
	to = now.Truncate(time.Second)
	from = to.Add(-time.Duration(s.cfg.Overlap))
	if !o.nextFrom.IsZero() {
		from = o.nextFrom
	}
	span := maxWindow
	if o.maxSpan > 0 {
		span = min(span, o.maxSpan)
	}
	if to.Sub(from) > span {
		to = from.Add(span)
	}
	if !to.After(from) {
		to = from.Add(time.Second) // the clock went back
	}
	return from, to
}

// call makes one API call in the background: it outlives the scrape that started it
// and is bounded by request_timeout only.
func (o *operation) call(started time.Time, done chan struct{}) {
	defer func() {
		o.mu.Lock()
		o.inflight = nil
		o.mu.Unlock()
		close(done)
	}()

	o.mu.RLock()
	s := o.settings
	from, to := o.window(started, s)
	b := o.newBatch(s)
	o.mu.RUnlock()

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.RequestTimeout))
	defer cancel()
	clock := time.Now()
	ans, err := o.client.Chats(ctx, from, to, b.add)
	elapsed := time.Since(clock)

	o.mu.Lock()
	defer o.mu.Unlock()
	window := fmt.Sprintf("%s..%s", from.In(s.cfg.Location()).Format(wolkvox.DateLayout), to.In(s.cfg.Location()).Format(wolkvox.DateLayout))
	if errors.Is(err, wolkvox.ErrNotSent) {
		// Nothing reached the API: no quota spent, nothing learned about it.
		level.Warn(o.logger).Log("msg", "chat_1 query skipped", "window", window, "err", err)
		return
	}
	o.callTime.observe(elapsed.Seconds())
	if err != nil {
		result := wolkvox.ResultHTTPError
		var we *wolkvox.Error
		if errors.As(err, &we) {
			result = we.Result
		}
		o.requests[result]++
		o.up = false
		if result == wolkvox.ResultQuotaExceeded {
			o.nextCall = laterOf(o.nextCall, started.Add(quotaBackoff))
		}
		level.Warn(o.logger).Log("msg", "chat_1 query failed; counters unchanged, the window will be read again",
			"window", window, "result", result, "err", err, "duration", elapsed)
		return
	}
	o.requests[ans.Result]++
	o.up = true
	o.lastSuccess = o.now()
	o.lastRecords = ans.Records
	if b.generation != o.generation {
		// A reload changed the labels while this call ran: read the window again.
		level.Info(o.logger).Log("msg", "answer dropped: labels changed by a reload during the call", "window", window)
		return
	}
	o.commit(b, from, to, started.Truncate(time.Second), ans)
	level.Debug(o.logger).Log("msg", "chat_1 query done", "window", window, "result", ans.Result,
		"records", ans.Records, "new_chats", len(b.ids), "tracked_chats", len(o.seen), "duration", elapsed)
}

// commit merges a successful answer and moves the cursor. now is when the call
// started. Called with mu held.
func (o *operation) commit(b *batch, from, to, now time.Time, ans wolkvox.Answer) {
	// Series of the first answer since start are shown at once; later new series
	// wait out the hold (see Collector).
	born := o.now()
	if !o.committed {
		born = time.Time{}
		o.committed = true
	}
	o.tally.merge(b.tally, born)
	o.limiter.commit(b.staged)
	for id := range b.ids {
		o.seen[id] = to
	}
	overlap := time.Duration(o.settings.cfg.Overlap)
	switch {
	case ans.Truncated && to.Sub(from) >= 2*minSplitWindow:
		// The answer was cut at the record cap: ask again from the same start with half
		// the window. Chats already counted are remembered, so nothing counts twice.
		o.truncated++
		o.nextFrom = from
		o.maxSpan = (to.Sub(from) / 2).Truncate(time.Second)
		level.Warn(o.logger).Log("msg", "answer cut at the record cap; the next call asks for half the window",
			"records", ans.Records, "next_window_length", o.maxSpan)
	default:
		if ans.Truncated {
			o.truncated++
			level.Error(o.logger).Log("msg", "answer cut at the record cap even for a short window; chats may be missing", "records", ans.Records)
		}
		// Re-read overlap before now, where chats may still be arriving late; a window
		// that ended further back is settled. The start never moves back: chats
		// forgotten below it could count again.
		o.nextFrom = laterOf(o.nextFrom, earlierOf(to, now.Add(-overlap)))
		switch {
		case o.maxSpan == 0:
		case !to.Before(now):
			o.maxSpan = 0 // caught up
		default:
			o.maxSpan *= 2 // widen again, to catch up with the clock
		}
	}
	// A chat first seen in a window ending before the next start can no longer be
	// returned: its close time is at most that end.
	for id, firstSeen := range o.seen {
		if firstSeen.Before(o.nextFrom) {
			delete(o.seen, id)
		}
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

// batch builds the tally of one answer, record by record, as it streams in.
type batch struct {
	op         *operation
	s          *settings
	limiter    *labelLimiter
	generation int
	tally      *tally
	ids        map[string]struct{}
	staged     map[string]map[string]struct{}
}

// newBatch is called with mu held.
func (o *operation) newBatch(s *settings) *batch {
	return &batch{
		op:         o,
		s:          s,
		limiter:    o.limiter,
		generation: o.generation,
		tally:      newTally(s.buckets),
		ids:        map[string]struct{}{},
		staged:     map[string]map[string]struct{}{},
	}
}

// Skip reasons, as the reason label of wolkvox_records_skipped_total.
const reasonConnIDEmpty = "conn_id_empty"

var observedFields = []string{"answer_delay", "duration", "handle_time", "customer_characters", "agent_characters", "agent_messages"}

func skipReasons() []string {
	out := []string{reasonConnIDEmpty}
	for _, f := range observedFields {
		out = append(out, f+"_empty", f+"_invalid")
	}
	return out
}

// add counts one record, unless its conn_id was counted before.
func (b *batch) add(r *wolkvox.Record) {
	id := strings.TrimSpace(r.ConnID)
	if id == "" {
		b.tally.skipped[reasonConnIDEmpty]++
		return
	}
	if _, dup := b.ids[id]; dup {
		return
	}
	// Reading seen without the lock is safe: only this call's goroutine writes it,
	// and only after the answer is read.
	if _, dup := b.op.seen[id]; dup {
		return
	}
	b.ids[id] = struct{}{}

	sc := scope{
		channel: b.admit("channel", normalizeChannel(r.Channel)),
		skill:   b.admit("skill", b.skillName(r.SkillID)),
	}
	b.tally.chat(chatKey{
		scope:           sc,
		feeling:         b.admit("feeling", normalizeFeeling(r.Feeling)),
		lastParticipant: b.admit("last_participant", normalizeParticipant(r.LastParticipant)),
	}, time.Time{}).v++

	st := b.tally.scope(sc, time.Time{})
	if v, ok := b.parse("answer_delay", r.AnswerDelay, wolkvox.ParseSeconds); ok {
		st.answerDelay.observe(v)
	}
	if v, ok := b.parse("duration", r.Duration, wolkvox.ParseSeconds); ok {
		st.duration.observe(v)
	}
	handle, handleOK := b.parse("handle_time", r.HandleTime, wolkvox.ParseSeconds)
	if handleOK {
		st.handleTime.observe(handle)
	}
	if v, ok := b.parse("customer_characters", r.CustomerChars, wolkvox.ParseCount); ok {
		st.customerChars += v
	}
	if v, ok := b.parse("agent_characters", r.AgentChars, wolkvox.ParseCount); ok {
		st.agentChars += v
	}
	if v, ok := b.parse("agent_messages", r.AgentAnswers, wolkvox.ParseCount); ok {
		st.agentMessages += v
	}

	code, desc := b.admitPair("disposition", cleanValue(r.CodAct), cleanValue(r.CodActDescription))
	b.tally.disposition(dispositionKey{scope: sc, code: code, description: desc}, time.Time{}).v++

	if b.s.cfg.AgentMetrics {
		agentID, agentName := b.admitPair("agent", cleanValue(r.AgentID), cleanValue(r.AgentName))
		a := b.tally.agent(agentKey{id: agentID, name: agentName}, time.Time{})
		a.chats++
		if handleOK {
			a.handleSeconds += handle
		}
	}
}

func (b *batch) skillName(id string) string {
	id = strings.TrimSpace(id)
	if name, ok := b.s.cfg.Skills[id]; ok {
		return cleanValue(name)
	}
	return cleanValue(id)
}

func (b *batch) admit(label, value string) string {
	return b.limiter.admit(label, value, b.staged)
}

// admitPair limits two labels that belong together (a code and its description)
// as one value, so they never split into a mismatched pair.
func (b *batch) admitPair(label, first, second string) (string, string) {
	if b.admit(label, first+"\x00"+second) == otherValue {
		return otherValue, otherValue
	}
	return first, second
}

// parse reads one numeric field; an empty or bad value skips only this observation.
func (b *batch) parse(field, raw string, parse func(string) (float64, error)) (float64, bool) {
	v, err := parse(raw)
	switch {
	case errors.Is(err, wolkvox.ErrEmpty):
		b.tally.skipped[field+"_empty"]++
		return 0, false
	case err != nil:
		b.tally.skipped[field+"_invalid"]++
		return 0, false
	}
	return v, true
}
