package sfemu

import (
	"fmt"
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
	s.store.Lock()
	defer s.store.Unlock()
	if channel == "" {
		s.cfg.TopicRetention, s.cfg.GenericRetention, s.cfg.PlatformEventRetention, s.cfg.CDCRetention = d, d, d, d
		return s.store.SetAllRetentionLocked(d), nil
	}
	if err := s.store.SetRetentionLocked(channel, d); err != nil {
		return nil, fmt.Errorf("setting retention: %w", err)
	}
	return []string{channel}, nil
}

// MigrateOrg emulates an org migration: every channel's retained events are gone and its replay ids restart
// below the old ones, so a stored replay id is refused as invalid; every CometD session ends (the next request
// gets 403::Unknown client and a new load balancer cookie), as when the org moves to another instance.
func (s *Server) MigrateOrg() map[string]MigratedChannel {
	s.store.Lock()
	defer s.store.Unlock()
	out := map[string]MigratedChannel{}
	for name, m := range s.store.MigrateLocked() {
		out[name] = MigratedChannel{OldFirstReplayID: m.OldFirstReplayID, OldLastReplayID: m.OldLastReplayID, Dropped: m.Dropped,
			NextReplayIDFrom: m.NextReplayIDFrom}
	}
	s.cometd.ForgetClientsLocked("migrated")
	s.instance.migrations.Add(1) // the org now lives on another instance
	s.counters.faults.Add(1)
	s.faults.Wake() // under mu: a held request either saw the migration or holds the channel this closes
	return out
}
