package pubsub

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
)

// Decoding an event turns its Avro payload into the JSON object a CometD subscriber receives as `payload` for
// the same event, so a pipeline written for one API works on the other:
//
//   - fields in schema order; nullable unions unwrapped; bytes as base64; enums as their symbol;
//   - a long whose schema doc ends in ":DateTime" (Salesforce's marker for date-time fields, which Pub/Sub
//     sends as epoch milliseconds) or whose logical type is timestamp-millis becomes the UTC text CometD sends
//     ("2024-04-27T00:46:35.000Z");
//   - change events (a top-level ChangeEventHeader): the record fields that are null are left out, as CometD
//     leaves out unchanged and null fields, and the header's changedFields, nulledFields and diffFields are
//     decoded from bitmaps to field names (bitmap.go).

const cometdTime = "2006-01-02T15:04:05.000Z"

const changeEventHeader = "ChangeEventHeader"

var bitmapFields = map[string]bool{"changedFields": true, "nulledFields": true, "diffFields": true}

// DecodePayload decodes one event payload written with schema into CometD-shaped JSON.
func DecodePayload(schema *avro.RecordSchema, payload []byte) ([]byte, error) {
	var v any
	if err := avro.Unmarshal(schema, payload, &v); err != nil {
		return nil, fmt.Errorf("decoding Avro payload with schema %s: %w", schema.FullName(), err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decoding Avro payload with schema %s: not a record", schema.FullName())
	}
	isChange := false
	for _, f := range schema.Fields() {
		if f.Name() == changeEventHeader {
			isChange = true
		}
	}
	w := jsonWriter{top: schema}
	if err := w.record(schema, m, isChange, true); err != nil {
		return nil, err
	}
	return w.b, nil
}

type jsonWriter struct {
	b   []byte
	top *avro.RecordSchema
}

func (w *jsonWriter) record(schema *avro.RecordSchema, m map[string]any, dropNulls, top bool) error {
	w.b = append(w.b, '{')
	first := true
	for _, f := range schema.Fields() {
		v := m[f.Name()]
		t, v := unwrapUnion(f.Type(), v)
		if v == nil && dropNulls {
			continue
		}
		if !first {
			w.b = append(w.b, ',')
		}
		first = false
		w.str(f.Name())
		w.b = append(w.b, ':')
		var err error
		switch {
		case top && f.Name() == changeEventHeader:
			err = w.header(t, v)
		default:
			err = w.value(t, f.Doc(), v, dropNulls)
		}
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name(), err)
		}
	}
	w.b = append(w.b, '}')
	return nil
}

// header writes the ChangeEventHeader with its bitmap fields decoded against the event's schema.
func (w *jsonWriter) header(t avro.Schema, v any) error {
	rs := recordOf(t)
	m, ok := v.(map[string]any)
	if rs == nil || !ok {
		return w.value(t, "", v, false)
	}
	decoded := make(map[string]any, len(m))
	for k, val := range m {
		decoded[k] = val
	}
	for name := range bitmapFields {
		raw, ok := m[name].([]any)
		if !ok {
			continue
		}
		bitmaps := make([]string, 0, len(raw))
		for _, x := range raw {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("%s holds a %T, not bitmap strings", name, x)
			}
			bitmaps = append(bitmaps, s)
		}
		names, err := decodeBitmapFields(w.top, bitmaps)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		decoded[name] = names
	}
	w.b = append(w.b, '{')
	first := true
	for _, f := range rs.Fields() {
		if !first {
			w.b = append(w.b, ',')
		}
		first = false
		w.str(f.Name())
		w.b = append(w.b, ':')
		val := decoded[f.Name()]
		if names, ok := val.([]string); ok && bitmapFields[f.Name()] {
			w.b = append(w.b, '[')
			for i, n := range names {
				if i > 0 {
					w.b = append(w.b, ',')
				}
				w.str(n)
			}
			w.b = append(w.b, ']')
			continue
		}
		ft, val := unwrapUnion(f.Type(), val)
		if err := w.value(ft, f.Doc(), val, false); err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
	}
	w.b = append(w.b, '}')
	return nil
}

