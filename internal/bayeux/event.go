package bayeux

// Metadata is what the client extracts from an event's `data` object in the same single decoding pass that
// splits a connect answer (see protocol.md 1.11). Every field is empty when the event does not carry it.
type Metadata struct {
	// CreatedDate is RFC 3339: data.event.createdDate (PushTopic, generic), else data.payload.CreatedDate
	// (platform events), else the CDC header's commitTimestamp. Salesforce's "+0000" offsets are rewritten to
	// UTC with milliseconds; an unparseable value is kept verbatim.
	CreatedDate string
	EventType   string // data.event.type (PushTopic: created, updated, deleted, undeleted)
	EventUUID   string // data.event.EventUuid (platform events)
	Schema      string // data.schema (platform events, CDC)

	// CDC: data.payload.ChangeEventHeader.
	ChangeType      string
	EntityName      string
	TransactionKey  string
	CommitUser      string
	RecordIDs       []string
	CommitTimestamp string // RFC 3339 UTC with milliseconds, from epoch ms
}

// Event is one data message.
type Event struct {
	// Channel is the channel as configured (with its ?filter query, if any) whose key matches the broadcast
	// channel. Data messages on other channels are dropped, never handed on.
	Channel string
	// ReplayID is data.event.replayId: a non-negative integer, above the previous one handed on for the
	// channel. Zero when the message has none (generic Bayeux servers): such an event is delivered but does not
	// move the channel's replay position.
	ReplayID int64
	// HasReplayID tells a real replay id 0 from an absent one.
	HasReplayID bool
	// Data is the message's `data` value byte for byte as received. The event owns it: it is never reused by
	// the client (slices of one answer share a backing array but cannot grow into each other).
	Data []byte
	Meta Metadata
}

// Batch holds the events of one channel from one server answer, in the order received.
type Batch struct {
	Channel string
	Events  []Event
	// Fallbacks is how many times this client had replaced the channel's replay id per OnInvalidReplayID when the
	// batch was queued. When it grows, the batch is the first of a subscription that started over from earliest
	// or latest, whose replay ids may be below every id handed on before.
	Fallbacks int
}
