package wire

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Splitter is the first step of decoding: it walks an answer once, checking its grammar, parses the meta
// messages with fastjson and notes where each `data` value is and where, inside it, the replay id and the
// metadata are. One goroutine at a time may use it (the fastjson parser is its state).
type Splitter struct {
	p fastjson.Parser

	// channelOf maps a broadcast channel without ?query to the channel name events carry (the configured one).
	// Data messages on other channels are dropped. A nil map accepts every channel under its received name.
	channelOf map[string]string

	// spare hands Answer.raw chunks back from the Assembler for reuse.
	spare chan []rawEvent
}

// maxSpareChunks bounds the chunks of rawChunk events kept for reuse: two answers of up to 2,048 events.
const maxSpareChunks = 8

// NewSplitter returns a Splitter that routes data messages by channelOf (see Splitter.channelOf).
func NewSplitter(channelOf map[string]string) *Splitter {
	return &Splitter{channelOf: channelOf, spare: make(chan []rawEvent, maxSpareChunks)}
}

// Assembler returns the Assembler that completes this Splitter's answers (they share the reuse of scratch).
func (d *Splitter) Assembler() *Assembler { return &Assembler{spare: d.spare} }

// Split parses body, which must not be modified or reused afterwards: events' Data will be sub-slices of it
// (capacity-limited, so appending to one never writes into another). A malformed answer yields an error and
// nothing else, so the caller never hands on part of an answer it then replays. A well-formed data message the
// client cannot route (a channel not subscribed, or none) is dropped and counted in Answer.Dropped; the rest of
// the answer is kept. The data messages are read by Assembler.Complete.
func (d *Splitter) Split(body []byte) (Answer, error) {
	if int64(len(body)) >= 1<<32 {
		// dataFields keeps offsets in 32 bits; the client's MaxAnswerBytes stops such answers long before.
		return Answer{}, fmt.Errorf("decoding answer: %w: %d bytes, the decoder's limit is 4 GiB", ErrAnswerTooLarge, len(body))
	}
	ans := Answer{body: body}
	i := skipWS(body, 0)
	if i >= len(body) {
		return Answer{}, errors.New("decoding answer: empty body")
	}
	switch body[i] {
	case '{': // a single message instead of an array: tolerated
		el, next, err := scanElement(body, i)
		if err != nil {
			return Answer{}, fmt.Errorf("decoding answer: %w", err)
		}
		if skipWS(body, next) != len(body) {
			return Answer{}, errors.New("decoding answer: data after the message")
		}
		if err := d.handle(body, el, &ans); err != nil {
			return Answer{}, err
		}
	case '[':
		i = skipWS(body, i+1)
		if i < len(body) && body[i] == ']' {
			i++
		} else {
			for {
				if i >= len(body) {
					return Answer{}, fmt.Errorf("decoding answer: %w", errUnexpectedEnd)
				}
				if body[i] != '{' {
					return Answer{}, fmt.Errorf("decoding answer: expected a message object at offset %d", i)
				}
				el, next, err := scanElement(body, i)
				if err != nil {
					return Answer{}, fmt.Errorf("decoding answer: %w", err)
				}
				if err := d.handle(body, el, &ans); err != nil {
					return Answer{}, err
				}
				i = skipWS(body, next)
				if i >= len(body) {
					return Answer{}, fmt.Errorf("decoding answer: %w", errUnexpectedEnd)
				}
				if body[i] == ']' {
					i++
					break
				}
				if body[i] != ',' {
					return Answer{}, fmt.Errorf("decoding answer: expected ',' or ']' at offset %d", i)
				}
				i = skipWS(body, i+1)
			}
		}
		if skipWS(body, i) != len(body) {
			return Answer{}, errors.New("decoding answer: data after the array")
		}
	default:
		return Answer{}, fmt.Errorf("decoding answer: expected a JSON array, got %q", body[i])
	}
	return ans, nil
}

