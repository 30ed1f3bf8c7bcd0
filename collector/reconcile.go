package collector

import (
	"slices"
	"time"

	"github.com/go-kit/log/level"

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
	from   time.Time
	ids    []uint64 // hashes of the chats counted for the day; copies share it and only append
	missed float64  // chats its re-read found that live counting had not
	reread bool     // its re-read is done
}

// reconcileTotals is what the re-reads found, as the reconcile metrics show it.
type reconcileTotals struct {
	missed, extra float64 // every day's
	lastSuccess   time.Time
	// The last day re-read: its start, its chats (the report's total) and those found late.
	dayStart            time.Time
	dayChats, dayMissed float64
	// delay is the least visibility delay of the chats found late that day: none was
	// listed yet that long after it closed. 0 if unknown.
	delay time.Duration
}

// liveWindow is a live query: its window and when it was made.
type liveWindow struct{ from, to, called time.Time }

// rereadProgress is a day's re-read between its calls.
type rereadProgress struct {
	day      time.Time     // the day's start
	cursor   time.Time     // where the next call starts
	span     time.Duration // the longest window after a cut answer; 0: to the day's end
	counted  map[uint64]struct{}
	returned map[uint64]struct{} // chats the re-read's answers held
	delay    time.Duration
}

// rereadDay is the day to re-read at now, or nil.
func rereadDay(st *state, s *settings, now time.Time) *countedDay {
	if !s.cfg.Reconcile.Enabled {
		return nil
	}
	for _, d := range st.days {
		if !d.reread && !now.Before(d.end.Add(time.Duration(s.cfg.Reconcile.After))) &&
			now.Sub(d.end) <= time.Duration(s.cfg.MaxCatchup) {
			return d
		}
	}
	return nil
}

