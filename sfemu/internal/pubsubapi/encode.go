package pubsubapi

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
)

// Encoding a stored event for Pub/Sub: its CometD message is parsed once (fastjson) and written straight to
// Avro binary following the topic schema's field list. The encoding is made the first time the event is served
// over Pub/Sub and kept with the event (eventstore.Event.pubsub), so later serves (other subscribers, replays) only
// wrap it in a response: a Pub/Sub drain costs the emulator about what a CometD one does. An event never served
// over Pub/Sub (a CometD-only run, a preload) costs nothing more than the pointer.

var jsonParsers fastjson.ParserPool

var changeTypeSymbols = []string{"CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"}

// encodePubSub encodes one stored event of channel for Pub/Sub.
// The encoding is the event's eventstore.Encoding: its ConsumerEvent in wire form (wire.go), with the event id,
// the id of the schema it was written with (the schema current when it was first served, as Salesforce keeps the
// schema an event was published with), the Avro payload and the replay id.
func (s *Handler) encodePubSub(channel string, kind eventstore.Kind, msg []byte, id int64) (*eventstore.Encoding, error) {
	p := jsonParsers.Get()
	defer jsonParsers.Put(p)
	v, err := p.ParseBytes(msg)
	if err != nil {
		return nil, fmt.Errorf("reading stored event %d of %s: %w", id, channel, err)
	}
	payload, err := v.Get("data", "payload").Object()
	if err != nil {
		return nil, fmt.Errorf("stored event %d of %s has no payload object", id, channel)
	}
	var (
		ts  *topicSchema
		bin []byte
	)
	switch kind {
	case eventstore.KindPlatformEvent:
		if ts, err = s.pubsub.schemas.schemaFor(recordNameOf(channel), false); err == nil {
			if ts, err = s.pubsub.schemas.covering(ts, payload); err == nil {
				bin, err = ts.appendFields(nil, payload, nil)
			}
		}
	case eventstore.KindCDC:
		h := payload.Get("ChangeEventHeader")
		if h == nil {
			return nil, fmt.Errorf("stored event %d of %s has no ChangeEventHeader", id, channel)
		}
		if ts, err = s.pubsub.schemas.schemaFor(changeEventName(string(h.GetStringBytes("entityName"))), true); err == nil {
			if ts, err = s.pubsub.schemas.covering(ts, payload); err == nil {
				bin, err = ts.appendHeader(nil, h, payload)
				if err == nil {
					bin, err = ts.appendFields(bin, payload, nil)
				}
			}
		}
	default:
		err = fmt.Errorf("%s is not a platform event or change event channel", channel)
	}
	if err != nil {
		return nil, fmt.Errorf("encoding event %d of %s: %w", id, channel, err)
	}
	uuid := string(v.GetStringBytes("data", "event", "EventUuid"))
	if uuid == "" { // change events have none over CometD: derive a stable one
		sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", channel, id))
		h := hex.EncodeToString(sum[:16])
		uuid = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	wire, at := appendConsumerEvent(make([]byte, 0, len(bin)+len(uuid)+len(ts.id)+32), uuid, ts.id, bin, id)
	return &eventstore.Encoding{SchemaID: ts.id, Wire: slices.Clip(wire), PayloadAt: int32(at), PayloadTo: int32(at + len(bin))}, nil
}

// pubsubResponse collects the kept encodings of one response, reusing its slice from one response to the next.
// One per stream.
type pubsubResponse struct{ events []*eventstore.Encoding }

// add appends an event's kept encoding.
func (r *pubsubResponse) add(enc *eventstore.Encoding) { r.events = append(r.events, enc) }

// reset empties r for the next response.
func (r *pubsubResponse) reset() {
	clear(r.events)
	r.events = r.events[:0]
}

// covering returns the current schema of ts's record, extended by the payload fields it lacks.
func (r *schemaRegistry) covering(ts *topicSchema, payload *fastjson.Object) (*topicSchema, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur := r.current[ts.name]; cur != nil {
		ts = cur
	}
	var added []avroField
	payload.Visit(func(k []byte, v *fastjson.Value) {
		name := string(k)
		if name == "ChangeEventHeader" || slices.ContainsFunc(ts.fields, func(f avroField) bool { return f.name == name }) ||
			slices.ContainsFunc(added, func(f avroField) bool { return f.name == name }) {
			return
		}
		if f, ok := inferField(name, v.MarshalTo(nil)); ok {
			added = append(added, f)
		}
	})
	if len(added) == 0 {
		return ts, nil
	}
	slices.SortFunc(added, func(a, b avroField) int { return strings.Compare(a.name, b.name) })
	return r.registerLocked(ts.name, ts.header, append(slices.Clone(ts.fields), added...))
}

func appendLong(b []byte, n int64) []byte { return binary.AppendUvarint(b, uint64(n<<1)^uint64(n>>63)) }

func appendAvroString(b []byte, s []byte) []byte {
	b = appendLong(b, int64(len(s)))
	return append(b, s...)
}

// appendFields writes the record fields of a topic schema from a payload object; fields is the list (nil: the
// schema's top level).
func (ts *topicSchema) appendFields(b []byte, obj *fastjson.Object, fields []avroField) ([]byte, error) {
	top := fields == nil
	if top {
		fields = ts.fields
	}
	for _, f := range fields {
		v := obj.Get(f.name)
		required := top && !ts.header && (f.name == "CreatedDate" || f.name == "CreatedById")
		if v == nil || v.Type() == fastjson.TypeNull {
			if required {
				return nil, fmt.Errorf("field %s is required", f.name)
			}
			b = append(b, 0) // union branch 0: null
			continue
		}
		if !required {
			b = append(b, 2) // union branch 1: the value
		}
		var err error
		if b, err = ts.appendValue(b, f, v); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (ts *topicSchema) appendValue(b []byte, f avroField, v *fastjson.Value) ([]byte, error) {
	switch f.kind {
	case avroString:
		if v.Type() == fastjson.TypeString {
			return appendAvroString(b, v.GetStringBytes()), nil
		}
		return appendAvroString(b, v.MarshalTo(nil)), nil // a number or boolean where text was first seen
	case avroDouble, avroInt:
		n, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("field %s: %s is not a number", f.name, v)
		}
		if f.kind == avroInt {
			return appendLong(b, int64(n)), nil
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(n)), nil
	case avroBoolean:
		t, err := v.Bool()
		if err != nil {
			return nil, fmt.Errorf("field %s: %s is not a boolean", f.name, v)
		}
		if t {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case avroDateTime:
		if v.Type() == fastjson.TypeNumber {
			return appendLong(b, v.GetInt64()), nil
		}
		t, err := time.Parse(time.RFC3339Nano, string(v.GetStringBytes()))
		if err != nil {
			return nil, fmt.Errorf("field %s: %s is not a date-time", f.name, v)
		}
		return appendLong(b, t.UnixMilli()), nil
	case avroRecord:
		obj, err := v.Object()
		if err != nil {
			return nil, fmt.Errorf("field %s: %s is not an object", f.name, v)
		}
		return ts.appendFields(b, obj, f.nested)
	}
	return nil, fmt.Errorf("field %s: unknown kind", f.name)
}

// appendHeader writes the ChangeEventHeader: the CometD header's fields, its changedFields as a bitmap, and
// the payload's null fields as the nulledFields bitmap.
func (ts *topicSchema) appendHeader(b []byte, h *fastjson.Value, payload *fastjson.Object) ([]byte, error) {
	b = appendAvroString(b, h.GetStringBytes("entityName"))
	ids := h.GetArray("recordIds")
	if len(ids) > 0 {
		b = appendLong(b, int64(len(ids)))
		for _, id := range ids {
			b = appendAvroString(b, id.GetStringBytes())
		}
	}
	b = append(b, 0)
	ct := slices.Index(changeTypeSymbols, string(h.GetStringBytes("changeType")))
	if ct < 0 {
		return nil, fmt.Errorf("changeType %s is not one of %v", h.Get("changeType"), changeTypeSymbols)
	}
	b = appendLong(b, int64(ct))
	b = appendAvroString(b, h.GetStringBytes("changeOrigin"))
	b = appendAvroString(b, h.GetStringBytes("transactionKey"))
	b = appendLong(b, int64(h.GetInt("sequenceNumber")))
	b = appendLong(b, h.GetInt64("commitTimestamp"))
	b = appendLong(b, h.GetInt64("commitNumber"))
	b = appendAvroString(b, h.GetStringBytes("commitUser"))
	var nulled []string
	payload.Visit(func(k []byte, v *fastjson.Value) {
		if v.Type() == fastjson.TypeNull {
			nulled = append(nulled, string(k))
		}
	})
	b = appendBitmapArray(b, ts.bitmapOf(nulled))
	b = appendBitmapArray(b, nil) // diffFields: the emulator sends no data diffs
	var changed []string
	for _, c := range h.GetArray("changedFields") {
		changed = append(changed, string(c.GetStringBytes()))
	}
	return appendBitmapArray(b, ts.bitmapOf(changed)), nil
}

func appendBitmapArray(b []byte, bitmaps []any) []byte {
	if len(bitmaps) > 0 {
		b = appendLong(b, int64(len(bitmaps)))
		for _, bm := range bitmaps {
			b = appendAvroString(b, []byte(bm.(string)))
		}
	}
	return append(b, 0)
}
