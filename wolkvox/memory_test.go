package wolkvox_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// readerTransport answers with a body made by next, read as the client goes.
type readerTransport struct{ next func() io.Reader }

func (t readerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Request: r, Body: io.NopCloser(t.next()), ContentLength: -1}, nil
}

// Decoding the largest answer keeps the live heap flat: neither the body nor the
// records stay in memory. The answer (54 MB) is generated as the client reads it.
func TestDecodeCapAnswerHeap(t *testing.T) {
	if raceEnabled {
		t.Skip("memory is measured without the race detector")
	}
	const n = wolkvox.RecordCap
	c := newClient(t, "https://wv0010.example", func(o *wolkvox.Options) {
		o.MaxResponseSize = 1 << 30
		o.Transport = readerTransport{func() io.Reader {
			return simulator.NewAnswerReader(simulator.AnswerOptions{Records: n, Seed: 3})
		}}
	})
	base := testkit.LiveHeap()
	var peak uint64
	seen := 0
	ans, err := c.Chats(context.Background(), windowFrom, windowTo, func(*wolkvox.Record) {
		if seen++; seen%(n/4) == 0 {
			peak = max(peak, testkit.LiveHeap())
		}
	})
	if err != nil || ans.Records != n {
		t.Fatalf("%d records, err %v", ans.Records, err)
	}
	// While decoding, the heap holds encoding/json's buffer (a record or two) and
	// the decoder's scratch, one record, the generator's state and the response's
	// plumbing: well under 512 KiB. Keeping as little as 9 bytes per record would pass 1 MiB; keeping
	// the body would pass 50 MiB.
	const bound = 1 << 20
	grew := int64(peak - base)
	if grew > bound {
		t.Fatalf("live heap grew by %d bytes while decoding %d records, bound %d", grew, n, bound)
	}
	t.Logf("live heap grew by %d bytes at most", grew)
}

// Allocations per record stay the same whatever the answer's size.
func TestDecodeAllocsPerRecord(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are counted without the race detector")
	}
	// The records of a generated answer, repeated to any multiple of 1,000 records
	// from one copy, so the generator's own allocations are not counted.
	var gen bytes.Buffer
	if _, err := simulator.WriteAnswer(&gen, simulator.AnswerOptions{Records: 1000, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	open := bytes.IndexByte(gen.Bytes(), '[') + 1
	header, records, footer := gen.Bytes()[:open], gen.Bytes()[open:gen.Len()-2], gen.Bytes()[gen.Len()-2:]
	var perRecord []float64
	for _, n := range []int{6000, wolkvox.RecordCap} {
		parts := make([]io.Reader, 0, 2*n/1000+1)
		c := newClient(t, "https://wv0010.example", func(o *wolkvox.Options) {
			o.MaxResponseSize = 1 << 30
			o.Transport = readerTransport{func() io.Reader {
				parts = append(parts[:0], bytes.NewReader(header), bytes.NewReader(records))
				for range n/1000 - 1 {
					parts = append(parts, bytes.NewReader([]byte{','}), bytes.NewReader(records))
				}
				return io.MultiReader(append(parts, bytes.NewReader(footer))...)
			}}
		})
		allocs := testing.AllocsPerRun(1, func() {
			ans, err := c.Chats(context.Background(), windowFrom, windowTo, func(*wolkvox.Record) {})
			if err != nil || ans.Records != n {
				t.Fatalf("%d records, err %v", ans.Records, err)
			}
		})
		perRecord = append(perRecord, allocs/float64(n))
	}
	t.Logf("allocations per record: %.4f for 6,000, %.4f for 60,000", perRecord[0], perRecord[1])
	// Three per record: the Record, its ConnID, and one string for its other fields.
	for _, p := range perRecord {
		if p > 3.1 {
			t.Errorf("%.3f allocations per record, want at most 3.1", p)
		}
	}
	if perRecord[1] > perRecord[0] {
		t.Errorf("allocations per record grow with the answer: %.4f for 6,000, %.4f for 60,000", perRecord[0], perRecord[1])
	}
}
