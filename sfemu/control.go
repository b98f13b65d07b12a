package sfemu

import (
	"fmt"
	"sync/atomic"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/control"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
)

// The control API's bodies; package control owns them and answers /emulator/*.
type (
	PublishRequest    = control.PublishRequest
	PublishResponse   = control.PublishResponse
	SelectRequest     = control.SelectRequest
	PurgeRequest      = control.PurgeRequest
	ChannelState      = control.ChannelState
	ClientState       = control.ClientState
	State             = control.State
	RetentionRequest  = control.RetentionRequest
	RetentionResponse = control.RetentionResponse
	MigratedChannel   = control.MigratedChannel
	MigrateResponse   = control.MigrateResponse
	MutateRequest     = control.MutateRequest
	MutateResponse    = control.MutateResponse
)

// controlOps wires the control surface to the operations it drives.
func (s *Server) controlOps() control.Ops {
	return control.Ops{
		State: s.State,
		Publish: func(req PublishRequest) (PublishResponse, error) {
			first, last, err := s.store.Publish(eventstore.Spec{Channel: req.Channel, Count: req.Count, Payloads: req.Payloads,
				Gap: req.Gap, Change: ChangeType(req.ChangeType)})
			return PublishResponse{Channel: req.Channel, FirstReplayID: first, LastReplayID: last}, err
		},
		Mutate:         func(req MutateRequest) (MutateResponse, error) { return s.Mutate(req.Object, req.Count, req.Events) },
		SelectEntities: s.SelectEntities,
		InjectFault:    s.InjectFault,
		Faults:         s.faults.Snapshot,
		SetRetention:   s.SetRetention,
		MigrateOrg:     s.MigrateOrg,
		Purge:          s.Purge,
	}
}

// The control API (/emulator/*) drives the emulator from tests and demos (docs/emulator.md).

// counters are what the assembly itself counts; the surfaces and the store count the rest.
type counters struct {
	faults    atomic.Int64
	mutations atomic.Int64
}

// countersSnapshot merges the surfaces' counters with the session store's.
func (s *Server) countersSnapshot() map[string]int64 {
	m := s.cometd.Counts()
	m["events_published"] = s.store.Published()
	m["faults_injected"] = s.counters.faults.Load()
	m["records_mutated"] = s.counters.mutations.Load()
	m["token_grants"], m["token_failures"] = s.tokens.Counts()
	m["connections_dropped"] = s.faults.Dropped()
	return m
}

// State returns what GET /emulator/state shows.
func (s *Server) State() State {
	s.store.Lock()
	defer s.store.Unlock()
	now := s.clock.Now()
	st := State{Now: now, Clients: []ClientState{}, Channels: map[string]ChannelState{}, Faults: s.faults.Snapshot()}
	for _, c := range s.cometd.SessionsLocked(now) {
		st.Clients = append(st.Clients, ClientState{ClientID: c.ClientID, Subscriptions: c.Subscriptions, ReplayCursors: c.ReplayCursors,
			Connected: c.Connected, ConnectPending: c.ConnectPending, EventsSent: c.EventsSent, LastSeen: c.LastSeen})
	}
	st.Counters = s.countersSnapshot()
	for _, ch := range s.store.ChannelsLocked() {
		name := ch.Name()
		s.store.PruneLocked(ch, now)
		r := ch.Retained()
		cs := ChannelState{Kind: ch.Kind().String(), LastReplayID: ch.LastID(), Retained: len(r), Published: ch.Published(),
			Subscribers: ch.Subscribers(), Retention: ch.Retention().String(), StreamingChannelID: ch.StreamingID()}
		if len(r) > 0 {
			cs.FirstReplayID = r[0].ID
		}
		st.Channels[name] = cs
	}
	return st
}

// Purge drops retained events of a channel through a replay id (all when through is nil) and returns how many.
func (s *Server) Purge(channel string, through *int64) (int, error) {
	s.store.Lock()
	defer s.store.Unlock()
	ch := s.store.LookupLocked(channel)
	if ch == nil {
		if KindOf(channel) == KindUnknown {
			return 0, fmt.Errorf("purging: unknown channel %q", channel)
		}
		return 0, nil
	}
	t := int64(-1)
	if through != nil {
		if *through < 0 {
			return 0, fmt.Errorf("purging %s: through_replay_id %d is negative", channel, *through)
		}
		t = *through
	}
	return ch.PurgeLocked(t), nil
}
