package eventstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// maxPublishCount bounds one publish request so a typo cannot exhaust memory.
const maxPublishCount = 10_000_000

// Spec is one publish request: Count generated events, then one event per payload.
type Spec struct {
	Channel  string
	Count    int
	Payloads []json.RawMessage
	Gap      int        // fixed replay id step; 0: random gaps
	Change   ChangeType // CDC only; "": random for generated events, CREATE for payloads
	// Built marks change event payloads the emulator built itself from record changes (compact JSON with a
	// ChangeEventHeader), which need no validation.
	Built bool
}

// PublishN publishes n events with realistic generated payloads for the channel's kind and returns the first and
// last replay ids assigned.
func (s *Store) PublishN(channel string, n int) (first, last int64, err error) {
	return s.Publish(Spec{Channel: channel, Count: n})
}

// Publish publishes what spec asks for and wakes the channel's subscribers. A payload is the sobject (PushTopic),
// the payload object (platform event, CDC; a missing CreatedDate or ChangeEventHeader is added) or the payload
// text (generic).
func (s *Store) Publish(p Spec) (first, last int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.PublishLocked(p)
}

// PublishLocked is Publish under the store's lock.
func (s *Store) PublishLocked(p Spec) (first, last int64, err error) {
	name, n := p.Channel, p.Count
	switch {
	case strings.Contains(name, "?"):
		return 0, 0, fmt.Errorf("publishing to %s: filters belong to subscriptions, publish to the topic without ?query", name)
	case n < 0 || n > maxPublishCount:
		return 0, 0, fmt.Errorf("publishing to %s: count %d outside 1..%d", name, n, maxPublishCount)
	case n == 0 && len(p.Payloads) == 0:
		return 0, 0, fmt.Errorf("publishing to %s: %w", name, errors.New("nothing to publish: give count or payloads"))
	case p.Gap < 0:
		return 0, 0, fmt.Errorf("publishing to %s: gap %d is negative", name, p.Gap)
	case p.Change != "" && !p.Change.Valid():
		return 0, 0, fmt.Errorf("publishing to %s: unknown change_type %q; one of %v", name, p.Change, ChangeTypes)
	}
	ch, err := s.ChannelLocked(name)
	if err != nil {
		return 0, 0, fmt.Errorf("publishing: %w", err)
	}
	if p.Change != "" && ch.kind != KindCDC && !(ch.kind == KindPushTopic && pushTopicEventType(p.Change) != "") {
		return 0, 0, fmt.Errorf("publishing to %s: change_type applies to change data capture (/data/) channels, and CREATE, UPDATE, DELETE or UNDELETE to PushTopics", name)
	}
	if s.hooks.Defined != nil {
		s.hooks.Defined(name)
	}
	now := s.cfg.Clock.Now()
	s.PruneLocked(ch, now)
	total := n + len(p.Payloads)
	if total >= 4096 {
		// A large publish (a preload) sizes the index once instead of doubling it, which would leave up to
		// half of it unused.
		ch.events = slices.Grow(ch.events, total)
	}
	for i := range total {
		var custom json.RawMessage
		if i >= n {
			custom = p.Payloads[i-n]
		}
		// Build before assigning the id for good, so a bad payload leaves no gap in the sequence.
		saved := ch.lastID
		id := s.nextIDLocked(ch, p.Gap)
		ev, err := s.buildEventLocked(ch, id, now, custom, p.Change, p.Built)
		if err != nil {
			ch.lastID = saved
			if i > 0 {
				ch.wakeLocked()
			}
			return first, last, fmt.Errorf("publishing payload %d to %s: %w", i-n, name, err)
		}
		s.appendLocked(ch, ev)
		if i == 0 {
			first = id
		}
		last = id
	}
	s.PruneLocked(ch, now) // the per-channel cap
	ch.wakeLocked()
	return first, last, nil
}

// LastEventUUIDLocked is the EventUuid of the newest platform event published, for the REST publish answer.
func (s *Store) LastEventUUIDLocked() string { return s.lastEventUUID }
