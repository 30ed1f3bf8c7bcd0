package tally

import (
	"encoding/json"
	"math"
	"reflect"
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
	back, err := Restore(s, saved)
	if err != nil {
		t.Fatal(err)
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
