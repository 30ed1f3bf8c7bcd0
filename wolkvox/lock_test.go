package wolkvox

import (
	"runtime"
	"testing"
	"time"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
)

func tokenLocksHeld() int {
	tokenLocksMu.Lock()
	defer tokenLocksMu.Unlock()
	return len(tokenLocks)
}

// A token's lock is shared by its clients while one exists, and forgotten once
// none does: tokens retired by reloads do not pile up.
func TestTokenLocksAreForgotten(t *testing.T) {
	before := tokenLocksHeld()
	func() {
		var clients []*Client
		for _, token := range []config.Secret{"retired-1", "retired-2", "retired-1"} {
			c, err := NewClient(Options{BaseURL: "https://wv0010.example", Token: token})
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
		}
		if clients[0].lock != clients[2].lock || clients[0].lock == clients[1].lock {
			t.Fatal("clients of one token must share its lock, and only those")
		}
		if got := tokenLocksHeld(); got != before+2 {
			t.Fatalf("%d token locks, want %d", got, before+2)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for tokenLocksHeld() != before {
		if time.Now().After(deadline) {
			t.Fatalf("%d token locks after their clients are gone, want %d", tokenLocksHeld(), before)
		}
		runtime.GC() // cleanups run after a collection, in their own goroutine
		runtime.Gosched()
	}
}
