package collector_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// budgetConfig has one bound per histogram, so a channel and skill pair costs
// 4 histograms (the duration twice, timed out or not) x (1 bound + +Inf + _sum +
// _count) + 3 counters = 19 series, and a chat's first series in a new pair costs
// 19 + 1 (chats_total) + 1 (dispositions).
func budgetConfig(maxSeries int) string {
	return baseConfig + fmt.Sprintf("    max_series: %d\n", maxSeries) + `histograms:
  answer_delay: [20]
  duration: [60]
  handle_time: [60]
`
}

func labeled(id, channel, skill, feeling string, closed time.Time) simulator.Chat {
	c := chat(id, closed)
	c.Channel, c.SkillID, c.Feeling = channel, skill, feeling
	return c
}

// A chat whose label set would pass max_series is counted under the most detailed
// set that fits, with labels folded into "other"; the last fallback always fits.
func TestSeriesBudgetFolds(t *testing.T) {
	t0 := startTime
	at := func(i int) time.Time { return t0.Add(time.Duration(i-20) * time.Second) }
	chats := simulator.Chats{
		labeled("a", "WhatsApp", "12", "neutral", at(0)),  // new pair: 21 series, 21 in all
		labeled("b", "WhatsApp", "12", "positive", at(1)), // new chats_total series: 22
		labeled("c", "Web", "14", "neutral", at(2)),       // new pair: 43
		labeled("d", "WhatsApp", "12", "negative", at(3)), // 44, the budget
		// Past the budget: whatsapp/12 has no feeling-other series yet (1 more), and
		// whatsapp/other no pair (20 more): the chat goes to the all-other set, which
		// always fits (20 + 1 disposition past the budget).
		labeled("e", "WhatsApp", "12", "very negative", at(4)),
		labeled("f", "Facebook", "17", "neutral", at(5)), // all-other again: no new series
		labeled("g", "Web", "14", "neutral", at(6)),      // an existing set still counts as itself
	}
	h := newHarness(t, simulator.NewServer(chats, simulator.Options{}), budgetConfig(44), collector.WithNewSeriesHold(0))
	h.refresh()

	for _, want := range []struct {
		channel, skill, feeling string
		chats                   float64
	}{
		{"whatsapp", "12", "neutral", 1},
		{"whatsapp", "12", "positive", 1},
		{"whatsapp", "12", "negative", 1},
		{"web", "14", "neutral", 2},
		{"other", "other", "other", 2},
	} {
		if got := h.value("wolkvox_chats_total", map[string]string{"channel": want.channel, "skill": want.skill, "feeling": want.feeling}); got != want.chats {
			t.Errorf("chats %s/%s/%s = %v, want %v", want.channel, want.skill, want.feeling, got, want.chats)
		}
	}
	if got := h.sum("wolkvox_chats_total"); got != float64(len(chats)) {
		t.Errorf("%v chats counted, %d served: folding must not lose or add chats", got, len(chats))
	}
	if got := h.value("wolkvox_chat_records_folded_total", nil); got != 2 {
		t.Errorf("records folded %v, want 2 (e and f)", got)
	}
	// 44 within the budget, and the all-other fallback: a pair (19), its chats_total
	// series and its disposition.
	if got, want := h.value("wolkvox_chat_series", nil), float64(44+19+1+1); got != want {
		t.Errorf("chat series %v, want %v", got, want)
	}
	// What the scrape shows: a histogram with one bound is 4 series.
	exposed := 0
	families := h.families()
	for _, name := range []string{"wolkvox_chats_total", "wolkvox_chat_dispositions_total", "wolkvox_chat_customer_characters_total",
		"wolkvox_chat_agent_characters_total", "wolkvox_chat_agent_messages_total"} {
		exposed += len(families[name].GetMetric())
	}
	for _, name := range []string{"wolkvox_chat_answer_delay_seconds", "wolkvox_chat_duration_seconds", "wolkvox_chat_handle_time_seconds"} {
		exposed += 4 * len(families[name].GetMetric())
	}
	if exposed != int(h.value("wolkvox_chat_series", nil)) {
		t.Errorf("the scrape exposes %d chat series, wolkvox_chat_series says %v", exposed, h.value("wolkvox_chat_series", nil))
	}
	if got := h.value("wolkvox_chat_series_limit", nil); got != 44 {
		t.Errorf("series limit %v, want 44", got)
	}
}

