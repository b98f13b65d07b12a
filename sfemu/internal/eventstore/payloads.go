package eventstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// Event payloads as Salesforce delivers them over CometD (docs/emulator.md, "Event shapes"). Each event is encoded once, here,
// into the complete Bayeux message; deliveries only copy the bytes.

const (
	// TimeLayout is how events write their date-times: UTC with milliseconds.
	TimeLayout = "2006-01-02T15:04:05.000Z"
)

// buildEventLocked encodes one event of ch with replay id id. custom, when not nil, is the caller's payload:
// the sobject (PushTopic), the payload object (platform event, CDC) or the payload text (generic).
func (s *Store) buildEventLocked(ch *Channel, id int64, now time.Time, custom json.RawMessage, t ChangeType, built bool) (Event, error) {
	b := s.scratch[:0] // encoded here, then copied into the channel's arena
	b = append(b, `{"channel":`...)
	b = jsonw.AppendString(b, ch.name)
	ev := Event{ID: id, At: now.UnixNano(), DataOff: int32(len(b))}
	b = append(b, `,"data":`...)
	var err error
	var fields map[string]string
	switch ch.kind {
	case KindPushTopic:
		b, fields, err = s.pushTopicData(b, id, now, custom, t)
	case KindGeneric:
		b, err = s.genericData(b, id, now, custom)
	case KindPlatformEvent:
		b, err = s.platformEventData(b, ch, id, now, custom)
	case KindCDC:
		b, err = s.cdcData(b, ch, id, now, custom, t, built)
	default:
		err = fmt.Errorf("channel %s has no event kind", ch.name)
	}
	if err != nil {
		return Event{}, err
	}
	b = append(b, '}')
	msgLen := len(b)
	b = appendFilterFields(b, fields)
	s.scratch = b
	ev.Msg = ch.arena.store(b, msgLen)
	ev.fieldsLen = int32(len(b) - msgLen)
	return ev, nil
}

// appendFilterFields encodes a PushTopic event's sobject scalars for filters as key NUL value NUL pairs, sorted
// by key; they are stored right after the message, in the same arena.
func appendFilterFields(b []byte, fields map[string]string) []byte {
	if len(fields) == 0 {
		return b
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, 0)
		b = append(b, fields[k]...)
		b = append(b, 0)
	}
	return b
}

// compactObject validates that raw is a JSON object and returns it without insignificant whitespace, plus its
// top-level keys.
func compactObject(raw json.RawMessage) ([]byte, map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, nil, errors.New("payload must be a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, nil, fmt.Errorf("compacting payload: %w", err)
	}
	return buf.Bytes(), m, nil
}

// withLeadingFields inserts `"k":v,` pairs right after the opening brace of a compact object.
func withLeadingFields(object []byte, fields []byte) []byte {
	if len(fields) == 0 {
		return object
	}
	out := make([]byte, 0, len(object)+len(fields)+1)
	out = append(out, '{')
	out = append(out, fields...)
	if len(object) > 2 {
		out = append(out, ',')
	}
	return append(out, object[1:]...)
}

// pushTopicEventType is a PushTopic event's type for a record change type, "" for none.
func pushTopicEventType(t ChangeType) string {
	switch t {
	case ChangeCreate:
		return "created"
	case ChangeUpdate:
		return "updated"
	case ChangeDelete:
		return "deleted"
	case ChangeUndelete:
		return "undeleted"
	}
	return ""
}

func (s *Store) pushTopicData(b []byte, id int64, now time.Time, custom json.RawMessage, t ChangeType) ([]byte, map[string]string, error) {
	var sobject []byte
	fields := map[string]string{}
	eventType := "created"
	if et := pushTopicEventType(t); et != "" {
		eventType = et
	}
	if custom != nil {
		obj, m, err := compactObject(custom)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range m {
			fields[k] = scalarText(v)
		}
		sobject = obj
	} else {
		n := s.nextSeqLocked()
		statuses := [...]string{"Open", "Open", "Negotiating", "Pending", "Closed"}
		types := [...]string{"created", "created", "updated", "updated", "updated", "deleted", "undeleted"}
		eventType = types[s.rng.IntN(len(types))]
		recID := RecordID("a00", n)
		name := fmt.Sprintf("INV-%06d", n)
		status := statuses[s.rng.IntN(len(statuses))]
		amount := strconv.FormatFloat(float64(s.rng.IntN(1000000))/100, 'f', 2, 64)
		o := jsonw.NewChain(nil).Str("Id", recID).Str("Name", name).Str("Status__c", status).Raw("Amount__c", []byte(amount))
		sobject = o.Done()
		fields = map[string]string{"Id": recID, "Name": name, "Status__c": status, "Amount__c": amount}
	}
	b = append(b, `{"event":{"createdDate":`...)
	b = jsonw.AppendString(b, now.UTC().Format(TimeLayout))
	b = append(b, `,"replayId":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"type":`...)
	b = jsonw.AppendString(b, eventType)
	b = append(b, `},"sobject":`...)
	b = append(b, sobject...)
	return append(b, '}'), fields, nil
}

