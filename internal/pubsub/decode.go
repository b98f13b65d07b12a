package pubsub

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
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
	e := eventDecoder{plans: map[*avro.RecordSchema]*recordPlan{}} // no shared chunk: the JSON is sized to the payload
	return e.decode(schema, payload)
}

// eventDecoder decodes the events of one subscription, keeping what repeats from one event to the next: each
// record schema's field plan (JSON keys written once, types resolved, date-time docs read), the field names of
// each change event bitmap seen (cache by bitmap text), the date part of date-times and the metadata texts of
// the previous event. The JSON of consecutive events is written into one shared chunk, each event's a slice of
// it capped at its end. Not safe for concurrent use: a Subscription has its own.
type eventDecoder struct {
	plans     map[*avro.RecordSchema]*recordPlan
	chunk     []byte // the JSON written so far into the current chunk; events get capped slices of it
	times     dateTimes
	texts     [numTextSlots]string // the previous event's metadata texts, shared when they repeat
	chunkSize int                  // size of a new chunk (jsonChunk); 0: each event's JSON is its own allocation
	ids       []string             // the record ids of consecutive events; each event's a capped slice of it
}

func newEventDecoder() *eventDecoder {
	return &eventDecoder{plans: map[*avro.RecordSchema]*recordPlan{}, chunkSize: jsonChunk}
}

// jsonChunk is the size of a shared JSON chunk: about forty change events.
const jsonChunk = 64 << 10

// maxPlans and maxBitmaps bound the caches of a decoder (a cache past its bound starts again empty): far more
// than the schemas and bitmap combinations of real topics.
const (
	maxPlans   = 1024
	maxBitmaps = 4096
)

// decode decodes one event.
func (e *eventDecoder) decode(schema *avro.RecordSchema, payload []byte) ([]byte, Metadata, error) {
	plan := e.plan(schema)
	if cap(e.chunk)-len(e.chunk) < 2*len(payload)+64 {
		e.chunk = make([]byte, 0, max(e.chunkSize, 2*len(payload)+64))
	}
	if cap(e.ids)-len(e.ids) < 8 {
		e.ids = make([]string, 0, max(e.chunkSize/128, 8))
	}
	d := decoder{e: e, buf: payload, top: plan, out: e.chunk[len(e.chunk):], idStart: len(e.ids)}
	if err := d.record(plan, plan.change, true); err != nil {
		return nil, Metadata{}, fmt.Errorf("decoding Avro payload with schema %s: %w", schema.FullName(), err)
	}
	if d.pos != len(d.buf) {
		return nil, Metadata{}, fmt.Errorf("decoding Avro payload with schema %s: %d bytes left after the record", schema.FullName(), len(d.buf)-d.pos)
	}
	if d.meta.CreatedDate == "" {
		d.meta.CreatedDate = d.meta.CommitTimestamp
	}
	if len(e.ids) > d.idStart {
		d.meta.RecordIDs = e.ids[d.idStart:len(e.ids):len(e.ids)]
	}
	out := d.out[:len(d.out):len(d.out)]
	if len(d.out) <= cap(e.chunk)-len(e.chunk) { // written in place: the chunk goes on after it
		e.chunk = e.chunk[:len(e.chunk)+len(d.out)]
	}
	return out, d.meta, nil
}

// recordPlan is what a record schema's walk needs, worked out once per schema.
type recordPlan struct {
	schema *avro.RecordSchema
	fields []fieldPlan
	change bool // the record has a ChangeEventHeader field: a change event
	// bitmaps caches the JSON arrays of field names that bitmap arrays decode to against this (top-level) schema,
	// by the array's text (bitmapKey).
	bitmaps map[string][]byte
}

type fieldPlan struct {
	name  string
	key   []byte        // the name as a JSON string, then a colon
	typ   avro.Schema   // the field's type, references resolved
	union []avro.Schema // the branches, resolved, when typ is a union
	// dateTime: the schema doc marks a date-time (isDateTimeDoc); createdDate and header: the top-level
	// CreatedDate and ChangeEventHeader fields; bitmap: a header field that may hold bitmaps.
	dateTime, createdDate, header, bitmap bool
	capture                               textSlot // where a header field's value goes in the Metadata
}

