// Package surface holds what the emulator's streaming surfaces (CometD and the Pub/Sub API) are given and do not
// own: the event store, the token check, faults, limits, the clock, the shutdown signal, a logger and the
// channel check. One type, so that the two surfaces are wired alike and a new dependency is added once.
package surface

import (
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/clock"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/limits"
)

// Deps are what a streaming surface uses and does not own.
type Deps struct {
	Store  *eventstore.Store
	Tokens interface{ Valid(token string) bool } // the access token check
	Faults *faults.Set
	Limits *limits.Usage
	Clock  clock.Clock
	// Closed is closed when the emulator shuts down: held long polls answer, open streams end.
	Closed <-chan struct{}
	Logf   func(format string, args ...any)
	// ChannelDefined reports whether a channel exists for a subscriber; called with the store's lock held.
	ChannelDefined func(key string) bool
}
