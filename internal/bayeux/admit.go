package bayeux

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"

	"fmt"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
)

// deliver admits the events of one completed answer and queues them for Next. staged is the number of data
// messages the answer was counted with while in the decode stage.
func (b *buffer) deliver(ans *wire.Answer, staged int) {
	b.admit(ans)
	b.enqueue(ans.Batches, ans.Events, staged)
}

// admit is the last check before events reach Next: per channel, an event carrying a replay id must be above the
// last replay id handed on (or the stored start point) for that channel. A server never repeats or reorders
// within a channel after a (re)subscribe from an id, but a hostile or broken one might, and the input's
// checkpoints assume increasing ids: such events are dropped, logged and counted, never handed on. Positions
// below zero (the -1/-2 presets) accept any id. It also logs and counts what the decoder dropped.
func (b *buffer) admit(ans *wire.Answer) {
	for _, d := range ans.Dropped {
		b.reportDrop(d)
	}
	kept := ans.Batches[:0]
	for _, batch := range ans.Batches {
		last := b.position(stream.ChannelKey(batch.Channel))
		events := batch.Events[:0]
		var bad *wire.Drop
		for _, ev := range batch.Events {
			if !ev.HasReplayID {
				events = append(events, ev)
				continue
			}
			if last >= 0 && ev.ReplayID <= last {
				if bad == nil {
					bad = &wire.Drop{Channel: batch.Channel, Reason: stream.DropReplayIDNotIncreasing,
						Example: fmt.Sprintf("%d is not above %d", ev.ReplayID, last)}
				}
				bad.N++
				continue
			}
			last = ev.ReplayID
			events = append(events, ev)
		}
		if bad != nil {
			ans.Events -= bad.N
			b.reportDrop(*bad)
		}
		if len(events) > 0 {
			batch.Events = events
			kept = append(kept, batch)
		}
	}
	for i := len(kept); i < len(ans.Batches); i++ {
		ans.Batches[i] = stream.Batch{} // let dropped events' memory go with the answer
	}
	ans.Batches = kept
}

// enqueue queues the batches of one answer for Next and moves the channels' replay positions to their last
// event that carries a replay id (events without one, from generic Bayeux servers, do not move them).
func (b *buffer) enqueue(batches []stream.Batch, events, staged int) {
	b.mu.Lock()
	for i := range batches {
		key := stream.ChannelKey(batches[i].Channel)
		evs := batches[i].Events
		for k := len(evs) - 1; k >= 0; k-- {
			if evs[k].HasReplayID {
				b.positions[key] = evs[k].ReplayID
				break
			}
		}
		batches[i].Fallbacks = b.fallbacks[key]
	}
	b.queue = append(b.queue, batches...)
	b.queued += events
	b.staged--
	b.stagedEvents -= staged
	idle := b.staged == 0
	b.mu.Unlock()
	if idle {
		signal(b.stageIdle)
	}
	if events == 0 {
		return
	}
	for _, batch := range batches {
		b.obs.Events(batch.Channel, len(batch.Events))
	}
	signal(b.avail)
}

// reportDrop logs and counts the events of one answer dropped for one reason.
func (b *buffer) reportDrop(d wire.Drop) {
	// The example is the server's text (a channel name, a replayId): quoted through the redactor.
	d.Example = b.red.QuoteString(d.Example)
	var what string
	switch d.Reason {
	case stream.DropUnknownChannel:
		what = fmt.Sprintf("on channels this client did not subscribe to (first: %q)", d.Example)
	case stream.DropMissingChannel:
		what = "without a channel"
	case stream.DropInvalidReplayID:
		what = fmt.Sprintf("on %s whose replayId is not a non-negative integer (first: %s)", d.Channel, d.Example)
	case stream.DropReplayIDNotIncreasing:
		what = fmt.Sprintf("on %s whose replay id is not above the last one handed on (first: %s); "+
			"they repeat or precede events already delivered", d.Channel, d.Example)
	default:
		what = strings.TrimSpace(d.Channel + " " + d.Reason)
	}
	log := stream.WithFields(b.log, stream.LogFieldReason, d.Reason)
	if d.Channel != "" && d.Reason != stream.DropUnknownChannel {
		log = stream.WithFields(log, stream.LogFieldChannel, stream.ChannelKey(d.Channel))
	}
	log.Warnf("Salesforce streaming: dropped %d event(s) %s", d.N, what)
	if do, ok := b.obs.(stream.DropObserver); ok {
		do.Dropped(d.Channel, d.Reason, d.N)
	}
}
