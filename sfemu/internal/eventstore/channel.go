package eventstore

import (
	"sort"
	"time"
	"unsafe"
)

// Channel is one channel's retained log: events in ascending replay id order, the ids assigned so far, and who to
// wake when events arrive. Its state is guarded by the Store's lock; the accessors read it under that lock.
type Channel struct {
	name      string
	kind      Kind
	retention time.Duration
	schema    string
	events    []Event // ascending ids; events[head:] are retained
	head      int
	lastID    int64 // newest id ever assigned; 0 before the first event
	published int64
	// subs are the long-polling sessions subscribed to the channel (counted per session: a session may hold
	// several subscriptions of one channel); watchers are the streams waiting for events (Pub/Sub).
	subs     map[Subscriber]int
	watchers map[chan struct{}]struct{}
	// streamingID is the StreamingChannel record id of a generic channel, which the push resource takes.
	streamingID string
	migrated    bool // replay ids restarted by an org migration (they may start from 1)
	// reserved is the position handed out for a channel before its first event (PositionLocked); 0: none.
	reserved int64
	arena    arena
}

// Subscriber is a session that wants to know when a channel it reads has new events. Notify must not block.
type Subscriber interface{ Notify() }

// Name is the channel's replay key.
func (ch *Channel) Name() string { return ch.name }

// Kind is the channel's event type.
func (ch *Channel) Kind() Kind { return ch.kind }

// Retention is how long the channel keeps an event.
func (ch *Channel) Retention() time.Duration { return ch.retention }

// LastID is the newest replay id assigned (0 before the first event).
func (ch *Channel) LastID() int64 { return ch.lastID }

// Published counts the events ever appended.
func (ch *Channel) Published() int64 { return ch.published }

// StreamingID is the StreamingChannel record id of a generic channel.
func (ch *Channel) StreamingID() string { return ch.streamingID }

// SetStreamingIDLocked records the StreamingChannel record that defines a generic channel.
func (ch *Channel) SetStreamingIDLocked(id string) { ch.streamingID = id }

// Subscribers counts the sessions subscribed to the channel.
func (ch *Channel) Subscribers() int { return len(ch.subs) }

// Retained returns the retained events, oldest first. The slice is the store's: read it under the lock.
func (ch *Channel) Retained() []Event { return ch.events[ch.head:] }

// Footprint is the memory the channel's events take: the arena's bytes and the index.
func (ch *Channel) Footprint() int64 {
	return ch.arena.used + int64(cap(ch.events))*int64(unsafe.Sizeof(Event{}))
}

// IndexCap is the capacity of the channel's event index.
func (ch *Channel) IndexCap() int { return cap(ch.events) }

// IndexAfter returns the index in Retained() of the first event with id > after.
func (ch *Channel) IndexAfter(after int64) int {
	r := ch.Retained()
	return sort.Search(len(r), func(i int) bool { return r[i].ID > after })
}

// AddSubscriberLocked counts one more subscription of s to the channel.
func (ch *Channel) AddSubscriberLocked(s Subscriber) { ch.subs[s]++ }

// RemoveSubscriberLocked counts one subscription of s fewer.
func (ch *Channel) RemoveSubscriberLocked(s Subscriber) {
	if n := ch.subs[s] - 1; n > 0 {
		ch.subs[s] = n
	} else {
		delete(ch.subs, s)
	}
}

// DropSubscriberLocked forgets every subscription of s to the channel.
func (ch *Channel) DropSubscriberLocked(s Subscriber) { delete(ch.subs, s) }

// WatchLocked makes w receive a value (without blocking the store) whenever events arrive.
func (ch *Channel) WatchLocked(w chan struct{}) { ch.watchers[w] = struct{}{} }

// UnwatchLocked stops waking w.
func (ch *Channel) UnwatchLocked(w chan struct{}) { delete(ch.watchers, w) }

// Watchers counts the streams waiting on the channel.
func (ch *Channel) Watchers() int { return len(ch.watchers) }

func (ch *Channel) wakeLocked() {
	for s := range ch.subs {
		s.Notify()
	}
	for w := range ch.watchers {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// compact reclaims the dropped prefix once it is at least half the slice, keeping memory bounded by retention.
func (ch *Channel) compact() {
	if ch.head == 0 || ch.head < len(ch.events)/2 {
		return
	}
	n := copy(ch.events, ch.events[ch.head:])
	clear(ch.events[n:])
	ch.events = ch.events[:n]
	ch.head = 0
	if cap(ch.events) > 1024 && n < cap(ch.events)/4 {
		ch.events = append(make([]Event, 0, 2*n+16), ch.events...)
	}
}

// PurgeLocked drops retained events with id <= through (all when through < 0) and returns how many.
func (ch *Channel) PurgeLocked(through int64) int {
	n := 0
	for ch.head < len(ch.events) && (through < 0 || ch.events[ch.head].ID <= through) {
		ch.events[ch.head] = Event{}
		ch.head++
		n++
	}
	ch.compact()
	return n
}
