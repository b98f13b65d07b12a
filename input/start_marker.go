package input

import (
	"context"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// The start marker of a channel first subscribed without a position (see
// checkpointfmt): which event it names, and which events of a subscription
// resumed from it came before the first subscription. One rule for both
// APIs: over CometD the replay ids order, so the events before the first
// one are those below its id; over Pub/Sub they are opaque, so the marker
// also holds the first event's creation time and the events created before
// it are the ones dropped, until the first event itself comes.

// startMarker is the start marker naming the first event of events that has
// a position: its replay id (CometD, at least 1, as stored ids are) or its
// opaque id and creation time (Pub/Sub). ok is false when no event has one;
// the first acknowledgement then stores a position.
func startMarker(events []stream.Event) (marker stream.Position, ok bool) {
	for k := range events {
		pos, has := events[k].Position()
		switch {
		case !has:
			continue
		case pos.Opaque == "" && pos.Seq < 1:
			return stream.Position{}, false
		case pos.Opaque != "":
			pos.Time, _ = eventTime(&events[k])
		}
		pos.Start = true
		return pos, true
	}
	return stream.Position{}, false
}

// beforeStart applies marker to an event of a subscription resumed from it.
// drop: the event came before the channel's first subscription. first: the
// event is the marker's first one (over CometD, at or past its id), which
// ends the skipping.
//
// Over CometD an event below the marker's id is dropped. Over Pub/Sub an
// event is dropped when it is not the first one and was created before it
// (strictly; the same millisecond is delivered, at least once); an event
// without a time, or a marker without one, drops nothing. If the first event
// is no longer retained, every retained event created from its time on is
// delivered.
func beforeStart(marker stream.Position, e *stream.Event) (drop, first bool) {
	if marker.Opaque == "" {
		if !e.HasReplayID {
			return false, false
		}
		return e.ReplayID < marker.Seq, e.ReplayID >= marker.Seq
	}
	if e.Opaque != nil && string(e.Opaque.ReplayID) == marker.Opaque {
		return false, true
	}
	if marker.Time <= 0 {
		return false, false
	}
	created, ok := eventTime(e)
	return ok && created < marker.Time, false
}

// eventTime is an event's creation time in Unix milliseconds: its
// salesforce_created_date (a platform event's CreatedDate, a change event's
// commit time). ok is false when it has none that parses.
func eventTime(e *stream.Event) (int64, bool) {
	if e.Meta.CreatedDate == "" {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, e.Meta.CreatedDate)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// storeStart stores, before a channel's first batch is handed out, a start
// marker naming the batch's first event when the channel has no position
// yet: a crash then resumes from the earliest event skipping those before
// it, not at replay_preset latest again. (Over CometD the id before it is no
// position to store: ids have gaps, and Salesforce refuses a replay id that
// is no retained event; over Pub/Sub no id before it can be named at all.)
// When the write fails the batch is kept for the next call and false is
// returned.
func (i *ssiInput) storeStart(ctx, wctx context.Context, client stream.Source, batch stream.Batch) bool {
	if !i.cp.Unknown(batch.Channel) {
		return true
	}
	marker, ok := startMarker(batch.Events)
	if !ok {
		return true
	}
	if err := i.cp.StoreStart(wctx, batch.Channel, marker); err == nil {
		// The marker's first event is in this batch, handed out now: for
		// this client the skipping is over before it began. Without this,
		// the client's later batches would be skipped against the marker
		// too, dropping (over Pub/Sub) any later event whose time reads
		// earlier than the first one's.
		base := stream.ChannelKey(batch.Channel)
		i.mu.Lock()
		if i.startSeenClient != client {
			i.startSeenClient, i.startSeen = client, map[string]bool{}
		}
		i.startSeen[base] = true
		i.mu.Unlock()
		return true
	}
	i.mu.Lock()
	i.held, i.heldClient = &batch, client
	i.mu.Unlock()
	select {
	case <-time.After(storeRetryDelay):
	case <-wctx.Done():
	case <-ctx.Done():
	}
	return false
}

// dropBeforeStart removes from a batch of client the events that came
// before its channel's start marker (checkpointer.StartMarker, beforeStart):
// they were published before the channel's first subscription, whose
// earliest-event resubscription brings them back. The marker's first event
// ends the skipping for client's subscription. The client is released of the
// dropped events.
func (i *ssiInput) dropBeforeStart(client stream.Source, batch stream.Batch) stream.Batch {
	marker, ok := i.cp.StartMarker(batch.Channel)
	if !ok {
		return batch
	}
	base := stream.ChannelKey(batch.Channel)
	i.mu.Lock()
	if i.startSeenClient != client {
		i.startSeenClient, i.startSeen = client, map[string]bool{}
	}
	seen := i.startSeen[base]
	i.mu.Unlock()
	if seen {
		return batch
	}
	kept := make([]stream.Event, 0, len(batch.Events))
	for k := range batch.Events {
		drop := false
		if !seen {
			drop, seen = beforeStart(marker, &batch.Events[k])
		}
		if !drop {
			kept = append(kept, batch.Events[k])
		}
	}
	if seen {
		i.mu.Lock()
		if i.startSeenClient == client {
			i.startSeen[base] = true
		}
		i.mu.Unlock()
	}
	if dropped := len(batch.Events) - len(kept); dropped > 0 {
		i.logs.channel(batch.Channel).Debugf("Skipped %d event(s) of %s that came before its first subscription (start marker %s)",
			dropped, base, shorten(string(i.api.codec.Format(storedPosition(marker)))))
		batch.Release(dropped)
	}
	batch.Events = kept
	return batch
}
