package poller

import (
	"slices"
	"time"

	"github.com/go-kit/log/level"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/logtime"
	"github.com/wolkvox-exporter/wolkvox_exporter/internal/times"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// The daily re-read (reconcile). Live windows never cross midnight in the
// operation's zone, so each chat counted live belongs to one local day, and the
// state keeps the hashes of the chats counted for today and yesterday. Once a day is
// over and reconcile.after has passed, the part of it that was counted is read
// again, split as the record cap demands. A chat the re-read returns that was not
// counted was missed by live polling (it was listed late): it is counted now, once.
// A chat counted live that the re-read does not return cannot be uncounted: it is
// reported as extra. The re-read's calls follow the rules of live calls: the token
// lock, the quota and the backoff after failures, and at most one a min_interval.

// countedDay is a local day that live counting read, with the chats counted for it.
// A published countedDay is never modified: a commit makes a new one.
type countedDay struct {
	start, end time.Time // the local day
	// from is where the day's record is whole: every chat counted that closed in
	// [from, end) is in ids. It is the day's start, or a later one where counting
	// began during the day.
	from time.Time
	ids  []uint64 // hashes of the chats counted for the day; copies share it and only append
	// early are the chats counted by windows that began before from (the cursor
	// moved back): some closed before from, where the re-read does not read, so
	// they are never extra; the re-read knows them counted all the same.
	early  []uint64
	missed float64 // chats its re-read found that live counting had not
	reread bool    // its re-read is done
}

// Reconciled is what the re-reads found, as the reconcile metrics show it.
type Reconciled struct {
	Missed, Extra float64 // every day's
	LastSuccess   time.Time
	// The last day re-read: its start, its chats (the report's total) and those found late.
	DayStart            time.Time
	DayChats, DayMissed float64
	// Delay is the least visibility delay of the chats found late that day: none was
	// listed yet that long after it closed. 0 if unknown.
	Delay time.Duration
}

// rereadProgress is a day's re-read between its calls.
type rereadProgress struct {
	day      time.Time    // the day's start
	span     wolkvox.Span // what is left of the day to read
	counted  map[uint64]struct{}
	returned map[uint64]struct{} // chats the re-read's answers held
	delay    time.Duration
}

// rereadDay is the day to re-read at now, or nil.
func rereadDay(st *state, s *Settings, now time.Time) *countedDay {
	cfg := s.Config
	if !cfg.Reconcile.Enabled {
		return nil
	}
	for _, d := range st.days {
		if !d.reread && d.hasWhole() && !now.Before(d.end.Add(time.Duration(cfg.Reconcile.After))) &&
			now.Sub(d.end) <= time.Duration(cfg.MaxCatchup) {
			return d
		}
	}
	return nil
}

// hasWhole tells whether a part of the day has a whole record to re-read: where
// the dedupe memory reaches past the day's end (a clock, or a cursor, moved back
// more than a day), none has, and the re-read reads nothing and counts nothing.
func (d *countedDay) hasWhole() bool { return d.from.Before(d.end) }

// countForDay adds the new chats of a live answer to its day, if it is yesterday
// or today, and forgets the days before yesterday.
func (o *Operation) countForDay(next *state, s *Settings, b *tally.Batch, from, now time.Time) {
	if !s.Config.Reconcile.Enabled {
		next.days = nil
		return
	}
	loc := s.Config.Location()
	today, _ := wolkvox.Day(now, loc)
	yesterday, _ := wolkvox.Day(today.Add(-time.Second), loc)
	defer func() {
		next.days = slices.DeleteFunc(next.days, func(d *countedDay) bool {
			if !d.start.Before(yesterday) {
				return false
			}
			if !d.reread && d.hasWhole() {
				level.Warn(o.logger).Log("msg", "the day's re-read did not succeed before the next day ended: its counts stay as live polling made them",
					"day", d.start.In(loc).Format(time.DateOnly))
			}
			return true
		})
	}()
	dayStart, dayEnd := wolkvox.Day(from, loc)
	if dayStart.Before(yesterday) {
		return
	}
	i := slices.IndexFunc(next.days, func(d *countedDay) bool { return d.start.Equal(dayStart) })
	if i < 0 {
		// The record of the day is whole from here: chats closed before may have been
		// counted by windows that no record kept.
		whole := times.Later(dayStart, from)
		for _, end := range next.seen {
			whole = times.Later(whole, time.Unix(end+1, 0))
		}
		whole = times.Earlier(whole, dayEnd)
		next.days = append(next.days, &countedDay{start: dayStart, end: dayEnd, from: whole})
		slices.SortFunc(next.days, func(a, b *countedDay) int { return a.start.Compare(b.start) })
		i = slices.IndexFunc(next.days, func(d *countedDay) bool { return d.start.Equal(dayStart) })
	}
	d := *next.days[i]
	for id := range b.IDs {
		if from.Before(d.from) {
			d.early = append(d.early, id)
		} else {
			d.ids = append(d.ids, id)
		}
	}
	next.days[i] = &d
}

// logWindow remembers a live window and when it was read, to tell how late a chat
// the re-read finds was listed; windows older than two days are forgotten.
func (o *Operation) logWindow(w wolkvox.Window, called time.Time) {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.windows = slices.DeleteFunc(o.windows, func(old liveWindow) bool { return old.To.Before(called.Add(-48 * time.Hour)) })
	o.windows = append(o.windows, liveWindow{w, called})
}

// liveWindow is a live query: its window and when it was made.
type liveWindow struct {
	wolkvox.Window
	called time.Time
}

// listedLate is how long after it closed a chat was still not listed: the latest
// live query whose window held its close time did not return it. 0 if unknown.
func (o *Operation) listedLate(r *wolkvox.Record, loc *time.Location) time.Duration {
	closed, ok := r.Closed(loc)
	if !ok {
		return 0
	}
	var late time.Duration
	for _, w := range o.windows {
		if !closed.Before(w.From) && !closed.After(w.To) {
			late = max(late, w.called.Sub(closed))
		}
	}
	return late
}

// reread makes the next call of the due day's re-read.
func (o *Operation) reread(started time.Time) {
	o.mu.RLock()
	s, base := o.settings, o.state
	o.mu.RUnlock()
	day := rereadDay(base, s, started)
	if day == nil {
		return
	}
	o.writeMu.Lock()
	p := o.rereading
	if p == nil || !p.day.Equal(day.start) {
		p = &rereadProgress{day: day.start, span: wolkvox.Span{Next: day.from, Stop: day.end},
			counted: map[uint64]struct{}{}, returned: map[uint64]struct{}{}}
		for _, id := range slices.Concat(day.ids, day.early) {
			p.counted[id] = struct{}{}
		}
		o.rereading = p
	}
	span := p.span
	o.writeMu.Unlock()

	w := span.Window()
	b := tally.NewBatch(base.tally, func(key uint64) bool { _, ok := p.counted[key]; return ok }, base.LastRecords)
	returned := map[uint64]struct{}{}
	var late time.Duration
	ans, elapsed, sent, err := o.exchange(s, w, func(r *wolkvox.Record) {
		if _, counted := b.Count(r); counted {
			late = max(late, o.listedLate(r, s.Config.Location()))
		}
		if r.ConnID != "" {
			returned[tally.ConnKey(r.ConnID)] = struct{}{}
		}
	})
	if !sent {
		return
	}
	got := rereadAnswer{batch: b, records: ans.Records, outcome: span.Answered(w, ans.Truncated), returned: returned, late: late}
	got.last = got.outcome != wolkvox.Split && span.Done()
	saved := o.settle(s, b, base.generation, "re-read", windowText(w), started, ans, err, elapsed, func(next *state) {
		o.mergeReread(next, s, p, day.start, got)
	})
	if !saved {
		return
	}
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	for id := range b.IDs {
		p.counted[id] = struct{}{}
	}
	for id := range returned {
		p.returned[id] = struct{}{}
	}
	p.delay = max(p.delay, late)
	p.span = span
	if got.last {
		o.rereading = nil // the day is done
	}
}

// rereadAnswer is what one answer of a re-read brought.
type rereadAnswer struct {
	batch    *tally.Batch
	records  int
	outcome  wolkvox.Outcome
	last     bool                // the day's last answer
	returned map[uint64]struct{} // the chats it held
	late     time.Duration       // how late the latest chat it found was listed
}

// mergeReread merges an answer of a day's re-read into next: the chats it found
// late are counted, and on the day's last answer the day's totals are set.
func (o *Operation) mergeReread(next *state, s *Settings, p *rereadProgress, dayStart time.Time, got rereadAnswer) {
	b := got.batch
	next.tally.Merge(b.Delta, next.birth(o.now()))
	switch got.outcome {
	case wolkvox.Split:
		next.TruncatedResponses++
	case wolkvox.Missing:
		next.TruncatedResponses++
		next.TruncatedQueries++
		level.Error(o.logger).Log("msg", "re-read answer cut at the record cap even for the shortest window; chats may be missing", "records", got.records)
	}
	i := slices.IndexFunc(next.days, func(d *countedDay) bool { return d.start.Equal(dayStart) })
	if i < 0 {
		return // a reload turned the re-read off meanwhile
	}
	d := *next.days[i]
	for id := range b.IDs {
		d.ids = append(d.ids, id)
	}
	d.missed += float64(len(b.IDs))
	next.reconciled.Missed += float64(len(b.IDs))
	if got.last {
		o.closeDay(next, s, &d, p, got.returned, got.late)
	}
	next.days[i] = &d
}

// closeDay sets the totals of day d, whose re-read ended with returned.
func (o *Operation) closeDay(next *state, s *Settings, d *countedDay, p *rereadProgress, returned map[uint64]struct{}, late time.Duration) {
	total, extra := len(returned), 0
	for id := range p.returned {
		if _, ok := returned[id]; !ok {
			total++
		}
	}
	for _, id := range d.ids {
		_, ok := returned[id]
		if _, before := p.returned[id]; !ok && !before {
			extra++
		}
	}
	delay := max(p.delay, late)
	r := &next.reconciled
	r.Extra += float64(extra)
	r.LastSuccess, r.DayStart, r.DayChats, r.DayMissed, r.Delay = o.now(), d.start, float64(total), d.missed, delay
	d.reread = true
	loc := s.Config.Location()
	day := d.start.In(loc).Format(time.DateOnly)
	level.Info(o.logger).Log("msg", "re-read of a day done", "day", day, "from", logtime.Format(d.from),
		"live", float64(len(d.ids)+len(d.early))-d.missed, "missed", d.missed, "extra", extra, "total", total)
	if d.missed > 0 {
		hint := "they were listed late: a larger overlap lets live polling count them"
		if delay > 0 {
			hint = "they were still not listed " + delay.Round(time.Second).String() + " after closing: raise overlap (now " +
				s.Config.Overlap.String() + ") above that"
		}
		level.Warn(o.logger).Log("msg", "the re-read found chats live polling missed; they are counted now",
			"day", day, "missed", d.missed, "hint", hint)
	}
	if extra > 0 {
		level.Warn(o.logger).Log("msg", "chats counted live are not in the day's re-read: the report's total is below the counters",
			"day", day, "extra", extra)
	}
}
