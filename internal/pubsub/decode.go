package pubsub

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"

	"github.com/salesforce-streaming/salesforce_streaming/internal/jsontext"
)

// Decoding an event turns its Avro payload into the JSON object a CometD subscriber receives as `payload` for
// the same event, so a pipeline written for one API works on the other:
//
//   - fields in schema order; unions unwrapped; bytes and fixed as base64; enums as their symbol;
//   - a long whose schema doc marks a date-time ("CreatedDate:DateTime" on standard fields, "Data:DateTime:00N..."
//     on custom fields: Salesforce's marker for date-time fields, which Pub/Sub sends as epoch milliseconds) or whose logical type is timestamp-millis becomes the UTC text CometD sends
//     ("2024-04-27T00:46:35.000Z"); an int of logical type date becomes "2024-04-27";
//   - change events (a top-level ChangeEventHeader): the record fields that are null are left out, as CometD
//     leaves out unchanged and null fields, and the header's changedFields, nulledFields and diffFields are
//     decoded from bitmaps to field names (bitmap.go).
//
// The payload is read once, straight into JSON, walking the schema: no intermediate map per event. The same walk
// fills the event's Metadata, so nothing reads the JSON again.

const cometdTime = "2006-01-02T15:04:05.000Z"

const changeEventHeader = "ChangeEventHeader"

// maxCollection bounds the items of one array or map block, so a corrupt length cannot exhaust memory.
const maxCollection = 1 << 20

var errTruncated = errors.New("payload ends early")

func isBitmapField(name string) bool {
	return name == "changedFields" || name == "nulledFields" || name == "diffFields"
}

// Metadata is what an event's payload says about it, in the form CometD metadata takes (the input's
// salesforce_* keys), read while the payload is decoded. A field the payload does not carry as text is empty.
type Metadata struct {
	// CreatedDate is the payload's top-level CreatedDate (platform events), else the change event header's
	// commitTimestamp.
	CreatedDate string
	// Change events: the ChangeEventHeader's fields. CommitTimestamp is UTC text with milliseconds.
	ChangeType, EntityName, TransactionKey, CommitUser, CommitTimestamp string
	RecordIDs                                                           []string
}

// DecodePayload decodes one event payload written with schema into CometD-shaped JSON.
func DecodePayload(schema *avro.RecordSchema, payload []byte) ([]byte, error) {
	out, _, err := DecodeEvent(schema, payload)
	return out, err
}

// DecodeEvent decodes one event payload written with schema into CometD-shaped JSON and the event's Metadata,
// in one walk.
func DecodeEvent(schema *avro.RecordSchema, payload []byte) ([]byte, Metadata, error) {
	d := decoder{buf: payload, top: schema, out: make([]byte, 0, 2*len(payload)+64)}
	isChange := false
	for _, f := range schema.Fields() {
		if f.Name() == changeEventHeader {
			isChange = true
		}
	}
	if err := d.record(schema, isChange, true); err != nil {
		return nil, Metadata{}, fmt.Errorf("decoding Avro payload with schema %s: %w", schema.FullName(), err)
	}
	if d.pos != len(d.buf) {
		return nil, Metadata{}, fmt.Errorf("decoding Avro payload with schema %s: %d bytes left after the record", schema.FullName(), len(d.buf)-d.pos)
	}
	if d.meta.CreatedDate == "" {
		d.meta.CreatedDate = d.meta.CommitTimestamp
	}
	return d.out, d.meta, nil
}

type decoder struct {
	buf  []byte
	pos  int
	out  []byte
	top  *avro.RecordSchema
	meta Metadata
	// c says where the next value read goes besides the JSON, when it is one of the metadata's fields. value
	// takes it on entry, so only the field's own value (through unions) is captured, never a nested one.
	c capture
}

// capture is a metadata destination for the value about to be read.
type capture struct {
	text *string // a string or enum value, or a number of a timestamp field as CometD text
	ts   bool    // a number is epoch milliseconds, written as CometD text
	ids  bool    // an array whose items are strings (recordIds)
}

// capText stores s in c's destination as a JSON reader would read it back from jsontext.AppendString's output:
// each byte of invalid UTF-8 becomes U+FFFD.
func (c capture) capText(s string) {
	if c.text == nil {
		return
	}
	if !utf8.ValidString(s) {
		var b strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b.WriteRune(utf8.RuneError)
			} else {
				b.WriteString(s[i : i+size])
			}
			i += size
		}
		s = b.String()
	}
	*c.text = s
}

// headerCapture is where a ChangeEventHeader field's value goes in the Metadata.
func (d *decoder) headerCapture(name string) capture {
	switch name {
	case "changeType":
		return capture{text: &d.meta.ChangeType}
	case "entityName":
		return capture{text: &d.meta.EntityName}
	case "transactionKey":
		return capture{text: &d.meta.TransactionKey}
	case "commitUser":
		return capture{text: &d.meta.CommitUser}
	case "commitTimestamp":
		return capture{text: &d.meta.CommitTimestamp, ts: true}
	case "recordIds":
		return capture{ids: true}
	}
	return capture{}
}

