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
	disconnect bool // a server-initiated /meta/disconnect (no `successful` member)
}

// decoder turns answers into replies and events in one pass per message: the splitter (scan.go) finds each
// message's channel and data spans, then one fastjson parse of `data` yields the replay id and metadata. Its
// buffers are reused across answers, so one decoder serves one goroutine.
type decoder struct {
	p fastjson.Parser

	// channelOf maps a broadcast channel without ?query to the channel name events carry (the configured one).
	channelOf map[string]string

	// Per-answer scratch, reused.
	pending []pendingEvent
	arena   []byte // every metadata string of the answer, materialised as one string at the end
	recIDs  []span // record ids, as arena spans
	chans   []string
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
	if channelOf == nil {
		channelOf = map[string]string{}
	}
	return &decoder{channelOf: channelOf}
}

// decode parses body, which must not be modified or reused afterwards: events' Data are sub-slices of it
// (capacity-limited, so appending to one never writes into another). A malformed answer yields an error and
// nothing else, so the caller never hands on part of an answer it then replays.
func (d *decoder) decode(body []byte) (answer, error) {
	var ans answer
	d.pending = d.pending[:0]
	d.arena = d.arena[:0]
	d.recIDs = d.recIDs[:0]
	d.chans = d.chans[:0]

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
	return ans, nil
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
	isMeta := len(channel) == 0 || strings.HasPrefix(string(channel), "/meta/")
	if isMeta {
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
	raw := body[el.data.start:el.data.end:el.data.end]
	v, err := d.p.ParseBytes(raw)
	if err != nil {
		return fmt.Errorf("decoding the data of a message on %s: %w", channel, err)
	}
	pe := pendingEvent{ch: d.channelIndex(channel), data: el.data}
	if err := d.extract(v, &pe); err != nil {
		return fmt.Errorf("decoding the data of a message on %s: %w", channel, err)
	}
	d.pending = append(d.pending, pe)
	return nil
}

// channelIndex interns the channel name events carry for this answer.
func (d *decoder) channelIndex(received []byte) int {
	key := received
	if q := bytes.IndexByte(key, '?'); q >= 0 {
		key = key[:q]
	}
	name, ok := d.channelOf[string(key)]
	for i, c := range d.chans {
		if ok && c == name || !ok && c == string(received) {
			return i
		}
	}
	if !ok {
		name = string(received)
	}
	d.chans = append(d.chans, name)
	return len(d.chans) - 1
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
	ans.batches = make([]Batch, len(d.chans))
	for i, name := range d.chans {
		ans.batches[i] = Batch{Channel: name, Events: make([]Event, 0, counts[i])}
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
		b := &ans.batches[pe.ch]
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
