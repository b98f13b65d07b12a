package sfemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// maxPublishCount bounds one publish request so a typo cannot exhaust memory.
const maxPublishCount = 10_000_000

// PublishN publishes n events with realistic generated payloads for the channel's kind and returns the first and
// last replay ids assigned.
func (s *Server) PublishN(channel string, n int) (first, last int64, err error) {
	return s.publish(channel, n, nil, 0)
}

// Publish publishes one event per payload: the sobject (PushTopic), the payload object (platform event, CDC; a
// missing CreatedDate or ChangeEventHeader is added) or the payload text (generic).
func (s *Server) Publish(channel string, payloads ...json.RawMessage) (first, last int64, err error) {
	return s.publish(channel, 0, payloads, 0)
}

func (s *Server) publish(name string, n int, payloads []json.RawMessage, gap int) (first, last int64, err error) {
	switch {
	case strings.Contains(name, "?"):
		return 0, 0, fmt.Errorf("publishing to %s: filters belong to subscriptions, publish to the topic without ?query", name)
	case n < 0 || n > maxPublishCount:
		return 0, 0, fmt.Errorf("publishing to %s: count %d outside 1..%d", name, n, maxPublishCount)
	case n == 0 && len(payloads) == 0:
		return 0, 0, fmt.Errorf("publishing to %s: %w", name, errors.New("nothing to publish: give count or payloads"))
	case gap < 0:
		return 0, 0, fmt.Errorf("publishing to %s: gap %d is negative", name, gap)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.channelLocked(name)
	if err != nil {
		return 0, 0, fmt.Errorf("publishing: %w", err)
	}
	now := s.clock.Now()
	s.pruneLocked(ch, now)
	total := n + len(payloads)
	for i := range total {
		var custom json.RawMessage
		if i >= n {
			custom = payloads[i-n]
		}
		// Build before assigning the id for good, so a bad payload leaves no gap in the sequence.
		saved := ch.lastID
		id := s.nextIDLocked(ch, gap)
		ev, err := s.buildEventLocked(ch, id, now, custom)
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
