package tally

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Saved is a Tally as the state file keeps it. Each group is a list of label sets,
// each an object of the group's labels, its birth and a value per family series,
// under the names the families give them.
type Saved struct {
	Labels  map[string][]string   `json:"labels"`
	Skipped map[string]float64    `json:"skipped"`
	Folded  float64               `json:"folded"`
	Series  map[string]SavedGroup `json:"series"`
}

// SavedGroup is the label sets of a group: written out by Save, or as read from a
// file.
type SavedGroup struct {
	encoded []byte
	sets    []map[string]json.RawMessage
}

// MarshalJSON writes the label sets.
func (g SavedGroup) MarshalJSON() ([]byte, error) {
	if g.encoded != nil {
		return g.encoded, nil
	}
	return json.Marshal(g.sets)
}

// UnmarshalJSON reads the label sets.
func (g *SavedGroup) UnmarshalJSON(data []byte) error { return json.Unmarshal(data, &g.sets) }

// SavedHistogram is a histogram as it is saved.
type SavedHistogram struct {
	Counts []uint64 `json:"counts"` // per bucket, not cumulative, +Inf last
	Sum    float64  `json:"sum"`
}

// Save returns t's saved form.
func (t *Tally) Save() Saved {
	s := Saved{Labels: map[string][]string{}, Skipped: t.Skipped, Folded: t.Folded, Series: map[string]SavedGroup{}}
	for label, values := range t.limiter.known {
		for v := range values {
			s.Labels[label] = append(s.Labels[label], v)
		}
		slices.Sort(s.Labels[label])
	}
	for _, g := range Groups {
		if len(t.series[g.index]) == 0 {
			continue
		}
		// Written by hand: the state is saved after every call, and encoding/json
		// takes twice as long over thousands of small objects.
		b := []byte{'['}
		for k, series := range t.series[g.index] {
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = appendLabelSet(b, g, k, series)
		}
		s.Series[g.Name] = SavedGroup{encoded: append(b, ']')}
	}
	return s
}

// appendLabelSet writes the object of label set k of group g.
func appendLabelSet(b []byte, g *Group, k Key, s *Series) []byte {
	b = append(b, '{')
	for i, name := range g.savedLabels() {
		b = appendJSONString(b, name)
		b = append(b, ':')
		b = appendJSONString(b, k[i])
		b = append(b, ',')
	}
	born := int64(0)
	if !s.Born.IsZero() {
		born = s.Born.Unix()
	}
	b = append(b, `"born":`...)
	b = strconv.AppendInt(b, born, 10)
	for _, f := range g.families {
		for i, name := range f.saved {
			c := &s.Cells[f.column+i]
			b = append(b, ',')
			b = appendJSONString(b, name)
			b = append(b, ':')
			if f.Kind == Counter {
				b = strconv.AppendFloat(b, c.Sum, 'g', -1, 64)
				continue
			}
			b = append(b, `{"counts":[`...)
			for j, n := range c.Buckets {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendUint(b, n, 10)
			}
			b = append(b, `],"sum":`...)
			b = strconv.AppendFloat(b, c.Sum, 'g', -1, 64)
			b = append(b, '}')
		}
	}
	return append(b, '}')
}

// appendJSONString writes s as a JSON string, as encoding/json does but for its
// HTML escapes, which a state file does not need.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

func (g *Group) savedLabels() []string {
	names := make([]string, len(g.Labels))
	for i, l := range g.Labels {
		names[i] = cmp.Or(l.savedAs, l.Name)
	}
	return names
}

// ErrOtherLabels reports saved series whose labels are not those the groups have
// now: a label was added to a group, or taken from it, since they were saved. The
// counts cannot go on under other labels.
var ErrOtherLabels = errors.New("series saved with other labels")

