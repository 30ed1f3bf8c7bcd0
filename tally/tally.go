package tally

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
)

// Settings is what turns an operation's records into series.
type Settings struct {
	Operation      string
	AgentMetrics   bool
	MaxLabelValues int
	MaxSeries      int
	Skills         map[string]string
	Histograms     config.Histograms
}

// SettingsOf returns the settings of operation op under histograms h.
func SettingsOf(op config.Operation, h config.Histograms) Settings {
	return Settings{
		Operation: op.Name, AgentMetrics: op.AgentMetrics, MaxLabelValues: op.MaxLabelValues,
		MaxSeries: op.MaxSeries, Skills: op.Skills, Histograms: h,
	}
}

// Labeling fingerprints what decides the series a record is counted under: counts
// made under another labeling cannot go on. The series budget is not part of it,
// since it only decides which later label sets fold.
func (s Settings) Labeling() string {
	skills := make([]string, 0, len(s.Skills))
	for id, name := range s.Skills {
		skills = append(skills, id+"\x00"+name)
	}
	slices.Sort(skills)
	b, _ := json.Marshal([]any{s.AgentMetrics, s.MaxLabelValues, skills,
		s.Histograms.AnswerDelay, s.Histograms.Duration, s.Histograms.HandleTime})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Families are the families the settings expose.
func (s Settings) Families() []*Family {
	return slices.DeleteFunc(slices.Clone(Families), func(f *Family) bool { return f.Group.agent && !s.AgentMetrics })
}

// Key is the label values of a label set of a group, in the order of the group's
// Labels; the slots past them are empty.
type Key [maxGroupLabels]string

// maxGroupLabels bounds the labels of a group, and maxLabels all labels: room to
// add some, which init checks.
const (
	maxGroupLabels = 8
	maxLabels      = 16
)

// Series holds the values of one label set of a group: a cell per series of each
// of the group's families.
type Series struct {
	// Born is when the label set first appeared; zero for those shown at once (see
	// the new-series hold).
	Born  time.Time
	Cells []Cell
}

func (s *Series) add(o *Series) {
	for i := range o.Cells {
		s.Cells[i].Add(&o.Cells[i])
	}
}

// Tally is the chat counts of an operation, or what an answer or a step of history
// adds to them, with the label values admitted so far.
type Tally struct {
	settings Settings
	bounds   [][]float64 // per family, nil for counters
	series   []map[Key]*Series
	limiter  *limiter
	// Skipped counts records and observations skipped, by reason.
	Skipped map[string]float64
	// Folded counts chats counted with labels folded into "other" by the series budget.
	Folded float64
	// count and size are the series exposed and their estimated bytes.
	count, size int
}

// New returns an empty Tally.
func New(s Settings) *Tally {
	t := &Tally{
		settings: s,
		bounds:   make([][]float64, len(Families)),
		series:   make([]map[Key]*Series, len(Groups)),
		limiter:  newLimiter(s.MaxLabelValues),
		Skipped:  map[string]float64{},
	}
	for i, f := range Families {
		t.bounds[i] = f.Buckets(s.Histograms)
	}
	for i := range t.series {
		t.series[i] = map[Key]*Series{}
	}
	return t
}

// Settings are the settings t counts under.
func (t *Tally) Settings() Settings { return t.settings }

// SeriesCount is how many series t exposes.
func (t *Tally) SeriesCount() int { return t.count }

// Size is about how many bytes t's series take in /metrics.
func (t *Tally) Size() int { return t.size }

func (t *Tally) newSeries(g *Group, born time.Time) *Series {
	s := &Series{Born: born, Cells: make([]Cell, g.columns)}
	for _, f := range g.families {
		if bounds := t.bounds[f.index]; bounds != nil {
			for i := range f.values() {
				s.Cells[f.column+i] = NewHistogram(bounds)
			}
		}
	}
	return s
}

// entry returns the series of k in group g, creating it, born at born, if missing.
func (t *Tally) entry(g *Group, k Key, born time.Time) *Series {
	s, ok := t.series[g.index][k]
	if !ok {
		s = t.newSeries(g, born)
		t.series[g.index][k] = s
		n, size := t.cost(g, k)
		t.count += n
		t.size += size
	}
	return s
}

// clear drops the series of group g.
func (t *Tally) clear(g *Group) {
	for k := range t.series[g.index] {
		n, size := t.cost(g, k)
		t.count -= n
		t.size -= size
	}
	t.series[g.index] = map[Key]*Series{}
}

// Add counts c, whose new label sets are born at born.
func (t *Tally) Add(c *Chat, born time.Time) {
	for _, g := range Groups {
		if k, ok := c.Key(g); ok {
			c.Feed(g, t.entry(g, k, born))
		}
	}
}

// Merge adds d, counted under the same settings, into t; label sets new to t are
// born at born, and the label values d admitted become t's.
func (t *Tally) Merge(d *Tally, born time.Time) {
	for _, g := range Groups {
		for k, s := range d.series[g.index] {
			t.entry(g, k, born).add(s)
		}
	}
	for k, v := range d.Skipped {
		t.Skipped[k] += v
	}
	t.Folded += d.Folded
	t.limiter.merge(d.limiter)
}

// Clone returns a copy that shares nothing t may change.
func (t *Tally) Clone() *Tally {
	c := *t
	c.series = make([]map[Key]*Series, len(t.series))
	for i, m := range t.series {
		c.series[i] = make(map[Key]*Series, len(m))
		for k, s := range m {
			cs := &Series{Born: s.Born, Cells: make([]Cell, len(s.Cells))}
			for j, cell := range s.Cells {
				cs.Cells[j] = cell.Clone()
			}
			c.series[i][k] = cs
		}
	}
	c.limiter = t.limiter.clone()
	c.Skipped = maps.Clone(t.Skipped)
	return &c
}

// Labels are the label values of a series, after operation: its group's, then the
// split's.
type Labels []string

// Each calls fn for every series of family f, in no order. fn must not keep
// labels, which the next call reuses.
func (t *Tally) Each(f *Family, fn func(labels Labels, c *Cell, born time.Time)) {
	g := f.Group
	labels := make(Labels, len(g.Labels), len(g.Labels)+1)
	for k, s := range t.series[g.index] {
		copy(labels, k[:len(g.Labels)])
		eachValue(f, labels, s, fn)
	}
}

// eachValue calls fn for each split value of f in s.
func eachValue(f *Family, labels Labels, s *Series, fn func(Labels, *Cell, time.Time)) {
	if f.Split == nil {
		fn(labels, &s.Cells[f.column], s.Born)
		return
	}
	for i, v := range f.Split.Values {
		fn(append(labels, v), &s.Cells[f.column+i], s.Born)
	}
}

// Keys returns the label sets of group g, in no order.
func (t *Tally) Keys(g *Group) []Key { return slices.Collect(maps.Keys(t.series[g.index])) }

// SortKeys sorts keys by their label values and removes those repeated.
func SortKeys(keys []Key) []Key {
	slices.SortFunc(keys, func(a, b Key) int {
		for i := range a {
			if c := cmp.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	return slices.Compact(keys)
}

// Lookup returns the series of k in group g, or nil.
func (t *Tally) Lookup(g *Group, k Key) *Series { return t.series[g.index][k] }

// NewSeries returns an empty series of group g under t's settings.
func (t *Tally) NewSeries(g *Group) *Series { return t.newSeries(g, time.Time{}) }

// Cell returns the cell of f's series in s for the split value at split (0 without one).
func (f *Family) Cell(s *Series, split int) *Cell { return &s.Cells[f.column+split] }

// SplitValues are the values of f's split label; one empty value without one.
func (f *Family) SplitValues() []string {
	if f.Split == nil {
		return []string{""}
	}
	return f.Split.Values
}

// cost is how many series a new label set k of group g adds, and about how many
// bytes of /metrics they take.
func (t *Tally) cost(g *Group, k Key) (n, size int) {
	for _, f := range g.families {
		bounds := t.bounds[f.index]
		line := lineSize(f, t.settings.Operation, k[:len(g.Labels)])
		for range f.values() {
			if f.Kind == Counter {
				n++
				size += line
				continue
			}
			// A line per bound and +Inf, with an le label, then _sum and _count.
			n += len(bounds) + 3
			size += (len(bounds)+1)*(line+len(`_bucket,le=""`)) + len("+Inf") + 2*line + len("_sum_count")
			for _, b := range bounds {
				size += len(strconv.FormatFloat(b, 'g', -1, 64)) + len(".0")
			}
		}
	}
	return n, size
}

// lineSize is about how long a sample line of f with these label values is in the
// text format: the name, the labels quoted, and a value.
func lineSize(f *Family, operation string, values []string) int {
	const valueSize = 12 // a space, a value such as 1234567.5, a new line
	n := len(f.Name) + len(`{operation=""}`) + len(operation) + valueSize
	for i, v := range values {
		n += len(`,=""`) + len(f.Group.Labels[i].Name) + len(v) + strings.Count(v, `"`) + strings.Count(v, `\`)
	}
	if f.Split != nil {
		n += len(`,=""`) + len(f.Split.Label) + len(f.Split.Values[0])
	}
	return n
}
