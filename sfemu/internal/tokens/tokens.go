// Package tokens is the emulated org's session store: the access tokens it issued and has not revoked, and how
// many grants and refusals the login endpoints answered. It is the one owner of that state; the login surfaces
// issue tokens, every other surface only asks whether a token is valid, and the control API revokes them all.
package tokens

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Store holds the issued tokens under its own lock; it calls nothing, so any surface may use it while holding
// its own lock.
type Store struct {
	orgID15 string

	mu     sync.Mutex
	rng    *rand.Rand
	tokens map[string]struct{}

	grants, refusals atomic.Int64
}

// New returns an empty store for the org (its 15-character id prefixes every token, as Salesforce's do) with its
// own random source seeded from seed.
func New(orgID string, seed uint64) *Store {
	return &Store{
		orgID15: orgID[:min(15, len(orgID))],
		rng:     rand.New(rand.NewPCG(seed^0x7e4b5a11, seed)),
		tokens:  make(map[string]struct{}),
	}
}

// Issue makes, records and returns a new access token: the org id, '!', and 96 alphanumerics.
func (s *Store) Issue() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, len(s.orgID15)+1+96)
	copy(b, s.orgID15)
	b[len(s.orgID15)] = '!'
	s.mu.Lock()
	for i := len(s.orgID15) + 1; i < len(b); i++ {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	t := string(b)
	s.tokens[t] = struct{}{}
	s.mu.Unlock()
	s.grants.Add(1)
	return t
}

// Refused counts a login the endpoints refused.
func (s *Store) Refused() { s.refusals.Add(1) }

// Valid reports whether token was issued and not revoked.
func (s *Store) Valid(token string) bool {
	if token == "" {
		return false
	}
	s.mu.Lock()
	_, ok := s.tokens[token]
	s.mu.Unlock()
	return ok
}

// RevokeAll invalidates every issued token.
func (s *Store) RevokeAll() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// Counts returns the grants and refusals answered so far.
func (s *Store) Counts() (grants, refusals int64) { return s.grants.Load(), s.refusals.Load() }
