package sfemu

import (
	"bytes"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// eventStore keeps the channels and their events: retention, replay ids, appends and publishing.
// It shares the Server's state and lock through the embedded pointer.
type eventStore struct {
	*Server

	channels          map[string]*channel
	streamingChannels map[string]string // StreamingChannel record id -> /u/ channel name
}

// Kind is a channel's event type; it decides payload shape and retention.
type Kind int

// Channel kinds.
const (
	KindUnknown       Kind = iota
	KindPushTopic          // /topic/Name (optionally ?Field=Value filters)
	KindGeneric            // /u/Name
	KindPlatformEvent      // /event/Name__e (and standard events, __chn channels)
	KindCDC                // /data/ChangeEvents, /data/<Object>ChangeEvent, /data/<Ch>__chn
)

func (k Kind) String() string {
	switch k {
	case KindPushTopic:
		return "pushtopic"
	case KindGeneric:
		return "generic"
	case KindPlatformEvent:
		return "platform_event"
	case KindCDC:
		return "cdc"
	}
	return "unknown"
}

// KindOf classifies a channel name (without ?filters); KindUnknown means the emulator cannot serve it.
func KindOf(channel string) Kind { return channelKind(channel) }

// channelKind classifies a channel name without its ?query.
func channelKind(name string) Kind {
	hasName := func(prefix string) bool {
		rest, ok := strings.CutPrefix(name, prefix)
		return ok && rest != "" && !strings.ContainsAny(rest, "/?*")
	}
	switch {
	case hasName("/topic/"):
		return KindPushTopic
	case hasName("/u/") || isGenericPath(name):
		return KindGeneric
	case hasName("/event/"):
		return KindPlatformEvent
	case hasName("/data/"):
		return KindCDC
	}
	return KindUnknown
}

// splitChannel splits "/topic/X?A=1&B=2" into the replay key "/topic/X" and its filters.
func splitChannel(full string) (key string, filters []filter, err error) {
	key, query, hasQuery := strings.Cut(full, "?")
	if !hasQuery {
		return key, nil, nil
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, fmt.Errorf("parsing filter %q: %w", query, err)
	}
	for k, vs := range vals {
		for _, v := range vs {
			filters = append(filters, filter{field: k, value: v})
		}
	}
	sort.Slice(filters, func(i, j int) bool { return filters[i].field < filters[j].field })
	return key, filters, nil
}

type filter struct{ field, value string }

// isGenericPath accepts generic channel names with path segments, such as Salesforce's own example
// /u/notifications/ExampleUserChannel.
func isGenericPath(name string) bool {
	rest, ok := strings.CutPrefix(name, "/u/")
	if !ok || rest == "" || strings.ContainsAny(rest, "?*") {
		return false
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg == "" {
			return false
		}
	}
	return true
}

// storedEvent is one retained event: its index entry, the message bytes living in its channel's arena. msg is
// the complete Bayeux message, encoded once at publish; every delivery copies these bytes.
type storedEvent struct {
	id  int64
	at  int64  // publish time, Unix nanoseconds (retention)
	msg []byte // {"channel":"...","data":{...}}, a slice of an arena chunk whose capacity also covers the fields
	// fieldsLen is the size of a PushTopic event's sobject scalars, stored after msg (appendFilterFields).
	fieldsLen int32
	dataOff   int32 // msg[dataOff:] is `,"data":{...}}`, for re-labelling the channel of filtered subscriptions
	// pubsub is the event's Pub/Sub encoding, made when it is first served over Pub/Sub (pubsub_encode.go).
	pubsub *pubsubEncoding
}

// field returns a PushTopic event's value of an sobject field for filters ("" when absent).
func (ev *storedEvent) field(name string) string {
	enc := ev.msg[len(ev.msg) : len(ev.msg)+int(ev.fieldsLen)]
	for len(enc) > 0 {
		k, rest, _ := bytes.Cut(enc, []byte{0})
		v, rest, _ := bytes.Cut(rest, []byte{0})
		if string(k) == name {
			return string(v)
		}
		enc = rest
	}
	return ""
}

type channel struct {
	name      string
	kind      Kind
	retention time.Duration
	schema    string
	events    []storedEvent // ascending ids; events[head:] are retained
	head      int
	lastID    int64 // newest id ever assigned; 0 before the first event
	subs      map[*client]int
	published int64
	// streamingID is the StreamingChannel record id of a generic channel, which the push resource takes.
	streamingID string
	migrated    bool // replay ids restarted by an org migration (they may start from 1)
	arena       arena
}

func (s *eventStore) retentionFor(k Kind) time.Duration {
	switch k {
	case KindPushTopic:
		return s.cfg.TopicRetention
	case KindGeneric:
		return s.cfg.GenericRetention
	case KindPlatformEvent:
		return s.cfg.PlatformEventRetention
	default:
		return s.cfg.CDCRetention
	}
}

// channelLocked returns the channel for a replay key, creating it.
func (s *eventStore) channelLocked(name string) (*channel, error) {
	if ch, ok := s.channels[name]; ok {
		return ch, nil
	}
	k := channelKind(name)
	if k == KindUnknown {
		return nil, fmt.Errorf("channel %q is not a PushTopic (/topic/), generic (/u/), platform event (/event/) or change data capture (/data/) channel", name)
	}
	ch := &channel{name: name, kind: k, retention: s.retentionFor(k), schema: schemaID(name), subs: make(map[*client]int)}
	if k == KindGeneric {
		ch.streamingID = s.streamingChannelIDLocked(name)
	}
	s.channels[name] = ch
	return ch, nil
}

func (ch *channel) retained() []storedEvent { return ch.events[ch.head:] }

// pruneLocked drops events older than the retention and above the per-channel cap.
func (s *eventStore) pruneLocked(ch *channel, now time.Time) {
	cutoff := now.Add(-ch.retention).UnixNano()
	for ch.head < len(ch.events) && ch.events[ch.head].at <= cutoff {
		ch.events[ch.head] = storedEvent{}
		ch.head++
	}
	if max := s.cfg.MaxRetainedEvents; max > 0 {
		for len(ch.events)-ch.head > max {
			ch.events[ch.head] = storedEvent{}
			ch.head++
		}
	}
	ch.compact()
}

// compact reclaims the dropped prefix once it is at least half the slice, keeping memory bounded by retention.
func (ch *channel) compact() {
	if ch.head == 0 || ch.head < len(ch.events)/2 {
		return
	}
	n := copy(ch.events, ch.events[ch.head:])
	clear(ch.events[n:])
	ch.events = ch.events[:n]
	ch.head = 0
	if cap(ch.events) > 1024 && n < cap(ch.events)/4 {
		ch.events = append(make([]storedEvent, 0, 2*n+16), ch.events...)
	}
}

// purgeLocked drops retained events with id <= through (all when through < 0) and returns how many.
func (ch *channel) purgeLocked(through int64) int {
	n := 0
	for ch.head < len(ch.events) && (through < 0 || ch.events[ch.head].id <= through) {
		ch.events[ch.head] = storedEvent{}
		ch.head++
		n++
	}
	ch.compact()
	return n
}

// indexAfter returns the index in retained() of the first event with id > after.
func (ch *channel) indexAfter(after int64) int {
	r := ch.retained()
	return sort.Search(len(r), func(i int) bool { return r[i].id > after })
}

// replayValid reports whether a concrete replay id may be used to subscribe.
func (s *eventStore) replayValid(ch *channel, id int64) bool {
	r := ch.retained()
	if len(r) == 0 {
		return false
	}
	if s.cfg.AcceptReplayInRange {
		return id >= r[0].id && id <= r[len(r)-1].id
	}
	i := sort.Search(len(r), func(i int) bool { return r[i].id >= id })
	return i < len(r) && r[i].id == id
}

// nextIDLocked assigns the next replay id: increasing, with gaps, never reused.
func (s *eventStore) nextIDLocked(ch *channel, gap int) int64 {
	if ch.lastID == 0 && !ch.migrated {
		ch.lastID = 1000 + int64(s.rng.IntN(9000))
		return ch.lastID
	}
	step := int64(1)
	switch {
	case gap > 0:
		step = int64(gap)
	case s.cfg.MaxReplayGap > 0:
		step += int64(s.rng.IntN(s.cfg.MaxReplayGap + 1))
	}
	ch.lastID += step
	return ch.lastID
}

// appendLocked stores one encoded event and wakes the channel's subscribers' long polls.
func (s *eventStore) appendLocked(ch *channel, ev storedEvent) {
	if s.cfg.PubSubEncodeAtPublish && (ch.kind == KindPlatformEvent || ch.kind == KindCDC) {
		// An event that does not encode is left to the serve, which reports it.
		if enc, err := s.encodePubSub(ch.name, ch.kind, ev.msg, ev.id); err == nil {
			ev.pubsub = enc
		}
	}
	ch.events = append(ch.events, ev)
	ch.published++
	s.counters.eventsPublished.Add(1)
}

func (s *eventStore) wakeSubscribersLocked(ch *channel) {
	for c := range ch.subs {
		c.notify()
	}
	s.pubsub.wakeLocked(ch)
}

// streamingChannelIDLocked returns the id of the StreamingChannel record of a generic channel, creating the
// record when only a publish or subscribe named the channel.
func (s *eventStore) streamingChannelIDLocked(name string) string {
	for id, n := range s.streamingChannels {
		if n == name {
			return id
		}
	}
	res, _ := s.org.Apply("", false, org.Op{Kind: org.OpCreate, Object: "StreamingChannel", Fields: map[string]any{"Name": name}})
	id := res[0].ID
	if !res[0].Success { // a name the record rejects still gets an id, as before records existed
		id = s.recordID("0M6", uint64(len(s.streamingChannels)+1))
	}
	s.streamingChannels[id] = name
	return id
}
