package sfemu

import (
	"encoding/json"
	"fmt"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/dataapi"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/orgstream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// The org beneath the streaming surfaces: its transactions become events (internal/orgstream decides which), and
// channels exist only when something defines them (docs/emulator.md, "The org").

// definitions are what make channels exist besides the org's records and the CDC selection: the platform event
// types and the StreamingChannel records. Guarded by the event store's lock, as is the router: every publish
// consults them.
type definitions struct {
	eventTypes        map[string]bool   // platform event channels (/event/Name__e) whose type is defined
	streamingChannels map[string]string // StreamingChannel record id -> /u/ channel name
}

// openOrg builds the org: standard and custom objects, the -records data, and their CDC selection.
func (s *Server) openOrg(seed uint64) error {
	o, err := org.New(org.Config{OrgID: s.cfg.OrgID, UserID: s.cfg.UserID, Username: s.cfg.Username,
		Now: s.clock.Now, Seed: seed, Custom: s.cfg.CustomObjects})
	if err != nil {
		return fmt.Errorf("building the org: %w", err)
	}
	s.org = o
	s.router = orgstream.New(o, s.cfg.UserID, s.cfg.PreciseCommitTimestamps)
	s.defs = definitions{eventTypes: map[string]bool{}, streamingChannels: map[string]string{}}
	s.data = dataapi.New(o, dataapi.Hooks{Committed: s.flushChanges, BulkQueryJob: s.limits.CountBulkQueryJob})
	for _, rc := range s.cfg.Records {
		if err := o.Populate(rc.Object, rc.Count); err != nil {
			s.logf("-records: %v", err)
			continue
		}
		_ = s.router.Select(rc.Object) // Populate accepted it, so it can be selected
	}
	return nil
}

// Org returns the emulated org (records, SOQL, Bulk jobs).
func (s *Server) Org() *org.Org { return s.org }

// SelectEntities selects objects for Change Data Capture, which defines their /data/<Object>ChangeEvent channels.
func (s *Server) SelectEntities(names ...string) error {
	s.store.Lock()
	defer s.store.Unlock()
	return s.router.Select(names...)
}

// channelDefinedLocked reports whether a channel exists for a subscriber: its CDC entity is selected, its
// platform event type, PushTopic or StreamingChannel record is defined, or it already holds events.
func (s *Server) channelDefinedLocked(key string) bool {
	if s.cfg.AnyChannel {
		return true
	}
	if s.store.LookupLocked(key) != nil {
		return true
	}
	switch KindOf(key) {
	case KindCDC:
		if key == "/data/ChangeEvents" {
			return true // the standard channel of every selected entity
		}
		obj, ok := s.router.ChangeEventObject(key)
		return ok && s.router.Selected(obj)
	case KindPlatformEvent:
		return s.defs.eventTypes[key]
	case KindPushTopic:
		return s.router.HasTopic(key[len("/topic/"):])
	case KindGeneric:
		for _, name := range s.defs.streamingChannels {
			if name == key {
				return true
			}
		}
	}
	return false
}

// defineLocked records what a publish, preload or generator names: a platform event type, or the CDC selection
// of an org object.
func (s *Server) defineLocked(key string) {
	switch KindOf(key) {
	case KindPlatformEvent:
		s.defs.eventTypes[key] = true
	case KindCDC:
		if obj, ok := s.router.ChangeEventObject(key); ok {
			_ = s.router.Select(obj.Name)
		}
	}
}

// flushChanges turns the org's committed transactions into events, in commit order.
func (s *Server) flushChanges() {
	s.store.Lock()
	defer s.store.Unlock()
	for _, tx := range s.org.Drain() {
		s.router.Route(tx, orgSink{s})
	}
}

// orgSink stores the events the router derives from record changes. The store's lock is held.
type orgSink struct{ s *Server }

// Change appends a change event to the entity's channel, and to /data/ChangeEvents when that channel is in use
// (the emulator keeps no second copy of every change nobody asked for).
func (k orgSink) Change(obj *org.Object, payload []byte) {
	s := k.s
	for _, name := range []string{"/data/" + obj.ChangeEventName(), "/data/ChangeEvents"} {
		if name == "/data/ChangeEvents" && s.store.LookupLocked(name) == nil {
			continue
		}
		_, _, err := s.store.PublishLocked(eventstore.Spec{Channel: name, Payloads: []json.RawMessage{payload}, Built: true})
		if err != nil {
			s.logf("publishing a change event of %s on %s: %v", obj.Name, name, err)
		}
	}
}

// Topic appends a PushTopic event.
func (k orgSink) Topic(name string, sobject []byte, t org.ChangeType) {
	if _, _, err := k.s.store.PublishLocked(eventstore.Spec{Channel: "/topic/" + name, Payloads: []json.RawMessage{sobject},
		Change: ChangeType(t)}); err != nil {
		k.s.logf("publishing on PushTopic %s: %v", name, err)
	}
}

// StreamingChannel registers (or forgets) the generic channel of a StreamingChannel record.
func (k orgSink) StreamingChannel(id, name string, deleted bool) {
	s := k.s
	if deleted {
		if s.defs.streamingChannels[id] == name {
			delete(s.defs.streamingChannels, id)
		}
		return
	}
	s.defs.streamingChannels[id] = name
	c, err := s.store.ChannelLocked(name)
	if err != nil {
		s.logf("StreamingChannel %s: %v", name, err)
		return
	}
	c.SetStreamingIDLocked(id)
}

// Logf logs what the router could not turn into an event.
func (k orgSink) Logf(format string, args ...any) { k.s.logf(format, args...) }

// CheckOrg reports what New would drop from a configuration's org: an invalid custom object declaration, or
// -records naming an object that cannot take generated records.
func CheckOrg(cfg Config) error {
	o, err := org.New(org.Config{Custom: cfg.CustomObjects})
	if err != nil {
		return fmt.Errorf("building the org: %w", err)
	}
	for _, rc := range cfg.Records {
		if err := o.Populate(rc.Object, 0); err != nil {
			return fmt.Errorf("-records %s=%d: %w", rc.Object, rc.Count, err)
		}
	}
	return nil
}

// streamingChannelIDLocked returns the id of the StreamingChannel record of a generic channel, creating the
// record when only a publish or subscribe named the channel. The store asks for it when it creates the channel.
func (s *Server) streamingChannelIDLocked(name string) string {
	for id, n := range s.defs.streamingChannels {
		if n == name {
			return id
		}
	}
	res, _ := s.org.Apply("", false, org.Op{Kind: org.OpCreate, Object: "StreamingChannel", Fields: map[string]any{"Name": name}})
	id := res[0].ID
	if !res[0].Success { // a name the record rejects still gets an id, as before records existed
		id = eventstore.RecordID("0M6", uint64(len(s.defs.streamingChannels)+1))
	}
	s.defs.streamingChannels[id] = name
	return id
}
