package simulator_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wolkvox-exporter/wolkvox_exporter/internal/testkit"
	"github.com/wolkvox-exporter/wolkvox_exporter/simulator"
)

func generateOpen(t *testing.T, o simulator.OpenChatsOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := simulator.WriteOpenChats(&b, o)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteOpenChats: %d bytes, %v", n, err)
	}
	return b.Bytes()
}

func TestGeneratedOpenChats(t *testing.T) {
	moment := at(2026, 3, 10, 16, 0, 0)
	tests := []struct {
		name string
		o    simulator.OpenChatsOptions
		code string
	}{
		{"many agents", simulator.OpenChatsOptions{Chats: 300, Messages: 12, Agents: 40, Seed: 1}, `200`},
		{"default agents", simulator.OpenChatsOptions{Chats: 100, Messages: 3, Seed: 2}, `"200"`},
		{"more agents than chats", simulator.OpenChatsOptions{Chats: 5, Messages: 2, Agents: 9, Seed: 3, At: moment}, `200`},
		{"one message each", simulator.OpenChatsOptions{Chats: 7, Messages: 1, Agents: 2, Seed: 5}, `200`},
		{"no chats", simulator.OpenChatsOptions{Agents: 3, Seed: 4}, `"200"`},
		{"a big message", simulator.OpenChatsOptions{Chats: 9, Messages: 5, Agents: 2, Seed: 7, BigMessage: 1<<20 + 3}, `200`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := generateOpen(t, tt.o)
			if !bytes.Equal(body, generateOpen(t, tt.o)) {
				t.Fatal("the same options gave different bytes")
			}
			other := tt.o
			other.Seed += 100
			if tt.o.Chats > 0 && bytes.Equal(body, generateOpen(t, other)) {
				t.Fatal("another seed gave the same bytes")
			}
			env, data, single := decodeOpen[wireAgent](t, body)
			agents := tt.o.Agents
			if agents == 0 {
				agents = 12
			}
			if single || len(data) != agents || string(env.Code) != tt.code || env.Msg != strconv.Itoa(agents)+" records were found" {
				t.Fatalf("code %s, msg %q, %d agents (single %v)", env.Code, env.Msg, len(data), single)
			}
			describes := tt.o.At
			if describes.IsZero() {
				describes = at(2026, 11, 23, 15, 0, 0)
			}
			chats, big := 0, 0
			ids := map[string]bool{}
			for _, ag := range data {
				if ag.AgentID == "" || ids[ag.AgentID] {
					t.Fatalf("agent id %q", ag.AgentID)
				}
				ids[ag.AgentID] = true
				for _, c := range ag.ActiveChats {
					chats++
					if ids[c.ConnID] || c.Channel == "" || c.ConnectorID == "" || len(c.Conversation) != tt.o.Messages {
						t.Fatalf("chat %+v", c)
					}
					ids[c.ConnID] = true
					var prev time.Time
					for _, m := range c.Conversation {
						d, err := time.ParseInLocation("2006-01-02 15:04:05", m.Date, gmt5)
						if err != nil || d.Before(prev) || d.After(describes) || m.From == "" {
							t.Fatalf("message %+v after %v, answer at %v", m, prev, describes)
						}
						prev = d
						switch n := len(m.Msg); {
						case tt.o.BigMessage > 0 && n == tt.o.BigMessage:
							big++
						case utf8.RuneCountInString(m.Msg) < 20 || utf8.RuneCountInString(m.Msg) > 300:
							t.Fatalf("message of %d characters", utf8.RuneCountInString(m.Msg))
						}
					}
				}
				if per := tt.o.Chats / agents; len(ag.ActiveChats) < per || len(ag.ActiveChats) > per+1 {
					t.Errorf("agent %s has %d chats of %d over %d agents", ag.AgentID, len(ag.ActiveChats), tt.o.Chats, agents)
				}
			}
			if chats != tt.o.Chats {
				t.Errorf("%d chats, want %d", chats, tt.o.Chats)
			}
			if want := min(tt.o.BigMessage, 1); big != want {
				t.Errorf("%d messages of %d bytes, want %d", big, tt.o.BigMessage, want)
			}
		})
	}
}

// Reads of any size give the same bytes.
func TestGeneratedOpenChatsSmallReads(t *testing.T) {
	o := simulator.OpenChatsOptions{Chats: 20, Messages: 6, Agents: 3, Seed: 9, BigMessage: 40000}
	want := generateOpen(t, o)
	got, err := io.ReadAll(io.LimitReader(oneByteReader{simulator.NewOpenChatsReader(o)}, int64(len(want))+1))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("byte-by-byte read differs (%d vs %d bytes, %v)", len(got), len(want), err)
	}
}

// The live heap stays flat while a large answer is read, through a 4 MB message too.
func TestGeneratedOpenChatsMemory(t *testing.T) {
	tests := []struct {
		name string
		o    simulator.OpenChatsOptions
	}{
		{"many chats", simulator.OpenChatsOptions{Chats: 4000, Messages: 20, Agents: 50, Seed: 1}},
		{"a 4 MB message", simulator.OpenChatsOptions{Chats: 10, Messages: 4, Agents: 2, Seed: 2, BigMessage: 4 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := simulator.NewOpenChatsReader(tt.o)
			const step = 256 << 10
			if _, err := io.CopyN(io.Discard, r, step); err != nil {
				t.Fatal(err)
			}
			base := testkit.LiveHeap()
			var total int64 = step
			var peak uint64
			for {
				n, err := io.CopyN(io.Discard, r, step)
				total += n
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				peak = max(peak, testkit.LiveHeap())
			}
			if total < 4<<20 {
				t.Fatalf("only %d bytes read", total)
			}
			grown := float64(peak) - float64(base)
			t.Logf("%d bytes read, live heap grew by at most %.0f bytes", total, grown)
			if grown > 512<<10 {
				t.Errorf("live heap grew by %.0f bytes while reading %d", grown, total)
			}
			runtime.KeepAlive(r)
		})
	}
}
