package input

import (
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// The body field: what a message's body holds. `data` is CometD's whole
// `data` object (event, schema and payload: the body the input always had
// over CometD); `payload` is the event's payload alone, which is what the
// Pub/Sub API delivers. With body: payload the same pipeline runs over either
// API, its metadata being the same too.
const ssiFieldBody = "body"

// bodyShape is the body field's value.
type bodyShape string

const (
	bodyData    bodyShape = "data"
	bodyPayload bodyShape = "payload"
)

func bodyField() *service.ConfigField {
	return service.NewStringEnumField(ssiFieldBody, string(bodyData), string(bodyPayload)).
		Description("What a message's body holds: `data`, the CometD message's whole `data` object (`event`, `schema`, `payload`), or `payload`, the event's payload alone (a PushTopic event's `sobject`). Unset it is `data` under `api: streaming` and `payload` under `api: pubsub`, the only shape the Pub/Sub API has. With `body: payload` a pipeline moves between the APIs by changing `api` alone: bodies and metadata are the same (see docs/pubsub.md).").
		Optional()
}

// parseBody reads the body field under api (already validated).
func parseBody(pConf *service.ParsedConfig, api apiKind) (bodyShape, error) {
	body := bodyData
	if api == apiPubSub {
		body = bodyPayload
	}
	if pConf.Contains(ssiFieldBody) {
		v, err := pConf.FieldString(ssiFieldBody)
		if err != nil {
			return "", err
		}
		body = bodyShape(v)
	}
	switch {
	case body != bodyData && body != bodyPayload:
		return "", fmt.Errorf("body %q is not supported: use data or payload", body)
	case body == bodyData && api == apiPubSub:
		return "", fmt.Errorf("body: data is the CometD message's data object, which api: pubsub does not have: use body: payload (the default under api: pubsub)")
	}
	return body, nil
}
