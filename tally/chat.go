package tally

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// maxGroups bounds the groups a Chat holds a label set for.
const maxGroups = 8

// Chat is one record as the families take it: the label set of each group it is
// counted under, and its values.
type Chat struct {
	keys     [maxGroups]Key
	in       [maxGroups]bool // whether the chat counts in each group
	values   [numFields]float64
	timedOut bool
}

// Key returns the label set c counts under in group g, and whether it counts there.
func (c *Chat) Key(g *Group) (Key, bool) { return c.keys[g.index], c.in[g.index] }

// Feed adds what c adds to s, a series of group g.
func (c *Chat) Feed(g *Group, s *Series) {
	for _, f := range g.families {
		v, ok := f.value(c)
		if !ok {
			continue
		}
		split := 0
		if f.Split != nil {
			split = f.Split.value(c)
		}
		s.Cells[f.column+split].Observe(v)
	}
}

// Batch counts the records of one answer as they stream in. It reads a base Tally
// that no one modifies meanwhile; what the answer adds is in Delta, to merge into
// the base's successor once the answer is known whole.
type Batch struct {
	base    *Tally
	counted func(key uint64) bool
	// Delta is what the answer adds.
	Delta *Tally
	// IDs are the keys of the chats counted, see ConnKey.
	IDs map[uint64]struct{}
	// labels remembers, per label, the value each raw upstream text became. An
	// answer repeats a few values thousands of times; within one batch a value once
	// admitted (or turned to "other") stays so.
	labels map[string]map[string]string
	pairs  map[string]map[[2]string][2]string
	// series and size are the base's and those this batch adds, against the budget
	// (see budget.go).
	series, size int
}

// NewBatch returns a Batch that counts on base the chats for which counted is
// false, expecting about size records.
func NewBatch(base *Tally, counted func(key uint64) bool, size int) *Batch {
	return &Batch{
		base:    base,
		counted: counted,
		Delta:   New(base.settings),
		IDs:     make(map[uint64]struct{}, size),
		labels:  map[string]map[string]string{},
		pairs:   map[string]map[[2]string][2]string{},
		series:  base.count,
		size:    base.size,
	}
}

// Add counts a record once.
func (b *Batch) Add(r *wolkvox.Record) { b.Count(r) }

// Count counts a record, unless its conn_id was counted before, and returns what it
// counted.
func (b *Batch) Count(r *wolkvox.Record) (Chat, bool) {
	if r.ConnID == "" {
		b.Delta.Skipped[ReasonConnIDEmpty]++
		return Chat{}, false
	}
	id := ConnKey(r.ConnID)
	if _, dup := b.IDs[id]; dup || b.counted(id) {
		return Chat{}, false
	}
	b.IDs[id] = struct{}{}

	c := Chat{timedOut: r.TimedOut()}
	for i, f := range fields {
		c.values[i] = b.number(f.name, f.of(r))
	}
	// Each label's value, for the labels of the groups the chat counts in.
	var values [maxLabels]string
	for _, g := range Groups {
		if g.counts(b.base.settings) {
			for _, l := range g.Labels {
				values[l.index] = l.value(b, r)
			}
		}
	}
	if b.fit(&c, values) {
		b.Delta.Folded++
	}
	b.Delta.Add(&c, time.Time{}) // a merge gives the new series their birth
	return c, true
}

// number is one numeric field's value, NaN when it has none: an empty or bad value
// skips only this observation, counted under the field's name.
func (b *Batch) number(name string, n wolkvox.Number) float64 {
	switch {
	case errors.Is(n.Err, wolkvox.ErrEmpty):
		b.Delta.Skipped[name+"_empty"]++
		return math.NaN()
	case n.Err != nil:
		b.Delta.Skipped[name+"_invalid"]++
		return math.NaN()
	}
	return n.Value
}

// label returns the label value for a record's value, made safe by clean and
// bounded by the label limit.
func (b *Batch) label(label, raw string, clean func(string) string) string {
	cache := b.labels[label]
	if v, ok := cache[raw]; ok {
		return v
	}
	if cache == nil {
		cache = map[string]string{}
		b.labels[label] = cache
	}
	// A record's text shares one allocation with the rest of the record: keep copies.
	v := b.Delta.limiter.admit(b.base.limiter, label, strings.Clone(clean(raw)))
	cache[strings.Clone(raw)] = v
	return v
}

// labelPair is label for two values limited together, such as a code and its
// description: they are admitted as one value joined by a NUL, so that they never
// split into a mismatched pair.
func (b *Batch) labelPair(label, first, second string) [2]string {
	cache := b.pairs[label]
	if v, ok := cache[[2]string{first, second}]; ok {
		return v
	}
	if cache == nil {
		cache = map[[2]string][2]string{}
		b.pairs[label] = cache
	}
	v := [2]string{OtherValue, OtherValue}
	f, s := strings.Clone(cleanValue(first)), strings.Clone(cleanValue(second))
	if b.Delta.limiter.admit(b.base.limiter, label, f+"\x00"+s) != OtherValue {
		v = [2]string{f, s}
	}
	cache[[2]string{strings.Clone(first), strings.Clone(second)}] = v
	return v
}

func (b *Batch) skillName(id string) string {
	id = strings.TrimSpace(id)
	if name, ok := b.base.settings.Skills[id]; ok {
		return cleanValue(name)
	}
	return cleanValue(id)
}

// ConnKey is what the dedupe memory keeps of a conn_id: a 64-bit hash costs a
// fraction of the id's text, and two of 100,000 ids collide with odds near 1e-10.
// It is FNV-1a, written out so that hashing allocates nothing; saved states depend
// on it, so it must never change.
func ConnKey(id string) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime64
	}
	return h
}
