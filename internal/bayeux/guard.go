package bayeux

import (
	"fmt"
	"strings"
)

// admit is the last check before events reach Next: per channel, an event carrying a replay id must be above the
// last replay id handed on (or the stored start point) for that channel. A server never repeats or reorders
// within a channel after a (re)subscribe from an id, but a hostile or broken one might, and the input's
// checkpoints assume increasing ids: such events are dropped, logged and counted, never handed on. Positions
// below zero (the -1/-2 presets) accept any id. It also logs and counts what the decoder dropped.
func (c *Client) admit(ans *answer) {
	for _, d := range ans.dropped {
		c.reportDrop(d)
	}
	kept := ans.batches[:0]
	for _, b := range ans.batches {
		key := channelKey(b.Channel)
		last := c.replay.get(key)
		events := b.Events[:0]
		var bad *dropped
		for _, ev := range b.Events {
			if !ev.HasReplayID {
				events = append(events, ev)
				continue
			}
			if last >= 0 && ev.ReplayID <= last {
				if bad == nil {
					bad = &dropped{channel: b.Channel, reason: DropReplayIDNotIncreasing,
						example: fmt.Sprintf("%d is not above %d", ev.ReplayID, last)}
				}
				bad.n++
				continue
			}
			last = ev.ReplayID
			events = append(events, ev)
		}
		if bad != nil {
			ans.events -= bad.n
			c.reportDrop(*bad)
		}
		if len(events) > 0 {
			b.Events = events
			kept = append(kept, b)
		}
	}
	for i := len(kept); i < len(ans.batches); i++ {
		ans.batches[i] = Batch{} // let dropped events' memory go with the answer
	}
	ans.batches = kept
}

func (c *Client) reportDrop(d dropped) {
	// The example is the server's text (a channel name, a replayId): quoted through the redactor.
	d.example = c.cfg.Redactor.QuoteString(d.example)
	var what string
	switch d.reason {
	case DropUnknownChannel:
		what = fmt.Sprintf("on channels this client did not subscribe to (first: %q)", d.example)
	case DropMissingChannel:
		what = "without a channel"
	case DropInvalidReplayID:
		what = fmt.Sprintf("on %s whose replayId is not a non-negative integer (first: %s)", d.channel, d.example)
	case DropReplayIDNotIncreasing:
		what = fmt.Sprintf("on %s whose replay id is not above the last one handed on (first: %s); "+
			"they repeat or precede events already delivered", d.channel, d.example)
	default:
		what = strings.TrimSpace(d.channel + " " + d.reason)
	}
	c.log.Warnf("Salesforce streaming: dropped %d event(s) %s", d.n, what)
	if do, ok := c.obs.(DropObserver); ok {
		do.Dropped(d.channel, d.reason, d.n)
	}
}
