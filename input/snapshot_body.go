package input

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/jsontext"
	"github.com/salesforce-streaming/salesforce_streaming/internal/orgapi"
)

// Records as messages: a snapshot row and a resolved gap event carry the
// record in a body shaped like a change event of it (ChangeEventHeader plus
// the fields), so that one mapping serves records and change events. With
// body: data the body is {"payload": …}, as CometD's data object; with
// body: payload (and always under api: pubsub) the payload itself, so that
// a pipeline moves between the APIs by changing api alone.

// Change types of messages the input makes itself, besides Salesforce's.
const (
	changeSnapshot = "SNAPSHOT"
	// changeSnapshotEnd marks the end of an object's snapshot of one
	// generation: every live record was sent since its start, so a mirror may
	// drop rows of earlier generations (docs/cdc.md).
	changeSnapshotEnd = "SNAPSHOT_END"
	changeDelete      = "DELETE"
)

// Metadata the snapshot and gap resolution add (docs/cdc.md).
const (
	metaSnapshotGeneration = "salesforce_snapshot_generation"
	metaGapResolved        = "salesforce_gap_resolved"
)

// cdcTimeLayout is how change events write date-times.
const cdcTimeLayout = "2006-01-02T15:04:05.000Z"

// objectSchema is what the input reads of one object: its fields (Id and
// SystemModstamp apart) and their describe types.
type objectSchema struct {
	name   string
	fields []string          // emitted, in order, without Id
	types  map[string]string // by lower-case name
	// keys are the fields as JSON object keys (`"Name":`) and fieldTypes
	// their types, both aligned with fields: a record's body is written
	// without looking either up again.
	keys       [][]byte
	fieldTypes []string
	entityJSON []byte // the name as a JSON string
}

// prepare fills the per-field tables once the fields are settled.
func (s *objectSchema) prepare() *objectSchema {
	s.entityJSON, _ = json.Marshal(s.name)
	s.keys, s.fieldTypes = make([][]byte, len(s.fields)), make([]string, len(s.fields))
	for k, f := range s.fields {
		kb, _ := json.Marshal(f)
		s.keys[k] = append(kb, ':')
		s.fieldTypes[k] = s.types[strings.ToLower(f)]
	}
	return s
}

// selectList is the SOQL select list: Id, SystemModstamp, then the fields.
func (s *objectSchema) selectList() string {
	cols := []string{"Id", "SystemModstamp"}
	for _, f := range s.fields {
		if !strings.EqualFold(f, "SystemModstamp") {
			cols = append(cols, f)
		}
	}
	return strings.Join(cols, ", ")
}

// retrieveFields are the fields of a collections retrieve.
func (s *objectSchema) retrieveFields() []string {
	return append([]string{"Id", "SystemModstamp"}, slices.DeleteFunc(slices.Clone(s.fields), func(f string) bool {
		return strings.EqualFold(f, "SystemModstamp")
	})...)
}

// loadSchema describes object and settles its fields: the configured ones,
// each checked against describe, or every non-compound field.
func loadSchema(ctx context.Context, org orgReader, object string, configured []string) (*objectSchema, error) {
	described, err := org.Describe(ctx, object)
	if err != nil {
		return nil, err
	}
	s := &objectSchema{name: object, types: make(map[string]string, len(described))}
	byName := make(map[string]orgapi.Field, len(described))
	for _, f := range described {
		byName[strings.ToLower(f.Name)] = f
		s.types[strings.ToLower(f.Name)] = f.Type
	}
	if len(configured) == 0 {
		for _, f := range described {
			if !f.Compound() && !strings.EqualFold(f.Name, "Id") {
				s.fields = append(s.fields, f.Name)
			}
		}
		return s.prepare(), nil
	}
	for _, name := range configured {
		f, ok := byName[strings.ToLower(name)]
		switch {
		case !ok:
			return nil, fmt.Errorf("snapshot.objects.%s: %s has no field %s: check the name in its describe", object, object, name)
		case f.Compound():
			return nil, fmt.Errorf("snapshot.objects.%s: %s is a compound %s field: list its parts instead", object, name, f.Type)
		case strings.EqualFold(f.Name, "Id"):
			continue
		}
		s.fields = append(s.fields, f.Name)
	}
	return s.prepare(), nil
}

// typedAs turns a Bulk API 2.0 CSV value of a field of type typ into the JSON value a change event
// holds: "" is null (the CSV writes a null so, and Salesforce keeps no empty
// text), numbers and booleans by their describe type, date-times in the
// change events' layout; anything else stays text.
func typedAs(typ, v string) any {
	if v == "" {
		return nil
	}
	switch typ {
	case "boolean":
		return v == "true"
	case "int", "double", "currency", "percent", "long":
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return json.Number(v)
		}
	case "datetime":
		return cdcTime(v)
	}
	return v
}

