package pubsubapi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
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

// recordNameOf is the Avro record name of a platform event channel, or of a change event's entity.
func recordNameOf(channel string) string { return strings.TrimPrefix(channel, "/event/") }

func changeEventName(entity string) string {
	if base, ok := strings.CutSuffix(entity, "__c"); ok {
		return base + "__ChangeEvent"
	}
	return entity + "ChangeEvent"
}

// publishedPayload decodes a published platform event into the JSON payload the store keeps: date-times as
// CometD's UTC text, null fields left out.
func publishedPayload(ts *topicSchema, bin []byte) (json.RawMessage, error) {
	if err := checkAvroRecord(ts, bin); err != nil {
		return nil, fmt.Errorf("the Avro payload does not match schema %s: %w", ts.id, err)
	}
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
				val = time.UnixMilli(ms).UTC().Format(eventstore.TimeLayout)
			}
		}
		out[f.name] = val
	}
	b, err := json.Marshal(out)
	return b, err
}

// checkAvroRecord walks a published payload along its schema and refuses what a lenient decoder would accept
// with defaulted fields: an empty or truncated payload, a bad union branch or boolean, and trailing bytes.
func checkAvroRecord(ts *topicSchema, bin []byte) error {
	if len(bin) == 0 {
		return errors.New("the payload is empty")
	}
	rest, err := skipAvroFields(bin, ts.fields, !ts.header)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%d bytes follow the last field", len(rest))
	}
	return nil
}

// skipAvroFields skips the encoded fields; standardRequired: CreatedDate and CreatedById are not unions (the
// top level of a platform event schema).
func skipAvroFields(b []byte, fields []avroField, standardRequired bool) ([]byte, error) {
	var err error
	for _, f := range fields {
		if !(standardRequired && (f.name == "CreatedDate" || f.name == "CreatedById")) {
			var branch int64
			if branch, b, err = readAvroLong(b); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.name, err)
			}
			switch branch {
			case 0:
				continue // null
			case 1:
			default:
				return nil, fmt.Errorf("field %s: union branch %d of a [null, value] union", f.name, branch)
			}
		}
		if b, err = skipAvroValue(b, f); err != nil {
			return nil, fmt.Errorf("field %s: %w", f.name, err)
		}
	}
	return b, nil
}

func skipAvroValue(b []byte, f avroField) ([]byte, error) {
	switch f.kind {
	case avroString:
		n, rest, err := readAvroLong(b)
		if err != nil {
			return nil, err
		}
		if n < 0 || n > int64(len(rest)) {
			return nil, fmt.Errorf("a string of %d bytes with %d left", n, len(rest))
		}
		return rest[n:], nil
	case avroDouble:
		if len(b) < 8 {
			return nil, errors.New("truncated double")
		}
		return b[8:], nil
	case avroInt, avroDateTime:
		_, rest, err := readAvroLong(b)
		return rest, err
	case avroBoolean:
		if len(b) < 1 || b[0] > 1 {
			return nil, errors.New("truncated or invalid boolean")
		}
		return b[1:], nil
	case avroRecord:
		return skipAvroFields(b, f.nested, false)
	}
	return nil, errors.New("unknown field kind")
}

// readAvroLong reads a zigzag varint.
func readAvroLong(b []byte) (int64, []byte, error) {
	u, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errors.New("truncated")
	}
	return int64(u>>1) ^ -int64(u&1), b[n:], nil
}
