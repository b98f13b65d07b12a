package sfemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event payloads as Salesforce delivers them over CometD (protocol.md 2.7). Each event is encoded once, here,
// into the complete Bayeux message; deliveries only copy the bytes.

const (
	msTime  = "2006-01-02T15:04:05.000Z"
	secTime = "2006-01-02T15:04:05Z"
)

// buildEventLocked encodes one event of ch with replay id id. custom, when not nil, is the caller's payload:
// the sobject (PushTopic), the payload object (platform event, CDC) or the payload text (generic).
func (s *Server) buildEventLocked(ch *channel, id int64, now time.Time, custom json.RawMessage) (storedEvent, error) {
	b := make([]byte, 0, 1200)
	b = append(b, `{"channel":`...)
	b = appendJSONString(b, ch.name)
	ev := storedEvent{id: id, at: now, dataOff: len(b)}
	b = append(b, `,"data":`...)
	var err error
	switch ch.kind {
	case KindPushTopic:
		b, ev.fields, err = s.pushTopicData(b, id, now, custom)
	case KindGeneric:
		b, err = s.genericData(b, id, now, custom)
	case KindPlatformEvent:
		b, err = s.platformEventData(b, ch, id, now, custom)
	case KindCDC:
		b, err = s.cdcData(b, ch, id, now, custom)
	default:
		err = fmt.Errorf("channel %s has no event kind", ch.name)
	}
	if err != nil {
		return storedEvent{}, err
	}
	ev.msg = append(b, '}')
	return ev, nil
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

func (s *Server) pushTopicData(b []byte, id int64, now time.Time, custom json.RawMessage) ([]byte, map[string]string, error) {
	var sobject []byte
	fields := map[string]string{}
	eventType := "created"
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
		recID := s.recordID("a00", n)
		name := fmt.Sprintf("INV-%06d", n)
		status := statuses[s.rng.IntN(len(statuses))]
		amount := strconv.FormatFloat(float64(s.rng.IntN(1000000))/100, 'f', 2, 64)
		o := newObj(nil).str("Id", recID).str("Name", name).str("Status__c", status).raw("Amount__c", []byte(amount))
		sobject = o.done()
		fields = map[string]string{"Id": recID, "Name": name, "Status__c": status, "Amount__c": amount}
	}
	b = append(b, `{"event":{"createdDate":`...)
	b = appendJSONString(b, now.UTC().Format(msTime))
	b = append(b, `,"replayId":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, eventType)
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

func (s *Server) genericData(b []byte, id int64, now time.Time, custom json.RawMessage) ([]byte, error) {
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
	b = appendJSONString(b, now.UTC().Format(msTime))
	b = append(b, `,"replayId":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `},"payload":`...)
	b = appendJSONString(b, text)
	return append(b, '}'), nil
}

func (s *Server) platformEventData(b []byte, ch *channel, id int64, now time.Time, custom json.RawMessage) ([]byte, error) {
	var payload []byte
	if custom != nil {
		obj, m, err := compactObject(custom)
		if err != nil {
			return nil, err
		}
		// Every platform event carries CreatedDate and CreatedById; add them when the caller left them out.
		lead := newObj(nil)
		if _, ok := m["CreatedDate"]; !ok {
			lead.str("CreatedDate", now.UTC().Format(msTime))
		}
		if _, ok := m["CreatedById"]; !ok {
			lead.str("CreatedById", s.cfg.UserID)
		}
		payload = withLeadingFields(obj, lead.b[1:])
	} else {
		n := s.nextSeqLocked()
		statuses := [...]string{"New", "Submitted", "Shipped", "Cancelled"}
		payload = newObj(nil).
			str("CreatedDate", now.UTC().Format(msTime)).
			str("CreatedById", s.cfg.UserID).
			str("Order_Number__c", fmt.Sprintf("ORD-%08d", n)).
			str("Status__c", statuses[s.rng.IntN(len(statuses))]).
			raw("Amount__c", strconv.AppendFloat(nil, float64(s.rng.IntN(10000000))/100, 'f', 2, 64)).
			str("Account__c", s.recordID("001", n)).
			done()
	}
	b = append(b, `{"schema":`...)
	b = appendJSONString(b, ch.schema)
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	b = append(b, `,"event":{"EventUuid":`...)
	b = appendJSONString(b, s.uuidLocked())
	b = append(b, `,"replayId":`...)
	b = strconv.AppendInt(b, id, 10)
	return append(b, `}}`...), nil
}

