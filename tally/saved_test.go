package tally

import (
	"cmp"
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// A Tally saved, written as JSON and read back is the same Tally, whatever its label
// values hold: quotes, backslashes, control characters, other scripts.
func TestSavedRoundTrip(t *testing.T) {
	cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: \"1\"\n    token: t\n    agent_metrics: true\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	s := SettingsOf(cfg.Operations[0], cfg.Histograms)
	orig := New(s)
	batch := NewBatch(orig, func(uint64) bool { return false }, 0)
	for i, v := range []string{`say "hi"`, `back\slash`, "tab\there", "ñandú 日本", "bell\x07", "nul\x00x"} {
		batch.Add(&wolkvox.Record{ConnID: v, Channel: v, SkillID: "12", Feeling: "neutral", LastParticipant: "agent",
			AgentID: v, AgentName: v, CodAct: v, CodActDescription: v,
			AnswerDelay: wolkvox.Number{Value: float64(i * 7)}, Duration: wolkvox.Number{Err: wolkvox.ErrEmpty},
			HandleTime: wolkvox.Number{Value: 1e21 + float64(i)}, AgentAnswers: wolkvox.Number{Value: 0.5}})
	}
	orig.Merge(batch.Delta, time.Unix(1795150800, 0))
	data, err := json.Marshal(orig.Save())
	if err != nil {
		t.Fatal(err)
	}
	var saved Saved
	if err := json.Unmarshal(data, &saved); err != nil {
		t.Fatalf("the saved form is not JSON: %v\n%s", err, data)
	}
	back, restarted, err := Restore(s, saved)
	if err != nil || len(restarted) > 0 {
		t.Fatal(err, restarted)
	}
	if back.SeriesCount() != orig.SeriesCount() || back.Size() != orig.Size() {
		t.Errorf("restored %d series of %d bytes, saved %d of %d", back.SeriesCount(), back.Size(), orig.SeriesCount(), orig.Size())
	}
	for _, g := range Groups {
		if len(orig.series[g.index]) == 0 {
			t.Fatalf("nothing counted in %s: the test proves nothing there", g.Name)
		}
		if !reflect.DeepEqual(orig.series[g.index], back.series[g.index]) {
			t.Errorf("%s differ after the round trip:\nsaved    %v\nrestored %v", g.Name, orig.series[g.index], back.series[g.index])
		}
	}
	if !reflect.DeepEqual(orig.limiter.known, back.limiter.known) || !reflect.DeepEqual(orig.Skipped, back.Skipped) {
		t.Error("label values or skip counts differ after the round trip")
	}
	if math.IsNaN(back.Folded) {
		t.Error("folded is NaN")
	}
}

// Every family's values, the births, the label values admitted, the skip counts and
// the folds survive a save and a restore, as the state file keeps them.
func TestSaveRestoreEveryFamily(t *testing.T) {
	s := settings()
	orig := New(s)
	count := func(born time.Time, records ...wolkvox.Record) {
		b := NewBatch(orig, func(uint64) bool { return false }, 0)
		for i := range records {
			b.Add(&records[i])
		}
		orig.Merge(b.Delta, born)
	}
	timedOut := func(r *wolkvox.Record) {
		r.CodAct, r.CodActDescription, r.Duration = "TIMEOUTCHAT", "Closed by timeout", num(83400)
	}
	count(time.Time{}, rec("a"), rec("b", timedOut), rec(""), rec("c", func(r *wolkvox.Record) { r.HandleTime = wire("x") }))
	count(time.Unix(1795150800, 0), rec("d", func(r *wolkvox.Record) { r.Channel, r.AgentID, r.AgentName = "web", "8", "Ana" }))
	orig.settings.MaxSeries = orig.SeriesCount() // the next new label set folds
	count(time.Unix(1795151100, 0), rec("e", func(r *wolkvox.Record) { r.Channel = "facebook" }))
	orig.settings.MaxSeries = s.MaxSeries

	// Each family's values are there to be saved, and each state of the rest.
	values := observed(orig)
	for _, f := range Families {
		for _, v := range f.SplitValues() {
			name := f.Name
			if v != "" {
				name += "{" + f.Split.Label + "=" + v + "}"
			}
			if values[name] == 0 {
				t.Fatalf("nothing counted in %s: the test proves nothing there", name)
			}
		}
	}
	if orig.Folded == 0 || len(orig.Skipped) < 2 {
		t.Fatalf("folded %v, skipped %v: the test proves nothing there", orig.Folded, orig.Skipped)
	}

	back, restarted, err := Restore(s, roundTrip(t, orig.Save()))
	if err != nil || len(restarted) > 0 {
		t.Fatal(err, restarted)
	}
	for _, g := range Groups {
		if !reflect.DeepEqual(back.series[g.index], orig.series[g.index]) {
			t.Errorf("%s differ after the round trip:\nsaved    %v\nrestored %v", g.Name, orig.series[g.index], back.series[g.index])
		}
	}
	var births []time.Time
	for _, k := range back.Keys(ByChat) {
		births = append(births, back.Lookup(ByChat, k).Born)
	}
	if !slices.ContainsFunc(births, time.Time.IsZero) || !slices.ContainsFunc(births, func(b time.Time) bool { return b.Equal(time.Unix(1795151100, 0)) }) {
		t.Errorf("births %v, want zero and those of the merges", births)
	}
	if !reflect.DeepEqual(back.limiter.known, orig.limiter.known) {
		t.Errorf("label values %v, saved %v", back.limiter.known, orig.limiter.known)
	}
	if !maps.Equal(back.Skipped, orig.Skipped) || back.Folded != orig.Folded {
		t.Errorf("skipped %v and folded %v, saved %v and %v", back.Skipped, back.Folded, orig.Skipped, orig.Folded)
	}
	if back.SeriesCount() != orig.SeriesCount() || back.Size() != orig.Size() {
		t.Errorf("restored %d series of %d bytes, saved %d of %d", back.SeriesCount(), back.Size(), orig.SeriesCount(), orig.Size())
	}
}

// readSaved reads a saved Tally from testdata.
func readSaved(t *testing.T, name string) Saved {
	t.Helper()
	var saved Saved
	if err := json.Unmarshal(mustRead(t, name), &saved); err != nil {
		t.Fatal(err)
	}
	return saved
}

// A saved Tally written by this version is read with the names it was written
// under: of groups, labels and each family's values.
func TestRestoreSavedFile(t *testing.T) {
	tl, restarted, err := Restore(settings(func(s *Settings) { s.Histograms = oneBound }), readSaved(t, "saved.json"))
	if err != nil || len(restarted) > 0 {
		t.Fatal(err, restarted)
	}
	want := map[string]float64{
		"wolkvox_chats_total": 1, "wolkvox_chat_answer_delay_seconds": 1, "wolkvox_chat_duration_seconds{timed_out=true}": 1,
		"wolkvox_chat_handle_time_seconds": 1, "wolkvox_chat_customer_characters_total": 100, "wolkvox_chat_agent_characters_total": 200,
		"wolkvox_chat_agent_messages_total": 4, "wolkvox_chat_dispositions_total": 1, "wolkvox_agent_chats_total": 1,
		"wolkvox_agent_handle_time_seconds_total": 480,
	}
	if got := observed(tl); !maps.Equal(got, want) {
		t.Errorf("restored\n%v\nwant\n%v", got, want)
	}
	k := Key{"whatsapp", "12"}
	duration := Families[slices.IndexFunc(Families, func(f *Family) bool { return f.Name == "wolkvox_chat_duration_seconds" })]
	if s := tl.Lookup(ByScope, k); s == nil || !s.Born.Equal(time.Unix(1795446300, 0)) ||
		duration.Cell(s, 1).Sum != 83400 || !slices.Equal(duration.Cell(s, 1).Buckets, []uint64{0, 1}) {
		t.Errorf("the scope %v restored as %+v", k, s)
	}
	if tl.Skipped[ReasonConnIDEmpty] != 1 || tl.Folded != 3 {
		t.Errorf("skipped %v, folded %v", tl.Skipped, tl.Folded)
	}
	if _, ok := tl.limiter.known["disposition"]["TIMEOUTCHAT\x00Closed by timeout"]; !ok {
		t.Errorf("label values %v", tl.limiter.known)
	}
}

// Series saved with other labels than their group has now (a label added to the
// group, or taken from it, since) cannot go on under the new labels: that group's
// counts restart, and the other groups' go on.
func TestRestoreRestartsAGroupSavedUnderOtherLabels(t *testing.T) {
	s := settings(func(s *Settings) { s.Histograms = oneBound })
	all, _, err := Restore(s, readSaved(t, "saved.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file string
		edit func(saved map[string]any)
	}{
		{name: "a label the group now has is missing", file: "saved-without-last-participant.json"},
		{name: "a label the group does not have", edit: func(m map[string]any) { set(m, "chats", "queue", "vip") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl, restarted, err := Restore(s, edited(t, cmp.Or(tc.file, "saved.json"), tc.edit))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(restarted, []*Group{ByChat}) {
				t.Fatalf("restarted %v, want the chats group", restarted)
			}
			got, want := observed(tl), observed(all)
			if got[ChatsFamily.Name] != 0 {
				t.Errorf("%v chats restored under labels the group no longer has", got[ChatsFamily.Name])
			}
			delete(want, ChatsFamily.Name)
			delete(got, ChatsFamily.Name)
			if !maps.Equal(got, want) {
				t.Errorf("the other groups restored\n%v\nwant\n%v", got, want)
			}
			if tl.SeriesCount() != all.SeriesCount()-len(all.series[ByChat.index]) {
				t.Errorf("%d series counted, want %d less the chats group's %d", tl.SeriesCount(), all.SeriesCount(), len(all.series[ByChat.index]))
			}
		})
	}
}

// edited is the saved Tally of testdata file name, edited as saved JSON.
func edited(t *testing.T, name string, edit func(map[string]any)) Saved {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustRead(t, name), &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var saved Saved
	if err := json.Unmarshal(data, &saved); err != nil {
		t.Fatal(err)
	}
	return saved
}

// Saved values no Tally could hold are an error.
func TestRestoreRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings Settings
		edit     func(saved map[string]any)
		mentions string // in the error
	}{
		{name: "agents without agent_metrics", settings: settings(func(s *Settings) { s.Histograms, s.AgentMetrics = oneBound, false }),
			mentions: `"agents"`},
		{name: "a group that does not exist", mentions: `"queues"`,
			edit: func(m map[string]any) { m["series"].(map[string]any)["queues"] = []any{} }},
		{name: "a negative counter", mentions: "customer_characters", edit: func(m map[string]any) { set(m, "scopes", "customer_characters", -1) }},
		{name: "buckets that are not the settings'", mentions: "buckets",
			edit: func(m map[string]any) {
				set(m, "scopes", "duration", map[string]any{"counts": []int{1, 0, 0}, "sum": 3})
			}},
		{name: "a negative skip count", mentions: "skipped", edit: func(m map[string]any) { m["skipped"] = map[string]any{"conn_id_empty": -1} }},
		{name: "a negative fold count", mentions: "folded", edit: func(m map[string]any) { m["folded"] = -1 }},
		{name: "a label value that is not text", mentions: "channel", edit: func(m map[string]any) { set(m, "chats", "channel", 7) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.settings
			if s.Operation == "" {
				s = settings(func(s *Settings) { s.Histograms = oneBound })
			}
			_, _, err := Restore(s, edited(t, "saved.json", tc.edit))
			if err == nil {
				t.Fatal("restored")
			}
			if !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("error %q: want it mentioning %s", err, tc.mentions)
			}
		})
	}
}

// set sets key of the first label set of group in a saved Tally read as JSON.
func set(m map[string]any, group, key string, v any) {
	m["series"].(map[string]any)[group].([]any)[0].(map[string]any)[key] = v
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
