package tally

import (
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// Label values are made safe whatever a record holds; the API's spellings are
// normalized by the wolkvox package (TestForms).
func TestCleanValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Sale\tclosed \n ok", "Sale closed ok"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{strings.Repeat("é", 150), strings.Repeat("é", maxValueLen)},
		{"", "unknown"},
		{"  ", "unknown"},
		{"google business", "google business"},
	} {
		if got := cleanValue(tc.in); got != tc.want {
			t.Errorf("cleanValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLabelLimiter(t *testing.T) {
	base := newLimiter(2)
	staged := newLimiter(2)
	got := []string{
		staged.admit(base, "channel", "a"), staged.admit(base, "channel", "b"), staged.admit(base, "channel", "c"),
		staged.admit(base, "channel", "a"), staged.admit(base, "skill", "c"),
	}
	if strings.Join(got, ",") != "a,b,other,a,c" {
		t.Fatalf("admitted %v", got)
	}
	// Staged values count only once merged: a discarded batch frees its slots.
	if next := newLimiter(2).admit(base, "channel", "c"); next != "c" {
		t.Fatalf("an unmerged batch kept its values: got %q", next)
	}
	base.merge(staged)
	if next := newLimiter(2).admit(base, "channel", "c"); next != "other" {
		t.Fatalf("after the merge the limit is not enforced: got %q", next)
	}
}

// ConnKey is saved in state files, so it must stay FNV-1a 64 forever.
func TestConnKeyIsFNV1a(t *testing.T) {
	for _, id := range []string{"", "a", "WV-000000000001", "conn_ñ_\x00_id", strings.Repeat("x", 1000)} {
		h := fnv.New64a()
		h.Write([]byte(id))
		if got, want := ConnKey(id), h.Sum64(); got != want {
			t.Errorf("ConnKey(%q) = %x, want %x", id, got, want)
		}
	}
	if got := ConnKey("a"); got != 0xaf63dc4c8601ec8c {
		t.Errorf("ConnKey(\"a\") = %x, the published FNV-1a 64 value is af63dc4c8601ec8c", got)
	}
}

// The label values a chat counts under: cleaned, named by the skills map, and
// bounded by max_label_values, a disposition's code and description and an agent's
// id and name as one value each, so that they never split into a mismatched pair.
// A record's values are given by label, and checked in every group that has the
// label: a label added to a group is checked there with no change here.
func TestBatchLabels(t *testing.T) {
	type values map[*Label]string // a record's value of each label checked
	for _, tc := range []struct {
		name     string
		settings Settings
		records  []wolkvox.Record
		want     []values // per record
	}{
		{
			name:     "upstream text made a safe label; a skill named by the skills map",
			settings: settings(func(s *Settings) { s.Skills = map[string]string{"12": " Ventas  hogar "} }),
			records: []wolkvox.Record{
				rec("a", func(r *wolkvox.Record) { r.Channel, r.SkillID, r.Feeling = "  Web \t chat ", " 12 ", "" }),
				rec("b", func(r *wolkvox.Record) { r.SkillID, r.AgentName, r.CodActDescription = "99", "", "bad \xff" }),
			},
			want: []values{
				{Channel: "Web chat", Skill: "Ventas hogar", Feeling: "unknown", LastParticipant: "agent",
					Code: "SALE", Description: "Sale closed", AgentID: "7", AgentName: "Luis"},
				{Channel: "whatsapp", Skill: "99", Feeling: "neutral", LastParticipant: "agent",
					Code: "SALE", Description: "bad \uFFFD", AgentID: "7", AgentName: "unknown"},
			},
		},
		{
			name:     "values past max_label_values become other, each label on its own",
			settings: settings(func(s *Settings) { s.MaxLabelValues = 2 }),
			records: []wolkvox.Record{
				rec("a", func(r *wolkvox.Record) { r.Channel, r.Feeling = "web", "positive" }),
				rec("b", func(r *wolkvox.Record) { r.Channel, r.Feeling = "whatsapp", "negative" }),
				rec("c", func(r *wolkvox.Record) { r.Channel, r.Feeling = "facebook", "neutral" }),
				rec("d", func(r *wolkvox.Record) { r.Channel, r.Feeling = "web", "negative" }),
			},
			want: []values{
				{Channel: "web", Skill: "12", Feeling: "positive"},
				{Channel: "whatsapp", Skill: "12", Feeling: "negative"},
				{Channel: "other", Skill: "12", Feeling: "other"},
				{Channel: "web", Skill: "12", Feeling: "negative"},
			},
		},
		{
			name:     "a disposition's code and description are bounded as one value",
			settings: settings(func(s *Settings) { s.MaxLabelValues = 2 }),
			records: []wolkvox.Record{
				rec("a", func(r *wolkvox.Record) { r.CodAct, r.CodActDescription = "SALE", "Sale closed" }),
				rec("b", func(r *wolkvox.Record) { r.CodAct, r.CodActDescription = "SALE", "Venta cerrada" }),
				rec("c", func(r *wolkvox.Record) { r.CodAct, r.CodActDescription = "INFO", "Sale closed" }),
				rec("d", func(r *wolkvox.Record) { r.CodAct, r.CodActDescription = "SALE", "Venta cerrada" }),
			},
			want: []values{
				{Code: "SALE", Description: "Sale closed"},
				{Code: "SALE", Description: "Venta cerrada"},
				{Code: "other", Description: "other"},
				{Code: "SALE", Description: "Venta cerrada"},
			},
		},
		{
			name:     "an agent's id and name are bounded as one value",
			settings: settings(func(s *Settings) { s.MaxLabelValues = 1 }),
			records: []wolkvox.Record{
				rec("a", func(r *wolkvox.Record) { r.AgentID, r.AgentName = "7", "Luis" }),
				rec("b", func(r *wolkvox.Record) { r.AgentID, r.AgentName = "7", "Luis Gómez" }),
			},
			want: []values{{AgentID: "7", AgentName: "Luis"}, {AgentID: "other", AgentName: "other"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBatch(New(tc.settings), func(uint64) bool { return false }, 0)
			for i := range tc.records {
				c, ok := b.Count(&tc.records[i])
				if !ok {
					t.Fatalf("record %d not counted", i)
				}
				checked := map[*Label]bool{}
				for _, g := range Groups {
					k, in := c.Key(g)
					if !in {
						t.Fatalf("record %d is not counted in %s", i, g.Name)
					}
					for _, l := range g.Labels {
						want, ok := tc.want[i][l]
						if !ok {
							continue
						}
						checked[l] = true
						if got := g.Value(k, l); got != want {
							t.Errorf("record %d counts in %s under %s=%q, want %q", i, g.Name, l.Name, got, want)
						}
					}
				}
				if len(checked) != len(tc.want[i]) {
					t.Errorf("record %d: a label of the test is in no group", i)
				}
			}
		})
	}
}

// Without agent_metrics a chat counts in no agent group, and in every other.
func TestAgentGroupsOnlyWithAgentMetrics(t *testing.T) {
	for _, on := range []bool{false, true} {
		b := NewBatch(New(settings(func(s *Settings) { s.AgentMetrics = on })), func(uint64) bool { return false }, 0)
		r := rec("a")
		c, ok := b.Count(&r)
		if !ok {
			t.Fatal("not counted")
		}
		for _, g := range Groups {
			if _, in := c.Key(g); in != (on || !g.agent) {
				t.Errorf("agent_metrics %v: counted in %s %v", on, g.Name, in)
			}
		}
	}
}

// Values a merged batch admitted count against the label limit of the next batch;
// those of a batch never merged (its answer failed) do not.
func TestLabelLimitAcrossBatches(t *testing.T) {
	s := settings(func(s *Settings) { s.MaxLabelValues = 2 })
	base := New(s)
	channel := func(b *Batch, id, ch string) string {
		r := rec(id, func(r *wolkvox.Record) { r.Channel = ch })
		c, ok := b.Count(&r)
		if !ok {
			t.Fatalf("%s not counted", id)
		}
		k, _ := c.Key(ByChat)
		return ByChat.Value(k, Channel)
	}
	never := func(uint64) bool { return false }
	discarded := NewBatch(base, never, 0)
	channel(discarded, "a", "web")
	channel(discarded, "b", "whatsapp")
	merged := NewBatch(base, never, 0)
	if got := channel(merged, "c", "facebook"); got != "facebook" {
		t.Fatalf("a batch never merged held a label slot: facebook counted as %q", got)
	}
	channel(merged, "d", "instagram")
	base.Merge(merged.Delta, time.Time{})
	next := NewBatch(base, never, 0)
	if got := channel(next, "e", "web"); got != OtherValue {
		t.Errorf("web counted as %q past the limit, want %q", got, OtherValue)
	}
	if got := channel(next, "f", "instagram"); got != "instagram" {
		t.Errorf("a value admitted before counted as %q", got)
	}
}
