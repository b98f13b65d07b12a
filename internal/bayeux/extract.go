package bayeux

import (
	"bytes"
	"time"
)

// The extraction pass reads one `data` object for the replay id and the metadata of protocol.md 1.11 without
// building a tree: it walks the members of `data`, descends only into `event`, `payload` and
// `payload.ChangeEventHeader`, records the byte spans of the values it wants and skips everything else. The
// splitter has already checked the answer's grammar, so this pass only delimits values; it still never reads
// out of bounds, and gives up on the object (no metadata) if it meets something it did not expect.

// Objects the walk descends into.
const (
	inData = iota
	inEvent
	inPayload
	inHeader
)

// dataFields holds the spans of the values wanted from one `data` object (a zero span: absent). Each is the
// first occurrence of its member, as fastjson's Get (used before) found it; so is each object descended into.
type dataFields struct {
	replayID, created, eventType, uuid, schema, payloadCreated span
	changeType, entity, txKey, user, recordIDs, commitTime   span

	seenEvent, seenPayload, seenHeader bool
}

// walk reads the object at b[i] == '{' whose place in `data` is in, and returns the index after it, or -1.
func (f *dataFields) walk(b []byte, i, in int) int {
	i++
	for {
		i = skipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
		if i >= len(b) {
			return -1
		}
		if b[i] == '}' {
			return i + 1
		}
		if b[i] != '"' {
			return -1
		}
		nameEnd, escaped, err := skipString(b, i+1)
		if err != nil {
			return -1
		}
		name := b[i+1 : nameEnd-1]
		if escaped {
			name = unescapeJSON(name)
		}
		v := skipWS(b, nameEnd)
		if v >= len(b) || b[v] != ':' {
			return -1
		}
		v = skipWS(b, v+1)

		var target *span
		sub := -1
		switch in {
		case inData:
			switch string(name) {
			case "event":
				if !f.seenEvent {
					f.seenEvent, sub = true, inEvent
				}
			case "payload":
				if !f.seenPayload {
					f.seenPayload, sub = true, inPayload
				}
			case "schema":
				target = &f.schema
			}
		case inEvent:
			switch string(name) {
			case "replayId":
				target = &f.replayID
			case "createdDate":
				target = &f.created
			case "type":
				target = &f.eventType
			case "EventUuid":
				target = &f.uuid
			}
		case inPayload:
			switch string(name) {
			case "ChangeEventHeader":
				if !f.seenHeader {
					f.seenHeader, sub = true, inHeader
				}
			case "CreatedDate":
				target = &f.payloadCreated
			}
		case inHeader:
			switch string(name) {
			case "changeType":
				target = &f.changeType
			case "entityName":
				target = &f.entity
			case "transactionKey":
				target = &f.txKey
			case "commitUser":
				target = &f.user
			case "recordIds":
				target = &f.recordIDs
			case "commitTimestamp":
				target = &f.commitTime
			}
		}
		if sub >= 0 && v < len(b) && b[v] == '{' {
			if i = f.walk(b, v, sub); i < 0 {
				return -1
			}
			continue
		}
		if i, err = skipValue(b, v); err != nil {
			return -1
		}
		if target != nil && target.end == 0 {
			*target = span{v, i}
		}
	}
}

// extract reads the replay id and the metadata of the `data` value at b[data] into pe, copying strings into
// the answer's arena. It returns false when the replay id is not usable (not a non-negative integer).
func (d *decoder) extract(b []byte, data span, pe *pendingEvent) bool {
	if b[data.start] != '{' {
		return true // a broadcast whose data is not an object: delivered as is, no metadata
	}
	var f dataFields
	if f.walk(b, data.start, inData) < 0 {
		return true // unreachable: the splitter checked the grammar
	}
	if f.replayID.ok() {
		id, has, ok := replayIDAt(b, f.replayID)
		if !ok {
			return false
		}
		pe.replayID, pe.hasReplay = id, has
	}
	if s, ok := stringAt(b, f.created); ok {
		pe.created = d.addTime(s)
	}
	pe.eventType = d.addString(b, f.eventType)
	pe.uuid = d.addString(b, f.uuid)
	pe.schema = d.addString(b, f.schema)
	pe.changeType = d.addString(b, f.changeType)
	pe.entity = d.addString(b, f.entity)
	pe.txKey = d.addString(b, f.txKey)
	pe.user = d.addString(b, f.user)
	if f.recordIDs.ok() && b[f.recordIDs.start] == '[' {
		pe.recFirst = len(d.recIDs)
		d.addRecordIDs(b, f.recordIDs)
		pe.recLast = len(d.recIDs)
	}
	if s := f.commitTime; s.ok() && isNumberStart(b[s.start]) {
		if ms, ok := parseInt64(b[s.start:s.end]); ok {
			start := len(d.arena)
			d.arena = appendRFC3339Millis(d.arena, time.UnixMilli(ms).UTC())
			pe.commitTime = span{start, len(d.arena)}
		}
	}
	// CDC payloads may carry the record's CreatedDate (on CREATE only); the change happened at commitTimestamp,
	// so for CDC the commit time wins over the payload's CreatedDate.
	if !pe.created.ok() {
		if pe.commitTime.ok() {
			pe.created = pe.commitTime
		} else if s, ok := stringAt(b, f.payloadCreated); ok {
			pe.created = d.addTime(s)
		}
	}
	return true
}

// addRecordIDs adds the string elements of the array at b[s] (others are skipped).
func (d *decoder) addRecordIDs(b []byte, s span) {
	i := s.start + 1
	for i < s.end {
		i = skipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
		if i >= s.end || b[i] == ']' {
			return
		}
		end, err := skipValue(b, i)
		if err != nil {
			return
		}
		if str, ok := stringAt(b, span{i, end}); ok {
			d.recIDs = append(d.recIDs, d.addBytes(str))
		}
		i = end
	}
}

func isNumberStart(c byte) bool { return c == '-' || (c >= '0' && c <= '9') }

// stringAt returns the contents of the JSON string at b[s] (quotes included in s), unescaped; ok is false when
// s is absent or not a string.
func stringAt(b []byte, s span) ([]byte, bool) {
	if !s.ok() || b[s.start] != '"' || s.end-s.start < 2 {
		return nil, false
	}
	raw := b[s.start+1 : s.end-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		raw = unescapeJSON(raw)
	}
	return raw, true
}

// replayIDAt reads a replay id: a non-negative JSON integer or a string holding one (Salesforce's replay ids are
// positive; -1 and -2 are presets of the subscribe request, never ids of events). null means absent (has false).
// ok is false for anything else.
func replayIDAt(b []byte, s span) (id int64, has, ok bool) {
	var digits []byte
	switch c := b[s.start]; {
	case c == 'n':
		return 0, false, true
	case c == '"':
		str, _ := stringAt(b, s)
		digits = str
	case isNumberStart(c):
		digits = b[s.start:s.end]
	default:
		return 0, false, false
	}
	id, ok = parseInt64(digits)
	if !ok || id < 0 {
		return 0, false, false
	}
	return id, true, true
}

func (d *decoder) addString(b []byte, s span) span {
	str, ok := stringAt(b, s)
	if !ok {
		return span{}
	}
	return d.addBytes(str)
}
