package pubsubapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
)

// Avro schemas of the emulated topics, and the conversion of stored (CometD) events to Pub/Sub payloads and
// back. The store keeps each event once, as its CometD message; the Pub/Sub side encodes it with its topic's
// schema when it is delivered, so both APIs serve the same events (docs/pubsub.md, "What the emulator serves").
//
// A platform event schema is named after the event (Order_Event__e); a change event schema after the entity
// (AccountChangeEvent), so /data/ChangeEvents delivers events of several schemas, as on Salesforce. A schema
// starts with the fields the emulator generates and grows when a published payload brings a new field (type
// inferred from its JSON value), which gives the new version a new schema id, as adding a field does on
// Salesforce. Fields carry Salesforce's doc attribute, "<role>:<type>" ("CreatedDate:DateTime",
// "CreatedBy:EntityId", "Data:Currency"): date-time fields are longs (epoch milliseconds) whose doc ends in
// ":DateTime". A schema id is the MD5 fingerprint of the schema's Parsing Canonical Form (which leaves out docs
// and defaults), base64url without padding (docs/emulator.md, "Pub/Sub edges").

const avroNamespace = "com.sforce.eventbus"

type avroKind int

const (
	avroString avroKind = iota
	avroDouble
	avroInt
	avroBoolean
	avroDateTime
	avroRecord // a compound field: a nested record of nullable strings and doubles
)

type avroField struct {
	name   string
	kind   avroKind
	nested []avroField // avroRecord
	doc    string      // Salesforce's doc attribute; "" for none (custom platform event fields have none)
}

// topicSchema is one version of a topic's schema.
type topicSchema struct {
	name   string // record name
	fields []avroField
	id     string
	json   string
	parsed *avro.RecordSchema
	header bool // a change event: fields[0] is ChangeEventHeader
}

// schemaRegistry holds every schema version served, by id, and the current version per record name.
type schemaRegistry struct {
	mu      sync.Mutex
	byID    map[string]*topicSchema
	current map[string]*topicSchema
}

func newSchemaRegistry() *schemaRegistry {
	return &schemaRegistry{byID: map[string]*topicSchema{}, current: map[string]*topicSchema{}}
}

// platformEventFields: the two standard fields of every platform event (required, with the docs of a captured
// schema), then the emulated custom fields (nullable, no doc, as in that capture).
var platformEventFields = []avroField{
	{name: "CreatedDate", kind: avroDateTime, doc: "CreatedDate:DateTime"}, {name: "CreatedById", kind: avroString, doc: "CreatedBy:EntityId"},
	{name: "Order_Number__c", kind: avroString}, {name: "Status__c", kind: avroString},
	{name: "Amount__c", kind: avroDouble}, {name: "Account__c", kind: avroString},
}

// changeEventFields are the record fields of every emulated change event, in the order of the generated record
// (eventstore.RecordFields), then SystemModstamp.
var changeEventFields = []avroField{
	{name: "Name", doc: "Data:Text"}, {name: "Type", doc: "Data:DynamicEnum"}, {name: "Industry", doc: "Data:DynamicEnum"},
	{name: "AnnualRevenue", kind: avroDouble, doc: "Data:Currency"}, {name: "NumberOfEmployees", kind: avroInt, doc: "Data:Integer"},
	{name: "Phone", doc: "Data:Phone"}, {name: "Website", doc: "Data:Url"}, {name: "BillingStreet", doc: "Data:TextArea"},
	{name: "BillingCity", doc: "Data:Text"}, {name: "BillingState", doc: "Data:Text"}, {name: "BillingPostalCode", doc: "Data:Text"},
	{name: "BillingCountry", doc: "Data:Text"}, {name: "Description", doc: "Data:TextArea"}, {name: "OwnerId", doc: "ForeignKey:EntityId"},
	{name: "CreatedDate", kind: avroDateTime, doc: "CreatedDate:DateTime"}, {name: "CreatedById", doc: "CreatedBy:EntityId"},
	{name: "LastModifiedDate", kind: avroDateTime, doc: "LastModifiedDate:DateTime"}, {name: "LastModifiedById", doc: "LastModifiedBy:EntityId"},
	{name: "SystemModstamp", kind: avroDateTime, doc: "SystemModstamp:DateTime"},
}

const changeEventHeaderSchema = `{"name":"ChangeEventHeader","type":{"type":"record","name":"ChangeEventHeader","fields":[` +
	`{"name":"entityName","type":"string"},{"name":"recordIds","type":{"type":"array","items":"string"}},` +
	`{"name":"changeType","type":{"type":"enum","name":"ChangeType","symbols":["CREATE","UPDATE","DELETE","UNDELETE","GAP_CREATE","GAP_UPDATE","GAP_DELETE","GAP_UNDELETE","GAP_OVERFLOW"]}},` +
	`{"name":"changeOrigin","type":"string"},{"name":"transactionKey","type":"string"},{"name":"sequenceNumber","type":"int"},` +
	`{"name":"commitTimestamp","type":"long"},{"name":"commitNumber","type":"long"},{"name":"commitUser","type":"string"},` +
	`{"name":"nulledFields","type":{"type":"array","items":"string"}},{"name":"diffFields","type":{"type":"array","items":"string"}},` +
	`{"name":"changedFields","type":{"type":"array","items":"string"}}]},"doc":"Data:ComplexValueType"}`

// schemaFor returns the current schema of a record name, creating its first version.
func (r *schemaRegistry) schemaFor(name string, changeEvent bool) (*topicSchema, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.schemaForLocked(name, changeEvent)
}

func (r *schemaRegistry) schemaForLocked(name string, changeEvent bool) (*topicSchema, error) {
	if ts, ok := r.current[name]; ok {
		return ts, nil
	}
	base := platformEventFields
	if changeEvent {
		base = changeEventFields
	}
	return r.registerLocked(name, changeEvent, append([]avroField(nil), base...))
}

