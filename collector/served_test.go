package collector_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// expectedLabels restates the documented label rules independently of the collector.
func expectedLabels(c simulator.Chat, skills map[string]string) (channel, skill, feeling, participant string) {
	channel = strings.ToLower(c.Channel)
	skill = c.SkillID
	if name, ok := skills[skill]; ok {
		skill = name
	}
	feeling = strings.ReplaceAll(c.Feeling, " ", "_")
	participant = strings.ReplaceAll(c.LastParticipant, "-", "")
	return channel, skill, feeling, participant
}

// Over an hour of realistic traffic and overlapping windows, every label
// combination counts exactly the distinct chats the upstream served with it.
func TestCountsEqualServed(t *testing.T) {
	sim := simulator.NewServer(simulator.NewTraffic(42, 300), simulator.Options{})
	skills := map[string]string{"12": "sales", "14": "support"}
	h := newHarness(t, sim, baseConfig+"    skills: {\"12\": sales, \"14\": support}\n")
	for range 12 {
		h.refresh()
		h.clock.Advance(5 * time.Minute)
	}
	type key struct{ channel, skill, feeling, participant string }
	type scopeKey struct{ channel, skill string }
	wantChats := map[key]float64{}
	wantDelaySum := map[scopeKey]float64{}
	wantTimeouts := 0.0
	seen := map[string]bool{}
	for _, c := range sim.Served() {
		if seen[c.ConnID] {
			continue
		}
		seen[c.ConnID] = true
		ch, sk, fe, pa := expectedLabels(c, skills)
		wantChats[key{ch, sk, fe, pa}]++
		wantDelaySum[scopeKey{ch, sk}] += c.AnswerDelay.Seconds()
		if c.CodAct == "TIMEOUTCHAT" {
			wantTimeouts++
		}
	}
	if len(seen) < 200 || len(sim.Served()) <= len(seen) {
		t.Fatalf("served %d records for %d chats: want a busy hour with overlapping windows", len(sim.Served()), len(seen))
	}
	if got := h.sum("wolkvox_chats_total"); got != float64(len(seen)) {
		t.Fatalf("counted %v chats, served %d distinct", got, len(seen))
	}
	for k, want := range wantChats {
		got := h.value("wolkvox_chats_total", map[string]string{
			"channel": k.channel, "skill": k.skill, "feeling": k.feeling, "last_participant": k.participant,
		})
		if got != want {
			t.Errorf("chats%+v = %v, served %v", k, got, want)
		}
	}
	mf := h.families()["wolkvox_chat_answer_delay_seconds"]
	for _, m := range mf.GetMetric() {
		var sk scopeKey
		for _, lp := range m.GetLabel() {
			switch lp.GetName() {
			case "channel":
				sk.channel = lp.GetValue()
			case "skill":
				sk.skill = lp.GetValue()
			}
		}
		if got, want := m.GetHistogram().GetSampleSum(), wantDelaySum[sk]; fmt.Sprintf("%.3f", got) != fmt.Sprintf("%.3f", want) {
			t.Errorf("answer delay sum %+v = %v, served %v", sk, got, want)
		}
	}
	if got := h.value("wolkvox_chat_dispositions_total", map[string]string{"code": "TIMEOUTCHAT"}); wantTimeouts == 0 || got > wantTimeouts {
		t.Errorf("TIMEOUTCHAT in one series %v, served %v in all", got, wantTimeouts)
	}
	if got := h.sum("wolkvox_records_skipped_total"); got != 0 {
		t.Errorf("%v records skipped from well-formed traffic", got)
	}
}

