package input

import (
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
	"github.com/salesforce-streaming/salesforce_streaming/internal/pubsub"
)

// pubsubBatch turns a subscription's batch into the input's: each event's
// body is its payload decoded to the JSON a CometD subscriber receives as
// `payload`, with the CometD metadata the decoder read from it. An event whose payload
// does not decode keeps its Avro bytes as body (see pubsubDecodeError).
func pubsubBatch(channel string, b pubsub.Batch) eventBatch {
	out := eventBatch{Batch: wire.Batch{Channel: channel, Fallbacks: b.Fallbacks}}
	if b.Keepalive() {
		out.latest = b.LatestReplayID
		return out
	}
	out.Events = make([]wire.Event, len(b.Events))
	out.pubsub = make([]pubsubEvent, len(b.Events))
	for k := range b.Events {
		ev := &b.Events[k]
		we := wire.Event{Channel: channel, Data: ev.JSON}
		if ev.DecodeErr != nil {
			we.Data = ev.Payload
		} else {
			we.Meta = pubsubMeta(channel, ev)
		}
		we.Meta.Schema = ev.SchemaID
		out.Events[k] = we
		out.pubsub[k] = pubsubEvent{replayID: ev.ReplayID, eventID: ev.EventID, schemaID: ev.SchemaID, decodeErr: ev.DecodeErr}
	}
	return out
}

// pubsubMeta is the CometD metadata of a Pub/Sub event: what its decoder
// read from the payload (CreatedDate of platform events, the
// ChangeEventHeader of change events), and for a platform event its event
// uuid, which is the Pub/Sub event id.
func pubsubMeta(channel string, ev *pubsub.Event) wire.Metadata {
	m := wire.Metadata{
		CreatedDate:     ev.Meta.CreatedDate,
		ChangeType:      ev.Meta.ChangeType,
		EntityName:      ev.Meta.EntityName,
		TransactionKey:  ev.Meta.TransactionKey,
		CommitUser:      ev.Meta.CommitUser,
		RecordIDs:       ev.Meta.RecordIDs,
		CommitTimestamp: ev.Meta.CommitTimestamp,
	}
	if strings.HasPrefix(channel, "/event/") {
		m.EventUUID = ev.EventID
	}
	return m
}
