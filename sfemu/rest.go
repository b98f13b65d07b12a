package sfemu

import (
	"encoding/json"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
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
			s.store.Lock()
			_, last, err := s.store.PublishLocked(eventstore.Spec{Channel: channel, Payloads: []json.RawMessage{payload}})
			uuid := s.store.LastEventUUIDLocked()
			s.store.Unlock()
			if err == nil {
				s.limits.CountPublished(1)
			}
			return last, uuid, err
		},
		StreamingChannel: func(id string) (string, bool) {
			s.store.Lock()
			defer s.store.Unlock()
			name := s.defs.streamingChannels[id]
			ch := s.store.LookupLocked(name)
			return name, ch != nil && ch.Subscribers() > 0
		},
		Push: func(channel string, payloads []json.RawMessage) error {
			_, _, err := s.store.Publish(eventstore.Spec{Channel: channel, Payloads: payloads})
			return err
		},
		AdmitAPIRequest: s.limits.AdmitAPIRequest,
		Limits: func() []byte {
			s.store.Lock()
			clients := s.cometd.ClientsLocked()
			s.store.Unlock()
			return s.limits.JSON(clients)
		},
		InstanceName: s.instance.instanceName,
		Tooling:      s.pubsub.ServeTooling,
	}
}