// textSlot names a Metadata text a header field fills.
type textSlot uint8

const (
	slotNone textSlot = iota
	slotChangeType
	slotEntityName
	slotTransactionKey
	slotCommitUser
	slotCommitTimestamp
	slotRecordIDs
	slotCreatedDate
	numTextSlots
)

func headerSlot(name string) textSlot {
	switch name {
	case "changeType":
		return slotChangeType
	case "entityName":
		return slotEntityName
	case "transactionKey":
		return slotTransactionKey
	case "commitUser":
		return slotCommitUser
	case "commitTimestamp":
		return slotCommitTimestamp
	case "recordIds":
		return slotRecordIDs
	}
	return slotNone
}

// plan returns rs's plan, making it the first time.
func (e *eventDecoder) plan(rs *avro.RecordSchema) *recordPlan {
	if p := e.plans[rs]; p != nil {
		return p
	}
	if len(e.plans) >= maxPlans {
		clear(e.plans)
	}
	p := &recordPlan{schema: rs, fields: make([]fieldPlan, len(rs.Fields()))}
	for i, f := range rs.Fields() {
		fp := &p.fields[i]
		fp.name = f.Name()
		fp.key = append(jsontext.AppendString(nil, f.Name()), ':')
		fp.typ = deref(f.Type())
		if u, ok := fp.typ.(*avro.UnionSchema); ok {
			for _, b := range u.Types() {
				fp.union = append(fp.union, deref(b))
			}
		}
		fp.dateTime = isDateTimeDoc(f.Doc())
		fp.createdDate = f.Name() == "CreatedDate"
		fp.header = f.Name() == changeEventHeader
		fp.bitmap = isBitmapField(f.Name())
		fp.capture = headerSlot(f.Name())
		p.change = p.change || fp.header
	}
	e.plans[rs] = p
	return p
}

type decoder struct {
	e    *eventDecoder
	buf  []byte
	pos  int
	out  []byte
	top  *recordPlan
	meta Metadata
	// idStart is where this event's record ids start in e.ids (the Metadata takes them at the end).
	idStart int
	// c says where the next value read goes besides the JSON, when it is one of the metadata's fields. value
	// takes it on entry, so only the field's own value (through unions) is captured, never a nested one.
	c capture
}

// capture is a metadata destination for the value about to be read.
type capture struct {
	slot textSlot
	ts   bool // a number is epoch milliseconds, written as CometD text
	ids  bool // an array whose items are strings (recordIds)
}

// target is where a captured text goes.
func (d *decoder) target(slot textSlot) *string {
	switch slot {
	case slotChangeType:
		return &d.meta.ChangeType
	case slotEntityName:
		return &d.meta.EntityName
	case slotTransactionKey:
		return &d.meta.TransactionKey
	case slotCommitUser:
		return &d.meta.CommitUser
	case slotCommitTimestamp:
		return &d.meta.CommitTimestamp
	case slotCreatedDate:
		return &d.meta.CreatedDate
	case slotRecordIDs: // the item value appended last
		if n := len(d.e.ids); n > d.idStart {
			return &d.e.ids[n-1]
		}
	}
	return nil
}

// capText stores text in c's destination as a JSON reader would read it back from jsontext's output (each byte
// of invalid UTF-8 becomes U+FFFD); the previous event's text of the same slot is shared when they are equal.
func (d *decoder) capText(c capture, text []byte) {
	dst := d.target(c.slot)
	if dst == nil {
		return
	}
	if prev := &d.e.texts[c.slot]; string(text) == *prev { // compares without converting
		*dst = *prev
		return
	}
	s := string(text)
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
		*dst = b.String()
		return
	}
	d.e.texts[c.slot] = s
	*dst = s
}