// handle routes one message: data messages to ans.raw, everything else with a channel under /meta/ (or without
// a channel, as legacy error answers are) to the replies. Other messages (/service/ replies, broadcasts without
// data) are ignored: the client never publishes, so nothing else is addressed to it.
func (d *Splitter) handle(body []byte, el element, ans *Answer) error {
	var channel []byte
	if el.channel.ok() {
		channel = body[el.channel.start:el.channel.end]
		if el.channelEscaped {
			channel = unescapeJSON(channel)
		}
	}
	if len(channel) == 0 && el.data.ok() {
		ans.drop("", stream.DropMissingChannel, nil)
		return nil
	}
	isMeta := len(channel) == 0 || strings.HasPrefix(string(channel), "/meta/")
	if isMeta {
		if len(ans.Replies) == maxReplies {
			return fmt.Errorf("decoding answer: more than %d meta messages", maxReplies)
		}
		v, err := d.p.ParseBytes(body[el.all.start:el.all.end])
		if err != nil {
			return fmt.Errorf("decoding a meta message: %w", err)
		}
		r := parseReply(v)
		if r.Channel == ChannelDisconnect && !r.HasSuccessful {
			ans.Disconnect = true
			return nil
		}
		ans.Replies = append(ans.Replies, r)
		return nil
	}
	if !el.data.ok() {
		return nil
	}
	ch, known := d.channelIndex(channel, ans)
	if !known {
		ans.drop("", stream.DropUnknownChannel, channel)
		return nil
	}
	last := len(ans.raw) - 1
	if last < 0 || len(ans.raw[last]) == rawChunk {
		var chunk []rawEvent
		select {
		case chunk = <-d.spare:
		default:
			chunk = make([]rawEvent, 0, rawChunk)
		}
		ans.raw = append(ans.raw, chunk)
		last++
	}
	ans.raw[last] = append(ans.raw[last], rawEvent{ch: int32(ch),
		data: fieldSpan{uint32(el.data.start), uint32(el.data.end)}, fields: el.fields})
	ans.Events++
	return nil
}

// channelIndex interns the channel name events carry for this answer. known is false for a channel that is not
// configured (when the decoder has configured channels).
func (d *Splitter) channelIndex(received []byte, ans *Answer) (i int, known bool) {
	name, ok := d.channelOf[string(received[:stream.KeyLen(received)])]
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

// element is one message of an answer: its whole span and the spans of the top-level members we route on, and
// what the walk of its `data` object found (dataFields.walk, below).
type element struct {
	all, channel, data span
	channelEscaped     bool
	fields             dataFields
}

// scanElement reads the object starting at b[i] == '{' and returns it with the index after it. A repeated member
// keeps its last value, as encoding/json does. A `data` object is read for its replay id and metadata on the way
// (one pass over the bytes of every event).
func scanElement(b []byte, i int) (element, int, error) {
	el := element{all: span{start: i}}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		el.all.end = i + 1
		return el, i + 1, nil
	}
	for {
		key, v, err := memberName(b, i)
		if err != nil {
			return el, 0, err
		}
		var valEnd int
		switch string(key) {
		case "channel":
			if valEnd, err = skipValue(b, v); err != nil {
				return el, 0, err
			}
			if b[v] != '"' {
				return el, 0, fmt.Errorf("channel is not a string at offset %d", v)
			}
			el.channel = span{v + 1, valEnd - 1}
			el.channelEscaped = bytes.IndexByte(b[v+1:valEnd-1], '\\') >= 0
		case "data":
			el.fields = dataFields{}
			if v < len(b) && b[v] == '{' {
				valEnd, err = el.fields.walk(b, v, inData)
			} else {
				valEnd, err = skipValue(b, v)
			}
			if err != nil {
				return el, 0, err
			}
			el.data = span{v, valEnd}
		default:
			if valEnd, err = skipValue(b, v); err != nil {
				return el, 0, err
			}
		}
		i = skipWS(b, valEnd)
		if i >= len(b) {
			return el, 0, errUnexpectedEnd
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			el.all.end = i + 1
			return el, i + 1, nil
		default:
			return el, 0, fmt.Errorf("expected ',' or '}' at offset %d", i)
		}
	}
}

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
