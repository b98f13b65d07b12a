package stream

// Metadata is what a client reads about an event as it decodes it: the fields Salesforce documents for
// PushTopic, platform event and change data capture messages. Every field is empty when the event does not carry
// it. Both APIs fill the same fields, so a pipeline sees the same metadata whichever API it uses.
type Metadata struct {
	// CreatedDate is RFC 3339: data.event.createdDate (PushTopic, generic), else data.payload.CreatedDate
	// (platform events), else the CDC header's commitTimestamp. Salesforce's "+0000" offsets are rewritten to
	// UTC with milliseconds; an unparseable value is kept verbatim.
	CreatedDate string
	EventType   string // data.event.type (PushTopic: created, updated, deleted, undeleted)
	EventUUID   string // data.event.EventUuid (platform events)
	Schema      string // data.schema (platform events, CDC); the schema id over Pub/Sub

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
	// ReplayID is CometD's data.event.replayId: a non-negative integer, above the previous one handed on for the
	// channel. Zero when the message has none (generic Bayeux servers): such an event is delivered but does not
	// move the channel's replay position.
	ReplayID int64
	// HasReplayID tells a real replay id 0 from an absent one.
	HasReplayID bool
	// Data is the event's body byte for byte: CometD's `data` value as received, or the Pub/Sub payload decoded
	// to the JSON CometD delivers as `payload` (the Avro bytes when Opaque.DecodeErr is set). The event owns it.
	Data []byte
	Meta Metadata
	// Opaque is set by a source whose replay ids do not order (the Pub/Sub API): the id and what else such an
	// event carries. Nil over CometD: a pointer keeps the events the CometD decoder fills small.
	Opaque *OpaqueEvent
}

// OpaqueEvent is what an event of a source with opaque replay ids carries beyond Event's fields.
type OpaqueEvent struct {
	ReplayID []byte // store it, never compute with it
	EventID  string
	SchemaID string // the schema the payload was written with
	// DecodeErr: the payload did not decode, and the event's Data holds it as received.
	DecodeErr error
}

// Position is where the event sits in its channel, when it has a replay id: Seq is CometD's replay id; over a
// source whose ids do not order, Opaque holds the id and Seq is left for the tracker to number.
func (e *Event) Position() (Position, bool) {
	switch {
	case e.Opaque != nil && len(e.Opaque.ReplayID) > 0:
		return Position{Opaque: string(e.Opaque.ReplayID)}, true
	case e.HasReplayID:
		return Position{Seq: e.ReplayID}, true
	}
	return Position{}, false
}

// Batch holds the events of one channel from one server answer, in the order received, or (Latest set, no
// events) a keepalive: the newest position the source vouches for on an idle channel.
type Batch struct {
	Channel string
	Events  []Event
	// Fallbacks is how many times the source had replaced the channel's replay id per its invalid-replay policy
	// when the batch was queued. When it grows, the batch is the first of a subscription that started over from
	// earliest or latest, whose replay ids may be below every id handed on before.
	Fallbacks int
	// Latest is a keepalive's position (Events is empty then): every event of the channel up to it has been
	// delivered.
	Latest []byte
	// OnRelease, when set, is the source's release handle (see Release).
	OnRelease func(n int)
}

// Release tells the batch's source that n of its events are acknowledged or dropped, which lets a source with
// flow control ask for more. A source without flow control (CometD) leaves OnRelease nil.
func (b *Batch) Release(n int) {
	if b.OnRelease != nil && n > 0 {
		b.OnRelease(n)
	}
}

// Keepalive reports a batch that carries no events, only a newer position.
func (b *Batch) Keepalive() bool { return len(b.Events) == 0 && len(b.Latest) > 0 }

// Last is the position of the batch's last event that has one.
func (b *Batch) Last() (Position, bool) {
	for k := len(b.Events) - 1; k >= 0; k-- {
		if pos, ok := b.Events[k].Position(); ok {
			return pos, true
		}
	}
	return Position{}, false
}

// ChannelKey is a channel without its PushTopic ?filter query: the key of the replay map in a subscribe request,
// of replay positions, checkpoints and metrics, and the name Salesforce puts on delivered events.
func ChannelKey(channel string) string { return channel[:KeyLen(channel)] }

// KeyLen is the length of the channel key at the start of a channel name, as text or as the bytes of an answer
// (decoders use it without converting).
func KeyLen[T ~string | ~[]byte](channel T) int {
	for i := 0; i < len(channel); i++ {
		if channel[i] == '?' {
			return i
		}
	}
	return len(channel)
}
