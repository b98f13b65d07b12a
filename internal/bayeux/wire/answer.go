package wire

import (
	"errors"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// DefaultMaxAnswerBytes is the default bound of one server answer: 64 MiB. Salesforce's largest connect answers
// (thousands of CDC events of up to 1 MB each are possible in principle, a few MB in practice) stay below it.
const DefaultMaxAnswerBytes = 64 << 20

// ErrAnswerTooLarge is matched (errors.Is) by the error of an answer above the bound of its reader (or of 4 GiB,
// the decoder's own limit). The answer is not read further.
var ErrAnswerTooLarge = errors.New("answer too large")

// Answer is one decoded server answer: the meta replies it holds, the data messages split into per-channel
// batches, and whether the server sent its own /meta/disconnect. It is built in two steps: Splitter.Split (the
// grammar, the replies, where each data message is) and Assembler.Complete (the events).
type Answer struct {
	Replies    []Reply
	Batches    []stream.Batch
	Events     int    // after Split: the data messages to be read; after Complete: the events in Batches
	Disconnect bool   // a server-initiated /meta/disconnect (no `successful` member)
	Dropped    []Drop // data messages not handed on, per channel and reason

	// Between Split and Complete.
	body  []byte
	raw   [][]rawEvent // in chunks of rawChunk: no copying as an answer's events are found
	chans []string     // the channel names events carry, indexed by rawEvent.ch
}

// Drop counts the data messages of one answer that are not handed on for one reason.
type Drop struct {
	Channel string // the configured channel; empty for stream.DropUnknownChannel and stream.DropMissingChannel
	Reason  string // a Drop* constant
	N       int
	Example string // the first offending value, for the log: a channel name or a replayId (the server's text)
}

// rawEvent is a data message found by Split: its channel and the span of its `data` value in the body.
type rawEvent struct {
	ch     int32
	data   fieldSpan
	fields dataFields
}

// maxReplies bounds the meta messages of one answer. The client sends one request per answer, so a real server
// sends one reply (and maybe a /meta/disconnect); a flood of small objects would otherwise cost ~200 bytes of
// memory per 3 bytes of answer.
const maxReplies = 64

// rawChunk is the number of events per chunk of Answer.raw (about 56 KB).
const rawChunk = 512

// HasData reports whether the answer holds data messages, to be read or dropped.
func (a *Answer) HasData() bool { return a.Events > 0 || len(a.Dropped) > 0 }

// TakeData moves the data messages (and their drops) into a new Answer, for another goroutine to Complete, and
// leaves a with its replies.
func (a *Answer) TakeData() *Answer {
	job := &Answer{body: a.body, raw: a.raw, chans: a.chans, Events: a.Events, Dropped: a.Dropped}
	a.raw, a.Dropped = nil, nil
	return job
}

// drop counts a data message that is not handed on.
func (a *Answer) drop(channel, reason string, example []byte) {
	for i := range a.Dropped {
		if a.Dropped[i].Channel == channel && a.Dropped[i].Reason == reason {
			a.Dropped[i].N++
			return
		}
	}
	const maxExample = 100
	if len(example) > maxExample {
		example = example[:maxExample]
	}
	a.Dropped = append(a.Dropped, Drop{Channel: channel, Reason: reason, N: 1, Example: string(example)})
}
