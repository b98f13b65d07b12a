package cometd

import (
	"slices"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/limits"
)

// client is one Bayeux session: created by a handshake, kept alive by requests, expired when it sends nothing
// for the reconnect window after an answer. It holds no queued events: each subscription is a cursor into its
// channel's retained log, so a client that never connects costs no memory beyond retention.
type client struct {
	id        string
	created   time.Time
	lastSeen  time.Time
	connected bool // has had its first /meta/connect (which gets advice)
	holding   int  // long polls currently held
	subs      []*subscription
	wake      chan struct{} // capacity 1: new events on a subscribed channel
	kick      chan struct{} // closed when a newer connect or a destroy should end the held long poll
	gone      string        // non-empty once destroyed: why ("disconnect", "expired", "revoked", ...)
	sent      int64         // events delivered
}

type subscription struct {
	name    string // as subscribed, with ?filters
	ch      *eventstore.Channel
	filters []eventstore.Filter
	cursor  int64  // the replay id after which events are due
	label   []byte // `{"channel":"<name>"` when name differs from the channel (filtered PushTopic), else nil
}

// Notify wakes the client's held long poll; the event store calls it when a subscribed channel has new events.
func (c *client) Notify() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// kickLocked ends a held long poll of c now.
func (c *client) kickLocked() {
	close(c.kick)
	c.kick = make(chan struct{})
}

func (s *Handler) newClientLocked(now time.Time) *client {
	id := ""
	for id == "" || s.clients[id] != nil {
		id = s.clientID()
	}
	c := &client{id: id, created: now, lastSeen: now, wake: make(chan struct{}, 1), kick: make(chan struct{})}
	s.clients[id] = c
	return c
}

// clientID looks like Salesforce's: 27 lowercase alphanumerics.
func (s *Handler) clientID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 27)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// liveClientLocked returns the unexpired client with this id, destroying it first when its reconnect window has
// passed.
func (s *Handler) liveClientLocked(id string, now time.Time) *client {
	c := s.clients[id]
	if c == nil {
		return nil
	}
	if s.expiredLocked(c, now) {
		s.destroyLocked(c, "expired")
		return nil
	}
	return c
}

func (s *Handler) expiredLocked(c *client, now time.Time) bool {
	return c.holding == 0 && now.Sub(c.lastSeen) > s.cfg.ReconnectWindow
}

// sweepLocked destroys every expired client; it keeps the concurrent-client count honest.
func (s *Handler) sweepLocked(now time.Time) {
	for _, c := range s.clients {
		if s.expiredLocked(c, now) {
			s.destroyLocked(c, "expired")
		}
	}
}

// destroyLocked removes a client and its subscriptions and ends its held long poll.
func (s *Handler) destroyLocked(c *client, why string) {
	if c.gone != "" {
		return
	}
	c.gone = why
	delete(s.clients, c.id)
	for _, sub := range c.subs {
		sub.ch.DropSubscriberLocked(c)
	}
	c.subs = nil
	c.kickLocked()
	if why == "expired" {
		s.counters.expired.Add(1)
	}
}

func (s *Handler) subscribeLocked(c *client, sub *subscription) {
	for i, old := range c.subs {
		if old.name == sub.name {
			c.subs[i] = sub
			c.Notify()
			return
		}
	}
	c.subs = append(c.subs, sub)
	sub.ch.AddSubscriberLocked(c)
	c.Notify()
}

func (s *Handler) unsubscribeLocked(c *client, name string) {
	for i, old := range c.subs {
		if old.name != name {
			continue
		}
		c.subs = append(c.subs[:i], c.subs[i+1:]...)
		old.ch.RemoveSubscriberLocked(c)
		return
	}
}

func (s *Handler) dropSubscriptionsLocked(c *client) {
	for _, sub := range c.subs {
		sub.ch.DropSubscriberLocked(c)
	}
	c.subs = nil
}

// collectLocked takes the events due to c, at most MaxBatch (and MaxResponseBytes), advancing the cursors.
// It returns the stored message bytes to send.
func (s *Handler) collectLocked(c *client, now time.Time, pieces []part) ([]part, int) {
	maxN, maxBytes := s.cfg.MaxBatch, s.cfg.MaxResponseBytes
	n, size := 0, 0
	due := 0
	for _, sub := range c.subs {
		s.deps.Store.PruneLocked(sub.ch, now)
		due += len(sub.ch.Retained()) - sub.ch.IndexAfter(sub.cursor)
	}
	pieces = slices.Grow(pieces, min(due, maxN)+2) // one allocation per answer, room for the connect reply
	for _, sub := range c.subs {
		if n >= maxN {
			break
		}
		ch := sub.ch
		r := ch.Retained()
		for i := ch.IndexAfter(sub.cursor); i < len(r) && n < maxN; i++ {
			ev := &r[i]
			if !ev.Matches(sub.filters) {
				sub.cursor = ev.ID
				continue
			}
			evSize := len(ev.Msg) + 1
			if sub.label != nil {
				evSize = len(sub.label) + len(ev.Msg) - int(ev.DataOff) + 1
			}
			if maxBytes > 0 && n > 0 && size+evSize > maxBytes {
				return pieces, n
			}
			if sub.label != nil {
				pieces = append(pieces, part{sub.label, ev.Msg[ev.DataOff:]})
			} else {
				pieces = append(pieces, part{a: ev.Msg})
			}
			sub.cursor = ev.ID
			size += evSize
			n++
			s.deps.Limits.CountDelivered(limits.AllocationOf(ch.Kind()), 1)
		}
	}
	return pieces, n
}

// pendingLocked reports whether c has an event due.
func (s *Handler) pendingLocked(c *client) bool {
	for _, sub := range c.subs {
		r := sub.ch.Retained()
		for i := sub.ch.IndexAfter(sub.cursor); i < len(r); i++ {
			if r[i].Matches(sub.filters) {
				return true
			}
		}
	}
	return false
}

// part is one message of an answer: a, then b (b is set when a filtered subscription re-labels the channel).
type part struct{ a, b []byte }

func (p part) size() int { return len(p.a) + len(p.b) }
