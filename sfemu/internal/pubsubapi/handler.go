package pubsubapi

import (
	"math/rand/v2"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/surface"
)

// Config is the Pub/Sub surface's settings.
type Config struct {
	OrgID string // the tenant id calls must carry, and the org named in NOT_FOUND texts
	Seed  uint64 // rpc ids
}

// Deps are what the surface uses and does not own.
type Deps = surface.Deps

// Handler is the Pub/Sub API surface. Its streams read the event store's channels under the store's lock, which
// also guards its own state (the managed subscriptions, the reset signal, the rpc id source); the schema registry
// has a lock of its own.
type Handler struct {
	cfg  Config
	deps surface.Deps // what the surface uses and does not own

	rng    *rand.Rand  // rpc ids; under the store's lock
	pubsub pubsubState // the Pub/Sub API's schemas, managed subscriptions and reset signal
}

// New builds the surface.
func New(cfg Config, d Deps) *Handler {
	return &Handler{cfg: cfg, deps: d, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x2545f4914f6cdd1d)), pubsub: newPubSubState()}
}

// topicDefined reports whether a topic exists.
func (s *Handler) topicDefined(topic string) bool {
	s.deps.Store.Lock()
	defer s.deps.Store.Unlock()
	return s.deps.ChannelDefined(topic)
}

// Encode is the Pub/Sub form of a stored event, for the store to keep with the event at publish
// (eventstore.Hooks.Encode).
func (s *Handler) Encode(channel string, kind eventstore.Kind, msg []byte, id int64) (*eventstore.Encoding, error) {
	return s.encodePubSub(channel, kind, msg, id)
}

// ManagedActiveLocked reports whether a ManagedEventSubscription record exists and a stream holds it.
func (s *Handler) ManagedActiveLocked(id string) (active, exists bool) {
	m := s.pubsub.managed.byID[id]
	if m == nil {
		return false, false
	}
	return m.active, true
}

// SetManagedCommitLocked sets the committed replay id of a managed subscription, as a commit on its stream does;
// false when there is no such record.
func (s *Handler) SetManagedCommitLocked(id string, replayID int64) bool {
	m := s.pubsub.managed.byID[id]
	if m == nil {
		return false
	}
	m.committed = replayID
	return true
}

// ReplayBytes is the Pub/Sub form of a replay id.
func ReplayBytes(id int64) []byte { return replayBytes(id) }

// ReplayFromBytes reads a replay id in its Pub/Sub form; false when it is not one.
func ReplayFromBytes(b []byte) (int64, bool) { return replayFromBytes(b) }
