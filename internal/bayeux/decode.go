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
// batches, and whether the server sent its own /meta/disconnect.
type answer struct {
	replies    []reply
	batches    []Batch
	events     int
	disconnect bool      // a server-initiated /meta/disconnect (no `successful` member)
	dropped    []dropped // data messages not handed on, per channel and reason
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
)

// decoder turns answers into replies and events in one pass per message: the splitter (scan.go) finds each
// message's channel and data spans, then one fastjson parse of `data` yields the replay id and metadata. Its
// buffers are reused across answers, so one decoder serves one goroutine.
type decoder struct {
	p fastjson.Parser

	// channelOf maps a broadcast channel without ?query to the channel name events carry (the configured one).
	// Data messages on other channels are dropped. A nil map accepts every channel under its received name
	// (tests of the splitter use that).
	channelOf map[string]string

	// Per-answer scratch, reused.
	pending []pendingEvent
	arena   []byte // every metadata string of the answer, materialised as one string at the end
	recIDs  []span // record ids, as arena spans
	chans   []string
	drops   []dropped
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
	return &decoder{channelOf: channelOf}
}

// decode parses body, which must not be modified or reused afterwards: events' Data are sub-slices of it
// (capacity-limited, so appending to one never writes into another). A malformed answer yields an error and
// nothing else, so the caller never hands on part of an answer it then replays. A well-formed message the client
// cannot use (a data message on a channel not subscribed or without a channel, a replayId that is not an
// integer) is dropped and counted in answer.dropped; the rest of the answer is kept.
func (d *decoder) decode(body []byte) (answer, error) {
	var ans answer
	d.pending = d.pending[:0]
	d.arena = d.arena[:0]
	d.recIDs = d.recIDs[:0]
	d.chans = d.chans[:0]
	d.drops = d.drops[:0]
	defer d.release()

	i := skipWS(body, 0)
	if i >= len(body) {
		return ans, errors.New("decoding answer: empty body")
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
				if i >= len(body) || body[i] != '{' {
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
		return ans, fmt.Errorf("decoding answer: expected a JSON array, got %q", body[i])
	}
	d.finish(body, &ans)
	if len(d.drops) > 0 {
		ans.dropped = append([]dropped(nil), d.drops...)
	}
	return ans, nil
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
func (d *decoder) drop(channel, reason string, example []byte) {
	for i := range d.drops {
		if d.drops[i].channel == channel && d.drops[i].reason == reason {
			d.drops[i].n++
			return
		}
	}
	const maxExample = 100
	if len(example) > maxExample {
		example = example[:maxExample]
	}
	d.drops = append(d.drops, dropped{channel: channel, reason: reason, n: 1, example: string(example)})
}

// handle routes one message: data messages to pending events, everything else with a channel under /meta/ (or
// without a channel, as legacy error answers are) to the replies. Other messages (/service/ replies, broadcasts
// without data) are ignored, as protocol.md 1.5 says.
func (d *decoder) handle(body []byte, el element, ans *answer) error {
	var channel []byte
	if el.channel.ok() {
		channel = body[el.channel.start:el.channel.end]
		if el.channelEscaped {
			channel = unescapeJSON(channel)
		}
	}
	if len(channel) == 0 && el.data.ok() {
		d.drop("", DropMissingChannel, nil)
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
	ch, known := d.channelIndex(channel)
	if !known {
		d.drop("", DropUnknownChannel, channel)
		return nil
	}
	raw := body[el.data.start:el.data.end:el.data.end]
	v, err := d.p.ParseBytes(raw)
	if err != nil {
		return fmt.Errorf("decoding the data of a message on %s: %w", channel, err)
	}
	pe := pendingEvent{ch: ch, data: el.data}
	if err := d.extract(v, &pe); err != nil {
		// Only the replay id fails extraction: an event that cannot be placed in its channel's replay order is
		// dropped rather than handed on with a made-up position (or stalling every channel behind it).
		d.drop(d.chans[ch], DropInvalidReplayID, v.Get("event", "replayId").MarshalTo(nil))
		return nil
	}
	if len(d.pending) == cap(d.pending) {
		// Doubling, where append grows large slices by 1.25x: an answer of n events then allocates 2n pending
		// entries in all instead of about 5n.
		d.pending = append(make([]pendingEvent, 0, max(2*cap(d.pending), 64)), d.pending...)
	}
	d.pending = append(d.pending, pe)
	return nil
}

// channelIndex interns the channel name events carry for this answer. known is false for a channel that is not
// configured (when the decoder has configured channels).
func (d *decoder) channelIndex(received []byte) (i int, known bool) {
	key := received
	if q := bytes.IndexByte(key, '?'); q >= 0 {
		key = key[:q]
	}
	name, ok := d.channelOf[string(key)]
	if !ok && d.channelOf != nil {
		return 0, false
	}
	for i, c := range d.chans {
		if ok && c == name || !ok && c == string(received) {
			return i, true
		}
	}
	if !ok {
		name = string(received)
	}
	d.chans = append(d.chans, name)
	return len(d.chans) - 1, true
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
	counts := make([]int, len(d.chans))
	for i := range d.pending {
		counts[d.pending[i].ch]++
	}
	// A channel whose every event was dropped gets no (empty) batch: batch[k] of channel i is at slot[i].
	slot := make([]int, len(d.chans))
	ans.batches = make([]Batch, 0, len(d.chans))
	for i, name := range d.chans {
		slot[i] = len(ans.batches)
		if counts[i] > 0 {
			ans.batches = append(ans.batches, Batch{Channel: name, Events: make([]Event, 0, counts[i])})
		}
	}
	for i := range d.pending {
		pe := &d.pending[i]
		ev := Event{
			Channel:     d.chans[pe.ch],
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
