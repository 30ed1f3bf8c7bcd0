package poller

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/tally"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// The dedupe memory of 100,000 tracked chats stays under 16 MiB, counted as the
// live heap it adds, and a state's copy (made once per API call) costs the same.
func TestDedupeMemory(t *testing.T) {
	const chats = 100_000
	const bound = 16 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	seen := make(map[uint64]int64)
	for i := range chats {
		seen[tally.ConnKey(fmt.Sprintf("CHAT-%010d-%d", i, i*7919))] = int64(i / 1000)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	t.Logf("%d tracked chats: %.1f MiB, %.0f bytes each", len(seen), grown/(1<<20), grown/chats)
	if len(seen) != chats {
		t.Fatalf("%d distinct keys, want %d", len(seen), chats)
	}
	if grown > bound {
		t.Fatalf("dedupe memory for %d chats is %.0f bytes, over %d", chats, grown, bound)
	}
	runtime.KeepAlive(seen)
}

// BenchmarkStateSave is the save after each API call: a state with 5,000 chat
// series and 100,000 tracked chats, encoded and written atomically.
func BenchmarkStateSave(b *testing.B) {
	cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: \"0010\"\n    token: t\n    max_label_values: 1000\n    max_series: 1000000\n"), ".")
	if err != nil {
		b.Fatal(err)
	}
	s := &Settings{Config: cfg.Operations[0], Tally: tally.SettingsOf(cfg.Operations[0], cfg.Histograms)}
	st := newState(s)
	channels := []string{"whatsapp", "web", "facebook", "instagram"}
	feelings := []string{"very_negative", "negative", "neutral", "positive", "very_positive"}
	participants := []string{"agent", "customer", "chatbot"}
	batch := tally.NewBatch(st.tally, st.seenBefore, 0)
	// 4 channels x 5 feelings x 3 participants = 60 chat series per skill.
	for i := range 5000 {
		batch.Add(&wolkvox.Record{ConnID: fmt.Sprint("bench-", i), Channel: channels[i%4], SkillID: fmt.Sprint("skill-", i/60),
			Feeling: feelings[(i/4)%5], LastParticipant: participants[(i/20)%3], CodAct: "INFO", CodActDescription: "Information provided",
			AnswerDelay: wolkvox.Number{Value: float64(i % 300)}, Duration: wolkvox.Number{Value: float64(i % 3000)}})
	}
	st.tally.Merge(batch.Delta, time.Time{})
	for i := range 100_000 {
		st.seen[tally.ConnKey(fmt.Sprint("chat-", i))] = int64(i / 1000)
	}
	store := &Store{dir: b.TempDir()}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if err := store.save(s, st, now); err != nil {
			b.Fatal(err)
		}
	}
	if fi, err := os.Stat(store.path("main")); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "MiB/file")
	}
}
