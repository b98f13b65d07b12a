package bayeux

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fastjson"
)

// answer is one decoded server answer: the meta replies it holds, the data messages split into per-channel
// batches, and whether the server sent its own /meta/disconnect. It is built in two steps: split (the grammar,
// the replies, where each data message is) and complete (the events), which the client runs in different
// goroutines so that the next long poll is on its way while the events of this answer are read.
type answer struct {
	replies    []reply
	batches    []Batch
	events     int       // after split: the data messages to be read; after complete: the events in batches
	disconnect bool      // a server-initiated /meta/disconnect (no `successful` member)
	dropped    []dropped // data messages not handed on, per channel and reason

	// Between split and complete.
	body  []byte
	raw   [][]rawEvent // in chunks of rawChunk: no copying as an answer's events are found
	chans []string     // the channel names events carry, indexed by rawEvent.ch
}

// rawEvent is a data message found by split: its channel and the span of its `data` value in the body.
type rawEvent struct {
	ch     int32
	data   fieldSpan
	fields dataFields
}

// dropped counts the data messages of one answer the decoder did not turn into events.
type dropped struct {
	channel string // the configured channel; empty for DropUnknownChannel and DropMissingChannel
	reason  string // a Drop* constant
	n       int
	example string // the first offending value, for the log: a channel name or a replayId
}

// maxReplies bounds the meta messages of one answer. The client sends one request per answer, so a real server
// sends one reply (and maybe a /meta/disconnect); a flood of small objects would otherwise cost ~200 bytes of
// memory per 3 bytes of answer.
const maxReplies = 64

// Scratch buffers grown above these sizes by one large answer are released afterwards, so a burst does not
// pin its peak memory for the life of the session.
const (
	maxKeptPending = 1 << 14
	maxKeptArena   = 1 << 20
	maxSpareChunks = 8 // of rawChunk events each: two answers of up to 2,048 events
)

// rawChunk is the number of events per chunk of answer.raw (about 56 KB).
const rawChunk = 512

// decoder turns answers into replies and events. split (scan.go) walks the answer once, checking its grammar,
// parses the meta messages with fastjson and notes where each `data` value is and where, inside it, the replay
// id and the metadata are (extract.go); complete turns those positions into events without reading `data`
// again. split's state (the fastjson parser) and complete's scratch buffers are separate: one goroutine may
// split the next answer while another completes the previous one, but each of the two runs in one goroutine at
// a time.
type decoder struct {
	p fastjson.Parser // split's

	// channelOf maps a broadcast channel without ?query to the channel name events carry (the configured one).
	// Data messages on other channels are dropped. A nil map accepts every channel under its received name
	// (tests of the splitter use that).
	channelOf map[string]string

	// spareRaw hands answer.raw chunks back from complete to split for reuse.
	spareRaw chan []rawEvent

	// complete's per-answer scratch, reused.
	pending []pendingEvent
	arena   []byte // every metadata string of the answer, materialised as one string at the end
	recIDs  []span // record ids, as arena spans
}

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

func newDecoder(channelOf map[string]string) *decoder {
	return &decoder{channelOf: channelOf, spareRaw: make(chan []rawEvent, maxSpareChunks)}
}

// split parses body, which must not be modified or reused afterwards: events' Data will be sub-slices of it
// (capacity-limited, so appending to one never writes into another). A malformed answer yields an error and
// nothing else, so the caller never hands on part of an answer it then replays. A well-formed data message the
// client cannot route (a channel not subscribed, or none) is dropped and counted in answer.dropped; the rest of
// the answer is kept. The data messages are read by complete.
func (d *decoder) split(body []byte) (answer, error) {
	if int64(len(body)) >= 1<<32 {
		// dataFields keeps offsets in 32 bits; MaxAnswerBytes stops such answers long before in practice.
		return answer{}, fmt.Errorf("decoding answer: %w: %d bytes, the decoder's limit is 4 GiB", ErrAnswerTooLarge, len(body))
	}
	ans := answer{body: body}
	i := skipWS(body, 0)
	if i >= len(body) {
		return answer{}, errors.New("decoding answer: empty body")
	}
	switch body[i] {
	case '{': // a single message instead of an array: tolerated
		el, next, err := scanElement(body, i)
		if err != nil {
			return answer{}, fmt.Errorf("decoding answer: %w", err)
		}
		if skipWS(body, next) != len(body) {
			return answer{}, errors.New("decoding answer: data after the message")
		}
		if err := d.handle(body, el, &ans); err != nil {
			return answer{}, err
		}
	case '[':
		i = skipWS(body, i+1)
		if i < len(body) && body[i] == ']' {
			i++
		} else {
			for {
				if i >= len(body) {
					return answer{}, fmt.Errorf("decoding answer: %w", errUnexpectedEnd)
				}
				if body[i] != '{' {
					return answer{}, fmt.Errorf("decoding answer: expected a message object at offset %d", i)
				}
				el, next, err := scanElement(body, i)
				if err != nil {
					return answer{}, fmt.Errorf("decoding answer: %w", err)
				}
				if err := d.handle(body, el, &ans); err != nil {
					return answer{}, err
				}
				i = skipWS(body, next)
				if i >= len(body) {
					return answer{}, fmt.Errorf("decoding answer: %w", errUnexpectedEnd)
				}
				if body[i] == ']' {
					i++
					break
				}
				if body[i] != ',' {
					return answer{}, fmt.Errorf("decoding answer: expected ',' or ']' at offset %d", i)
				}
				i = skipWS(body, i+1)
			}
		}
		if skipWS(body, i) != len(body) {
			return answer{}, errors.New("decoding answer: data after the array")
		}
	default:
		return answer{}, fmt.Errorf("decoding answer: expected a JSON array, got %q", body[i])
	}
	return ans, nil
}