// countForDay adds the new chats of a live answer to its day, if it is yesterday
// or today, and forgets the days before yesterday.
func (o *operation) countForDay(next *state, s *settings, b *batch, from, now time.Time) {
	if !s.cfg.Reconcile.Enabled {
		next.days = nil
		return
	}
	loc := s.cfg.Location()
	today, _ := wolkvox.Day(now, loc)
	yesterday, _ := wolkvox.Day(today.Add(-time.Second), loc)
	defer func() {
		next.days = slices.DeleteFunc(next.days, func(d *countedDay) bool {
			if !d.start.Before(yesterday) {
				return false
			}
			if !d.reread {
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
		whole := laterOf(dayStart, from)
		for _, end := range next.seen {
			whole = laterOf(whole, time.Unix(end+1, 0))
		}
		next.days = append(next.days, &countedDay{start: dayStart, end: dayEnd, from: whole})
		slices.SortFunc(next.days, func(a, b *countedDay) int { return a.start.Compare(b.start) })
		i = slices.IndexFunc(next.days, func(d *countedDay) bool { return d.start.Equal(dayStart) })
	}
	d := *next.days[i]
	for id := range b.ids {
		d.ids = append(d.ids, id)
	}
	next.days[i] = &d
}

// logWindow remembers a live window, to tell how late a chat the re-read finds was
// listed; windows older than two days are forgotten.
func (o *operation) logWindow(w liveWindow) {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.windows = slices.DeleteFunc(o.windows, func(old liveWindow) bool { return old.to.Before(w.called.Add(-48 * time.Hour)) })
	o.windows = append(o.windows, w)
}

// listedLate is how long after it closed a chat was still not listed: the latest
// live query whose window held its close time did not return it. 0 if unknown.
func (o *operation) listedLate(r *wolkvox.Record, loc *time.Location) time.Duration {
	opened, err := wolkvox.ParseDate(r.Date, loc)
	if err != nil || r.Duration.Err != nil {
		return 0
	}
	closed := opened.Add(time.Duration(r.Duration.Value * float64(time.Second)))
	var late time.Duration
	for _, w := range o.windows {
		if !closed.Before(w.from) && !closed.After(w.to) {
			late = max(late, w.called.Sub(closed))
		}
	}
	return late
}

// reread makes the next call of the due day's re-read.
func (o *operation) reread(started time.Time) {
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
		p = &rereadProgress{day: day.start, cursor: day.from, counted: map[uint64]struct{}{}, returned: map[uint64]struct{}{}}
		for _, id := range day.ids {
			p.counted[id] = struct{}{}
		}
		o.rereading = p
	}
	o.writeMu.Unlock()

	from, to := p.cursor, day.end.Add(-time.Second) // date_end covers its whole second
	if p.span > 0 && from.Add(p.span).Before(to) {
		to = from.Add(p.span)
	}
	b := newBatch(s, base, func(key uint64) bool { _, ok := p.counted[key]; return ok })
	returned := map[uint64]struct{}{}
	var late time.Duration
	ans, elapsed, sent, err := o.exchange(s, from, to, func(r *wolkvox.Record) {
		before := len(b.ids)
		b.add(r)
		if r.ConnID != "" {
			returned[connKey(r.ConnID)] = struct{}{}
		}
		if len(b.ids) > before {
			late = max(late, o.listedLate(r, s.cfg.Location()))
		}
	})
	if !sent {
		return
	}
	cut := ans.Truncated && to.Sub(from) >= 2*minSplitWindow
	saved := o.settle(s, b, "re-read", o.windowText(s, from, to), started, ans, err, elapsed, func(next *state) {
		o.mergeReread(next, s, b, p, day.start, ans, cut, !cut && !to.Before(day.end.Add(-time.Second)), returned, late)
	})
	if !saved {
		return
	}
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	for id := range b.ids {
		p.counted[id] = struct{}{}
	}
	for id := range returned {
		p.returned[id] = struct{}{}
	}
	p.delay = max(p.delay, late)
	switch {
	case cut:
		// Cut at the record cap: ask again from the same start for half as long. The
		// chats read are counted, so nothing counts twice.
		p.span = (to.Sub(from) / 2).Truncate(time.Second)
	case !to.Before(day.end.Add(-time.Second)):
		o.rereading = nil // the day is done
	default:
		p.cursor = to.Add(time.Second)
	}
}

// mergeReread merges an answer of a day's re-read into next: the chats it found
// late are counted, and on the day's last answer the day's totals are set.
func (o *operation) mergeReread(next *state, s *settings, b *batch, p *rereadProgress, dayStart time.Time, ans wolkvox.Answer,
	cut, last bool, returned map[uint64]struct{}, late time.Duration) {
	next.tally.merge(b.tally, birth(next, o.now()))
	next.limiter.commit(b.staged)
	if ans.Truncated {
		next.truncatedResponses++
		if !cut {
			next.truncatedQueries++
			level.Error(o.logger).Log("msg", "re-read answer cut at the record cap even for the shortest window; chats may be missing", "records", ans.Records)
		}
	}
	i := slices.IndexFunc(next.days, func(d *countedDay) bool { return d.start.Equal(dayStart) })
	if i < 0 {
		return // a reload turned the re-read off meanwhile
	}
	d := *next.days[i]
	for id := range b.ids {
		d.ids = append(d.ids, id)
	}
	d.missed += float64(len(b.ids))
	next.reconciled.missed += float64(len(b.ids))
	if last {
		held := func(id uint64) bool {
			_, ok := returned[id]
			if !ok {
				_, ok = p.returned[id]
			}
			return ok
		}
		total, extra := len(returned), 0
		for id := range p.returned {
			if _, ok := returned[id]; !ok {
				total++
			}
		}
		for _, id := range d.ids {
			if !held(id) {
				extra++
			}
		}
		delay := max(p.delay, late)
		r := &next.reconciled
		r.extra += float64(extra)
		r.lastSuccess, r.dayStart, r.dayChats, r.dayMissed, r.delay = o.now(), d.start, float64(total), d.missed, delay
		d.reread = true
		loc := s.cfg.Location()
		keyvals := []any{"msg", "re-read of a day done", "day", d.start.In(loc).Format(time.DateOnly),
			"from", d.from.In(loc).Format(time.RFC3339), "live", float64(len(d.ids)) - d.missed, "missed", d.missed, "extra", extra, "total", total}
		level.Info(o.logger).Log(keyvals...)
		if d.missed > 0 {
			hint := "they were listed late: a larger overlap lets live polling count them"
			if delay > 0 {
				hint = "they were still not listed " + delay.Round(time.Second).String() + " after closing: raise overlap (now " +
					s.cfg.Overlap.String() + ") above that"
			}
			level.Warn(o.logger).Log("msg", "the re-read found chats live polling missed; they are counted now",
				"day", d.start.In(loc).Format(time.DateOnly), "missed", d.missed, "hint", hint)
		}
		if extra > 0 {
			level.Warn(o.logger).Log("msg", "chats counted live are not in the day's re-read: the report's total is below the counters",
				"day", d.start.In(loc).Format(time.DateOnly), "extra", extra)
		}
	}
	next.days[i] = &d
}
