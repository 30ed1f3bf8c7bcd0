package tally

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// oneBound has one bound per histogram, so that a channel and skill pair costs 4
// histograms (the duration twice, timed out or not) x (1 bound, +Inf, _sum, _count)
// + 3 counters = 19 series; a label set of chats, of dispositions, 1; of an agent, 2.
var oneBound = config.Histograms{AnswerDelay: []float64{20}, Duration: []float64{60}, HandleTime: []float64{60}}

// labeled is rec under a channel, skill, feeling and last participant.
func labeled(id, channel, skill, feeling, last string, edits ...func(*wolkvox.Record)) wolkvox.Record {
	return rec(id, append([]func(*wolkvox.Record){func(r *wolkvox.Record) {
		r.Channel, r.SkillID, r.Feeling, r.LastParticipant = channel, skill, feeling, last
	}}, edits...)...)
}

// counted is a Tally under s holding records, counted with room for all.
func counted(t *testing.T, s Settings, records ...wolkvox.Record) *Tally {
	t.Helper()
	roomy := s
	roomy.MaxSeries = 1 << 30
	base := New(roomy)
	b := NewBatch(base, func(uint64) bool { return false }, 0)
	for i := range records {
		b.Add(&records[i])
	}
	if b.Delta.Folded != 0 {
		t.Fatal("the base folded labels: it has too little room")
	}
	base.Merge(b.Delta, time.Time{})
	base.settings = s
	return base
}

