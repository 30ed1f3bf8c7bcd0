package tally

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// snapshot is t's saved form as JSON, to tell whether t changed.
func snapshot(t *testing.T, tl *Tally) string {
	t.Helper()
	data, err := json.Marshal(tl.Save())
	if err != nil {
		t.Fatal(err)
	}
	var generic any // the order of label sets is not kept: compare them as sets
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	for _, g := range generic.(map[string]any)["series"].(map[string]any) {
		slices.SortFunc(g.([]any), func(a, b any) int { return strings.Compare(jsonText(a), jsonText(b)) })
	}
	out, err := json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	return string(out) + jsonText([]int{tl.SeriesCount(), tl.Size()})
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A Clone shares nothing either side may change: counting into one, merging into
// it or admitting label values leaves the other as it was.
func TestCloneIsIndependent(t *testing.T) {
	s := settings()
	orig := counted(t, s, rec("a"), rec("b", func(r *wolkvox.Record) { r.CodAct = "TIMEOUTCHAT" }))
	orig.Skipped[ReasonConnIDEmpty] = 1
	before := snapshot(t, orig)
	change := func(tl *Tally) {
		b := NewBatch(tl, func(uint64) bool { return false }, 0)
		for _, r := range []wolkvox.Record{rec("c"), rec("d", func(r *wolkvox.Record) { r.Channel, r.AgentID = "web", "9" }), rec("")} {
			b.Add(&r)
		}
		tl.Merge(b.Delta, time.Unix(1795150800, 0))
		for _, g := range Groups {
			for _, k := range tl.Keys(g) {
				s := tl.Lookup(g, k)
				s.Born = time.Unix(1, 0)
				for i := range s.Cells {
					s.Cells[i].Observe(1)
				}
			}
		}
		tl.Folded++
	}
	for _, changeClone := range []bool{true, false} {
		name := map[bool]string{true: "the clone changed", false: "the original changed"}[changeClone]
		t.Run(name, func(t *testing.T) {
			o := orig.Clone() // each case from the same start
			changed, other := o, o.Clone()
			if changeClone {
				changed, other = other, changed
			}
			change(changed)
			if got := snapshot(t, other); got != before {
				t.Errorf("changing one changed the other:\nbefore %s\nafter  %s", before, got)
			}
			if snapshot(t, changed) == before {
				t.Fatal("the change changed nothing: the test proves nothing")
			}
		})
	}
}

// Merge adds a delta's counts, skip counts, folds and label values; series new to
// the tally are born at the merge, those it had keep their birth; and the tally
// shares no cell with the delta.
func TestMerge(t *testing.T) {
	s := settings(func(s *Settings) { s.MaxLabelValues = 3 })
	first, second := []wolkvox.Record{rec("a"), rec("b")}, []wolkvox.Record{rec("c"), rec("d", func(r *wolkvox.Record) { r.Channel = "web" }), rec("")}
	whole := counted(t, s, append(append([]wolkvox.Record{}, first...), second...)...)

	tl := counted(t, s, first...)
	born := time.Unix(1795150800, 0)
	b := NewBatch(tl, func(uint64) bool { return false }, 0)
	for i := range second {
		b.Add(&second[i])
	}
	b.Delta.Folded = 2
	tl.Merge(b.Delta, born)

	if got, want := observed(tl), observed(whole); !maps.Equal(got, want) {
		t.Errorf("merged counts %v, want those of one batch %v", got, want)
	}
	if tl.Skipped[ReasonConnIDEmpty] != 1 || tl.Folded != 2 {
		t.Errorf("skipped %v and folded %v, want the delta's", tl.Skipped, tl.Folded)
	}
	if tl.SeriesCount() != whole.SeriesCount() || tl.Size() != whole.Size() {
		t.Errorf("%d series of %d bytes, want %d of %d", tl.SeriesCount(), tl.Size(), whole.SeriesCount(), whole.Size())
	}
	for _, g := range Groups {
		for _, k := range tl.Keys(g) {
			want := time.Time{}
			if g.Value(k, Channel) == "web" {
				want = born
			}
			if got := tl.Lookup(g, k).Born; !got.Equal(want) {
				t.Errorf("%s %v born %v, want %v", g.Name, k, got, want)
			}
		}
	}
	if !reflect.DeepEqual(tl.limiter.known, whole.limiter.known) {
		t.Errorf("label values %v, want %v", tl.limiter.known, whole.limiter.known)
	}
	// The delta's values are the tally's now: one more channel fills the limit.
	next := NewBatch(tl, func(uint64) bool { return false }, 0)
	if c, _ := next.Count(new(rec("e", func(r *wolkvox.Record) { r.Channel = "facebook" }))); c.keys[ByChat.index][0] != "facebook" {
		t.Errorf("the third channel counted as %q", c.keys[ByChat.index][0])
	}
	if c, _ := next.Count(new(rec("f", func(r *wolkvox.Record) { r.Channel = "instagram" }))); c.keys[ByChat.index][0] != OtherValue {
		t.Errorf("a fourth channel past max_label_values 3 counted as %q", c.keys[ByChat.index][0])
	}
	// Counting into the delta again leaves the tally as it was.
	before := snapshot(t, tl)
	b.Delta.Merge(b.Delta.Clone(), born)
	if snapshot(t, tl) != before {
		t.Error("the tally shares cells with the delta merged into it")
	}
}
