package wire

import (
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Assembler is the second step of decoding: it turns the positions Split noted into events. Its scratch buffers
// are reused from answer to answer; one goroutine at a time may use it.
type Assembler struct {
	spare chan []rawEvent // Answer.raw chunks handed back to the Splitter

	pending []pendingEvent
	arena   []byte // every metadata string of the answer, materialised as one string at the end
	recIDs  []span // record ids, as arena spans
}

// Scratch buffers grown above these sizes by one large answer are released afterwards, so a burst does not
// pin its peak memory for the life of the session.
const (
	maxKeptPending = 1 << 14
	maxKeptArena   = 1 << 20
)

// pendingEvent is an event whose strings still live in the arena.
type pendingEvent struct {
	ch        int
	replayID  int64
	hasReplay bool
	data      span // in the body; no pointers here, so filling the scratch costs no GC write barriers

	created, eventType, uuid, schema            span
	changeType, entity, txKey, user, commitTime span
	recFirst, recLast                           int
}

// Complete turns the data messages Split found into per-channel batches, reading the replay id and metadata at
// the positions Split noted. A message whose replayId is not usable is dropped and counted; nothing else can fail
// here, Split has checked the grammar.
func (d *Assembler) Complete(ans *Answer) {
	d.pending = d.pending[:0]
	d.arena = d.arena[:0]
	d.recIDs = d.recIDs[:0]
	defer d.release()

	body := ans.body
	if n := ans.Events; cap(d.pending) < n {
		d.pending = make([]pendingEvent, 0, n)
	}
	for _, chunk := range ans.raw {
		for k := range chunk {
			r := &chunk[k]
			pe := pendingEvent{ch: int(r.ch), data: r.data.span()}
			if !d.extract(body, &r.fields, &pe) {
				// An event that cannot be placed in its channel's replay order is dropped rather than handed on
				// with a made-up position (or stalling every channel behind it).
				ans.drop(ans.chans[r.ch], stream.DropInvalidReplayID, body[r.fields.replayID.start:r.fields.replayID.end])
				continue
			}
			d.pending = append(d.pending, pe)
		}
		select {
		case d.spare <- chunk[:0]:
		default:
		}
	}
	ans.raw = nil
	d.finish(body, ans)
}

// release lets go of scratch buffers that one large answer grew beyond what is worth keeping.
func (d *Assembler) release() {
	if cap(d.pending) > maxKeptPending {
		d.pending = nil
	}
	if cap(d.recIDs) > maxKeptPending {
		d.recIDs = nil
	}
	if cap(d.arena) > maxKeptArena {
		d.arena = nil
	}
}

// extract turns what the walk of one `data` object found into pe's replay id and metadata, copying strings into
// the answer's arena. It returns false when the replay id is not usable (not a non-negative integer). Data
// that is not an object has no fields: it is delivered as is, without replay id or metadata.
func (d *Assembler) extract(b []byte, f *dataFields, pe *pendingEvent) bool {
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
func (d *Assembler) addRecordIDs(b []byte, s span) {
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

func (d *Assembler) addString(b []byte, s span) span {
	str, ok := stringAt(b, s)
	if !ok {
		return span{}
	}
	return d.addBytes(str)
}

// addBytes copies b into the answer's arena and returns where it lies there.
func (d *Assembler) addBytes(b []byte) span {
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	return span{start, len(d.arena)}
}

// addTime stores an RFC 3339 timestamp as is, and rewrites Salesforce's other shapes ("+0000" offsets) to UTC.
// A value it cannot read is kept verbatim rather than dropped.
func (d *Assembler) addTime(b []byte) span {
	if looksRFC3339(b) {
		return d.addBytes(b)
	}
	// time.Parse accepts fractional seconds after the seconds field even when the layout has none.
	if t, err := time.Parse("2006-01-02T15:04:05-0700", string(b)); err == nil {
		start := len(d.arena)
		d.arena = appendRFC3339Millis(d.arena, t.UTC())
		return span{start, len(d.arena)}
	}
	return d.addBytes(b)
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

// finish materialises the pending events: one string for all metadata, one slice for all record ids, one
// event slice per channel.
func (d *Assembler) finish(body []byte, ans *Answer) {
	ans.Events = len(d.pending)
	if len(d.pending) == 0 {
		return
	}
	strs := string(d.arena)
	str := func(s span) string { return strs[s.start:s.end] }
	var recs []string
	if len(d.recIDs) > 0 {
		recs = make([]string, len(d.recIDs))
		for i, s := range d.recIDs {
			recs[i] = str(s)
		}
	}
	counts := make([]int, len(ans.chans))
	for i := range d.pending {
		counts[d.pending[i].ch]++
	}
	// A channel whose every event was dropped gets no (empty) batch: batch[k] of channel i is at slot[i].
	slot := make([]int, len(ans.chans))
	ans.Batches = make([]stream.Batch, 0, len(ans.chans))
	for i, name := range ans.chans {
		slot[i] = len(ans.Batches)
		if counts[i] > 0 {
			ans.Batches = append(ans.Batches, stream.Batch{Channel: name, Events: make([]stream.Event, 0, counts[i])})
		}
	}
	for i := range d.pending {
		pe := &d.pending[i]
		ev := stream.Event{
			Channel:     ans.chans[pe.ch],
			ReplayID:    pe.replayID,
			HasReplayID: pe.hasReplay,
			Data:        body[pe.data.start:pe.data.end:pe.data.end],
			Meta: stream.Metadata{
				CreatedDate:     str(pe.created),
				EventType:       str(pe.eventType),
				EventUUID:       str(pe.uuid),
				Schema:          str(pe.schema),
				ChangeType:      str(pe.changeType),
				EntityName:      str(pe.entity),
				TransactionKey:  str(pe.txKey),
				CommitUser:      str(pe.user),
				CommitTimestamp: str(pe.commitTime),
			},
		}
		if pe.recLast > pe.recFirst {
			ev.Meta.RecordIDs = recs[pe.recFirst:pe.recLast:pe.recLast]
		}
		b := &ans.Batches[slot[pe.ch]]
		b.Events = append(b.Events, ev)
	}
}
