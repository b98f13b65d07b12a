package input

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
)

// The body field: what a message's body holds. `data` is CometD's whole
// `data` object (event, schema and payload: the body the input always had
// over CometD); `payload` is the event's payload alone, which is what the
// Pub/Sub API delivers. With body: payload the same pipeline runs over either
// API, its metadata being the same too. The field itself is in the
// configuration table (config_fields.go).

// bodyShape is the body field's value.
type bodyShape string

const (
	bodyData    bodyShape = "data"
	bodyPayload bodyShape = "payload"
)

// payloadBody makes each event's body its payload: data.payload, or a
// PushTopic event's data.sobject. An event with neither keeps its data.
func payloadBody(b *wire.Batch) {
	for k := range b.Events {
		ev := &b.Events[k]
		if p, ok := wire.Member(ev.Data, "payload"); ok {
			ev.Data = p
		} else if p, ok := wire.Member(ev.Data, "sobject"); ok {
			ev.Data = p
		}
	}
}
