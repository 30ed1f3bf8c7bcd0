package collector

import (
	"maps"
	"strings"
	"unicode/utf8"
)

const (
	unknownValue = "unknown" // an empty upstream value
	otherValue   = "other"   // a value past the per-label limit
	maxValueLen  = 100       // runes; longer upstream text is cut
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

// labelLimiter bounds the distinct values of each label of one operation, so a broken
// or hostile upstream cannot create series without end. Values new in a batch are
// staged and become known only when the batch commits.
type labelLimiter struct {
	max   int
	known map[string]map[string]struct{} // label -> values
}

func newLabelLimiter(limit int) *labelLimiter {
	return &labelLimiter{max: limit, known: map[string]map[string]struct{}{}}
}

// admit returns value, or "other" once label already has max distinct values.
func (l *labelLimiter) admit(label, value string, staged map[string]map[string]struct{}) string {
	known := l.known[label]
	if _, ok := known[value]; ok {
		return value
	}
	pending := staged[label]
	if _, ok := pending[value]; ok {
		return value
	}
	if len(known)+len(pending) >= l.max {
		return otherValue
	}
	if pending == nil {
		pending = map[string]struct{}{}
		staged[label] = pending
	}
	pending[value] = struct{}{}
	return value
}

func (l *labelLimiter) commit(staged map[string]map[string]struct{}) {
	for label, values := range staged {
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

func (l *labelLimiter) clone() *labelLimiter {
	c := newLabelLimiter(l.max)
	for label, values := range l.known {
		c.known[label] = maps.Clone(values)
	}
	return c
}
