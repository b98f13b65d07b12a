package sfemu

import (
	"fmt"
	"sort"
	"time"
)

// Org-level changes of the control API: retention set at run time, and an org migration (Salesforce moving the
// org to another instance), after which replay ids restart below the old ones.

// maxRetention bounds a retention set at run time; Salesforce's longest is 72 hours.
const maxRetention = 30 * 24 * time.Hour

// SetRetention changes how long a channel keeps its events (all channels, and the defaults of channels created
// later, when channel is empty) and drops what falls out at once. It returns the channels changed.
func (s *Server) SetRetention(channel string, d time.Duration) ([]string, error) {
	if d <= 0 || d > maxRetention {
		return nil, fmt.Errorf("setting retention: %s outside (0, %s]", d, maxRetention)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var changed []string
	if channel == "" {
		s.cfg.TopicRetention, s.cfg.GenericRetention, s.cfg.PlatformEventRetention, s.cfg.CDCRetention = d, d, d, d
		for name, ch := range s.channels {
			ch.retention = d
			s.pruneLocked(ch, now)
			changed = append(changed, name)
		}
		sort.Strings(changed)
		return changed, nil
	}
	ch, err := s.channelLocked(channel)
	if err != nil {
		return nil, fmt.Errorf("setting retention: %w", err)
	}
	ch.retention = d
	s.pruneLocked(ch, now)
	return []string{channel}, nil
}

// MigrateOrg emulates an org migration: every channel's retained events are gone and its replay ids restart
// below the old ones, so a stored replay id is refused as invalid; every CometD session ends (the next request
// gets 403::Unknown client and a new load balancer cookie), as when the org moves to another instance.
func (s *Server) MigrateOrg() map[string]MigratedChannel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]MigratedChannel, len(s.channels))
	for name, ch := range s.channels {
		m := MigratedChannel{OldLastReplayID: ch.lastID}
		low := ch.lastID
		if r := ch.retained(); len(r) > 0 {
			m.OldFirstReplayID = r[0].id
			low = r[0].id
		}
		m.Dropped = ch.purgeLocked(-1)
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
	for _, c := range s.clients {
		s.destroyLocked(c, "migrated")
	}
	s.lbCookie = s.lbCookieValue()
	s.instance.migrations.Add(1) // the org now lives on another instance
	s.counters.faults.Add(1)
	s.faults.Wake() // under mu: a held request either saw the migration or holds the channel this closes
	return out
}
