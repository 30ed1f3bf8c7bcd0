package wolkvox

import (
	"context"
	"sync"
	"time"

	promconfig "github.com/prometheus/common/config"
)

// Tokens holds what the calls made with each token share: their lock and the
// token's daily quota, whatever API spends it. One per exporter, held by whoever
// holds its clients, so that the clients of every API and operation with one token
// share one Token.
type Tokens struct {
	mu     sync.Mutex
	tokens map[promconfig.Secret]*Token
}

// NewTokens returns an empty Tokens.
func NewTokens() *Tokens { return &Tokens{tokens: map[promconfig.Secret]*Token{}} }

// For returns the token's shared state, creating it.
func (t *Tokens) For(token promconfig.Secret) *Token {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tk := t.tokens[token]; tk != nil {
		return tk
	}
	tk := &Token{calls: make(chan struct{}, 1)}
	t.tokens[token] = tk
	return tk
}

// Retain forgets every token but those given (a reload retires tokens). It must be
// given every token a client still in use holds: a token forgotten and asked for
// again gets a new Token, which the old clients do not share.
func (t *Tokens) Retain(tokens ...promconfig.Secret) {
	keep := make(map[promconfig.Secret]bool, len(tokens))
	for _, tok := range tokens {
		keep[tok] = true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for tok := range t.tokens {
		if !keep[tok] {
			delete(t.tokens, tok)
		}
	}
}

// Token is what every call made with one token shares: the API allows 2 calls at
// once per token (the exporter serializes them, keeping a margin), and the daily
// quota is the token's, whatever API spends it.
type Token struct {
	calls chan struct{} // holds one value while a call is made

	mu         sync.Mutex
	quotaUntil time.Time
}

// QuotaSpentUntil is when the token's daily quota, which a call of any API
// answered TOKEN LIMIT EXCEEDED, resets; zero if it is not spent. The time stays
// once past: the caller tells with its own clock whether it has come.
func (t *Token) QuotaSpentUntil() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.quotaUntil
}

// SpendQuota records that the quota is spent until until (the caller computes
// until, e.g. the end of the day in the operation's zone with its own clock). A
// later time replaces an earlier one; an earlier one does not shorten it.
func (t *Token) SpendQuota(until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.quotaUntil) {
		t.quotaUntil = until
	}
}

// acquire waits for the token's other calls to end, or for ctx to.
func (t *Token) acquire(ctx context.Context) error {
	select {
	case t.calls <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *Token) release() { <-t.calls }