// A reload keeps counters and dedupe memory when labels stay the same, restarts
// counters when they change, and never counts a chat twice.
func TestReload(t *testing.T) {
	t0 := startTime
	var chats simulator.Chats
	for i := range 20 {
		chats = append(chats, chat(fmt.Sprintf("r%02d", i), t0.Add(time.Duration(i-5)*time.Minute)))
	}
	h := newHarness(t, simulator.NewServer(chats, simulator.Options{}), baseConfig)
	h.refresh() // t0: r00..r05
	if got := h.sum("wolkvox_chats_total"); got != 6 {
		t.Fatalf("%v chats, want 6", got)
	}

	// Only timing changes: counters and memory stay.
	if err := h.reload(strings.Replace(baseConfig, "min_interval: 5m", "min_interval: 10m", 1)); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(5 * time.Minute)
	h.refresh() // t0+5m: r06..r10 are new
	if got := h.sum("wolkvox_chats_total"); got != 11 {
		t.Fatalf("after a timing-only reload: %v chats, want 11", got)
	}
	if got := h.value("wolkvox_query_min_interval_seconds", nil); got != 600 {
		t.Fatalf("min_interval gauge %v after reload", got)
	}

	// Skill names change the series: counters restart, chats already counted stay counted.
	if err := h.reload(baseConfig + "    skills: {\"12\": sales}\n"); err != nil {
		t.Fatal(err)
	}
	if got := h.sum("wolkvox_chats_total"); got != 0 {
		t.Fatalf("after relabeling: %v chats, want a fresh start", got)
	}
	h.clock.Advance(10 * time.Minute)
	h.refresh() // t0+15m, window t0-5m..t0+15m: r11..r19 (t0+6m..t0+14m) are new
	if got := h.value("wolkvox_chats_total", map[string]string{"skill": "sales"}); got != 0 {
		t.Fatalf("a series born after relabeling shows %v before its hold ends", got)
	}
	h.clock.Advance(collector.DefaultNewSeriesHold)
	if got := h.value("wolkvox_chats_total", map[string]string{"skill": "sales"}); got != 9 {
		t.Fatalf("after relabeling: %v chats under the new name, want the 9 new ones", got)
	}

	// A bad file keeps the last good configuration in force.
	if err := h.reload("operations: [}"); err == nil {
		t.Fatal("a bad config was accepted")
	}
	if got := h.value("wolkvox_exporter_config_last_reload_successful", nil); got != 0 {
		t.Fatalf("reload gauge %v after a failed reload", got)
	}
	if got := h.value("wolkvox_chats_total", map[string]string{"skill": "sales"}); got != 9 {
		t.Fatalf("a failed reload changed the counters: %v", got)
	}

	// A rotated token reads the same chats: counts and dedupe memory stay.
	if err := h.reload(strings.Replace(baseConfig+"    skills: {\"12\": sales}\n", testToken, testToken+"-rotated", 1)); err != nil {
		t.Fatal(err)
	}
	if got := h.value("wolkvox_exporter_config_last_reload_successful", nil); got != 1 {
		t.Fatalf("reload gauge %v after a good reload", got)
	}
	if got := h.value("wolkvox_tracked_chats", nil); got != 14 {
		t.Fatalf("tracked_chats %v after a token change, want the 14 still in the overlap", got)
	}
	if got := h.value("wolkvox_chats_total", map[string]string{"skill": "sales"}); got != 9 {
		t.Fatalf("a token change changed the counters: %v", got)
	}
}

// A reload is whole or nothing: when an operation's client cannot be made, no
// operation changes, not even those before it in the file.
func TestReloadIsWhole(t *testing.T) {
	h := newHarness(t, simulator.NewServer(simulator.Chats{chat("a", startTime.Add(-time.Minute))}, simulator.Options{}), baseConfig)
	h.refresh()
	cfg, err := config.Parse(fmt.Appendf(nil, baseConfig+"    skills: {\"12\": sales}\n"+`  - name: second
    server: "0011"
    token: other-token
`, h.url), ".")
	if err != nil {
		t.Fatal(err)
	}
	// The file's checks cannot fail this way; a configuration built in code can.
	cfg.Operations[1].BaseURL = "no-host"
	if err := h.coll.Apply(cfg); err == nil || !strings.Contains(err.Error(), `operation "second"`) {
		t.Fatalf("err %v, want the second operation's client refused", err)
	}
	if got := h.value("wolkvox_chats_total", map[string]string{"skill": "12"}); got != 1 {
		t.Errorf("the first operation took the new skill names of a reload that failed: %v chats under skill 12, want 1", got)
	}
	if got := len(h.coll.Config().Operations); got != 1 {
		t.Errorf("%d operations in force after a failed reload, want the 1 before", got)
	}
}
