package simulator

import "time"

// Replay serves src as if src's clock read at when Replay is called: a chat that
// closes in src at at+d is served as closing d after the call. Traffic follows the
// hour of the day, so tests use Replay to get the traffic of a chosen hour, and the
// same chats on every run, whatever the wall clock says.
func Replay(src Source, at time.Time) Source {
	// Whole seconds, as the wire's dates are.
	return shifted{src: src, by: time.Now().Truncate(time.Second).Sub(at.Truncate(time.Second))}
}

// shifted serves the chats of src by later.
type shifted struct {
	src Source
	by  time.Duration
}

func (s shifted) ChatsClosedBetween(from, to time.Time) []Chat {
	found := s.src.ChatsClosedBetween(from.Add(-s.by), to.Add(-s.by))
	out := make([]Chat, len(found))
	for i, c := range found {
		c.Opened, c.Closed = c.Opened.Add(s.by), c.Closed.Add(s.by)
		out[i] = c
	}
	return out
}

// ChatsOpenAt returns the chats open in src at t moved back, moved forward.
func (s shifted) ChatsOpenAt(t time.Time) []Chat {
	o, ok := s.src.(OpenSource)
	if !ok {
		return nil
	}
	found := o.ChatsOpenAt(t.Add(-s.by))
	out := make([]Chat, len(found))
	for i, c := range found {
		c.Opened, c.Closed = c.Opened.Add(s.by), c.Closed.Add(s.by)
		out[i] = c
	}
	return out
}

func (s shifted) replayShift() time.Duration { return s.by + replayShift(s.src) }
