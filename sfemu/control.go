package sfemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
)

// controlAPI is the emulator's control surface: state, purge, retention and org migration.
// It shares the Server's state and lock through the embedded pointer.
type controlAPI struct{ *Server }

// The control API (/emulator/*) drives the emulator from tests and demos (docs/emulator.md).

type counters struct {
	cometdRequests                            atomic.Int64
	handshakes, handshakesDenied              atomic.Int64
	connects, subscribes, subscribesFailed    atomic.Int64
	unsubscribes, disconnects                 atomic.Int64
	eventsPublished, eventsDelivered          atomic.Int64
	unknownClient, expired, serverDisconnects atomic.Int64
	faults                                    atomic.Int64
	mutations                                 atomic.Int64
}

// countersSnapshot merges the surfaces' counters with the session store's.
func (s *controlAPI) countersSnapshot() map[string]int64 {
	m := s.counters.snapshot()
	m["token_grants"], m["token_failures"] = s.tokens.Counts()
	m["connections_dropped"] = s.faults.Dropped()
	return m
}

func (c *counters) snapshot() map[string]int64 {
	return map[string]int64{
		"cometd_requests":        c.cometdRequests.Load(),
		"handshakes":             c.handshakes.Load(),
		"handshakes_denied":      c.handshakesDenied.Load(),
		"connects":               c.connects.Load(),
		"subscribes":             c.subscribes.Load(),
		"subscribes_failed":      c.subscribesFailed.Load(),
		"unsubscribes":           c.unsubscribes.Load(),
		"disconnects":            c.disconnects.Load(),
		"events_published":       c.eventsPublished.Load(),
		"events_delivered":       c.eventsDelivered.Load(),
		"unknown_client_replies": c.unknownClient.Load(),
		"clients_expired":        c.expired.Load(),
		"server_disconnects":     c.serverDisconnects.Load(),
		"faults_injected":        c.faults.Load(),
		"records_mutated":        c.mutations.Load(),
	}
}

// PublishRequest is the body of POST /emulator/publish.
type PublishRequest struct {
	Channel  string            `json:"channel"`
	Count    int               `json:"count,omitempty"`
	Payloads []json.RawMessage `json:"payloads,omitempty"`
	Gap      int               `json:"gap,omitempty"` // fixed replay id step instead of random gaps
	// ChangeType makes the change events of a /data/ channel of this type (CREATE, UPDATE, DELETE, UNDELETE,
	// GAP_CREATE, GAP_UPDATE, GAP_DELETE, GAP_UNDELETE, GAP_OVERFLOW); default: a random mix of record changes
	// for generated events, CREATE for payloads.
	ChangeType ChangeType `json:"change_type,omitempty"`
}

// PublishResponse is the answer of POST /emulator/publish.
type PublishResponse struct {
	Channel       string `json:"channel"`
	FirstReplayID int64  `json:"first_replay_id"`
	LastReplayID  int64  `json:"last_replay_id"`
}

// SelectRequest is the body of POST /emulator/cdc: objects to select for Change Data Capture.
type SelectRequest struct {
	Entities []string `json:"entities"`
}

// PurgeRequest is the body of POST /emulator/purge.
type PurgeRequest struct {
	Channel         string `json:"channel"`
	ThroughReplayID *int64 `json:"through_replay_id,omitempty"`
}

// ChannelState is one channel in GET /emulator/state.
type ChannelState struct {
	Kind          string `json:"kind"`
	FirstReplayID int64  `json:"first_replay_id"` // oldest retained; 0 when none
	LastReplayID  int64  `json:"last_replay_id"`  // newest ever assigned
	Retained      int    `json:"retained"`
	Published     int64  `json:"published"`
	Subscribers   int    `json:"subscribers"`
	Retention     string `json:"retention"` // a Go duration
	// StreamingChannelID is the StreamingChannel record id of a generic (/u/) channel, for the push resource.
	StreamingChannelID string `json:"streaming_channel_id,omitempty"`
}

// ClientState is one client in GET /emulator/state.
type ClientState struct {
	ClientID       string           `json:"client_id"`
	Subscriptions  []string         `json:"subscriptions"`
	ReplayCursors  map[string]int64 `json:"replay_cursors"`  // last replay id delivered (or skipped) per subscription
	Connected      bool             `json:"connected"`       // has had its first /meta/connect
	ConnectPending bool             `json:"connect_pending"` // a long poll is held now
	EventsSent     int64            `json:"events_sent"`
	LastSeen       time.Time        `json:"last_seen"`
}

// State is the answer of GET /emulator/state.
type State struct {
	Now      time.Time               `json:"now"`
	Clients  []ClientState           `json:"clients"`
	Channels map[string]ChannelState `json:"channels"`
	Counters map[string]int64        `json:"counters"`
	Faults   faults.State            `json:"faults"`
}