// Restore returns the Tally that saved holds, counted under settings s, and the
// groups whose series were saved under other labels (ErrOtherLabels): their counts
// restart, the other groups' go on. Saved values that no Tally could hold
// (negative or infinite counts, buckets that are not the settings') are an error.
func Restore(s Settings, saved Saved) (*Tally, []*Group, error) {
	t := New(s)
	for label, values := range saved.Labels {
		known := map[string]struct{}{}
		for _, v := range values {
			known[v] = struct{}{}
		}
		t.limiter.known[label] = known
	}
	for reason, v := range saved.Skipped {
		if !ValidCount(v) {
			return nil, nil, fmt.Errorf("invalid skipped counter %q = %v", reason, v)
		}
		t.Skipped[reason] = v
	}
	if !ValidCount(saved.Folded) {
		return nil, nil, fmt.Errorf("invalid folded counter %v", saved.Folded)
	}
	t.Folded = saved.Folded
	var restarted []*Group
	for _, g := range Groups {
		group, ok := saved.Series[g.Name]
		if !ok {
			continue
		}
		if !g.counts(s) {
			return nil, nil, fmt.Errorf("series of %q are not counted under these settings", g.Name)
		}
		if group.sets == nil && group.encoded != nil {
			if err := json.Unmarshal(group.encoded, &group.sets); err != nil {
				return nil, nil, err
			}
		}
		for _, set := range group.sets {
			err := t.restoreLabelSet(g, set)
			if errors.Is(err, ErrOtherLabels) {
				t.clear(g)
				restarted = append(restarted, g)
				break
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", g.Name, err)
			}
		}
	}
	for name := range saved.Series {
		if !slices.ContainsFunc(Groups, func(g *Group) bool { return g.Name == name }) {
			return nil, nil, fmt.Errorf("series of %q are not counted under these settings", name)
		}
	}
	return t, restarted, nil
}

// savedSet reads one saved label set, keeping count of the keys read.
type savedSet struct {
	values map[string]json.RawMessage
	used   int
}

// get reads key into v, and tells whether the set has it.
func (s *savedSet) get(key string, v any) (bool, error) {
	raw, ok := s.values[key]
	if !ok {
		return false, nil
	}
	s.used++
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("%s: %w", key, err)
	}
	return true, nil
}

func (t *Tally) restoreLabelSet(g *Group, values map[string]json.RawMessage) error {
	set := &savedSet{values: values}
	var k Key
	for i, name := range g.savedLabels() {
		ok, err := set.get(name, &k[i])
		if err != nil {
			return fmt.Errorf("label %s: %w", name, err)
		}
		if !ok {
			return fmt.Errorf("%w: label %s missing", ErrOtherLabels, name)
		}
	}
	var born int64
	if _, err := set.get("born", &born); err != nil {
		return err
	}
	series := t.entry(g, k, time.Time{})
	if born != 0 {
		series.Born = time.Unix(born, 0)
	}
	for _, f := range g.families {
		for i, name := range f.saved {
			if err := set.restoreCell(f, name, &series.Cells[f.column+i]); err != nil {
				return err
			}
		}
	}
	if set.used != len(values) {
		return fmt.Errorf("%w: unknown keys among %v", ErrOtherLabels, slices.Sorted(maps.Keys(values)))
	}
	return nil
}

// restoreCell reads the value name of family f into c. A value missing is zero:
// states saved before the family had it.
func (s *savedSet) restoreCell(f *Family, name string, c *Cell) error {
	if f.Kind == Counter {
		if _, err := s.get(name, &c.Sum); err != nil {
			return err
		}
		if !ValidCount(c.Sum) {
			return fmt.Errorf("invalid counter %s = %v", name, c.Sum)
		}
		return nil
	}
	var h SavedHistogram
	if ok, err := s.get(name, &h); err != nil || !ok {
		return err
	}
	if len(h.Counts) != len(c.Bounds)+1 {
		return fmt.Errorf("histogram %s has %d buckets, want %d", name, len(h.Counts), len(c.Bounds)+1)
	}
	if !ValidCount(h.Sum) {
		return fmt.Errorf("invalid histogram sum %v", h.Sum)
	}
	copy(c.Buckets, h.Counts)
	for _, n := range h.Counts {
		c.Count += n
	}
	c.Sum = h.Sum
	return nil
}

// ValidCount tells whether v can be a counter's value.
func ValidCount(v float64) bool { return v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
