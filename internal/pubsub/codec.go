package pubsub

import (
	"errors"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
)

// The client's gRPC codec reads a FetchResponse itself: the response is copied once out of gRPC's buffers, and
// its events' payloads and replay ids are slices of that copy, their messages allocated together, instead of
// protobuf's two messages and three to five copies per event. Anything it does not expect (another field, a
// field of another wire type, event headers, a message field given twice, text that is not UTF-8) is left to
// protobuf's own unmarshalling of the same bytes, so it reads exactly what protobuf reads
// (TestFetchResponseParseMatchesProto, FuzzFetchResponseParse).

// errUnusual sends a response to protobuf's unmarshalling.
var errUnusual = errors.New("a FetchResponse this reader leaves to protobuf")

// clientCodec is protobuf's codec, with FetchResponses read by parseFetchResponse. Its name is empty: gRPC then
// keeps its default content type (application/grpc), as with protobuf's own codec, where a name would add a
// "+name" subtype.
type clientCodec struct{ proto encoding.CodecV2 }

func newClientCodec() clientCodec { return clientCodec{proto: encoding.GetCodecV2(protocodec.Name)} }

func (c clientCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c clientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*eventbusv1.FetchResponse)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	buf := data.Materialize() // our own copy: the events keep slices of it after gRPC frees its buffers
	if err := parseFetchResponse(buf, r); err == nil {
		return nil
	}
	proto.Reset(r)
	return proto.Unmarshal(buf, r)
}

func (clientCodec) Name() string { return "" }

// parseFetchResponse reads b into r (a fresh message), or fails with errUnusual.
func parseFetchResponse(b []byte, r *eventbusv1.FetchResponse) error {
	n := 0 // events, to allocate their messages together
	for rest := b; len(rest) > 0; {
		num, typ, l := protowire.ConsumeTag(rest)
		if l < 0 {
			return errUnusual
		}
		rest = rest[l:]
		if num == 1 && typ == protowire.BytesType {
			n++
		}
		if l = protowire.ConsumeFieldValue(num, typ, rest); l < 0 {
			return errUnusual
		}
		rest = rest[l:]
	}
	consumers := make([]eventbusv1.ConsumerEvent, n)
	producers := make([]eventbusv1.ProducerEvent, n)
	events := make([]*eventbusv1.ConsumerEvent, 0, n)
	var schemaID string // the events of a response mostly share their schema id: one string for them
	// The event ids are gathered and made one string, each event's id a part of it.
	ids := idTexts{text: make([]byte, 0, 40*n), at: make([]int32, 0, n)}
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		b = b[l:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return errUnusual
			}
			b = b[l:]
			k := len(events)
			if err := parseConsumerEvent(v, &consumers[k], &producers[k], &schemaID, &ids); err != nil {
				return err
			}
			events = append(events, &consumers[k])
		case num == 2 && typ == protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return errUnusual
			}
			b = b[l:]
			r.LatestReplayId = v
		case num == 3 && typ == protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 || !utf8.Valid(v) {
				return errUnusual
			}
			b = b[l:]
			r.RpcId = string(v)
		case num == 4 && typ == protowire.VarintType:
			v, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return errUnusual
			}
			b = b[l:]
			r.PendingNumRequested = int32(v)
		default:
			return errUnusual
		}
	}
	if len(events) > 0 {
		r.Events = events
		ids.set(producers)
	}
	return nil
}

// idTexts gathers the event ids of a response: text holds them one after the other, at[k] where event k's
// ends, and set gives each event its id as a part of one string.
type idTexts struct {
	text []byte
	at   []int32
}

func (t *idTexts) add(id []byte) {
	t.text = append(t.text, id...)
	t.at = append(t.at, int32(len(t.text)))
}

func (t *idTexts) set(producers []eventbusv1.ProducerEvent) {
	all := string(t.text)
	start := int32(0)
	for k, end := range t.at {
		producers[k].Id = all[start:end]
		start = end
	}
}

// parseConsumerEvent reads a ConsumerEvent into ce, its event into pe.
func parseConsumerEvent(b []byte, ce *eventbusv1.ConsumerEvent, pe *eventbusv1.ProducerEvent, schemaID *string, ids *idTexts) error {
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 || typ != protowire.BytesType {
			return errUnusual
		}
		b = b[l:]
		v, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return errUnusual
		}
		b = b[l:]
		switch num {
		case 1:
			if ce.Event != nil { // a message field given twice merges: protobuf's to do
				return errUnusual
			}
			id, err := parseProducerEvent(v, pe, schemaID)
			if err != nil {
				return err
			}
			ce.Event = pe
			ids.add(id)
		case 2:
			ce.ReplayId = v
		default:
			return errUnusual
		}
	}
	if ce.Event == nil { // an event without its message: no id to gather
		ids.add(nil)
	}
	return nil
}

// parseProducerEvent reads a ProducerEvent without headers into pe, all but its id, which it returns.
func parseProducerEvent(b []byte, pe *eventbusv1.ProducerEvent, schemaID *string) (id []byte, err error) {
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 || typ != protowire.BytesType {
			return nil, errUnusual
		}
		b = b[l:]
		v, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return nil, errUnusual
		}
		b = b[l:]
		switch num {
		case 1, 2:
			if !utf8.Valid(v) {
				return nil, errUnusual
			}
			if num == 1 {
				id = v
				continue
			}
			if string(v) != *schemaID {
				*schemaID = string(v)
			}
			pe.SchemaId = *schemaID
		case 3:
			pe.Payload = v
		default: // headers (4), or a field this reader does not know
			return nil, errUnusual
		}
	}
	return id, nil
}