// State returns what GET /emulator/state shows.
func (s *controlAPI) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.sweepLocked(now)
	st := State{Now: now, Clients: []ClientState{}, Channels: map[string]ChannelState{}, Counters: s.countersSnapshot(), Faults: s.faults.Snapshot()}
	for _, c := range s.clients {
		cs := ClientState{ClientID: c.id, Subscriptions: []string{}, ReplayCursors: map[string]int64{}, Connected: c.connected,
			ConnectPending: c.holding > 0, EventsSent: c.sent, LastSeen: c.lastSeen}
		for _, sub := range c.subs {
			cs.Subscriptions = append(cs.Subscriptions, sub.name)
			cs.ReplayCursors[sub.name] = sub.cursor
		}
		st.Clients = append(st.Clients, cs)
	}
	sort.Slice(st.Clients, func(i, j int) bool { return st.Clients[i].ClientID < st.Clients[j].ClientID })
	for name, ch := range s.channels {
		s.pruneLocked(ch, now)
		r := ch.retained()
		cs := ChannelState{Kind: ch.kind.String(), LastReplayID: ch.lastID, Retained: len(r), Published: ch.published, Subscribers: len(ch.subs),
			Retention: ch.retention.String(), StreamingChannelID: ch.streamingID}
		if len(r) > 0 {
			cs.FirstReplayID = r[0].id
		}
		st.Channels[name] = cs
	}
	return st
}

// Purge drops retained events of a channel through a replay id (all when through is nil) and returns how many.
func (s *controlAPI) Purge(channel string, through *int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channel]
	if !ok {
		if channelKind(channel) == KindUnknown {
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
	return ch.purgeLocked(t), nil
}

func (s *controlAPI) serveControl(w http.ResponseWriter, r *http.Request) {
	route := map[string]string{
		"/emulator/publish":     http.MethodPost,
		"/emulator/faults":      http.MethodPost,
		"/emulator/purge":       http.MethodPost,
		"/emulator/retention":   http.MethodPost,
		"/emulator/migrate_org": http.MethodPost,
		"/emulator/state":       http.MethodGet,
		"/emulator/mutate":      http.MethodPost,
		"/emulator/cdc":         http.MethodPost,
	}
	method, ok := route[r.URL.Path]
	if !ok {
		sfhttp.WriteJSONError(w, http.StatusNotFound, "unknown control endpoint "+r.URL.Path+"; use /emulator/publish, /emulator/mutate, /emulator/cdc, /emulator/faults, /emulator/purge, /emulator/retention, /emulator/migrate_org or /emulator/state")
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		sfhttp.WriteJSONError(w, http.StatusMethodNotAllowed, r.URL.Path+" takes "+method)
		return
	}
	switch r.URL.Path {
	case "/emulator/state":
		sfhttp.WriteJSON(w, http.StatusOK, s.State())
	case "/emulator/publish":
		var req PublishRequest
		if !decodeControl(w, r, &req) {
			return
		}
		if req.Count < 0 {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, "count must not be negative")
			return
		}
		first, last, err := s.publish(publishSpec{channel: req.Channel, count: req.Count, payloads: req.Payloads, gap: req.Gap, changeType: req.ChangeType})
		if err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		sfhttp.WriteJSON(w, http.StatusOK, PublishResponse{Channel: req.Channel, FirstReplayID: first, LastReplayID: last})
	case "/emulator/mutate":
		var req MutateRequest
		if !decodeControl(w, r, &req) {
			return
		}
		resp, err := s.Mutate(req.Object, req.Count, req.Events)
		if err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		sfhttp.WriteJSON(w, http.StatusOK, resp)
	case "/emulator/cdc":
		var req SelectRequest
		if !decodeControl(w, r, &req) {
			return
		}
		if err := s.SelectEntities(req.Entities...); err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		sfhttp.WriteJSON(w, http.StatusOK, req)
	case "/emulator/faults":
		var req FaultRequest
		if !decodeControl(w, r, &req) {
			return
		}
		if err := s.InjectFault(req); err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, fmt.Sprintf("injecting fault: %v", err))
			return
		}
		f := s.faults.Snapshot()
		sfhttp.WriteJSON(w, http.StatusOK, map[string]any{"fault": req.Fault, "pending": f})
	case "/emulator/retention":
		var req RetentionRequest
		if !decodeControl(w, r, &req) {
			return
		}
		d, err := faults.ParseDelay(req.Retention)
		if err == nil && len(req.Retention) == 0 {
			err = fmt.Errorf("retention not given")
		}
		if err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, "setting retention: "+err.Error())
			return
		}
		changed, err := s.SetRetention(req.Channel, d)
		if err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		st := s.State()
		out := RetentionResponse{Channel: req.Channel, Retention: d.String(), Channels: map[string]ChannelState{}}
		for _, name := range changed {
			out.Channels[name] = st.Channels[name]
		}
		sfhttp.WriteJSON(w, http.StatusOK, out)
	case "/emulator/migrate_org":
		var req struct{}
		if !decodeControl(w, r, &req) {
			return
		}
		sfhttp.WriteJSON(w, http.StatusOK, MigrateResponse{Channels: s.MigrateOrg()})
	case "/emulator/purge":
		var req PurgeRequest
		if !decodeControl(w, r, &req) {
			return
		}
		n, err := s.Purge(req.Channel, req.ThroughReplayID)
		if err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		st := s.State().Channels[req.Channel]
		sfhttp.WriteJSON(w, http.StatusOK, map[string]any{"channel": req.Channel, "purged": n, "first_replay_id": st.FirstReplayID,
			"last_replay_id": st.LastReplayID, "retained": st.Retained})
	}
}

// decodeControl reads a strict JSON body (unknown fields are typos, so they are errors) or answers 400.
func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := sfhttp.ReadLimited(r.Body, 64<<20)
	if err != nil {
		sfhttp.WriteJSONError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		sfhttp.WriteJSONError(w, http.StatusBadRequest, "decoding JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		sfhttp.WriteJSONError(w, http.StatusBadRequest, "decoding JSON body: trailing data after the object")
		return false
	}
	return true
}
