package wolkvox_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

// BenchmarkOpenChats5000x20 reads an api=chats answer of 5,000 open chats of 20
// messages each, over 50 agents, through the client, streamed from the response
// body without a socket.
func BenchmarkOpenChats5000x20(b *testing.B) {
	const chats = 5000
	var body bytes.Buffer
	if err := writeOpenChatsAnswer(&body, openChatsAnswer{Chats: chats, Messages: 20, Agents: 50, Seed: 1, At: windowTo}); err != nil {
		b.Fatal(err)
	}
	c := newClient(b, "https://wv0010.example", func(o *wolkvox.Options) {
		o.MaxResponseSize = 1 << 30
		o.Transport = bodyTransport{body.Bytes()}
	})
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := c.OpenChats(context.Background())
		if err != nil || len(got.Chats) != chats || got.Skipped != nil {
			b.Fatalf("%d chats, skipped %v, err %v", len(got.Chats), got.Skipped, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(chats*20), "ns/message")
}
