package tally

import (
	"maps"
	"strings"
	"unicode/utf8"
)

const (
	unknownValue = "unknown" // an empty upstream value
	// OtherValue is what a label value past a limit becomes.
	OtherValue  = "other"
	maxValueLen = 100 // runes; longer upstream text is cut
)

// cleanValue makes upstream text safe as a label value: valid UTF-8, single spaces,
// bounded length, and "unknown" when empty.
func cleanValue(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if s == "" {
		return unknownValue
	}
	if utf8.RuneCountInString(s) > maxValueLen {
		s = string([]rune(s)[:maxValueLen])
	}
	return s
}

// limiter bounds the distinct values of each label of one operation, so that a
// broken or hostile upstream cannot create series without end.
type limiter struct {
	max   int
	known map[string]map[string]struct{} // label -> values
}

func newLimiter(limit int) *limiter {
	return &limiter{max: limit, known: map[string]map[string]struct{}{}}
}

// admit returns value, or "other" once label has max distinct values in base and l
// together. A value new to both is added to l, which a batch merges into its base
// only if its answer is counted.
func (l *limiter) admit(base *limiter, label, value string) string {
	if _, ok := base.known[label][value]; ok {
		return value
	}
	pending := l.known[label]
	if _, ok := pending[value]; ok {
		return value
	}
	if len(base.known[label])+len(pending) >= base.max {
		return OtherValue
	}
	if pending == nil {
		pending = map[string]struct{}{}
		l.known[label] = pending
	}
	pending[value] = struct{}{}
	return value
}

func (l *limiter) merge(o *limiter) {
	for label, values := range o.known {
		known := l.known[label]
		if known == nil {
			known = map[string]struct{}{}
			l.known[label] = known
		}
		for v := range values {
			known[v] = struct{}{}
		}
	}
}

func (l *limiter) clone() *limiter {
	c := newLimiter(l.max)
	for label, values := range l.known {
		c.known[label] = maps.Clone(values)
	}
	return c
}