func (r *schemaRegistry) registerLocked(name string, changeEvent bool, fields []avroField) (*topicSchema, error) {
	ts := &topicSchema{name: name, fields: fields, header: changeEvent}
	var b strings.Builder
	b.WriteString(`{"type":"record","name":`)
	b.WriteString(strconv.Quote(name))
	b.WriteString(`,"namespace":"` + avroNamespace + `","fields":[`)
	if changeEvent {
		b.WriteString(changeEventHeaderSchema)
	}
	for i, f := range fields {
		if i > 0 || changeEvent {
			b.WriteByte(',')
		}
		writeAvroField(&b, f, name, !changeEvent && (f.name == "CreatedDate" || f.name == "CreatedById"))
	}
	b.WriteString(`]}`)
	ts.json = b.String()
	parsed, err := avro.ParseWithCache(ts.json, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("building the schema of %s: %w", name, err)
	}
	ts.parsed = parsed.(*avro.RecordSchema)
	ts.id, err = avroSchemaID(ts.parsed)
	if err != nil {
		return nil, fmt.Errorf("fingerprinting the schema of %s: %w", name, err)
	}
	r.byID[ts.id] = ts
	r.current[name] = ts
	return ts, nil
}

// avroSchemaID is Salesforce's schema id: the MD5 fingerprint of the Parsing Canonical Form, base64url unpadded.
func avroSchemaID(s *avro.RecordSchema) (string, error) {
	sum, err := s.FingerprintUsing(avro.MD5)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

func writeAvroField(b *strings.Builder, f avroField, owner string, required bool) {
	b.WriteString(`{"name":` + strconv.Quote(f.name) + `,"type":`)
	var typ string
	doc := f.doc
	switch f.kind {
	case avroString:
		typ = `"string"`
	case avroDouble:
		typ = `"double"`
	case avroInt:
		typ = `"int"`
	case avroBoolean:
		typ = `"boolean"`
	case avroDateTime:
		typ = `"long"`
		if doc == "" {
			doc = "Data:DateTime" // a date-time field without a doc would not be read as one
		}
	case avroRecord:
		var nb strings.Builder
		nb.WriteString(`{"type":"record","name":` + strconv.Quote(owner+"_"+f.name) + `,"fields":[`)
		for i, n := range f.nested {
			if i > 0 {
				nb.WriteByte(',')
			}
			writeAvroField(&nb, n, owner+"_"+f.name, false)
		}
		nb.WriteString(`]}`)
		typ = nb.String()
	}
	if required {
		b.WriteString(typ)
	} else {
		b.WriteString(`["null",` + typ + `],"default":null`)
	}
	if doc != "" {
		b.WriteString(`,"doc":` + strconv.Quote(doc))
	}
	b.WriteByte('}')
}

// isoDateTime matches the date-time text CometD payloads carry.
var isoDateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$`)

// inferField types a field first seen in a published payload.
func inferField(name string, v json.RawMessage) (avroField, bool) {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return avroField{}, false
	}
	switch val := x.(type) {
	case nil:
		return avroField{name: name}, true // nullable string until known better
	case string:
		if isoDateTime.MatchString(val) {
			return avroField{name: name, kind: avroDateTime, doc: "Data:DateTime"}, true
		}
		return avroField{name: name}, true
	case float64:
		return avroField{name: name, kind: avroDouble}, true
	case bool:
		return avroField{name: name, kind: avroBoolean}, true
	case map[string]any:
		var obj map[string]json.RawMessage
		_ = json.Unmarshal(v, &obj)
		f := avroField{name: name, kind: avroRecord}
		for _, k := range sortedKeys(obj) {
			if n, ok := inferField(k, obj[k]); ok && n.kind != avroRecord {
				f.nested = append(f.nested, n)
			}
		}
		return f, true
	}
	return avroField{}, false // arrays: no emulated field has one
}

func (r *schemaRegistry) byIDLookup(id string) (*topicSchema, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ts, ok := r.byID[id]
	return ts, ok
}

// bitmapOf encodes field names (top-level, or Parent.Child) as Salesforce's bitmap array: the top-level
// bitmap first, then one "position-0x.." element per compound field, positions counted with the header at 0.
func (ts *topicSchema) bitmapOf(names []string) []any {
	top := map[int]bool{}
	nested := map[int]map[int]bool{}
	var parents []int
	for _, n := range names {
		parent, child, isNested := strings.Cut(n, ".")
		for i, f := range ts.fields {
			if f.name != parent {
				continue
			}
			pos := i + 1
			if !isNested {
				top[pos] = true
				break
			}
			for j, c := range f.nested {
				if c.name == child {
					if nested[pos] == nil {
						nested[pos] = map[int]bool{}
						parents = append(parents, pos)
					}
					nested[pos][j] = true
				}
			}
			break
		}
	}
	if len(top) == 0 && len(parents) == 0 {
		return []any{}
	}
	out := []any{hexBitmap(top)}
	for _, p := range parents {
		out = append(out, strconv.Itoa(p)+"-"+hexBitmap(nested[p]))
	}
	return out
}

// hexBitmap is "0x" and an even number of uppercase hex digits with bit i set for each position i.
func hexBitmap(bits map[int]bool) string {
	maxBit := 0
	for b := range bits {
		maxBit = max(maxBit, b)
	}
	nBytes := maxBit/8 + 1
	buf := make([]byte, nBytes)
	for b := range bits {
		buf[nBytes-1-b/8] |= 1 << (b % 8)
	}
	return "0x" + strings.ToUpper(fmt.Sprintf("%x", buf))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
