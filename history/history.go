// Package history writes the chats of past days as the samples live counting would
// have exported: the same families, names, labels and buckets, a sample every step,
// each chat counted once at its close time. Days are written one at a time, so that
// memory does not grow with them: as Prometheus TSDB blocks, a block a day, or as
// OpenMetrics text.
package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Label is a target label added to every series, such as job or instance.
type Label struct{ Name, Value string }

// Writer writes the history of one operation, day after day.
type Writer struct {
	settings tally.Settings
	loc      *time.Location
	// base holds the counts at the end of the last day written, and the label
	// values and series budget spent so far.
	base   *tally.Tally
	step   time.Duration
	target []Label
	out    Output
}

// Output is where a Writer's days go: TSDB blocks (Blocks), or OpenMetrics text
// (OpenMetrics).
type Output interface {
	day(start, stop time.Time) (dayOutput, error)
}

// dayOutput takes the samples of one day, family after family, each series' in
// time order; end writes the day whole.
type dayOutput interface {
	family(f *tally.Family)
	series(f *tally.Family, values tally.Labels, target []Label, bounds []float64) seriesOutput
	end() error
}

// seriesOutput takes the samples of one series of a family.
type seriesOutput interface {
	sample(c *tally.Cell, at time.Time)
}

// New returns a Writer of operation op that writes to out, starting from no chats
// counted.
func New(op config.Operation, h config.Histograms, step time.Duration, target []Label, out Output) (*Writer, error) {
	if step <= 0 || step%time.Second != 0 {
		return nil, fmt.Errorf("step %s must be a positive whole number of seconds", step)
	}
	for _, l := range target {
		if !validLabelName(l.Name) || reservedLabel(l.Name) {
			return nil, fmt.Errorf("target label %q: a label name of its own is needed (letters, digits and '_', not one of the metrics' labels)", l.Name)
		}
	}
	s := tally.SettingsOf(op, h)
	return &Writer{settings: s, loc: op.Location(), base: tally.New(s), step: step, target: target, out: out}, nil
}