// capString is capText for a text that is already a string (an enum symbol).
func (d *decoder) capString(c capture, s string) {
	if dst := d.target(c.slot); dst != nil {
		*dst = s
	}
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

// fieldType is the schema of f's value at the read position: for a union, the branch the data names.
func (d *decoder) fieldType(f *fieldPlan) (avro.Schema, error) {
	if f.union == nil {
		return f.typ, nil
	}
	i, err := d.long()
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= int64(len(f.union)) {
		return nil, fmt.Errorf("union branch %d of %d", i, len(f.union))
	}
	return f.union[i], nil
}

func (d *decoder) key(first *bool, f *fieldPlan) {
	if !*first {
		d.out = append(d.out, ',')
	}
	*first = false
	d.out = append(d.out, f.key...)
}

// record writes a record; dropNulls leaves out null fields (change events), top marks the event itself.
func (d *decoder) record(p *recordPlan, dropNulls, top bool) error {
	d.out = append(d.out, '{')
	first := true
	for i := range p.fields {
		f := &p.fields[i]
		t, err := d.fieldType(f)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.name, err)
		}
		if t.Type() == avro.Null {
			if !dropNulls {
				d.key(&first, f)
				d.out = append(d.out, "null"...)
			}
			continue
		}
		d.key(&first, f)
		if top && f.createdDate {
			d.c = capture{slot: slotCreatedDate}
		}
		if rec, ok := t.(*avro.RecordSchema); ok && top && f.header {
			err = d.header(d.e.plan(rec))
		} else {
			err = d.value(t, f.dateTime, dropNulls)
		}
		if err != nil {
			return fmt.Errorf("field %s: %w", f.name, err)
		}
	}
	d.out = append(d.out, '}')
	return nil
}

