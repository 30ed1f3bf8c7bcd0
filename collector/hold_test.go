package collector_test

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wolkvox-exporter/wolkvox_exporter/collector"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

// A label combination first seen after the first answer shows 0 for the hold, so
// Prometheus' rate() has a zero to start from; series it already knows show every
// count at once.
func TestNewSeriesHold(t *testing.T) {
	t0 := startTime
	first := chat("h1", t0.Add(-time.Minute))
	again := chat("h2", t0.Add(4*time.Minute)) // same labels as h1
	fresh := chat("h3", t0.Add(4*time.Minute))
	fresh.Channel = "Instagram"
	h := newHarness(t, simulator.NewServer(simulator.Chats{first, again, fresh}, simulator.Options{}), baseConfig)
	instagram := map[string]string{"channel": "instagram"}
	whatsapp := map[string]string{"channel": "whatsapp"}

	h.refresh()
	if got := h.value("wolkvox_chats_total", whatsapp); got != 1 {
		t.Fatalf("the first answer's series shows %v, want 1 at once", got)
	}
	h.clock.Advance(5 * time.Minute)
	h.refresh()
	steps := []struct {
		at                  time.Duration
		whatsapp, instagram float64
		instagramDelays     float64
	}{
		{0, 2, 0, 0},
		{collector.DefaultNewSeriesHold - time.Second, 2, 0, 0},
		{collector.DefaultNewSeriesHold, 2, 1, 1},
	}
	born := h.clock.Now()
	for _, s := range steps {
		h.clock.Advance(born.Add(s.at).Sub(h.clock.Now()))
		got := [3]float64{h.value("wolkvox_chats_total", whatsapp), h.value("wolkvox_chats_total", instagram),
			h.value("wolkvox_chat_answer_delay_seconds", instagram)}
		if want := [3]float64{s.whatsapp, s.instagram, s.instagramDelays}; got != want {
			t.Fatalf("%v after birth: whatsapp, instagram, instagram delays = %v, want %v", s.at, got, want)
		}
		// What the landing page says: the chats /metrics shows, and those held.
		shown, held := h.coll.Chats(h.coll.Statuses()[0])
		if want := [2]float64{s.whatsapp + s.instagram, 3 - s.whatsapp - s.instagram}; [2]float64{shown, held} != want {
			t.Errorf("%v after birth: Chats says %v shown and %v held, want %v", s.at, shown, held, want)
		}
	}
}

// A series born after the first answer carries its birth as its created timestamp,
// so that a Prometheus that ingests them starts it from 0 there; the first answer's
// series, shown at once, carry none.
func TestCreatedTimestamps(t *testing.T) {
	t0 := startTime
	first := chat("c1", t0.Add(-time.Minute))
	fresh := chat("c2", t0.Add(4*time.Minute))
	fresh.Channel = "Instagram"
	h := newHarness(t, simulator.NewServer(simulator.Chats{first, fresh}, simulator.Options{}), baseConfig)
	h.refresh()
	h.clock.Advance(5 * time.Minute)
	born := h.clock.Now()
	h.refresh()
	for name, mf := range h.families() {
		switch name {
		case "wolkvox_chats_total", "wolkvox_chat_answer_delay_seconds", "wolkvox_chat_dispositions_total", "wolkvox_chat_agent_messages_total":
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			ct := m.GetCounter().GetCreatedTimestamp()
			if m.Histogram != nil {
				ct = m.GetHistogram().GetCreatedTimestamp()
			}
			switch channel := labelOf(m, "channel"); {
			case channel == "whatsapp" && ct != nil:
				t.Errorf("%s{channel=whatsapp}, of the first answer, has created timestamp %v", name, ct.AsTime())
			case channel == "instagram" && (ct == nil || !ct.AsTime().Equal(born)):
				t.Errorf("%s{channel=instagram} has created timestamp %v, want its birth %v", name, ct, born)
			}
		}
	}
}

func labelOf(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}
