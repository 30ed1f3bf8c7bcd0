package tally

import (
	"fmt"
	"testing"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// benchRecords are records as the decoder gives them: label values normalized,
// numbers parsed.
func benchRecords(n int) []wolkvox.Record {
	channels := []string{"whatsapp", "web", "facebook", "instagram"}
	feelings := []string{"very_negative", "negative", "neutral", "positive", "very_positive"}
	participants := []string{"agent", "chatbot", "customer"}
	num := func(v int) wolkvox.Number { return wolkvox.Number{Value: float64(v)} }
	out := make([]wolkvox.Record, n)
	for i := range out {
		out[i] = wolkvox.Record{
			ConnID: fmt.Sprintf("WV-%012d", i), Channel: channels[i%4], SkillID: fmt.Sprint(10 + i%7),
			AgentID: fmt.Sprint(1000 + i%12), AgentName: fmt.Sprintf("Agente %d", i%12),
			CodAct: "INFO", CodActDescription: "Information provided", Feeling: feelings[i%5],
			LastParticipant: participants[i%3], AnswerDelay: num(i % 300),
			Duration: num(i%60*60 + i%59), HandleTime: num(i % 1800),
			CustomerChars: num(i % 900), AgentChars: num(i % 1500), AgentAnswers: num(i % 30),
		}
	}
	return out
}

// BenchmarkBatchAdd is the per-record work after decoding: bound labels, dedupe and
// aggregate, for a 60,000-record answer.
func BenchmarkBatchAdd(b *testing.B) {
	cfg, err := config.Parse([]byte("operations:\n  - name: main\n    server: \"1\"\n    token: t\n    agent_metrics: true\n"), ".")
	if err != nil {
		b.Fatal(err)
	}
	s := SettingsOf(cfg.Operations[0], cfg.Histograms)
	records := benchRecords(wolkvox.RecordCap)
	b.ReportAllocs()
	for b.Loop() {
		batch := NewBatch(New(s), func(uint64) bool { return false }, 0)
		for i := range records {
			batch.Add(&records[i])
		}
		if len(batch.IDs) != len(records) {
			b.Fatalf("%d chats counted of %d", len(batch.IDs), len(records))
		}
	}
	b.ReportMetric(float64(len(records))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
