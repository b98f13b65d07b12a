package eventstore

import "bytes"

// Event is one retained event: its index entry, the message bytes living in its channel's arena. Msg is the
// complete Bayeux message, encoded once at publish; every delivery copies these bytes.
type Event struct {
	ID  int64
	At  int64  // publish time, Unix nanoseconds (retention)
	Msg []byte // {"channel":"...","data":{...}}, a slice of an arena chunk whose capacity also covers the fields
	// fieldsLen is the size of a PushTopic event's sobject scalars, stored after Msg (appendFilterFields).
	fieldsLen int32
	// DataOff: Msg[DataOff:] is `,"data":{...}}`, for re-labelling the channel of filtered subscriptions.
	DataOff int32
	// PubSub is the event's Pub/Sub form, made by the surface that serves it (or at publish, see
	// Hooks.Encode) and kept with the event so that later serves only wrap it.
	PubSub *Encoding
}

// Encoding is what a stored event is over Pub/Sub: its ConsumerEvent in protobuf wire form (the event id, the id
// of the schema it was written with, the Avro payload and the replay id from the event's id), which a response
// carries as it is. Immutable once made. The store keeps it as bytes; it knows nothing of the encoding.
type Encoding struct {
	SchemaID  string
	Wire      []byte
	PayloadAt int32 // the payload is Wire[PayloadAt:PayloadTo]
	PayloadTo int32
}

// Payload is the event's Avro payload.
func (e *Encoding) Payload() []byte { return e.Wire[e.PayloadAt:e.PayloadTo] }

// Field returns a PushTopic event's value of an sobject field for filters ("" when absent).
func (ev *Event) Field(name string) string {
	enc := ev.Msg[len(ev.Msg) : len(ev.Msg)+int(ev.fieldsLen)]
	for len(enc) > 0 {
		k, rest, _ := bytes.Cut(enc, []byte{0})
		v, rest, _ := bytes.Cut(rest, []byte{0})
		if string(k) == name {
			return string(v)
		}
		enc = rest
	}
	return ""
}

// Matches reports whether the event passes every filter of a subscription.
func (ev *Event) Matches(filters []Filter) bool {
	for _, f := range filters {
		if ev.Field(f.Field) != f.Value {
			return false
		}
	}
	return true
}
