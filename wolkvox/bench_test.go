package wolkvox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// capAnswer is a full 60,000-record answer from the simulator, rendered once.
func capAnswer(b *testing.B) []byte {
	b.Helper()
	var chats simulator.Chats
	closed := windowFrom
	for i := range wolkvox.RecordCap {
		closed = closed.Add(time.Millisecond)
		chats = append(chats, simulator.Chat{
			ConnID: fmt.Sprintf("conn-%06d", i), Channel: "WhatsApp", SkillID: "12", AgentID: "7", AgentName: "Luis",
			CustomerName: "Ana Pérez", CustomerEmail: "ana@example.com", CustomerPhone: "+57 300 000 0000",
			Opened: closed.Add(-time.Hour), Closed: closed, AnswerDelay: 20 * time.Second, Duration: 9 * time.Minute,
			HandleTime: 8 * time.Minute, CustomerChars: 120, AgentChars: 300, AgentAnswers: 5,
			CodAct: "SALE", CodActDescription: "Sale closed", Feeling: "neutral", LastParticipant: "agent",
			Comments: "a comment of some length, as agents write them",
		})
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/api/v2/reports_manager.php?api=chat_1&date_ini="+
		windowFrom.Format(wolkvox.DateLayout)+"&date_end="+windowTo.Format(wolkvox.DateLayout), nil)
	req.Header.Set("wolkvox-token", testToken)
	simulator.NewServer(chats, simulator.Options{Location: bogota}).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("simulator answered %d", rec.Code)
	}
	return rec.Body.Bytes()
}

// heapSampler tracks the largest live heap (as of the latest GC) seen while a
// benchmark runs; the answer body the benchmark itself holds is part of it.
type heapSampler struct {
	sample []metrics.Sample
	peak   uint64
}

func newHeapSampler() *heapSampler {
	runtime.GC()
	return &heapSampler{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
}

func (h *heapSampler) read() {
	metrics.Read(h.sample)
	h.peak = max(h.peak, h.sample[0].Value.Uint64())
}

// BenchmarkDecodeCapAnswer decodes the largest answer the API sends, record by record.
// Compare its heap-peak-MiB with BenchmarkDecodeCapAnswerWholeBody, the baseline that
// reads the body first: streaming keeps the peak flat whatever the answer's size.
func BenchmarkDecodeCapAnswer(b *testing.B) {
	body := capAnswer(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	c := newClient(b, srv.URL, func(o *wolkvox.Options) { o.MaxResponseSize = 1 << 30 })
	hs := newHeapSampler()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		ans, err := c.Chats(context.Background(), windowFrom, windowTo, func(*wolkvox.Record) {
			if n++; n%5000 == 0 {
				hs.read()
			}
		})
		if err != nil || ans.Records != wolkvox.RecordCap {
			b.Fatalf("%v records, err %v", ans.Records, err)
		}
	}
	b.ReportMetric(float64(hs.peak)/(1<<20), "heap-peak-MiB")
}

// BenchmarkDecodeCapAnswerWholeBody is the baseline: read the whole body, then decode it.
func BenchmarkDecodeCapAnswerWholeBody(b *testing.B) {
	body := capAnswer(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	hs := newHeapSampler()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, srv.URL, nil)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		var answer struct {
			Data []map[string]any `json:"data"`
		}
		if err := json.Unmarshal(raw, &answer); err != nil || len(answer.Data) != wolkvox.RecordCap {
			b.Fatalf("%d records, err %v", len(answer.Data), err)
		}
		hs.read()
	}
	b.ReportMetric(float64(hs.peak)/(1<<20), "heap-peak-MiB")
}
