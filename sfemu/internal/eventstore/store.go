// Package eventstore is the emulator's event store: each channel's retained events (encoded once at publish into
// the Bayeux message Salesforce sends, kept in a compact per-channel arena), replay ids, retention, and the
// sessions and streams to wake when events arrive. It serves no protocol: the CometD and Pub/Sub surfaces read
// it, and it is given what it needs (time, ids, the hooks that define channels) when it is built.
//
// One lock guards the store. The surfaces whose sessions are cursors into its channels hold it (Lock, Unlock)
// while they read or move those cursors, and call the methods whose names end in Locked under it.
package eventstore

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/clock"
)

// Config is what the store keeps and how it assigns ids.
type Config struct {
	Clock clock.Clock

	TopicRetention         time.Duration
	GenericRetention       time.Duration
	PlatformEventRetention time.Duration
	CDCRetention           time.Duration
	MaxRetainedEvents      int // per channel; 0: bounded by retention only

	// AcceptReplayInRange accepts any replay id within [oldest, newest] retained; by default an id is valid only
	// when the event with exactly that id is still retained (Salesforce).
	AcceptReplayInRange bool
	// MaxReplayGap: consecutive replay ids differ by 1..1+MaxReplayGap (negative or 0: contiguous).
	MaxReplayGap int

	// What generated payloads carry: the user of CreatedById and commitUser, the API version of changeOrigin,
	// and whether commitTimestamp keeps its milliseconds.
	UserID                  string
	APIVersion              string
	PreciseCommitTimestamps bool

	Seed uint64 // replay ids and generated payloads
}

// Hooks are what the store asks of the org above it. Each is called with the store's lock held and must not
// call back into the store's locking methods.
type Hooks struct {
	// Defined is told the channel a publish names, so that what defines it (a platform event type, a Change
	// Data Capture selection) is recorded.
	Defined func(key string)
	// StreamingChannelID returns the StreamingChannel record id of a generic channel the store creates.
	StreamingChannelID func(name string) string
	// Encode, when set, gives platform and change events their Pub/Sub form at publish; an event that does not
	// encode is left to the serve, which reports it.
	Encode func(channel string, kind Kind, msg []byte, id int64) (*Encoding, error)
}

// Store holds the channels. New builds it.
type Store struct {
	mu    sync.Mutex
	cfg   Config
	hooks Hooks
	rng   *rand.Rand

	channels  map[string]*Channel
	published atomic.Int64

	// Payload building (payloads.go).
	seq           uint64 // record/event id counter
	scratch       []byte // encoding buffer of buildEventLocked
	lastEventUUID string // EventUuid of the newest platform event built, for the REST publish answer
}

// New builds an empty store.
func New(cfg Config, hooks Hooks) *Store {
	return &Store{cfg: cfg, hooks: hooks, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		channels: make(map[string]*Channel)}
}

// Lock takes the store's lock.
func (s *Store) Lock() { s.mu.Lock() }

// Unlock releases the store's lock.
func (s *Store) Unlock() { s.mu.Unlock() }

// Published counts the events appended to any channel.
func (s *Store) Published() int64 { return s.published.Load() }

func (s *Store) retentionFor(k Kind) time.Duration {
	switch k {
	case KindPushTopic:
		return s.cfg.TopicRetention
	case KindGeneric:
		return s.cfg.GenericRetention
	case KindPlatformEvent:
		return s.cfg.PlatformEventRetention
	default:
		return s.cfg.CDCRetention
	}
}

// ChannelLocked returns the channel for a replay key, creating it.
func (s *Store) ChannelLocked(name string) (*Channel, error) {
	if ch, ok := s.channels[name]; ok {
		return ch, nil
	}
	k := KindOf(name)
	if k == KindUnknown {
		return nil, fmt.Errorf("channel %q is not a PushTopic (/topic/), generic (/u/), platform event (/event/) or change data capture (/data/) channel", name)
	}
	ch := &Channel{name: name, kind: k, retention: s.retentionFor(k), schema: schemaID(name), subs: make(map[Subscriber]int),
		watchers: make(map[chan struct{}]struct{})}
	if k == KindGeneric && s.hooks.StreamingChannelID != nil {
		ch.streamingID = s.hooks.StreamingChannelID(name)
	}
	s.channels[name] = ch
	return ch, nil
}

// LookupLocked returns an existing channel, or nil.
func (s *Store) LookupLocked(name string) *Channel { return s.channels[name] }

