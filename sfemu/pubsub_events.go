package sfemu

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
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