// complete turns the data messages split found into per-channel batches, reading the replay id and metadata at
// the positions split noted. A message whose
// replayId is not usable is dropped and counted; nothing else can fail here, split has checked the grammar.
func (d *decoder) complete(ans *answer) {
	d.pending = d.pending[:0]
	d.arena = d.arena[:0]
	d.recIDs = d.recIDs[:0]
	defer d.release()

	body := ans.body
	if n := ans.events; cap(d.pending) < n {
		d.pending = make([]pendingEvent, 0, n)
	}
	for _, chunk := range ans.raw {
		for k := range chunk {
			r := &chunk[k]
			pe := pendingEvent{ch: int(r.ch), data: r.data.span()}
			if !d.extract(body, &r.fields, &pe) {
				// An event that cannot be placed in its channel's replay order is dropped rather than handed on
				// with a made-up position (or stalling every channel behind it).
				ans.drop(ans.chans[r.ch], DropInvalidReplayID, body[r.fields.replayID.start:r.fields.replayID.end])
				continue
			}
			d.pending = append(d.pending, pe)
		}
		select {
		case d.spareRaw <- chunk[:0]:
		default:
		}
	}
	ans.raw = nil
	d.finish(body, ans)
}

// release lets go of scratch buffers that one large answer grew beyond what is worth keeping.
func (d *decoder) release() {
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

// drop counts a data message that is not handed on.
func (ans *answer) drop(channel, reason string, example []byte) {
	for i := range ans.dropped {
		if ans.dropped[i].channel == channel && ans.dropped[i].reason == reason {
			ans.dropped[i].n++
			return
		}
	}
	const maxExample = 100
	if len(example) > maxExample {
		example = example[:maxExample]
	}
	ans.dropped = append(ans.dropped, dropped{channel: channel, reason: reason, n: 1, example: string(example)})
}

// handle routes one message: data messages to ans.raw, everything else with a channel under /meta/ (or without
// a channel, as legacy error answers are) to the replies. Other messages (/service/ replies, broadcasts without
// data) are ignored, as protocol.md 1.5 says.
func (d *decoder) handle(body []byte, el element, ans *answer) error {
	var channel []byte
	if el.channel.ok() {
		channel = body[el.channel.start:el.channel.end]
		if el.channelEscaped {
			channel = unescapeJSON(channel)
		}
	}
	if len(channel) == 0 && el.data.ok() {
		ans.drop("", DropMissingChannel, nil)
		return nil
	}
	isMeta := len(channel) == 0 || strings.HasPrefix(string(channel), "/meta/")
	if isMeta {
		if len(ans.replies) == maxReplies {
			return fmt.Errorf("decoding answer: more than %d meta messages", maxReplies)
		}
		v, err := d.p.ParseBytes(body[el.all.start:el.all.end])
		if err != nil {
			return fmt.Errorf("decoding a meta message: %w", err)
		}
		r := parseReply(v)
		if r.Channel == channelDisconnect && !r.HasSuccessful {
			ans.disconnect = true
			return nil
		}
		ans.replies = append(ans.replies, r)
		return nil
	}
	if !el.data.ok() {
		return nil
	}
	ch, known := d.channelIndex(channel, ans)
	if !known {
		ans.drop("", DropUnknownChannel, channel)
		return nil
	}
	last := len(ans.raw) - 1
	if last < 0 || len(ans.raw[last]) == rawChunk {
		var chunk []rawEvent
		select {
		case chunk = <-d.spareRaw:
		default:
			chunk = make([]rawEvent, 0, rawChunk)
		}
		ans.raw = append(ans.raw, chunk)
		last++
	}
	ans.raw[last] = append(ans.raw[last], rawEvent{ch: int32(ch),
		data: fieldSpan{uint32(el.data.start), uint32(el.data.end)}, fields: el.fields})
	ans.events++
	return nil
}

// channelIndex interns the channel name events carry for this answer. known is false for a channel that is not
// configured (when the decoder has configured channels).
func (d *decoder) channelIndex(received []byte, ans *answer) (i int, known bool) {
	key := received
	if q := bytes.IndexByte(key, '?'); q >= 0 {
		key = key[:q]
	}
	name, ok := d.channelOf[string(key)]
	if !ok && d.channelOf != nil {
		return 0, false
	}
	for i, c := range ans.chans {
		if ok && c == name || !ok && c == string(received) {
			return i, true
		}
	}
	if !ok {
		name = string(received)
	}
	ans.chans = append(ans.chans, name)
	return len(ans.chans) - 1, true
}

// finish materialises the pending events: one string for all metadata, one slice for all record ids, one
// event slice per channel.
func (d *decoder) finish(body []byte, ans *answer) {
	ans.events = len(d.pending)
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
	ans.batches = make([]Batch, 0, len(ans.chans))
	for i, name := range ans.chans {
		slot[i] = len(ans.batches)
		if counts[i] > 0 {
			ans.batches = append(ans.batches, Batch{Channel: name, Events: make([]Event, 0, counts[i])})
		}
	}
	for i := range d.pending {
		pe := &d.pending[i]
		ev := Event{
			Channel:     ans.chans[pe.ch],
			ReplayID:    pe.replayID,
			HasReplayID: pe.hasReplay,
			Data:        body[pe.data.start:pe.data.end:pe.data.end],
			Meta: Metadata{
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
		b := &ans.batches[slot[pe.ch]]
		b.Events = append(b.Events, ev)
	}
}

// unescapeJSON decodes the body of a JSON string (without quotes); used only for the rare escaped key or channel.
func unescapeJSON(raw []byte) []byte {
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return raw
	}
	return []byte(s)
}