func deref(t avro.Schema) avro.Schema {
	if r, ok := t.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return t
}

func (d *decoder) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.pos >= len(d.buf) {
			return 0, errTruncated
		}
		c := d.buf[d.pos]
		d.pos++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errors.New("varint longer than 10 bytes")
}

func (d *decoder) take(n int64) ([]byte, error) {
	if n < 0 || n > int64(len(d.buf)-d.pos) {
		return nil, errTruncated
	}
	b := d.buf[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

func (d *decoder) bytes() ([]byte, error) {
	n, err := d.long()
	if err != nil {
		return nil, err
	}
	return d.take(n)
}

// branch reads a union's branch index and returns that branch.
func (d *decoder) branch(u *avro.UnionSchema) (avro.Schema, error) {
	i, err := d.long()
	if err != nil {
		return nil, err
	}
	types := u.Types()
	if i < 0 || i >= int64(len(types)) {
		return nil, fmt.Errorf("union branch %d of %d", i, len(types))
	}
	return deref(types[i]), nil
}

// fieldType is the schema of f's value at the read position: for a union,
// the branch the data names.
func (d *decoder) fieldType(f *avro.Field) (avro.Schema, error) {
	t := deref(f.Type())
	if u, ok := t.(*avro.UnionSchema); ok {
		return d.branch(u)
	}
	return t, nil
}

func (d *decoder) key(first *bool, name string) {
	if !*first {
		d.out = append(d.out, ',')
	}
	*first = false
	d.out = jsontext.AppendString(d.out, name)
	d.out = append(d.out, ':')
}

// record writes a record; dropNulls leaves out null fields (change events), top marks the event itself.
func (d *decoder) record(rs *avro.RecordSchema, dropNulls, top bool) error {
	d.out = append(d.out, '{')
	first := true
	for _, f := range rs.Fields() {
		t, err := d.fieldType(f)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name(), err)
		}
		if t.Type() == avro.Null {
			if !dropNulls {
				d.key(&first, f.Name())
				d.out = append(d.out, "null"...)
			}
			continue
		}
		d.key(&first, f.Name())
		if top && f.Name() == "CreatedDate" {
			d.c = capture{text: &d.meta.CreatedDate}
		}
		if rec, ok := t.(*avro.RecordSchema); ok && top && f.Name() == changeEventHeader {
			err = d.header(rec)
		} else {
			err = d.value(t, f.Doc(), dropNulls)
		}
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name(), err)
		}
	}
	d.out = append(d.out, '}')
	return nil
}

