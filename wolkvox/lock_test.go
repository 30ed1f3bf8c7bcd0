package wolkvox

import (
	"testing"

	promconfig "github.com/prometheus/common/config"
)

func (t *Tokens) held() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.tokens)
}

// The clients of one Tokens share a token's state, and only those of that token; a
// client made without Tokens shares nothing. Retain forgets the retired tokens:
// they do not pile up over reloads.
func TestTokensShareAndForget(t *testing.T) {
	tokens := NewTokens()
	client := func(token promconfig.Secret, tokens *Tokens) *Client {
		t.Helper()
		c, err := NewClient(Options{BaseURL: "https://wv0010.example", Token: token, Tokens: tokens})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a1, b, a2 := client("retired-a", tokens), client("kept-b", tokens), client("retired-a", tokens)
	if a1.Token() != a2.Token() || a1.Token() == b.Token() {
		t.Fatal("clients of one token must share its state, and only those")
	}
	if own := client("retired-a", nil); own.Token() == a1.Token() {
		t.Fatal("a client without Tokens shares the state of another Tokens")
	}
	if got := tokens.held(); got != 2 {
		t.Fatalf("%d tokens held, want 2", got)
	}

	for _, tc := range []struct {
		retain []promconfig.Secret
		held   int
	}{
		{[]promconfig.Secret{"kept-b", "never-asked"}, 1},
		{[]promconfig.Secret{"kept-b"}, 1},
		{nil, 0},
	} {
		tokens.Retain(tc.retain...)
		if got := tokens.held(); got != tc.held {
			t.Fatalf("after Retain(%d tokens): %d tokens held, want %d", len(tc.retain), got, tc.held)
		}
	}
	if tokens.For("retired-a") == a1.Token() {
		t.Fatal("a retired token kept its state")
	}
}

func TestTokensRetainKeepsTheGiven(t *testing.T) {
	tokens := NewTokens()
	kept, retired := tokens.For("kept"), tokens.For("retired")
	tokens.Retain("kept")
	if tokens.For("kept") != kept {
		t.Fatal("Retain forgot a token it was given")
	}
	if tokens.For("retired") == retired {
		t.Fatal("Retain kept a token it was not given")
	}
}