// The fold of a label set depends only on the series that exist, which a restart
// keeps: counting across a restart ends as counting without one.
func TestSeriesBudgetSurvivesRestart(t *testing.T) {
	t0 := startTime
	var chats simulator.Chats
	for i := range 40 {
		closed := t0.Add(time.Duration(i-20) * 30 * time.Second) // every 30 s from t0-10m
		chats = append(chats, labeled(fmt.Sprintf("r%02d", i), []string{"WhatsApp", "Web", "Facebook"}[i%3], fmt.Sprint(10+i%7), []string{"neutral", "positive", "negative"}[i%5%3], closed))
	}
	run := func(restart bool) map[string]float64 {
		h := newHarness(t, simulator.NewServer(chats, simulator.Options{}), budgetConfig(120),
			collector.WithStorage(t.TempDir()), collector.WithNewSeriesHold(0))
		for step := range 3 {
			h.refresh()
			if restart && step == 1 {
				h.restart()
			}
			h.clock.Advance(5 * time.Minute)
		}
		return h.counters()
	}
	without, with := run(false), run(true)
	if fmt.Sprint(without) != fmt.Sprint(with) {
		t.Fatalf("counts differ across a restart:\nwithout %v\nwith    %v", without, with)
	}
	folded := 0.0
	for k, v := range with {
		if strings.HasPrefix(k, "wolkvox_chat_records_folded_total") {
			folded = v
		}
	}
	if folded == 0 {
		t.Fatal("nothing was folded: the budget was never reached, so the test proves nothing")
	}
}

// An upstream whose channel, skill and feeling take one of 150 values each: with
// the default settings the chat series stay within max_series and /metrics, in the
// text format and in OpenMetrics, under 2 MB, and every chat is counted. Long values
// (5,000 characters, cut to 100) make each series longer: the budget then folds
// sooner, by size.
func TestSeriesBudgetBoundsAHostileUpstream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length int // of each value, at least its short form such as channel-042
	}{
		{"short values", 0},
		{"long values", 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: a reproducible test input
			var chats simulator.Chats
			for i := range 2000 {
				pick := func(prefix string) string {
					v := fmt.Sprintf("%s-%03d", prefix, rng.IntN(150))
					return v + strings.Repeat("x", max(0, tc.length-len(v)))
				}
				chats = append(chats, labeled(fmt.Sprintf("h%04d", i), pick("channel"), pick("skill"), pick("feeling"),
					startTime.Add(-time.Duration(i%600)*time.Second)))
			}
			h := newHarness(t, simulator.NewServer(chats, simulator.Options{}), baseConfig)
			h.refresh()
			for format, accept := range map[string]string{"text": "", "OpenMetrics": openMetricsAccept} {
				body := h.scrapeAccepting(faultScrapeOffset, faultScrapeTimeout, accept)
				if len(body) >= 2_000_000 {
					t.Errorf("/metrics in %s is %d bytes, want under 2 MB", format, len(body))
				}
				t.Logf("/metrics in %s: %d bytes", format, len(body))
			}
			series, limit := h.value("wolkvox_chat_series", nil), h.value("wolkvox_chat_series_limit", nil)
			if limit != 10000 || series > limit+100 {
				t.Errorf("chat series %v, limit %v", series, limit)
			}
			if got := h.sum("wolkvox_chats_total"); got != 2000 {
				t.Errorf("%v chats counted, want 2000", got)
			}
			if got := h.value("wolkvox_chat_records_folded_total", nil); got == 0 {
				t.Error("no chat folded: the scenario did not reach the budget")
			}
			t.Logf("%v chat series, %v chats folded", series, h.value("wolkvox_chat_records_folded_total", nil))
		})
	}
}
