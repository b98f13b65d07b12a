package input

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
