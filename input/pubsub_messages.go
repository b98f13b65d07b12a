package input

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
	"github.com/salesforce-streaming/salesforce_streaming/internal/pubsub"
)

// pubsubBatch turns a subscription's batch into the input's: each event's
// body is its payload decoded to the JSON a CometD subscriber receives as
// `payload`, with the CometD metadata read from it. An event whose payload
// does not decode keeps its Avro bytes as body (see pubsubDecodeError).
func pubsubBatch(channel string, b pubsub.Batch) eventBatch {
	out := eventBatch{Batch: wire.Batch{Channel: channel, Fallbacks: b.Fallbacks}}
	if b.Keepalive() {
		out.latest = b.LatestReplayID
		return out
	}
	out.Events = make([]wire.Event, len(b.Events))
	out.pubsub = make([]pubsubEvent, len(b.Events))
	var p fastjson.Parser
	for k, ev := range b.Events {
		we := wire.Event{Channel: channel, Data: ev.JSON}
		if ev.DecodeErr != nil {
			we.Data = ev.Payload
		} else {
			we.Meta = pubsubMeta(&p, channel, ev)
		}
		we.Meta.Schema = ev.SchemaID
		out.Events[k] = we
		out.pubsub[k] = pubsubEvent{replayID: ev.ReplayID, eventID: ev.EventID, schemaID: ev.SchemaID, decodeErr: ev.DecodeErr}
	}
	return out
}

// pubsubMeta reads the metadata CometD's decoder reads from data.payload
// (and data.event) out of the decoded payload: CreatedDate of platform
// events, the ChangeEventHeader of change events. The event uuid of a
// platform event is the Pub/Sub event id.
func pubsubMeta(p *fastjson.Parser, channel string, ev pubsub.Event) wire.Metadata {
	var m wire.Metadata
	v, err := p.ParseBytes(ev.JSON)
	if err != nil {
		return m
	}
	if strings.HasPrefix(channel, "/event/") {
		m.EventUUID = ev.EventID
	}
	m.CreatedDate = string(v.GetStringBytes("CreatedDate"))
	h := v.Get("ChangeEventHeader")
	if h == nil {
		return m
	}
	m.ChangeType = string(h.GetStringBytes("changeType"))
	m.EntityName = string(h.GetStringBytes("entityName"))
	m.TransactionKey = string(h.GetStringBytes("transactionKey"))
	m.CommitUser = string(h.GetStringBytes("commitUser"))
	for _, id := range h.GetArray("recordIds") {
		m.RecordIDs = append(m.RecordIDs, string(id.GetStringBytes()))
	}
	if ts := h.Get("commitTimestamp"); ts != nil {
		switch ts.Type() {
		case fastjson.TypeNumber:
			m.CommitTimestamp = time.UnixMilli(ts.GetInt64()).UTC().Format(cometdTimeLayout)
		case fastjson.TypeString:
			m.CommitTimestamp = string(ts.GetStringBytes())
		}
	}
	if m.CreatedDate == "" {
		m.CreatedDate = m.CommitTimestamp
	}
	return m
}

// cometdTimeLayout is how CometD metadata writes instants: UTC, milliseconds.
const cometdTimeLayout = "2006-01-02T15:04:05.000Z"