// header writes the ChangeEventHeader with its bitmap fields decoded against the event's schema.
func (d *decoder) header(rs *avro.RecordSchema) error {
	d.out = append(d.out, '{')
	first := true
	for _, f := range rs.Fields() {
		t, err := d.fieldType(f)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		d.key(&first, f.Name())
		arr, isArray := t.(*avro.ArraySchema)
		if !isBitmapField(f.Name()) || !isArray || deref(arr.Items()).Type() != avro.String {
			d.c = d.headerCapture(f.Name())
			if err := d.value(t, f.Doc(), false); err != nil {
				return fmt.Errorf("%s: %w", f.Name(), err)
			}
			continue
		}
		var bitmaps []string
		err = d.blocks(func() error {
			b, err := d.bytes()
			bitmaps = append(bitmaps, string(b))
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		names, err := decodeBitmapFields(d.top, bitmaps)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		d.out = append(d.out, '[')
		for i, n := range names {
			if i > 0 {
				d.out = append(d.out, ',')
			}
			d.out = jsontext.AppendString(d.out, n)
		}
		d.out = append(d.out, ']')
	}
	d.out = append(d.out, '}')
	return nil
}

// blocks reads the blocks of an array or map, calling item for each item.
func (d *decoder) blocks(item func() error) error {
	for {
		n, err := d.long()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n < 0 { // a negative count is followed by the block's size in bytes
			n = -n
			if _, err := d.long(); err != nil {
				return err
			}
		}
		if n > maxCollection {
			return fmt.Errorf("block of %d items", n)
		}
		for range n {
			if err := item(); err != nil {
				return err
			}
		}
	}
}

func (d *decoder) value(t avro.Schema, doc string, dropNulls bool) error {
	t = deref(t)
	c := d.c
	d.c = capture{}
	switch s := t.(type) {
	case *avro.UnionSchema:
		b, err := d.branch(s)
		if err != nil {
			return err
		}
		d.c = c
		return d.value(b, doc, dropNulls)
	case *avro.RecordSchema:
		return d.record(s, dropNulls, false)
	case *avro.EnumSchema:
		i, err := d.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(s.Symbols())) {
			return fmt.Errorf("enum index %d of %d", i, len(s.Symbols()))
		}
		d.out = jsontext.AppendString(d.out, s.Symbols()[i])
		c.capText(s.Symbols()[i])
		return nil
	case *avro.ArraySchema:
		d.out = append(d.out, '[')
		n := 0
		err := d.blocks(func() error {
			if n > 0 {
				d.out = append(d.out, ',')
			}
			n++
			if !c.ids {
				return d.value(s.Items(), "", dropNulls)
			}
			var id string // a non-text item reads as empty text
			d.c = capture{text: &id}
			err := d.value(s.Items(), "", dropNulls)
			d.meta.RecordIDs = append(d.meta.RecordIDs, id)
			return err
		})
		d.out = append(d.out, ']')
		return err
	case *avro.MapSchema:
		d.out = append(d.out, '{')
		n := 0
		err := d.blocks(func() error {
			k, err := d.bytes()
			if err != nil {
				return err
			}
			if n > 0 {
				d.out = append(d.out, ',')
			}
			n++
			d.out = jsontext.AppendString(d.out, string(k))
			d.out = append(d.out, ':')
			return d.value(s.Values(), "", dropNulls)
		})
		d.out = append(d.out, '}')
		return err
	case *avro.FixedSchema:
		b, err := d.take(int64(s.Size()))
		if err != nil {
			return err
		}
		d.out = appendBase64(d.out, b)
		if c.text != nil {
			*c.text = base64.StdEncoding.EncodeToString(b)
		}
		return nil
	}
	switch t.Type() {
	case avro.Null:
		d.out = append(d.out, "null"...)
	case avro.Boolean:
		b, err := d.take(1)
		if err != nil {
			return err
		}
		d.out = strconv.AppendBool(d.out, b[0] != 0)
	case avro.Int, avro.Long:
		n, err := d.long()
		if err != nil {
			return err
		}
		// A date or date-time is written as CometD text straight into the output (quotes and digits need no
		// escaping); only a captured one becomes a string of its own.
		layout, at := "", time.Time{}
		switch logicalOf(t) {
		case avro.Date:
			layout, at = time.DateOnly, time.Unix(n*86400, 0).UTC()
		case avro.TimestampMillis:
			layout, at = cometdTime, time.UnixMilli(n).UTC()
		default:
			if t.Type() == avro.Long && isDateTimeDoc(doc) {
				layout, at = cometdTime, time.UnixMilli(n).UTC()
			}
		}
		switch {
		case layout != "":
			d.out = append(d.out, '"')
			start := len(d.out)
			d.out = at.AppendFormat(d.out, layout)
			if c.text != nil {
				*c.text = string(d.out[start:])
			}
			d.out = append(d.out, '"')
		case c.ts:
			d.out = strconv.AppendInt(d.out, n, 10)
			c.capText(time.UnixMilli(n).UTC().Format(cometdTime))
		default:
			d.out = strconv.AppendInt(d.out, n, 10)
		}
	case avro.Float:
		b, err := d.take(4)
		if err != nil {
			return err
		}
		return d.float(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32)
	case avro.Double:
		b, err := d.take(8)
		if err != nil {
			return err
		}
		return d.float(math.Float64frombits(binary.LittleEndian.Uint64(b)), 64)
	case avro.String:
		b, err := d.bytes()
		if err != nil {
			return err
		}
		d.out = jsontext.AppendString(d.out, string(b))
		if c.text != nil {
			c.capText(string(b))
		}
	case avro.Bytes:
		b, err := d.bytes()
		if err != nil {
			return err
		}
		d.out = appendBase64(d.out, b)
		if c.text != nil {
			*c.text = base64.StdEncoding.EncodeToString(b)
		}
	default:
		return fmt.Errorf("unsupported Avro type %s", t.Type())
	}
	return nil
}

func logicalOf(t avro.Schema) avro.LogicalType {
	if ls, ok := t.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		return ls.Logical().Type()
	}
	return ""
}

func (d *decoder) float(f float64, bits int) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("number %v has no JSON form", f)
	}
	d.out = strconv.AppendFloat(d.out, f, 'f', -1, bits)
	return nil
}

func appendBase64(b, data []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(data))
	b = append(b, '"')
	b = append(b, make([]byte, n)...)
	base64.StdEncoding.Encode(b[len(b)-n:], data)
	return append(b, '"')
}

// isDateTimeDoc reports whether a field's schema doc marks a date-time: its
// second colon-separated part is "DateTime". Standard fields end there
// ("CreatedDate:DateTime"); custom fields append their field id
// ("Data:DateTime:00N5g00000ABCDE").
func isDateTimeDoc(doc string) bool {
	_, rest, ok := strings.Cut(doc, ":")
	if !ok {
		return false
	}
	kind, _, _ := strings.Cut(rest, ":")
	return kind == "DateTime"
}
