package bayeux

import (
	"bytes"
	"fmt"
	"time"
)

// The splitter reads each `data` object for the replay id and the metadata of protocol.md 1.11 in the same pass
// that delimits it, without building a tree: it walks the members of `data`, descends only into `event`,
// `payload` and `payload.ChangeEventHeader`, records the byte spans of the values wanted and skips (and checks)
// everything else. complete then turns the spans into the event's replay id and metadata strings.

// Objects the walk descends into.
const (
	inData = iota
	inEvent
	inPayload
	inHeader
)

// dataFields holds the spans of the values wanted from one `data` object (a zero span: absent). A member that
// occurs twice keeps its first value, and only the first `event`, `payload` and `ChangeEventHeader` are
// descended into: the semantics of fastjson's Get, which read the metadata before this walk did.
type dataFields struct {
	replayID, created, eventType, uuid, schema, payloadCreated fieldSpan
	changeType, entity, txKey, user, recordIDs, commitTime     fieldSpan

	seenEvent, seenPayload, seenHeader bool
}

// fieldSpan is a span in 32 bits: an answer holds one dataFields per event until complete reads them, so their
// size is most of the decoder's memory per event. split refuses bodies of 4 GiB or more.
type fieldSpan struct{ start, end uint32 }

func (s fieldSpan) span() span { return span{int(s.start), int(s.end)} }

// walk reads the object at b[i] == '{' whose place in `data` is in, checking its grammar as skipValue does, and
// returns the index after it.
func (f *dataFields) walk(b []byte, i, in int) (int, error) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		name, v, err := memberName(b, i)
		if err != nil {
			return 0, err
		}
		var target *fieldSpan
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
			i, err = f.walk(b, v, sub)
		} else {
			i, err = skipValue(b, v)
			if err == nil && target != nil && target.end == 0 {
				*target = fieldSpan{uint32(v), uint32(i)}
			}
		}
		if err != nil {
			return 0, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, errUnexpectedEnd
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, fmt.Errorf("expected ',' or '}' at offset %d", i)
		}
	}
}

// extract turns what the walk of one `data` object found into pe's replay id and metadata, copying strings into
// the answer's arena. It returns false when the replay id is not usable (not a non-negative integer). Data
// that is not an object has no fields: it is delivered as is, without replay id or metadata.
func (d *decoder) extract(b []byte, f *dataFields, pe *pendingEvent) bool {
	if f.replayID.end != 0 {
		id, has, ok := replayIDAt(b, f.replayID.span())
		if !ok {
			return false
		}
		pe.replayID, pe.hasReplay = id, has
	}
	if s, ok := stringAt(b, f.created.span()); ok {
		pe.created = d.addTime(s)
	}
	pe.eventType = d.addString(b, f.eventType.span())
	pe.uuid = d.addString(b, f.uuid.span())
	pe.schema = d.addString(b, f.schema.span())
	pe.changeType = d.addString(b, f.changeType.span())
	pe.entity = d.addString(b, f.entity.span())
	pe.txKey = d.addString(b, f.txKey.span())
	pe.user = d.addString(b, f.user.span())
	if s := f.recordIDs.span(); s.ok() && b[s.start] == '[' {
		pe.recFirst = len(d.recIDs)
		d.addRecordIDs(b, s)
		pe.recLast = len(d.recIDs)
	}
	if s := f.commitTime.span(); s.ok() && isNumberStart(b[s.start]) {
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
		} else if s, ok := stringAt(b, f.payloadCreated.span()); ok {
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

// addBytes copies b into the answer's arena and returns where it lies there.
func (d *decoder) addBytes(b []byte) span {
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	return span{start, len(d.arena)}
}

// parseInt64 parses a decimal integer with an optional sign without allocating; ok is false for anything else
// and on overflow.
func parseInt64(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}