// scalarText renders a JSON scalar the way a PushTopic filter value is written (strings unquoted).
func scalarText(v json.RawMessage) string {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s
	}
	return strings.TrimSpace(string(v))
}

func (s *Store) genericData(b []byte, id int64, now time.Time, custom json.RawMessage) ([]byte, error) {
	var text string
	switch {
	case custom == nil:
		text = fmt.Sprintf("Generic streaming message %d", s.nextSeqLocked())
	case json.Unmarshal(custom, &text) == nil:
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, custom); err != nil {
			return nil, fmt.Errorf("compacting generic payload: %w", err)
		}
		text = buf.String()
	}
	b = append(b, `{"event":{"createdDate":`...)
	b = jsonw.AppendString(b, now.UTC().Format(TimeLayout))
	b = append(b, `,"replayId":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `},"payload":`...)
	b = jsonw.AppendString(b, text)
	return append(b, '}'), nil
}

func (s *Store) platformEventData(b []byte, ch *Channel, id int64, now time.Time, custom json.RawMessage) ([]byte, error) {
	var payload []byte
	if custom != nil {
		obj, m, err := compactObject(custom)
		if err != nil {
			return nil, err
		}
		// Every platform event carries CreatedDate and CreatedById; add them when the caller left them out.
		lead := jsonw.NewChain(nil)
		if _, ok := m["CreatedDate"]; !ok {
			lead.Str("CreatedDate", now.UTC().Format(TimeLayout))
		}
		if _, ok := m["CreatedById"]; !ok {
			lead.Str("CreatedById", s.cfg.UserID)
		}
		payload = withLeadingFields(obj, lead.Open()[1:])
	} else {
		n := s.nextSeqLocked()
		statuses := [...]string{"New", "Submitted", "Shipped", "Cancelled"}
		payload = jsonw.NewChain(nil).
			Str("CreatedDate", now.UTC().Format(TimeLayout)).
			Str("CreatedById", s.cfg.UserID).
			Str("Order_Number__c", fmt.Sprintf("ORD-%08d", n)).
			Str("Status__c", statuses[s.rng.IntN(len(statuses))]).
			Raw("Amount__c", strconv.AppendFloat(nil, float64(s.rng.IntN(10000000))/100, 'f', 2, 64)).
			Str("Account__c", RecordID("001", n)).
			Done()
	}
	b = append(b, `{"schema":`...)
	b = jsonw.AppendString(b, ch.schema)
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	b = append(b, `,"event":{"EventUuid":`...)
	s.lastEventUUID = UUID(s.rng)
	b = jsonw.AppendString(b, s.lastEventUUID)
	b = append(b, `,"replayId":`...)
	b = strconv.AppendInt(b, id, 10)
	return append(b, `}}`...), nil
}

// cdcEntity names the object of a change event channel and its record id prefix.
func (s *Store) cdcEntity(ch *Channel) (entity, prefix string) {
	name := strings.TrimPrefix(ch.name, "/data/")
	switch {
	case strings.HasSuffix(name, "__ChangeEvent"):
		return strings.TrimSuffix(name, "__ChangeEvent") + "__c", "a01"
	case strings.HasSuffix(name, "ChangeEvent") && name != "ChangeEvent":
		entity = strings.TrimSuffix(name, "ChangeEvent")
	default: // /data/ChangeEvents and custom __chn channels carry several objects
		all := [...]string{"Account", "Contact", "Opportunity", "Lead", "Case"}
		entity = all[s.rng.IntN(len(all))]
	}
	prefixes := map[string]string{"Account": "001", "Contact": "003", "Opportunity": "006", "Lead": "00Q", "Case": "500", "User": "005"}
	if p, ok := prefixes[entity]; ok {
		return entity, p
	}
	return entity, "a02"
}

// ChangeType is a change event's ChangeEventHeader.changeType.
type ChangeType string

// Change types of Change Data Capture events: record changes, gap events (a change Salesforce could not turn into
// a change event: the header only) and the overflow event of a transaction above 100,000 changes.
const (
	ChangeCreate      ChangeType = "CREATE"
	ChangeUpdate      ChangeType = "UPDATE"
	ChangeDelete      ChangeType = "DELETE"
	ChangeUndelete    ChangeType = "UNDELETE"
	ChangeGapCreate   ChangeType = "GAP_CREATE"
	ChangeGapUpdate   ChangeType = "GAP_UPDATE"
	ChangeGapDelete   ChangeType = "GAP_DELETE"
	ChangeGapUndelete ChangeType = "GAP_UNDELETE"
	ChangeGapOverflow ChangeType = "GAP_OVERFLOW"
)

// ChangeTypes lists every change type the emulator can publish.
var ChangeTypes = []ChangeType{ChangeCreate, ChangeUpdate, ChangeDelete, ChangeUndelete, ChangeGapCreate, ChangeGapUpdate,
	ChangeGapDelete, ChangeGapUndelete, ChangeGapOverflow}

func (t ChangeType) Valid() bool {
	for _, v := range ChangeTypes {
		if t == v {
			return true
		}
	}
	return false
}

// carriesRecord reports whether a change event of this type carries record fields: a created or undeleted record
// in full, an update only its changed fields. Deletes, gap and overflow events carry the header alone.
func (t ChangeType) carriesRecord() bool {
	return t == ChangeCreate || t == ChangeUndelete || t == ChangeUpdate
}

// cdcHeader is the ChangeEventHeader of a change to record n. Salesforce's system date fields have whole-second
// precision, and so has commitTimestamp in real captures (1708828037000); PreciseCommitTimestamps keeps the
// milliseconds for latency measurements.
func (s *Store) cdcHeader(entity, prefix string, t ChangeType, changed []string, now time.Time, n uint64) []byte {
	recordIDs := append(jsonw.AppendString([]byte{'['}, RecordID(prefix, n)), ']')
	if t == ChangeGapOverflow {
		recordIDs = []byte(`["000000000000000AAA"]`) // an overflow event names the entity with the empty id, not the records
	}
	commit := now.Truncate(time.Second).UnixMilli()
	if s.cfg.PreciseCommitTimestamps {
		commit = now.UnixMilli()
	}
	changedJSON := []byte{'['}
	for i, f := range changed {
		if i > 0 {
			changedJSON = append(changedJSON, ',')
		}
		changedJSON = jsonw.AppendString(changedJSON, f)
	}
	changedJSON = append(changedJSON, ']')
	return jsonw.NewChain(nil).
		Str("entityName", entity).
		Raw("recordIds", recordIDs).
		Str("changeType", string(t)).
		Str("changeOrigin", "com/salesforce/api/soap/"+s.cfg.APIVersion+";client=SfdcInternalAPI/").
		Str("transactionKey", org.TransactionKey(s.rng)).
		Int("sequenceNumber", 1).
		Int("commitTimestamp", commit).
		Int("commitNumber", org.CommitNumberBase+int64(n)).
		Str("commitUser", s.cfg.UserID).
		Raw("changedFields", changedJSON).
		Done()
}

// changedFieldsOf lists the fields of an update payload as real UPDATEs do (["Name","LastModifiedDate"]): the
// record's fields by name, then the audit fields Salesforce changes with every update.
func changedFieldsOf(m map[string]json.RawMessage) []string {
	audit := []string{"LastModifiedDate", "LastModifiedById", "SystemModstamp"}
	var changed, tail []string
	for k := range m {
		if slices.Contains(audit, k) {
			continue
		}
		changed = append(changed, k)
	}
	sort.Strings(changed)
	for _, k := range audit {
		if _, ok := m[k]; ok {
			tail = append(tail, k)
		}
	}
	return append(changed, tail...)
}

// updatableFields are the Account fields a generated UPDATE changes (one or two of them, plus LastModifiedDate).
var updatableFields = [...]string{"Name", "Phone", "Description", "AnnualRevenue", "NumberOfEmployees", "Industry"}

func (s *Store) cdcData(b []byte, ch *Channel, id int64, now time.Time, custom json.RawMessage, t ChangeType, built bool) ([]byte, error) {
	entity, prefix := s.cdcEntity(ch)
	var payload []byte
	switch {
	case custom != nil && built:
		payload = custom // built by the emulator from a record change: compact, with its header
	case custom != nil:
		obj, m, err := compactObject(custom)
		if err != nil {
			return nil, err
		}
		if _, ok := m["ChangeEventHeader"]; ok {
			payload = obj
		} else {
			if t == "" {
				t = ChangeCreate
			}
			var changed []string
			if t == ChangeUpdate {
				changed = changedFieldsOf(m)
			}
			lead := jsonw.NewChain(nil).Raw("ChangeEventHeader", s.cdcHeader(entity, prefix, t, changed, now, s.nextSeqLocked()))
			payload = withLeadingFields(obj, lead.Open()[1:])
		}
	default:
		if t == "" {
			types := [...]ChangeType{ChangeCreate, ChangeCreate, ChangeCreate, ChangeUpdate, ChangeUpdate, ChangeUpdate, ChangeDelete, ChangeUndelete}
			t = types[s.rng.IntN(len(types))]
		}
		payload = s.generatedChange(entity, prefix, t, now)
	}
	b = append(b, `{"schema":`...)
	b = jsonw.AppendString(b, ch.schema)
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	b = append(b, `,"event":{"replayId":`...)
	b = strconv.AppendInt(b, id, 10)
	return append(b, `}}`...), nil
}

// generatedChange is the payload of a generated change event of type t: the header, then the record in full
// (CREATE, UNDELETE), only the changed fields (UPDATE) or nothing (DELETE, gap and overflow events), as real
// change events carry them.
func (s *Store) generatedChange(entity, prefix string, t ChangeType, now time.Time) []byte {
	n := s.nextSeqLocked()
	date := now.UTC().Truncate(time.Second).Format(TimeLayout)
	var changed []string
	if t == ChangeUpdate {
		first := s.rng.IntN(len(updatableFields))
		changed = append(changed, updatableFields[first])
		if second := s.rng.IntN(len(updatableFields)); second != first && s.rng.IntN(2) == 0 {
			changed = append(changed, updatableFields[second])
		}
		changed = append(changed, "LastModifiedDate")
	}
	o := jsonw.NewChain(nil).Raw("ChangeEventHeader", s.cdcHeader(entity, prefix, t, changed, now, n))
	if !t.carriesRecord() {
		return o.Done()
	}
	fields := changed
	if t != ChangeUpdate {
		fields = RecordFields[:]
	}
	for _, f := range fields {
		s.appendRecordField(o, f, n, date)
	}
	return o.Done()
}

// appendRecordField adds one field of generated Account record n.
func (s *Store) appendRecordField(o *jsonw.Chain, field string, n uint64, date string) {
	switch field {
	case "Name":
		o.Str(field, fmt.Sprintf("Acme Industrial Supply %d", n))
	case "Type":
		o.Str(field, "Customer - Direct")
	case "Industry":
		o.Str(field, "Manufacturing")
	case "AnnualRevenue":
		o.Raw(field, strconv.AppendInt(nil, int64(s.rng.IntN(90000000)+1000000), 10))
	case "NumberOfEmployees":
		o.Raw(field, strconv.AppendInt(nil, int64(s.rng.IntN(20000)+10), 10))
	case "Phone":
		o.Str(field, fmt.Sprintf("(415) 555-%04d", n%10000))
	case "Website":
		o.Str(field, "www.acme.example.com")
	case "BillingStreet":
		o.Str(field, "415 Mission Street, Floor 3")
	case "BillingCity":
		o.Str(field, "San Francisco")
	case "BillingState":
		o.Str(field, "CA")
	case "BillingPostalCode":
		o.Str(field, "94105")
	case "BillingCountry":
		o.Str(field, "United States")
	case "Description":
		o.Str(field, "Key account in the western region; renewal due next quarter.")
	case "OwnerId", "CreatedById", "LastModifiedById":
		o.Str(field, s.cfg.UserID)
	case "CreatedDate", "LastModifiedDate":
		o.Str(field, date)
	}
}

// RecordFields is the order of a generated record's fields.
var RecordFields = [...]string{"Name", "Type", "Industry", "AnnualRevenue", "NumberOfEmployees", "Phone", "Website",
	"BillingStreet", "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry", "Description", "OwnerId",
	"CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById"}

func (s *Store) nextSeqLocked() uint64 {
	s.seq++
	return s.seq
}

// RecordID returns an 18-character Salesforce-style id with the object's key prefix.
func RecordID(prefix string, n uint64) string {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var tail [6]byte
	for i := len(tail) - 1; i >= 0; i-- {
		tail[i] = base62[n%62]
		n /= 62
	}
	return prefix + "5e0000" + string(tail[:]) + "AAQ"
}

// UUID is a random version 4 UUID drawn from rng.
func UUID(rng *rand.Rand) string {
	var u [16]byte
	hi, lo := rng.Uint64(), rng.Uint64()
	for i := range 8 {
		u[i] = byte(hi >> (8 * i))
		u[8+i] = byte(lo >> (8 * i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}

// schemaID is a stable 22-character schema fingerprint per channel, like Salesforce's.
func schemaID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}