// A record whose label sets pass max_series is counted under the most detailed sets
// that fit: feeling and last participant fold first, then skill, then channel; a
// disposition's code and description fold together, under the channel and skill
// the chat got; an agent's id and name fold together. With every label folded the
// sets are taken whatever they cost: a chat is always counted.
func TestBudgetFoldOrder(t *testing.T) {
	s := settings(func(s *Settings) { s.Histograms = oneBound })
	a := labeled("base-a", "whatsapp", "12", "neutral", "agent")
	for _, tc := range []struct {
		name   string
		base   []wolkvox.Record
		room   int // series the budget leaves past the base's
		record wolkvox.Record
		want   map[*Group][]string
	}{
		{
			name: "room for the new series: nothing folds",
			base: []wolkvox.Record{a}, room: 1,
			record: labeled("r", "whatsapp", "12", "positive", "agent"),
			want:   map[*Group][]string{ByChat: {"whatsapp", "12", "positive", "agent"}},
		},
		{
			name:   "no room, but the label set exists: nothing folds",
			base:   []wolkvox.Record{a},
			record: labeled("r", "whatsapp", "12", "neutral", "agent"),
			want:   map[*Group][]string{ByChat: {"whatsapp", "12", "neutral", "agent"}},
		},
		{
			name:   "feeling and last participant fold first, together",
			base:   []wolkvox.Record{a, labeled("base-b", "whatsapp", "12", "other", "other")},
			record: labeled("r", "whatsapp", "12", "positive", "customer"),
			want: map[*Group][]string{ByChat: {"whatsapp", "12", "other", "other"}, ByScope: {"whatsapp", "12"},
				ByDisposition: {"whatsapp", "12", "SALE", "Sale closed"}},
		},
		{
			name:   "then skill",
			base:   []wolkvox.Record{a, labeled("base-b", "whatsapp", "other", "other", "other")},
			record: labeled("r", "whatsapp", "12", "positive", "agent"),
			want: map[*Group][]string{ByChat: {"whatsapp", "other", "other", "other"}, ByScope: {"whatsapp", "other"},
				ByDisposition: {"whatsapp", "other", "SALE", "Sale closed"}},
		},
		{
			name:   "skill folds before channel, even where a set with the channel folded exists",
			base:   []wolkvox.Record{a, labeled("base-b", "other", "12", "other", "other")},
			record: labeled("r", "web", "12", "positive", "agent"),
			want: map[*Group][]string{ByChat: {"other", "other", "other", "other"}, ByScope: {"other", "other"},
				ByDisposition: {"other", "other", "other", "other"}},
		},
		{
			name:   "with every label folded the chat is counted, past the budget",
			base:   []wolkvox.Record{a},
			record: labeled("r", "web", "14", "neutral", "agent"),
			want: map[*Group][]string{ByChat: {"other", "other", "other", "other"}, ByScope: {"other", "other"},
				ByDisposition: {"other", "other", "other", "other"}, ByAgent: {"7", "Luis"}},
		},
		{
			name: "a new skill costs its scope's series with the chat's: short of them, it folds",
			base: []wolkvox.Record{a, labeled("base-b", "whatsapp", "other", "other", "other")}, room: 19,
			record: labeled("r", "whatsapp", "14", "neutral", "agent"),
			want:   map[*Group][]string{ByChat: {"whatsapp", "other", "other", "other"}, ByScope: {"whatsapp", "other"}},
		},
		{
			name: "code and description fold together, within the chat's channel and skill",
			base: []wolkvox.Record{a}, room: 20,
			record: labeled("r", "whatsapp", "14", "neutral", "agent"),
			want: map[*Group][]string{ByChat: {"whatsapp", "14", "neutral", "agent"}, ByScope: {"whatsapp", "14"},
				ByDisposition: {"whatsapp", "14", "other", "other"}},
		},
		{
			name:   "a disposition new to a label set that exists folds alone",
			base:   []wolkvox.Record{a},
			record: labeled("r", "whatsapp", "12", "neutral", "agent", func(r *wolkvox.Record) { r.CodAct, r.CodActDescription = "INFO", "Information" }),
			want:   map[*Group][]string{ByChat: {"whatsapp", "12", "neutral", "agent"}, ByDisposition: {"whatsapp", "12", "other", "other"}},
		},
		{
			name:   "an agent's id and name fold together",
			base:   []wolkvox.Record{a},
			record: labeled("r", "whatsapp", "12", "neutral", "agent", func(r *wolkvox.Record) { r.AgentID, r.AgentName = "8", "Ana" }),
			want:   map[*Group][]string{ByChat: {"whatsapp", "12", "neutral", "agent"}, ByAgent: {"other", "other"}},
		},
		{
			name: "an agent with room for its 2 series",
			base: []wolkvox.Record{a}, room: 2,
			record: labeled("r", "whatsapp", "12", "neutral", "agent", func(r *wolkvox.Record) { r.AgentID, r.AgentName = "8", "Ana" }),
			want:   map[*Group][]string{ByAgent: {"8", "Ana"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := counted(t, s, tc.base...)
			base.settings.MaxSeries = base.SeriesCount() + tc.room
			b := NewBatch(base, func(uint64) bool { return false }, 0)
			c, ok := b.Count(&tc.record)
			if !ok {
				t.Fatal("the chat was not counted")
			}
			folded := false
			for g, want := range tc.want {
				k, _ := c.Key(g)
				if got := k[:len(g.Labels)]; !slices.Equal(got, want) {
					t.Errorf("counted in %s under %q, want %q", g.Name, got, want)
				}
				folded = folded || slices.Contains(want, OtherValue)
			}
			if got := b.Delta.Folded; got != map[bool]float64{true: 1}[folded] {
				t.Errorf("folded %v, want %v", got, folded)
			}
			if got := observed(b.Delta)[ChatsFamily.Name]; got != 1 {
				t.Errorf("%v chats counted, want 1", got)
			}
		})
	}
}

// budgetRecords are n records of a few channels, skills, feelings and agents, in
// an order that a seed decides.
func budgetRecords(seed, n int) []wolkvox.Record {
	out := make([]wolkvox.Record, n)
	for i := range out {
		j := (i*7919 + seed*104729) % 1000
		out[i] = labeled(fmt.Sprintf("%d-%d", seed, i), []string{"whatsapp", "web", "facebook"}[j%3], fmt.Sprint(10+j%5),
			[]string{"neutral", "positive", "negative", "very_negative"}[j%4], []string{"agent", "customer"}[j%2],
			func(r *wolkvox.Record) {
				r.AgentID, r.AgentName = fmt.Sprint(j%6), fmt.Sprint("Agente ", j%6)
				r.CodAct = []string{"SALE", "INFO", "TIMEOUTCHAT"}[j%3]
			})
	}
	return out
}

// keysOf is the label sets each record counted under, by counting records on base
// in batches of the sizes given, each merged (and, with restart, saved and restored)
// before the next.
func keysOf(t *testing.T, base *Tally, records []wolkvox.Record, sizes []int, restart bool) ([]string, *Tally) {
	t.Helper()
	tl := base.Clone()
	var keys []string
	for _, size := range sizes {
		b := NewBatch(tl, func(uint64) bool { return false }, 0)
		for i := range records[:size] {
			c, _ := b.Count(&records[i])
			keys = append(keys, fmt.Sprint(c.keys))
		}
		records = records[size:]
		tl.Merge(b.Delta, time.Time{})
		if restart {
			var err error
			if tl, _, err = Restore(tl.settings, roundTrip(t, tl.Save())); err != nil {
				t.Fatal(err)
			}
		}
	}
	return keys, tl
}

// roundTrip writes saved as JSON and reads it back, as the state file does.
func roundTrip(t *testing.T, saved Saved) Saved {
	t.Helper()
	data, err := json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	var back Saved
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// Which label sets a record gets depends only on the series that exist: the same
// records on the same series fold the same way, whether counted in one answer or
// several, and across a restart.
func TestBudgetDeterministic(t *testing.T) {
	s := settings(func(s *Settings) { s.Histograms = oneBound })
	base := counted(t, s, budgetRecords(1, 20)...)
	base.settings.MaxSeries = base.SeriesCount() + 60
	records := budgetRecords(2, 300)
	want, wantTally := keysOf(t, base, records, []int{300}, false)
	if wantTally.Folded == 0 || wantTally.Folded == 300 {
		t.Fatalf("%v of 300 chats folded: the budget must fold some and not all for the test to prove anything", wantTally.Folded)
	}
	for _, tc := range []struct {
		name    string
		sizes   []int
		restart bool
	}{
		{"counted again", []int{300}, false},
		{"in three answers", []int{100, 150, 50}, false},
		{"across restarts", []int{120, 180}, true},
		{"an answer a chat, across restarts", slices.Repeat([]int{1}, 300), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, tl := keysOf(t, base, records, tc.sizes, tc.restart)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("record %d counted under %s, once under %s", i, got[i], want[i])
				}
			}
			if !reflect.DeepEqual(tl.series, wantTally.series) || tl.Folded != wantTally.Folded {
				t.Error("the counts differ")
			}
		})
	}
}

