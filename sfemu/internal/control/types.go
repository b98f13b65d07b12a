package control

import (
	"encoding/json"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
)

// The request and answer bodies of the control API.

// PublishRequest is the body of POST /emulator/publish.
type PublishRequest struct {
	Channel  string            `json:"channel"`
	Count    int               `json:"count,omitempty"`
	Payloads []json.RawMessage `json:"payloads,omitempty"`
	Gap      int               `json:"gap,omitempty"` // fixed replay id step instead of random gaps
	// ChangeType makes the change events of a /data/ channel of this type (CREATE, UPDATE, DELETE, UNDELETE,
	// GAP_CREATE, GAP_UPDATE, GAP_DELETE, GAP_UNDELETE, GAP_OVERFLOW); default: a random mix of record changes
	// for generated events, CREATE for payloads.
	ChangeType string `json:"change_type,omitempty"`
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

// RetentionRequest is the body of POST /emulator/retention.
type RetentionRequest struct {
	Channel string `json:"channel,omitempty"` // empty: every channel, and the default of channels to come
	// Retention is a Go duration string ("90m") or a number of milliseconds.
	Retention json.RawMessage `json:"retention"`
}

// RetentionResponse is the answer of POST /emulator/retention: the channels changed, after pruning.
type RetentionResponse struct {
	Channel   string                  `json:"channel,omitempty"`
	Retention string                  `json:"retention"`
	Channels  map[string]ChannelState `json:"channels"`
}

// MigratedChannel is one channel in the answer of POST /emulator/migrate_org.
type MigratedChannel struct {
	OldFirstReplayID int64 `json:"old_first_replay_id"` // 0 when nothing was retained
	OldLastReplayID  int64 `json:"old_last_replay_id"`
	NextReplayIDFrom int64 `json:"next_replay_id_from"` // the next event's id is above this and below the old ones
	Dropped          int   `json:"dropped"`
}

// MigrateResponse is the answer of POST /emulator/migrate_org.
type MigrateResponse struct {
	Channels map[string]MigratedChannel `json:"channels"`
}

// MutateRequest is the body of POST /emulator/mutate.
type MutateRequest struct {
	Object string `json:"object"`
	Count  int    `json:"count"`
	// Events is how the changes are reported: "" (normal change events), "gap" (header-only GAP_* events) or
	// "overflow" (all changes in one transaction, reported by one GAP_OVERFLOW event per entity).
	Events string `json:"events,omitempty"`
}

// MutateResponse is the answer of POST /emulator/mutate.
type MutateResponse struct {
	Object  string         `json:"object"`
	Events  string         `json:"events"`
	Changes map[string]int `json:"changes"` // by change type
	// RecordIDs lists the records changed, in order (up to maxListedMutations).
	RecordIDs []string `json:"record_ids"`
}
