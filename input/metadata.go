package input

import (
	"encoding/base64"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Metadata keys of every message, documented for users in docs/input.md: a
// contract with their pipelines, never renamed.
const (
	metaChannel         = "salesforce_channel"
	metaReplayID        = "salesforce_replay_id"
	metaCreatedDate     = "salesforce_created_date"
	metaEventType       = "salesforce_event_type"
	metaEventUUID       = "salesforce_event_uuid"
	metaSchema          = "salesforce_schema"
	metaChangeType      = "salesforce_change_type"
	metaEntityName      = "salesforce_entity_name"
	metaRecordIDs       = "salesforce_record_ids"
	metaCommitTimestamp = "salesforce_commit_timestamp"
	metaTransactionKey  = "salesforce_transaction_key"
	metaCommitUser      = "salesforce_commit_user"

	// Pub/Sub only (salesforce_replay_id is base64 text there).
	metaEventID     = "salesforce_event_id"
	metaSchemaID    = "salesforce_schema_id"
	metaDecodeError = "salesforce_decode_error"
)

// batchMessages turns the events of one batch into messages, over either API. The body of each is the event's
// data bytes as received (the event owns them, so no copy is needed); metadata the event does not carry is left
// unset. The channel is the one Salesforce delivers on: without a PushTopic filter. An event with an opaque replay
// id (Pub/Sub) also carries that id as base64 text, its event id and schema id, and the decode error of a payload
// that did not decode (its body is then the Avro payload as received).
func batchMessages(batch *stream.Batch) service.MessageBatch {
	var mb messageBuilder
	return mb.build(batch)
}

// String metadata fields, in the order they are set.
const (
	fieldCreatedDate = iota
	fieldEventType
	fieldEventUUID
	fieldSchema
	fieldChangeType
	fieldEntityName
	fieldCommitTimestamp
	fieldTransactionKey
	fieldCommitUser
	numStringFields
)

var stringFieldKeys = [numStringFields]string{
	metaCreatedDate, metaEventType, metaEventUUID, metaSchema, metaChangeType, metaEntityName,
	metaCommitTimestamp, metaTransactionKey, metaCommitUser,
}

// Values the builder keeps the previous interface form of: the string fields, then two Pub/Sub texts.
const (
	lastSchemaID    = numStringFields + iota // when it differs from the schema field (the source sets both alike)
	lastDecodeError                          // a schema that does not decode fails every event alike
	numLast
)

// messageBuilder turns the events of a batch into messages. Storing a string in metadata (an `any`) costs an
// allocation per value. Most string values repeat from one event to the next (the channel always; schema, entity,
// change type and commit user mostly; the transaction key within a transaction; created date and commit time of a
// CDC event are the same instant), so it keeps the interface form of the previous value of each field and reuses
// it when the value repeats: strings are immutable, so messages can share them. Over Pub/Sub the schema id is the
// schema field's value and a platform event's id is its uuid, so those keys share the field's interface value;
// the replay ids, which never repeat, are written as base64 into one text for the batch. A builder serves one
// batch.
type messageBuilder struct {
	last [numLast]struct {
		s string
		v any
	}
	proto     *service.Message // see message
	protoVals [numKeys]any
}

func (mb *messageBuilder) value(field int, s string) any {
	l := &mb.last[field]
	if l.v == nil || l.s != s {
		l.s, l.v = s, s
	}
	return l.v
}

func (mb *messageBuilder) build(batch *stream.Batch) service.MessageBatch {
	n := len(batch.Events)
	msgs := make(service.MessageBatch, n)
	// Every record id of the batch in one backing array; each message gets its own capacity-limited part, so
	// a downstream change to one message's list cannot reach another's.
	recs := 0
	for k := range batch.Events {
		recs += len(batch.Events[k].Meta.RecordIDs)
	}
	var recSlab []any // the record ids, as metadata holds them
	if recs > 0 {
		recSlab = make([]any, 0, recs)
	}
	replayText := opaqueReplayText(batch.Events)
	var channel any // the key of lastChannel
	lastChannel := ""
	for k := range batch.Events {
		ev := &batch.Events[k]
		var vals [numKeys]any // nil: the message has no such key
		if channel == nil || ev.Channel != lastChannel {
			channel, lastChannel = stream.ChannelKey(ev.Channel), ev.Channel
		}
		vals[keyChannel] = channel
		if ev.HasReplayID {
			vals[keyReplayID] = ev.ReplayID
		}
		m := &ev.Meta
		for f, v := range [numStringFields]string{
			m.CreatedDate, m.EventType, m.EventUUID, m.Schema, m.ChangeType, m.EntityName, m.CommitTimestamp,
			m.TransactionKey, m.CommitUser,
		} {
			switch {
			case v == "":
			case f == fieldCommitTimestamp && v == m.CreatedDate:
				vals[keyStrings+f] = mb.last[fieldCreatedDate].v
			default:
				vals[keyStrings+f] = mb.value(f, v)
			}
		}
		if len(m.RecordIDs) > 0 {
			// Structured metadata holds JSON-like values: []any, not []string.
			start := len(recSlab)
			for _, id := range m.RecordIDs {
				recSlab = append(recSlab, id)
			}
			vals[keyRecordIDs] = recSlab[start:len(recSlab):len(recSlab)]
		}
		if o := ev.Opaque; o != nil {
			// These keys are set even when empty: a Pub/Sub message always carries them.
			size := base64.StdEncoding.EncodedLen(len(o.ReplayID))
			vals[keyReplayID], replayText = replayText[:size], replayText[size:]
			vals[keyEventID] = sharedOr(vals[keyStrings+fieldEventUUID], m.EventUUID, o.EventID)
			if o.SchemaID == m.Schema && o.SchemaID != "" {
				vals[keySchemaID] = vals[keyStrings+fieldSchema]
			} else {
				vals[keySchemaID] = mb.value(lastSchemaID, o.SchemaID)
			}
			if o.DecodeErr != nil {
				vals[keyDecodeError] = mb.value(lastDecodeError, o.DecodeErr.Error())
			}
		}
		msgs[k] = mb.message(ev.Data, &vals)
	}
	return msgs
}

// opaqueReplayText is the base64 text of the opaque replay ids of events, one after the other, converted to a
// string once for the batch: each message's replay id is its part of it.
func opaqueReplayText(events []stream.Event) string {
	size := 0
	for k := range events {
		if o := events[k].Opaque; o != nil {
			size += base64.StdEncoding.EncodedLen(len(o.ReplayID))
		}
	}
	if size == 0 {
		return ""
	}
	text := make([]byte, 0, size)
	for k := range events {
		if o := events[k].Opaque; o != nil {
			text = base64.StdEncoding.AppendEncode(text, o.ReplayID)
		}
	}
	return string(text)
}

// sharedOr is field, the interface form of fieldText, when s is that text, else s in its own interface value.
func sharedOr(field any, fieldText, s string) any {
	if field != nil && s == fieldText {
		return field
	}
	return s
}

// Metadata keys by index: the channel, the replay id, the string fields in their order, the record ids, then the
// Pub/Sub keys.
const (
	keyChannel = iota
	keyReplayID
	keyStrings     // first of the string fields
	keyRecordIDs   = keyStrings + numStringFields
	keyEventID     = keyRecordIDs + 1
	keySchemaID    = keyEventID + 1
	keyDecodeError = keySchemaID + 1
	numKeys        = keyDecodeError + 1
)

var allKeys = func() (keys [numKeys]string) {
	keys[keyChannel], keys[keyReplayID], keys[keyRecordIDs] = metaChannel, metaReplayID, metaRecordIDs
	copy(keys[keyStrings:], stringFieldKeys[:])
	keys[keyEventID], keys[keySchemaID], keys[keyDecodeError] = metaEventID, metaSchemaID, metaDecodeError
	return keys
}()

// message makes the message of one event: its body and its metadata values, by key (nil: absent). Benthos sizes
// a message's metadata map for 5 keys and grows it past 8 (a CDC event has 10, 12 over Pub/Sub), and each key set
// costs a hash and a probe. So the messages of a batch are copies of a prototype carrying the first event's
// metadata: a copy clones the prototype's map at its size when first changed, and only the values that differ
// from the prototype's (the replay id, the record ids, and whatever changed since the first event) are set, keys
// the prototype has and the event lacks deleted. The result is the same metadata as setting every key.
//
// A Pub/Sub event's replay id and event id differ in every event, so the prototype leaves them out: each message
// adds them to its clone instead of cloning the first event's values only to replace them (two map operations
// fewer per event). The clone has room for them: a change event's 10 other keys get a map that holds 14 before
// it grows, a platform event's 5 stay within the first 8 (BenchmarkPubSubMessages counts the allocations). A
// CometD replay id stays in: without it a PushTopic or platform event would fit either way, but a change event's
// 9 other keys would not save the operation a CometD map of 8 would cost in growing.
func (mb *messageBuilder) message(data []byte, vals *[numKeys]any) *service.Message {
	if mb.proto == nil {
		mb.proto, mb.protoVals = service.NewMessage(nil), *vals
		if vals[keyEventID] != nil { // a Pub/Sub event
			mb.protoVals[keyReplayID], mb.protoVals[keyEventID] = nil, nil
		}
		for i, v := range mb.protoVals {
			if v != nil {
				mb.proto.MetaSetMut(allKeys[i], v)
			}
		}
	}
	msg := mb.proto.Copy()
	msg.SetBytes(data)
	for i, v := range vals {
		switch {
		case v == nil:
			if mb.protoVals[i] != nil {
				msg.MetaDelete(allKeys[i])
			}
		case i == keyRecordIDs || i == keyReplayID || i == keyEventID:
			msg.MetaSetMut(allKeys[i], v) // a slice is not comparable; replay and event ids never repeat
		case v != mb.protoVals[i]:
			msg.MetaSetMut(allKeys[i], v)
		}
	}
	return msg
}