func validLabelName(name string) bool {
	if name == "" || strings.HasPrefix(name, "__") {
		return false
	}
	for i, c := range name {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// reservedLabel tells whether a chat family has a label of that name.
func reservedLabel(name string) bool {
	if name == "le" {
		return true
	}
	return slices.ContainsFunc(tally.Families, func(f *tally.Family) bool { return slices.Contains(f.LabelNames(), name) })
}

// Day gathers the chats of one local day.
type Day struct {
	w           *Writer
	start, stop time.Time // the day, or its part before live counting began
	n           int       // steps in the day, one sample at the start of each
	batch       *tally.Batch
	// Per group and label set, what each step added; the last slot is the day's
	// end, where a chat with no close time in the day counts.
	steps map[*tally.Group]map[tally.Key][]*tally.Series
	// AtDayEnd counts the chats placed at the day's end: their close time (date
	// plus chat_duration) was missing, unreadable or outside the day.
	AtDayEnd int
	// Chats counts the distinct chats of the day, Records the records read that
	// close on it.
	Chats, Records int
}

// Day starts the day [start, stop): Add its records, then Write it.
func (w *Writer) Day(start, stop time.Time) *Day {
	return &Day{
		w: w, start: start, stop: stop, n: int((stop.Sub(start) + w.step - 1) / w.step),
		batch: tally.NewBatch(w.base, func(uint64) bool { return false }, 0), // a chat closes on one day only
		steps: map[*tally.Group]map[tally.Key][]*tally.Series{},
	}
}

// Add counts a record of the day once, at its close time.
func (d *Day) Add(r *wolkvox.Record) { AddToDays([]*Day{d}, r) }

// AddToDays counts a record of consecutive days read together once, on the day of
// its close time; a record whose close time is unknown or outside the days counts
// at the last day's end.
func AddToDays(days []*Day, r *wolkvox.Record) {
	last := days[len(days)-1]
	d, slot := last, last.n // the last day's end
	if closed, ok := r.Closed(last.w.loc); ok {
		for _, day := range days {
			if !closed.Before(day.start) && closed.Before(day.stop) {
				d, slot = day, int(closed.Sub(day.start)/day.w.step)
				break
			}
		}
	}
	d.Records++
	d.add(r, slot)
}

func (d *Day) add(r *wolkvox.Record, slot int) {
	c, ok := d.batch.Count(r)
	if !ok {
		return
	}
	d.Chats++
	if slot == d.n {
		d.AtDayEnd++
	}
	for _, g := range tally.Groups {
		k, ok := c.Key(g)
		if !ok {
			continue
		}
		byKey := d.steps[g]
		if byKey == nil {
			byKey = map[tally.Key][]*tally.Series{}
			d.steps[g] = byKey
		}
		steps := byKey[k]
		if steps == nil {
			steps = make([]*tally.Series, d.n+1)
			byKey[k] = steps
		}
		if steps[slot] == nil {
			steps[slot] = d.w.base.NewSeries(g)
		}
		c.Feed(g, steps[slot])
	}
}

// Write writes the day's samples, one family after the other: at each step of the
// day after its start, and at its end, which the next day does not write again. Its
// start was the end of the day before, but for series new on this day: those start
// from zero a millisecond after it, so that no two days write the same instant and
// a day's samples fill [start, stop] after its start, as a block of its own.
func (d *Day) Write() error {
	w := d.w
	times := make([]time.Time, d.n+1)
	for i := range times {
		times[i] = d.start.Add(time.Duration(i) * w.step)
	}
	times[0] = d.start.Add(time.Millisecond)
	times[d.n] = d.stop
	out, err := w.out.day(d.start, d.stop)
	if err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	for _, f := range w.settings.Families() {
		out.family(f)
		keys := w.base.Keys(f.Group)
		for k := range d.steps[f.Group] {
			keys = append(keys, k)
		}
		for _, k := range tally.SortKeys(keys) {
			d.writeSeries(out, f, k, times)
		}
	}
	if err := out.end(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	w.base.Merge(d.batch.Delta, time.Time{})
	return nil
}

// writeSeries writes the samples of label set k of family f: at each time, the
// counts before the day and what the steps before it added; at the day's end, also
// what counts at the day's end.
func (d *Day) writeSeries(out dayOutput, f *tally.Family, k tally.Key, times []time.Time) {
	base := d.w.base.Lookup(f.Group, k) // nil: the series is new on this day
	steps := d.steps[f.Group][k]
	first := 1 // the day before wrote the day's start as its end
	if base == nil {
		base, first = d.w.base.NewSeries(f.Group), 0
	}
	labels := append(tally.Labels{d.w.settings.Operation}, k[:len(f.Group.Labels)]...)
	for split, value := range f.SplitValues() {
		cur := f.Cell(base, split).Clone()
		series := labels
		if f.Split != nil {
			series = append(slices.Clone(labels), value)
		}
		ref := out.series(f, series, d.w.target, cur.Bounds)
		for i, at := range times {
			if i > 0 && steps != nil {
				added := steps[i-1 : i]
				if i == d.n {
					added = steps[i-1:] // the day's end counts in the sample at its end
				}
				for _, s := range added {
					if s != nil {
						cur.Add(f.Cell(s, split))
					}
				}
			}
			if i >= first {
				ref.sample(&cur, at)
			}
		}
	}
}

// Counts returns the counts at the end of the last day written: where live counting
// that starts there goes on from.
func (w *Writer) Counts() *tally.Tally { return w.base.Clone() }

// progress is a Writer between runs: the counts at the end of the last day
// written, so that a run can go on where the last stopped.
type progress struct {
	Labeling string `json:"labeling"`
	tally.Saved
}

// Progress returns what Resume needs to go on after the last day written.
func (w *Writer) Progress() ([]byte, error) {
	return json.Marshal(progress{Labeling: w.settings.Labeling(), Saved: w.base.Save()})
}

// Resume goes on from what Progress of a Writer of the same operation returned.
func (w *Writer) Resume(data []byte) error {
	var p progress
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("read the history's progress: %w", err)
	}
	if p.Labeling != w.settings.Labeling() {
		return errors.New("the history was written with other skill names, buckets or label limits")
	}
	base, restarted, err := tally.Restore(w.settings, p.Saved)
	if err != nil {
		return fmt.Errorf("read the history's progress: %w", err)
	}
	if len(restarted) > 0 {
		// The days written hold the old labels: counters going on under the new
		// ones would not join them.
		return fmt.Errorf("the history was written with other labels in %s: %w", restarted[0].Name, tally.ErrOtherLabels)
	}
	w.base = base
	return nil
}