// cdcEntity names the object of a change event channel and its record id prefix.
func (s *Server) cdcEntity(ch *channel) (entity, prefix string) {
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

func (s *Server) cdcHeader(ch *channel, now time.Time, n uint64) []byte {
	entity, prefix := s.cdcEntity(ch)
	types := [...]string{"CREATE", "CREATE", "CREATE", "UPDATE", "UPDATE", "UPDATE", "DELETE", "UNDELETE"}
	changeType := types[s.rng.IntN(len(types))]
	changed := []byte(`[]`)
	if changeType == "UPDATE" {
		changed = []byte(`["Description","Phone","LastModifiedDate"]`)
	}
	return newObj(nil).
		str("entityName", entity).
		raw("recordIds", append(appendJSONString([]byte{'['}, s.recordID(prefix, n)), ']')).
		str("changeType", changeType).
		str("changeOrigin", "com/salesforce/api/rest/64.0;client=SfdcInternalAPI/").
		str("transactionKey", s.uuidLocked()).
		int("sequenceNumber", 1).
		bool("isTransactionEnd", true).
		int("commitTimestamp", now.UnixMilli()).
		int("commitNumber", 10000000000+int64(n)).
		str("commitUser", s.cfg.UserID).
		raw("changedFields", changed).
		done()
}

func (s *Server) cdcData(b []byte, ch *channel, id int64, now time.Time, custom json.RawMessage) ([]byte, error) {
	var payload []byte
	if custom != nil {
		obj, m, err := compactObject(custom)
		if err != nil {
			return nil, err
		}
		if _, ok := m["ChangeEventHeader"]; !ok {
			lead := newObj(nil).raw("ChangeEventHeader", s.cdcHeader(ch, now, s.nextSeqLocked()))
			payload = withLeadingFields(obj, lead.b[1:])
		} else {
			payload = obj
		}
	} else {
		n := s.nextSeqLocked()
		header := s.cdcHeader(ch, now, n)
		created := now.UTC().Format(secTime)
		payload = newObj(nil).
			raw("ChangeEventHeader", header).
			str("Name", fmt.Sprintf("Acme Industrial Supply %d", n)).
			str("Type", "Customer - Direct").
			str("Industry", "Manufacturing").
			raw("AnnualRevenue", strconv.AppendInt(nil, int64(s.rng.IntN(90000000)+1000000), 10)).
			raw("NumberOfEmployees", strconv.AppendInt(nil, int64(s.rng.IntN(20000)+10), 10)).
			str("Phone", fmt.Sprintf("(415) 555-%04d", n%10000)).
			str("Website", "www.acme.example.com").
			str("BillingStreet", "415 Mission Street, Floor 3").
			str("BillingCity", "San Francisco").
			str("BillingState", "CA").
			str("BillingPostalCode", "94105").
			str("BillingCountry", "United States").
			str("Description", "Key account in the western region; renewal due next quarter.").
			str("OwnerId", s.cfg.UserID).
			str("CreatedDate", created).
			str("CreatedById", s.cfg.UserID).
			str("LastModifiedDate", created).
			str("LastModifiedById", s.cfg.UserID).
			done()
	}
	b = append(b, `{"schema":`...)
	b = appendJSONString(b, ch.schema)
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	b = append(b, `,"event":{"replayId":`...)
	b = strconv.AppendInt(b, id, 10)
	return append(b, `}}`...), nil
}

func (s *Server) nextSeqLocked() uint64 {
	s.seq++
	return s.seq
}

// recordID returns an 18-character Salesforce-style id with the object's key prefix.
func (s *Server) recordID(prefix string, n uint64) string {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var tail [6]byte
	for i := len(tail) - 1; i >= 0; i-- {
		tail[i] = base62[n%62]
		n /= 62
	}
	return prefix + "5e0000" + string(tail[:]) + "AAQ"
}

func (s *Server) uuidLocked() string {
	var u [16]byte
	hi, lo := s.rng.Uint64(), s.rng.Uint64()
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