// header writes the ChangeEventHeader with its bitmap fields decoded against the event's schema.
func (d *decoder) header(p *recordPlan) error {
	d.out = append(d.out, '{')
	first := true
	for i := range p.fields {
		f := &p.fields[i]
		t, err := d.fieldType(f)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		d.key(&first, f)
		arr, isArray := t.(*avro.ArraySchema)
		if !f.bitmap || !isArray || deref(arr.Items()).Type() != avro.String {
			d.c = capture{slot: f.capture, ts: f.capture == slotCommitTimestamp, ids: f.capture == slotRecordIDs}
			if err := d.value(t, f.dateTime, false); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			continue
		}
		if err := d.bitmapField(); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	d.out = append(d.out, '}')
	return nil
}

// bitmapField writes a bitmap array as the JSON array of the field names it decodes to against the event's
// schema, from the top-level plan's cache when the same array was seen before.
func (d *decoder) bitmapField() error {
	start := d.pos
	if err := d.blocks(func() error { _, err := d.bytes(); return err }); err != nil {
		return err
	}
	// The array's Avro bytes name it exactly: the cache key.
	raw := d.buf[start:d.pos]
	if names, ok := d.top.bitmaps[string(raw)]; ok {
		d.out = append(d.out, names...)
		return nil
	}
	end := d.pos
	d.pos = start
	var texts []string
	if err := d.blocks(func() error {
		b, err := d.bytes()
		texts = append(texts, string(b))
		return err
	}); err != nil {
		return err
	}
	d.pos = end
	names, err := decodeBitmapFields(d.top.schema, texts)
	if err != nil {
		return err
	}
	at := len(d.out)
	d.out = append(d.out, '[')
	for i, n := range names {
		if i > 0 {
			d.out = append(d.out, ',')
		}
		d.out = jsontext.AppendString(d.out, n)
	}
	d.out = append(d.out, ']')
	if d.top.bitmaps == nil || len(d.top.bitmaps) >= maxBitmaps {
		d.top.bitmaps = map[string][]byte{}
	}
	d.top.bitmaps[string(raw)] = slices.Clone(d.out[at:])
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

func (d *decoder) value(t avro.Schema, dateTime, dropNulls bool) error {
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
		return d.value(b, dateTime, dropNulls)
	case *avro.RecordSchema:
		return d.record(d.e.plan(s), dropNulls, false)
	case *avro.EnumSchema:
		i, err := d.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(s.Symbols())) {
			return fmt.Errorf("enum index %d of %d", i, len(s.Symbols()))
		}
		d.out = jsontext.AppendString(d.out, s.Symbols()[i])
		d.capString(c, s.Symbols()[i])
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
				return d.value(s.Items(), false, dropNulls)
			}
			d.c = capture{slot: slotRecordIDs}
			d.e.ids = append(d.e.ids, "") // a non-text item reads as empty text
			return d.value(s.Items(), false, dropNulls)
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
			d.out = jsontext.AppendBytes(d.out, k)
			d.out = append(d.out, ':')
			return d.value(s.Values(), false, dropNulls)
		})
		d.out = append(d.out, '}')
		return err
	case *avro.FixedSchema:
		b, err := d.take(int64(s.Size()))
		if err != nil {
			return err
		}
		d.out = appendBase64(d.out, b)
		d.capString(c, base64.StdEncoding.EncodeToString(b))
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
		date, dateTimeMillis := false, false
		switch logicalOf(t) {
		case avro.Date:
			date = true
		case avro.TimestampMillis:
			dateTimeMillis = true
		default:
			dateTimeMillis = t.Type() == avro.Long && dateTime
		}
		switch {
		case date:
			d.out = append(d.out, '"')
			start := len(d.out)
			d.out = time.Unix(n*86400, 0).UTC().AppendFormat(d.out, time.DateOnly)
			d.capText(c, d.out[start:])
			d.out = append(d.out, '"')
		case dateTimeMillis:
			d.out = append(d.out, '"')
			start := len(d.out)
			d.out = d.e.times.append(d.out, n)
			d.capText(c, d.out[start:])
			d.out = append(d.out, '"')
		case c.ts:
			d.out = strconv.AppendInt(d.out, n, 10)
			at := len(d.out)
			d.out = d.e.times.append(d.out, n) // written past the output's end only to be read, then cut off
			d.capText(c, d.out[at:])
			d.out = d.out[:at]
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
		d.out = jsontext.AppendBytes(d.out, b)
		if c.slot != slotNone {
			d.capText(c, b)
		}
	case avro.Bytes:
		b, err := d.bytes()
		if err != nil {
			return err
		}
		d.out = appendBase64(d.out, b)
		if c.slot != slotNone {
			d.capString(c, base64.StdEncoding.EncodeToString(b))
		}
	default:
		return fmt.Errorf("unsupported Avro type %s", t.Type())
	}
	return nil
}

// dateTimes writes epoch milliseconds as CometD's date-time text ("2024-04-27T00:46:35.000Z"), working out the
// date only when it differs from the previous one's: the date-times of a backlog mostly fall on a few days.
type dateTimes struct {
	day  int64  // days since the epoch of date
	date []byte // "2024-04-27T"; nil until the first
}

const (
	msPerDay = 24 * 60 * 60 * 1000
	// maxFastMillis is the first millisecond of the year 10000: from the epoch up to it, a date-time is four
	// digits of year and fixed fields; anything else goes through time.Time.AppendFormat.
	maxFastMillis = 253402300800000
)

func (t *dateTimes) append(b []byte, ms int64) []byte {
	if ms < 0 || ms >= maxFastMillis {
		return time.UnixMilli(ms).UTC().AppendFormat(b, cometdTime)
	}
	day, rem := ms/msPerDay, ms%msPerDay
	if t.date == nil || day != t.day {
		t.date = time.UnixMilli(day*msPerDay).UTC().AppendFormat(t.date[:0], "2006-01-02T")
		t.day = day
	}
	b = append(b, t.date...)
	h, m, s, f := rem/3600000, rem/60000%60, rem/1000%60, rem%1000
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10), 'Z')
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
