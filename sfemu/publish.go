package sfemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// maxPublishCount bounds one publish request so a typo cannot exhaust memory.
const maxPublishCount = 10_000_000

// PublishN publishes n events with realistic generated payloads for the channel's kind and returns the first and
// last replay ids assigned.
func (s *eventStore) PublishN(channel string, n int) (first, last int64, err error) {
	return s.publish(publishSpec{channel: channel, count: n})
}

// Publish publishes one event per payload: the sobject (PushTopic), the payload object (platform event, CDC; a
// missing CreatedDate or ChangeEventHeader is added) or the payload text (generic).
func (s *eventStore) Publish(channel string, payloads ...json.RawMessage) (first, last int64, err error) {
	return s.publish(publishSpec{channel: channel, payloads: payloads})
}

// publishSpec is one publish request: count generated events, then one event per payload.
type publishSpec struct {
	channel    string
	count      int
	payloads   []json.RawMessage
	gap        int        // fixed replay id step; 0: random gaps
	changeType ChangeType // CDC only; "": random for generated events, CREATE for payloads
}

func (s *eventStore) publish(p publishSpec) (first, last int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publishLocked(p)
}

func (s *eventStore) publishLocked(p publishSpec) (first, last int64, err error) {
	name, n := p.channel, p.count
	switch {
	case strings.Contains(name, "?"):
		return 0, 0, fmt.Errorf("publishing to %s: filters belong to subscriptions, publish to the topic without ?query", name)
	case n < 0 || n > maxPublishCount:
		return 0, 0, fmt.Errorf("publishing to %s: count %d outside 1..%d", name, n, maxPublishCount)
	case n == 0 && len(p.payloads) == 0:
		return 0, 0, fmt.Errorf("publishing to %s: %w", name, errors.New("nothing to publish: give count or payloads"))
	case p.gap < 0:
		return 0, 0, fmt.Errorf("publishing to %s: gap %d is negative", name, p.gap)
	case p.changeType != "" && !p.changeType.valid():
		return 0, 0, fmt.Errorf("publishing to %s: unknown change_type %q; one of %v", name, p.changeType, ChangeTypes)
	}
	ch, err := s.channelLocked(name)
	if err != nil {
		return 0, 0, fmt.Errorf("publishing: %w", err)
	}
	if p.changeType != "" && ch.kind != KindCDC && !(ch.kind == KindPushTopic && pushTopicEventType(p.changeType) != "") {
		return 0, 0, fmt.Errorf("publishing to %s: change_type applies to change data capture (/data/) channels, and CREATE, UPDATE, DELETE or UNDELETE to PushTopics", name)
	}
	s.defineLocked(name)
	now := s.clock.Now()
	s.pruneLocked(ch, now)
	total := n + len(p.payloads)
	if total >= 4096 {
		// A large publish (a preload) sizes the index once instead of doubling it, which would leave up to
		// half of it unused.
		ch.events = slices.Grow(ch.events, total)
	}
	for i := range total {
		var custom json.RawMessage
		if i >= n {
			custom = p.payloads[i-n]
		}
		// Build before assigning the id for good, so a bad payload leaves no gap in the sequence.
		saved := ch.lastID
		id := s.nextIDLocked(ch, p.gap)
		ev, err := s.buildEventLocked(ch, id, now, custom, p.changeType)
		if err != nil {
			ch.lastID = saved
			if i > 0 {
				s.wakeSubscribersLocked(ch)
			}
			return first, last, fmt.Errorf("publishing payload %d to %s: %w", i-n, name, err)
		}
		s.appendLocked(ch, ev)
		if i == 0 {
			first = id
		}
		last = id
	}
	s.pruneLocked(ch, now) // the per-channel cap
	s.wakeSubscribersLocked(ch)
	return first, last, nil
}
