package wolkvox

import (
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/times"
)

// The window plan: how a stretch of time is read from chat_1. Live polling, the
// daily re-read and the backfill all read through a Span, so that the API's limits
// and the way an answer cut at the record cap is read again are written once.

const (
	// MaxWindow is the longest window the API accepts.
	MaxWindow = 31 * 24 * time.Hour
	// MinWindow is the shortest window: a cut answer's window is halved down to it.
	MinWindow = time.Minute
)

// Window is one query's window: the chats closed from From to To, both included to
// the second, as date_ini and date_end say.
type Window struct{ From, To time.Time }

// Span is a stretch of time [Next, Stop) still to read, one window at a time.
type Span struct {
	// Next is where the next window starts: the cursor.
	Next time.Time
	// Stop is where the stretch ends; the last window's date_end is the second before.
	Stop time.Time
	// Max, when set, caps a window's length: an answer was cut at the record cap, so
	// the stretch is read in shorter windows, widened again as answers come whole.
	Max time.Duration
	// Settled, when set, is where chats may still be listed late (live polling's
	// overlap before now): Next does not pass it, so the next span reads that part
	// again, and stays on a window's last second, in which more chats may close.
	// Chats seen twice are counted once by the caller.
	Settled time.Time
	// DayEnd tells that Stop is the end of a day, settled once a window reaches it:
	// the daily re-read finds the chats of the day listed late.
	DayEnd bool
}

// Outcome is what an answer did to a Span.
type Outcome int

const (
	// Whole is an answer read whole: the span goes on after its window.
	Whole Outcome = iota
	// Split is an answer cut at the record cap: the same start is read again in a
	// window half as long.
	Split
	// Missing is an answer cut even at the shortest window, so chats of that window
	// may be missing; the span goes on after it.
	Missing
)

// Done tells whether the span has been read to its end.
func (s Span) Done() bool { return !s.Next.Before(s.Stop) }

// Window is the next window: from Next to the second before Stop, no longer than
// Max or MaxWindow.
func (s Span) Window() Window {
	to := s.Stop.Add(-time.Second) // date_end covers its whole second
	longest := MaxWindow
	if s.Max > 0 {
		longest = min(longest, s.Max)
	}
	if to.Sub(s.Next) > longest {
		to = s.Next.Add(longest)
	}
	if to.Before(s.Next) {
		to = s.Next // the clock went back
	}
	return Window{From: s.Next, To: to}
}

// Answered moves the span past the answer to w, which the record cap cut or not.
func (s *Span) Answered(w Window, truncated bool) Outcome {
	length := w.To.Sub(w.From)
	if truncated && length >= 2*MinWindow {
		s.Max = (length / 2).Truncate(time.Second)
		return Split
	}
	next := w.To.Add(time.Second)
	reachedStop := !next.Before(s.Stop)
	if !s.Settled.IsZero() && (!s.DayEnd || !reachedStop) {
		next = times.Later(w.From, times.Earlier(w.To, s.Settled)) // the cursor never moves back
	}
	s.Next = next
	if s.Max > 0 {
		if s.Max *= 2; s.Max >= MaxWindow || reachedStop && !s.DayEnd {
			s.Max = 0 // caught up with now
		}
	}
	if truncated {
		return Missing
	}
	return Whole
}

// Live is what live polling needs to plan its next span.
type Live struct {
	Overlap    time.Duration // how far before now chats may still be listed late
	MaxCatchup time.Duration // the oldest start a span may have, before now
	// DayAligned stops a span at the midnights that start yesterday and today in
	// Location, so that each chat counted there belongs to one local day (the daily
	// re-read needs it).
	DayAligned bool
	Location   *time.Location
}

// Span is the span live polling reads at now, from cursor (zero at the first call:
// then overlap before now), in windows no longer than maxSpan (0: no cap). skipped is
// how much of the time after the cursor is left unread because it lies beyond
// MaxCatchup.
func (l Live) Span(now, cursor time.Time, maxSpan time.Duration) (s Span, skipped time.Duration) {
	last := now.Truncate(time.Second)
	s = Span{Next: last.Add(-l.Overlap), Stop: last.Add(time.Second), Max: maxSpan, Settled: last.Add(-l.Overlap)}
	if !cursor.IsZero() {
		s.Next = cursor
		if earliest := last.Add(-l.MaxCatchup); s.Next.Before(earliest) {
			skipped = earliest.Sub(s.Next)
			s.Next = earliest
		}
	}
	if l.DayAligned {
		today, _ := Day(now, l.Location)
		yesterday, _ := Day(today.Add(-time.Second), l.Location)
		for _, midnight := range []time.Time{yesterday, today} {
			if s.Next.Before(midnight) && midnight.Before(s.Stop) {
				s.Stop, s.DayEnd = midnight, true
				break
			}
		}
	}
	return s, skipped
}