// ChannelsLocked returns every channel, by name.
func (s *Store) ChannelsLocked() []*Channel {
	out := make([]*Channel, 0, len(s.channels))
	for _, ch := range s.channels {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// WatchersLocked counts the streams waiting on any channel.
func (s *Store) WatchersLocked() int {
	n := 0
	for _, ch := range s.channels {
		n += len(ch.watchers)
	}
	return n
}

// PruneLocked drops events older than the retention and above the per-channel cap.
func (s *Store) PruneLocked(ch *Channel, now time.Time) {
	cutoff := now.Add(-ch.retention).UnixNano()
	for ch.head < len(ch.events) && ch.events[ch.head].At <= cutoff {
		ch.events[ch.head] = Event{}
		ch.head++
	}
	if max := s.cfg.MaxRetainedEvents; max > 0 {
		for len(ch.events)-ch.head > max {
			ch.events[ch.head] = Event{}
			ch.head++
		}
	}
	ch.compact()
}

// ReplayValidLocked reports whether a concrete replay id may be used to subscribe.
func (s *Store) ReplayValidLocked(ch *Channel, id int64) bool {
	r := ch.Retained()
	if len(r) == 0 {
		return false
	}
	if s.cfg.AcceptReplayInRange {
		return id >= r[0].ID && id <= r[len(r)-1].ID
	}
	i := sort.Search(len(r), func(i int) bool { return r[i].ID >= id })
	return i < len(r) && r[i].ID == id
}

// PositionLocked is the channel's current position: the newest replay id, or, for a channel that never had an
// event, a position reserved just before its first one, so that a stream always has a position to hand out.
func (s *Store) PositionLocked(ch *Channel) int64 {
	if ch.lastID == 0 {
		ch.lastID = s.nextIDLocked(ch, 0) - 1
		ch.reserved = ch.lastID
	}
	return ch.lastID
}

// PositionValidLocked accepts a position PositionLocked handed out that no retained event has: the newest id
// (its event expired, and nothing came after it), or the position reserved before the channel's first event
// while every event published since is still retained. Anything else would skip events silently.
func (s *Store) PositionValidLocked(ch *Channel, id int64) bool {
	if id == ch.lastID {
		return true
	}
	return ch.reserved != 0 && id == ch.reserved && int64(len(ch.Retained())) == ch.published
}

// nextIDLocked assigns the next replay id: increasing, with gaps, never reused.
func (s *Store) nextIDLocked(ch *Channel, gap int) int64 {
	if ch.lastID == 0 && !ch.migrated {
		ch.lastID = 1000 + int64(s.rng.IntN(9000))
		return ch.lastID
	}
	step := int64(1)
	switch {
	case gap > 0:
		step = int64(gap)
	case s.cfg.MaxReplayGap > 0:
		step += int64(s.rng.IntN(s.cfg.MaxReplayGap + 1))
	}
	ch.lastID += step
	return ch.lastID
}

// appendLocked stores one encoded event.
func (s *Store) appendLocked(ch *Channel, ev Event) {
	if s.hooks.Encode != nil && (ch.kind == KindPlatformEvent || ch.kind == KindCDC) {
		if enc, err := s.hooks.Encode(ch.name, ch.kind, ev.Msg, ev.ID); err == nil {
			ev.PubSub = enc
		}
	}
	ch.events = append(ch.events, ev)
	ch.published++
	s.published.Add(1)
}

// KeepEncodingsLocked keeps the Pub/Sub forms made for batch (a copy of retained events of ch) with the events
// still retained that have none yet, for the next serve.
func (s *Store) KeepEncodingsLocked(ch *Channel, batch []Event) {
	if len(batch) == 0 {
		return
	}
	r := ch.Retained()
	i := ch.IndexAfter(batch[0].ID - 1)
	for _, ev := range batch {
		for i < len(r) && r[i].ID < ev.ID {
			i++
		}
		if i < len(r) && r[i].ID == ev.ID && r[i].PubSub == nil {
			r[i].PubSub = ev.PubSub
		}
	}
}

// SetRetentionLocked changes how long a channel keeps its events, creating it, and drops what falls out at once.
func (s *Store) SetRetentionLocked(name string, d time.Duration) error {
	ch, err := s.ChannelLocked(name)
	if err != nil {
		return err
	}
	ch.retention = d
	s.PruneLocked(ch, s.cfg.Clock.Now())
	return nil
}

// SetAllRetentionLocked changes the retention of every channel and of the channels created later, and returns
// the names of the channels changed.
func (s *Store) SetAllRetentionLocked(d time.Duration) []string {
	s.cfg.TopicRetention, s.cfg.GenericRetention, s.cfg.PlatformEventRetention, s.cfg.CDCRetention = d, d, d, d
	now := s.cfg.Clock.Now()
	changed := make([]string, 0, len(s.channels))
	for name, ch := range s.channels {
		ch.retention = d
		s.PruneLocked(ch, now)
		changed = append(changed, name)
	}
	sort.Strings(changed)
	return changed
}

// Migration is what an org migration did to one channel.
type Migration struct {
	OldFirstReplayID, OldLastReplayID int64
	Dropped                           int
	NextReplayIDFrom                  int64
}

// MigrateLocked empties every channel and restarts its replay ids below the old ones, so that a stored replay id
// is refused as invalid.
func (s *Store) MigrateLocked() map[string]Migration {
	out := make(map[string]Migration, len(s.channels))
	for name, ch := range s.channels {
		m := Migration{OldLastReplayID: ch.lastID}
		low := ch.lastID
		if r := ch.Retained(); len(r) > 0 {
			m.OldFirstReplayID = r[0].ID
			low = r[0].ID
		}
		m.Dropped = ch.PurgeLocked(-1)
		if low > 0 {
			// Half the lowest old id keeps the new sequence below the old one for as many events as it had ids.
			ch.lastID = max(1, low/2)
			if ch.lastID >= low {
				ch.lastID = 0
			}
		}
		ch.migrated = true
		m.NextReplayIDFrom = ch.lastID
		out[name] = m
	}
	return out
}

// SetEncoder makes the store give platform and change events their Pub/Sub form at publish (Hooks.Encode).
func (s *Store) SetEncoder(encode func(channel string, kind Kind, msg []byte, id int64) (*Encoding, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.Encode = encode
}
