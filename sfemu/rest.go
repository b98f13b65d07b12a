package sfemu

import (
	"encoding/json"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/rest"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
)

// API versions the emulator lists (package sfhttp owns them).
const (
	LatestAPIVersion = sfhttp.LatestAPIVersion
	oldestAPIVersion = sfhttp.OldestAPIMajor
	latestAPIMajor   = sfhttp.LatestAPIMajor
)

// restOps wires the REST surface to the event store, the org's limits and the Tooling API.
func (s *Server) restOps() rest.Ops {
	return rest.Ops{
		PublishEvent: func(channel string, payload json.RawMessage) (int64, string, error) {
			s.mu.Lock()
			_, last, err := s.publishLocked(publishSpec{channel: channel, payloads: []json.RawMessage{payload}})
			uuid := s.lastEventUUID
			s.mu.Unlock()
			if err == nil {
				s.limits.CountPublished(1)
			}
			return last, uuid, err
		},
		StreamingChannel: func(id string) (string, bool) {
			s.mu.Lock()
			defer s.mu.Unlock()
			name := s.streamingChannels[id]
			ch := s.channels[name]
			return name, ch != nil && len(ch.subs) > 0
		},
		Push: func(channel string, payloads []json.RawMessage) error {
			_, _, err := s.publish(publishSpec{channel: channel, payloads: payloads})
			return err
		},
		AdmitAPIRequest: s.limits.AdmitAPIRequest,
		Limits: func() []byte {
			s.mu.Lock()
			clients := len(s.clients)
			s.mu.Unlock()
			return s.limits.JSON(clients)
		},
		InstanceName: s.instance.instanceName,
		Tooling:      s.serveTooling,
	}
}