// unwrapUnion resolves a union value: hamba/avro hands a null-or-primitive branch as the bare value and a
// named branch (record, enum, fixed) as {fullName: value}.
func unwrapUnion(t avro.Schema, v any) (avro.Schema, any) {
	u, ok := t.(*avro.UnionSchema)
	if !ok {
		return t, v
	}
	if v == nil {
		return t, nil
	}
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, branch := range u.Types() {
			if n, ok := branch.(avro.NamedSchema); ok {
				if inner, ok := m[n.FullName()]; ok {
					return branch, inner
				}
			}
		}
	}
	for _, branch := range u.Types() {
		if branch.Type() != avro.Null {
			if matches(branch, v) {
				return branch, v
			}
		}
	}
	return t, v
}

func matches(t avro.Schema, v any) bool {
	switch v.(type) {
	case string:
		return t.Type() == avro.String || t.Type() == avro.Enum
	case int, int32, int64:
		return t.Type() == avro.Int || t.Type() == avro.Long
	case float32, float64:
		return t.Type() == avro.Float || t.Type() == avro.Double
	case bool:
		return t.Type() == avro.Boolean
	case []byte:
		return t.Type() == avro.Bytes || t.Type() == avro.Fixed
	case []any:
		return t.Type() == avro.Array
	case map[string]any:
		return t.Type() == avro.Record || t.Type() == avro.Map
	}
	return false
}

func (w *jsonWriter) value(t avro.Schema, doc string, v any, dropNulls bool) error {
	if ref, ok := t.(*avro.RefSchema); ok {
		t = ref.Schema()
	}
	t, v = unwrapUnion(t, v)
	switch x := v.(type) {
	case nil:
		w.b = append(w.b, "null"...)
	case string:
		w.str(x)
	case bool:
		w.b = strconv.AppendBool(w.b, x)
	case int:
		w.int(int64(x), t, doc)
	case int32:
		w.int(int64(x), t, doc)
	case int64:
		w.int(x, t, doc)
	case time.Time:
		w.str(x.UTC().Format(cometdTime))
	case float32:
		return w.float(float64(x))
	case float64:
		return w.float(x)
	case []byte:
		w.str(base64.StdEncoding.EncodeToString(x))
	case []any:
		var items avro.Schema
		if a, ok := t.(*avro.ArraySchema); ok {
			items = a.Items()
		}
		w.b = append(w.b, '[')
		for i, item := range x {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			if err := w.value(items, "", item, dropNulls); err != nil {
				return err
			}
		}
		w.b = append(w.b, ']')
	case map[string]any:
		if rs := recordOf(t); rs != nil {
			return w.record(rs, x, dropNulls, false)
		}
		b, err := json.Marshal(x) // an Avro map: key order does not matter
		if err != nil {
			return err
		}
		w.b = append(w.b, b...)
	default:
		return fmt.Errorf("unexpected decoded value %T", v)
	}
	return nil
}

// int writes a long or int; a date-time long becomes CometD's UTC text.
func (w *jsonWriter) int(n int64, t avro.Schema, doc string) {
	if isDateTime(t, doc) {
		w.str(time.UnixMilli(n).UTC().Format(cometdTime))
		return
	}
	w.b = strconv.AppendInt(w.b, n, 10)
}

func isDateTime(t avro.Schema, doc string) bool {
	if strings.HasSuffix(doc, ":DateTime") {
		return true
	}
	if ls, ok := t.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		return ls.Logical().Type() == avro.TimestampMillis
	}
	return false
}

func (w *jsonWriter) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("number %v has no JSON form", f)
	}
	w.b = strconv.AppendFloat(w.b, f, 'f', -1, 64)
	return nil
}

func (w *jsonWriter) str(s string) {
	b, _ := json.Marshal(s) // cannot fail for a string
	w.b = append(w.b, b...)
}
