package sfemu

import (
	"encoding/json"
	"fmt"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/dataapi"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/orgstream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// The org beneath the streaming surfaces: its transactions become events (internal/orgstream decides which), and
// channels exist only when something defines them (docs/emulator.md, "The org").

// definitions are what make channels exist besides the org's records and the CDC selection: the platform event
// types. Guarded by Server.mu, as is the router.
type definitions struct {
	eventTypes map[string]bool // platform event channels (/event/Name__e) whose type is defined
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
	s.defs = definitions{eventTypes: map[string]bool{}}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.router.Select(names...)
}

// channelDefinedLocked reports whether a channel exists for a subscriber: its CDC entity is selected, its
// platform event type, PushTopic or StreamingChannel record is defined, or it already holds events.
func (s *Server) channelDefinedLocked(key string) bool {
	if s.cfg.AnyChannel {
		return true
	}
	if _, ok := s.channels[key]; ok {
		return true
	}
	switch channelKind(key) {
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
		for _, name := range s.streamingChannels {
			if name == key {
				return true
			}
		}
	}
	return false
}

// topicDefined is channelDefinedLocked for the Pub/Sub surface, which does not hold the lock.
func (s *Server) topicDefined(topic string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channelDefinedLocked(topic)
}

// defineLocked records what a publish, preload or generator names: a platform event type, or the CDC selection
// of an org object.
func (s *Server) defineLocked(key string) {
	switch channelKind(key) {
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
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tx := range s.org.Drain() {
		s.router.Route(tx, orgSink{s})
	}
}

// orgSink stores the events the router derives from record changes. Server.mu is held.
type orgSink struct{ s *Server }

// Change appends a change event to the entity's channel, and to /data/ChangeEvents when that channel is in use
// (the emulator keeps no second copy of every change nobody asked for).
func (k orgSink) Change(obj *org.Object, payload []byte) {
	s := k.s
	for _, name := range []string{"/data/" + obj.ChangeEventName(), "/data/ChangeEvents"} {
		if _, used := s.channels[name]; name == "/data/ChangeEvents" && !used {
			continue
		}
		s.builtPayload = true
		_, _, err := s.publishLocked(publishSpec{channel: name, payloads: []json.RawMessage{payload}})
		s.builtPayload = false
		if err != nil {
			s.logf("publishing a change event of %s on %s: %v", obj.Name, name, err)
		}
	}
}

// Topic appends a PushTopic event.
func (k orgSink) Topic(name string, sobject []byte, t org.ChangeType) {
	if _, _, err := k.s.publishLocked(publishSpec{channel: "/topic/" + name, payloads: []json.RawMessage{sobject},
		changeType: ChangeType(t)}); err != nil {
		k.s.logf("publishing on PushTopic %s: %v", name, err)
	}
}

// StreamingChannel registers (or forgets) the generic channel of a StreamingChannel record.
func (k orgSink) StreamingChannel(id, name string, deleted bool) {
	s := k.s
	if deleted {
		if s.streamingChannels[id] == name {
			delete(s.streamingChannels, id)
		}
		return
	}
	s.streamingChannels[id] = name
	c, err := s.channelLocked(name)
	if err != nil {
		s.logf("StreamingChannel %s: %v", name, err)
		return
	}
	c.streamingID = id
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