// cdcTime rewrites a REST or Bulk date-time (…000+0000, …000Z) in the
// change events' layout; text it cannot read is kept.
func cdcTime(v string) string {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC().Format(cdcTimeLayout)
		}
	}
	return v
}

// recordOf reads a REST record (JSON with attributes) into its id and
// values by field name, numbers kept as written.
func recordOf(rec json.RawMessage) (string, map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return "", nil, fmt.Errorf("reading a record: %w", err)
	}
	id, _ := m["Id"].(string)
	if id == "" {
		return "", nil, fmt.Errorf("a record without Id")
	}
	return id, m, nil
}

// value looks a field up case-insensitively (REST answers use describe's
// spelling, a config may not).
func value(m map[string]any, field string) any {
	if v, ok := m[field]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, field) {
			return v
		}
	}
	return nil
}

// recordMessage makes the message of one record: values by field name (nil
// values for a delete), changeType in the header and metadata.
func (s *objectSchema) recordMessage(body bodyShape, changeType, id string, values map[string]any, generation int64) (*service.Message, error) {
	commit := time.Now().UnixMilli()
	if ts, ok := value(values, "SystemModstamp").(string); ok {
		if t, err := time.Parse(cdcTimeLayout, cdcTime(ts)); err == nil {
			commit = t.UnixMilli()
		}
	}
	b := make([]byte, 0, 256+32*len(s.fields))
	if body == bodyData {
		b = append(b, `{"payload":`...)
	}
	b = append(b, `{"ChangeEventHeader":{"entityName":`...)
	b = append(b, s.entityJSON...)
	b = append(b, `,"recordIds":[`...)
	b = jsontext.AppendString(b, id)
	b = append(b, `],"changeType":`...)
	b = jsontext.AppendString(b, changeType)
	b = append(b, `,"changeOrigin":"","transactionKey":"","sequenceNumber":0,"commitTimestamp":`...)
	b = strconv.AppendInt(b, commit, 10)
	b = append(b, `,"commitNumber":0,"commitUser":"","changedFields":[],"nulledFields":[],"diffFields":[]}`...)
	if values != nil {
		for k, f := range s.fields {
			b = append(b, ',')
			b = append(b, s.keys[k]...)
			var err error
			if b, err = appendValue(b, value(values, f), s.fieldTypes[k]); err != nil {
				return nil, fmt.Errorf("field %s: %w", f, err)
			}
		}
	}
	b = append(b, '}')
	if body == bodyData {
		b = append(b, '}')
	}
	msg := service.NewMessage(b)
	msg.MetaSetMut(metaChannel, changeChannel(s.name))
	msg.MetaSetMut(metaChangeType, changeType)
	msg.MetaSetMut(metaEntityName, s.name)
	msg.MetaSetMut(metaRecordIDs, []any{id})
	if generation > 0 {
		msg.MetaSetMut(metaSnapshotGeneration, generation)
	}
	return msg, nil
}

// endMessage marks the end of an object's snapshot of generation.
func (s *objectSchema) endMessage(body bodyShape, generation int64) *service.Message {
	text := `{"ChangeEventHeader":{"entityName":` + strconv.Quote(s.name) + `,"recordIds":[],"changeType":"` + changeSnapshotEnd + `"}}`
	if body == bodyData {
		text = `{"payload":` + text + `}`
	}
	msg := service.NewMessage([]byte(text))
	msg.MetaSetMut(metaChannel, changeChannel(s.name))
	msg.MetaSetMut(metaChangeType, changeSnapshotEnd)
	msg.MetaSetMut(metaEntityName, s.name)
	msg.MetaSetMut(metaRecordIDs, []any{})
	msg.MetaSetMut(metaSnapshotGeneration, generation)
	return msg
}

// changeChannel is the change event channel of object: AccountChangeEvent,
// Invoice__ChangeEvent for Invoice__c.
func changeChannel(object string) string {
	if base, ok := strings.CutSuffix(object, "__c"); ok {
		return "/data/" + base + "__ChangeEvent"
	}
	return "/data/" + object + "ChangeEvent"
}

// appendValue writes a field's value as JSON: date-times in the change
// events' layout, the common types without reflection.
func appendValue(b []byte, v any, typ string) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		if typ == "datetime" {
			x = cdcTime(x)
		}
		return jsontext.AppendString(b, x), nil
	case json.Number:
		return append(b, x...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	}
	vb, err := json.Marshal(v)
	return append(b, vb...), err
}
