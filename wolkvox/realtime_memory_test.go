package wolkvox_test

import (
	"context"
	"fmt"
	"io"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// repeated reads pattern over and over, n bytes in all.
func repeated(pattern string, n int64) io.Reader {
	return io.LimitReader(&cycle{pattern: pattern}, n)
}

type cycle struct {
	pattern string
	off     int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := copy(p[n:], c.pattern[c.off:])
		n += m
		c.off = (c.off + m) % len(c.pattern)
	}
	return n, nil
}

// bigMessagesAnswer is an api=chats answer of chats open chats, each with messages
// messages whose text is size bytes, made as it is read.
func bigMessagesAnswer(chats, messages int, size int64) io.Reader {
	const text = "Hola, soy Valentina Quintero, mi número es +57 310 555 0147 y quiero saber de mi pedido. "
	parts := []io.Reader{strings.NewReader(`{"code":"200","msg":"1 records were found","data":[{"agent_id":"1001","active_chats":[`)}
	for i := range chats {
		sep := ","
		if i == 0 {
			sep = ""
		}
		parts = append(parts, strings.NewReader(fmt.Sprintf(
			`%s{"conn_id":"rt-%d","channel":"WhatsApp","customer_phone":"+57 310 555 0147","conversation":[`, sep, i)))
		for m := range messages {
			sep := ","
			if m == 0 {
				sep = ""
			}
			parts = append(parts,
				strings.NewReader(sep+`{"from":"+57 310 555 0147","msg":"`),
				repeated(text, size),
				strings.NewReader(fmt.Sprintf(`","date":"2026-11-23 09:%02d:00"}`, 30+m)))
		}
		parts = append(parts, strings.NewReader(`]}`))
	}
	return io.MultiReader(append(parts, strings.NewReader(`]}]}`))...)
}

// samplingReader reads r for the decoder and, every step bytes, samples the live
// heap: the decoder is mid-answer, so whatever it holds shows.
type samplingReader struct {
	r          io.Reader
	step, next int64
	read       int64
	peak       uint64
}

func (h *samplingReader) Read(p []byte) (int, error) {
	p = p[:min(len(p), 64<<10)]
	n, err := h.r.Read(p)
	if h.read += int64(n); h.read >= h.next {
		h.peak = max(h.peak, testkit.LiveHeap())
		h.next += h.step
	}
	return n, err
}

func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A conversation of 4 MB messages is read with the heap flat: the decoder holds one
// message in its buffer at most, and never makes a string of a message's text.
func TestOpenChatsBigMessagesHeap(t *testing.T) {
	if raceEnabled {
		t.Skip("memory is measured without the race detector")
	}
	const size = 4 << 20
	type measure struct{ grew, allocated uint64 }
	var measured []measure
	for _, tc := range []struct {
		chats, messages int
		bound           uint64 // of the live heap's growth
	}{
		// The decoder's buffer grows by doubling to hold a message whole: up to
		// twice its size. Keeping ten messages would pass 40 MB.
		{1, 1, 12 << 20},
		{10, 1, 12 << 20},
		{1, 10, 12 << 20}, // a long conversation
	} {
		t.Run(fmt.Sprintf("chats=%d,messages=%d", tc.chats, tc.messages), func(t *testing.T) {
			var reader *samplingReader
			c := newClient(t, "https://wv0010.example", func(o *wolkvox.Options) {
				o.MaxResponseSize = 1 << 30
				o.Transport = readerTransport{func() io.Reader {
					reader = &samplingReader{r: bigMessagesAnswer(tc.chats, tc.messages, size), step: 256 << 10}
					return reader
				}}
			})
			base := testkit.LiveHeap()
			allocated := allocatedBytes()
			got, err := c.OpenChats(context.Background())
			allocated = allocatedBytes() - allocated
			if err != nil || len(got.Chats) != tc.chats || got.Chats[0].FirstMessage.Minute() != 30 {
				t.Fatalf("%d chats, err %v", len(got.Chats), err)
			}
			m := measure{reader.peak - min(base, reader.peak), allocated}
			measured = append(measured, m)
			t.Logf("live heap grew by %d bytes at most; %d bytes allocated", m.grew, m.allocated)
			if m.grew > tc.bound {
				t.Fatalf("live heap grew by %d bytes while reading %d messages of %d bytes, bound %d", m.grew, tc.chats*tc.messages, size, tc.bound)
			}
		})
	}
	// The decoder's buffer is allocated once: nine more messages allocate far less
	// than one of them. A string made of each text would allocate 36 MB more.
	if len(measured) != 3 {
		t.Fatal("a case did not run")
	}
	for _, m := range measured[1:] {
		if m.allocated > measured[0].allocated+size {
			t.Fatalf("10 messages allocated %d bytes more than 1: each message's text is made into memory of its own", m.allocated-measured[0].allocated)
		}
	}
}
