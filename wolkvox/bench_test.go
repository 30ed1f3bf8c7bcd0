package wolkvox_test

import (
	"bytes"
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

// benchSizes are the answer sizes of the decode benchmarks, up to the API's cap.
var benchSizes = []int{1000, 10000, wolkvox.RecordCap}

// generated holds the answers made by generatedAnswer, made once each.
var generated = map[simulator.AnswerOptions][]byte{}

func generatedAnswer(b *testing.B, o simulator.AnswerOptions) []byte {
	b.Helper()
	if body, ok := generated[o]; ok {
		return body
	}
	var buf bytes.Buffer
	if _, err := simulator.WriteAnswer(&buf, o); err != nil {
		b.Fatal(err)
	}
	generated[o] = buf.Bytes()
	return buf.Bytes()
}

// bodyTransport answers every request with body, without a socket, so a benchmark
// measures decoding and not the loopback.
type bodyTransport struct{ body []byte }

func (t bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{}, Request: r,
		Body: io.NopCloser(bytes.NewReader(t.body)), ContentLength: int64(len(t.body)),
	}, nil
}

// perRecord reports records/s and the allocations and bytes allocated per record
// over the whole benchmark, so allocations that grow with the answer's size show.
type perRecord struct {
	b      *testing.B
	before runtime.MemStats
}

func startPerRecord(b *testing.B, body []byte) *perRecord {
	b.Helper()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	p := &perRecord{b: b}
	runtime.ReadMemStats(&p.before)
	b.ResetTimer()
	return p
}

func (p *perRecord) stop(records int) {
	p.b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	total := float64(records) * float64(p.b.N)
	p.b.ReportMetric(total/p.b.Elapsed().Seconds(), "records/s")
	p.b.ReportMetric(float64(after.Mallocs-p.before.Mallocs)/total, "allocs/record")
	p.b.ReportMetric(float64(after.TotalAlloc-p.before.TotalAlloc)/total, "B/record")
}

// BenchmarkDecode decodes generated answers through the client, streamed from the
// response body. Compare with BenchmarkDecodeStdlibMaps at the same size. The
// php-escaped answer writes every non-ASCII character as a \u escape.
func BenchmarkDecode(b *testing.B) {
	cases := []simulator.AnswerOptions{}
	for _, n := range benchSizes {
		cases = append(cases, simulator.AnswerOptions{Records: n, Seed: 1})
	}
	cases = append(cases, simulator.AnswerOptions{Records: wolkvox.RecordCap, Seed: 1, EscapeUnicode: true})
	for _, o := range cases {
		name := fmt.Sprintf("records=%d", o.Records)
		if o.EscapeUnicode {
			name += "/php-escaped"
		}
		n := o.Records
		b.Run(name, func(b *testing.B) {
			body := generatedAnswer(b, o)
			c := newClient(b, "https://wv0010.example", func(o *wolkvox.Options) {
				o.MaxResponseSize = 1 << 30
				o.Transport = bodyTransport{body}
			})
			p := startPerRecord(b, body)
			for b.Loop() {
				ans, err := c.Chats(context.Background(), windowFrom, windowTo, func(*wolkvox.Record) {})
				if err != nil || ans.Records != n {
					b.Fatalf("%d records, err %v", ans.Records, err)
				}
			}
			p.stop(n)
		})
	}
}

// BenchmarkDecodeStdlibMaps is the baseline: encoding/json merely decoding the same
// bytes, streamed, into []map[string]string.
func BenchmarkDecodeStdlibMaps(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			body := generatedAnswer(b, simulator.AnswerOptions{Records: n, Seed: 1})
			p := startPerRecord(b, body)
			for b.Loop() {
				var answer struct {
					Data []map[string]string `json:"data"`
				}
				if err := json.NewDecoder(bytes.NewReader(body)).Decode(&answer); err != nil || len(answer.Data) != n {
					b.Fatalf("%d records, err %v", len(answer.Data), err)
				}
			}
			p.stop(n)
		})
	}
}