// max_series bounds the size of the series too, BytesPerSeries a series on average:
// long label values fold sooner, before the series count is reached.
func TestBudgetBytes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length int // of each channel and skill; 0 keeps them short
		folded bool
	}{
		{"short values fit by count", 0, false},
		{"long values fold by size", 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// 4 channel and skill pairs of 21 series each fit in 100 series.
			s := settings(func(s *Settings) { s.Histograms, s.AgentMetrics, s.MaxSeries = oneBound, false, 100 })
			long := func(v string) string { return v + strings.Repeat("x", max(0, tc.length-len(v))) }
			b := NewBatch(New(s), func(uint64) bool { return false }, 0)
			for i := range 4 {
				r := labeled(fmt.Sprint(i), long(fmt.Sprint("channel-", i)), long(fmt.Sprint("skill-", i)), "neutral", "agent")
				b.Add(&r)
			}
			tl := New(s)
			tl.Merge(b.Delta, time.Time{})
			if got := tl.Folded > 0; got != tc.folded {
				t.Fatalf("%v chats folded, want some: %v (%d series, %d bytes)", tl.Folded, tc.folded, tl.SeriesCount(), tl.Size())
			}
			if tl.SeriesCount() > s.MaxSeries {
				t.Errorf("%d series, over max_series %d: the count, not the size, bound", tl.SeriesCount(), s.MaxSeries)
			}
			// Past the bound only by the label sets with every label folded.
			bytes := tl.Size()
			for _, g := range Groups {
				for _, k := range tl.Keys(g) {
					if !slices.ContainsFunc(k[:len(g.Labels)], func(v string) bool { return v != OtherValue }) {
						_, size := tl.cost(g, k)
						bytes -= size
					}
				}
			}
			if limit := s.MaxSeries * BytesPerSeries; bytes > limit {
				t.Errorf("the series take %d bytes, over %d", bytes, limit)
			}
		})
	}
}
