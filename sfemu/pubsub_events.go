package sfemu

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hamba/avro/v2"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
)

// replayBytes is the Pub/Sub form of a replay id: 8 bytes, big-endian, the form Salesforce's Go example shows.
// Clients must treat it as opaque.
func replayBytes(id int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(id))
	return b
}

// replayFromBytes reads a replay id written by replayBytes.
func replayFromBytes(b []byte) (int64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	id := int64(binary.BigEndian.Uint64(b))
	return id, id > 0
}

// cometdEvent is what the Pub/Sub side reads of a stored CometD message.
type cometdEvent struct {
	Data struct {
		Payload map[string]json.RawMessage `json:"payload"`
		Event   struct {
			EventUUID string `json:"EventUuid"`
		} `json:"event"`
	} `json:"data"`
}

// recordNameOf is the Avro record name of a platform event channel, or of a change event's entity.
func recordNameOf(channel string) string { return strings.TrimPrefix(channel, "/event/") }

func changeEventName(entity string) string {
	if base, ok := strings.CutSuffix(entity, "__c"); ok {
		return base + "__ChangeEvent"
	}
	return entity + "ChangeEvent"
}

// consumerEvent encodes one stored event of channel for Pub/Sub.
func (s *Server) consumerEvent(channel string, kind Kind, msg []byte, id int64) (*eventbusv1.ConsumerEvent, error) {
	var ev cometdEvent
	if err := json.Unmarshal(msg, &ev); err != nil {
		return nil, fmt.Errorf("reading stored event %d of %s: %w", id, channel, err)
	}
	payload := ev.Data.Payload
	var (
		ts     *topicSchema
		record map[string]any
		err    error
	)
	switch kind {
	case KindPlatformEvent:
		ts, record, err = s.platformEventRecord(channel, payload)
	case KindCDC:
		ts, record, err = s.changeEventRecord(payload)
	default:
		return nil, fmt.Errorf("%s is not a platform event or change event channel", channel)
	}
	if err != nil {
		return nil, fmt.Errorf("encoding event %d of %s: %w", id, channel, err)
	}
	bin, err := avro.Marshal(ts.parsed, record)
	if err != nil {
		return nil, fmt.Errorf("encoding event %d of %s: %w", id, channel, err)
	}
	uuid := ev.Data.Event.EventUUID
	if uuid == "" {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", channel, id)))
		h := hex.EncodeToString(sum[:16])
		uuid = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	return &eventbusv1.ConsumerEvent{
		Event:    &eventbusv1.ProducerEvent{Id: uuid, SchemaId: ts.id, Payload: bin},
		ReplayId: replayBytes(id),
	}, nil
}

func (s *Server) platformEventRecord(channel string, payload map[string]json.RawMessage) (*topicSchema, map[string]any, error) {
	ts, err := s.pubsub.schemas.schemaFor(recordNameOf(channel), false)
	if err != nil {
		return nil, nil, err
	}
	if ts, err = s.pubsub.schemas.withFieldsOf(ts, payload); err != nil {
		return nil, nil, err
	}
	record := map[string]any{}
	for _, f := range ts.fields {
		v, err := ts.avroValue(f, payload[f.name], ts.name)
		if err != nil {
			return nil, nil, err
		}
		record[f.name] = v
	}
	return ts, record, nil
}

// cometdHeader is a ChangeEventHeader as the CometD payload carries it.
type cometdHeader struct {
	EntityName      string   `json:"entityName"`
	RecordIDs       []string `json:"recordIds"`
	ChangeType      string   `json:"changeType"`
	ChangeOrigin    string   `json:"changeOrigin"`
	TransactionKey  string   `json:"transactionKey"`
	SequenceNumber  int      `json:"sequenceNumber"`
	CommitTimestamp int64    `json:"commitTimestamp"`
	CommitNumber    int64    `json:"commitNumber"`
	CommitUser      string   `json:"commitUser"`
	ChangedFields   []string `json:"changedFields"`
}

// changeEventRecord turns a CometD change event payload into the Pub/Sub record: every field of the schema
// (absent ones null), the header's field lists as bitmaps, and the fields the payload sets to null listed in
// nulledFields.
func (s *Server) changeEventRecord(payload map[string]json.RawMessage) (*topicSchema, map[string]any, error) {
	var h cometdHeader
	if err := json.Unmarshal(payload["ChangeEventHeader"], &h); err != nil {
		return nil, nil, fmt.Errorf("reading ChangeEventHeader: %w", err)
	}
	ts, err := s.pubsub.schemas.schemaFor(changeEventName(h.EntityName), true)
	if err != nil {
		return nil, nil, err
	}
	if ts, err = s.pubsub.schemas.withFieldsOf(ts, payload); err != nil {
		return nil, nil, err
	}
	var nulled []string
	record := map[string]any{}
	for _, f := range ts.fields {
		raw, present := payload[f.name]
		if present && string(raw) == "null" {
			nulled = append(nulled, f.name)
		}
		v, err := ts.avroValue(f, raw, ts.name)
		if err != nil {
			return nil, nil, err
		}
		record[f.name] = v
	}
	recordIDs := make([]any, len(h.RecordIDs))
	for i, r := range h.RecordIDs {
		recordIDs[i] = r
	}
	record["ChangeEventHeader"] = map[string]any{
		"entityName": h.EntityName, "recordIds": recordIDs, "changeType": h.ChangeType,
		"changeOrigin": h.ChangeOrigin, "transactionKey": h.TransactionKey, "sequenceNumber": h.SequenceNumber,
		"commitTimestamp": h.CommitTimestamp, "commitNumber": h.CommitNumber, "commitUser": h.CommitUser,
		"nulledFields": ts.bitmapOf(nulled), "diffFields": []any{}, "changedFields": ts.bitmapOf(h.ChangedFields),
	}
	return ts, record, nil
}

// publishedPayload decodes a published platform event into the JSON payload the store keeps: date-times as
// CometD's UTC text, null fields left out.
func publishedPayload(ts *topicSchema, bin []byte) (json.RawMessage, error) {
	var v map[string]any
	if err := avro.Unmarshal(ts.parsed, bin, &v); err != nil {
		return nil, fmt.Errorf("decoding the Avro payload with schema %s: %w", ts.id, err)
	}
	out := map[string]any{}
	for _, f := range ts.fields {
		val := v[f.name]
		if m, ok := val.(map[string]any); ok && f.kind == avroRecord {
			for _, inner := range m { // the union's record branch
				val = inner
			}
		}
		if val == nil {
			continue
		}
		if f.kind == avroDateTime {
			if ms, ok := val.(int64); ok {
				val = time.UnixMilli(ms).UTC().Format(msTime)
			}
		}
		out[f.name] = val
	}
	b, err := json.Marshal(out)
	return b, err
}
