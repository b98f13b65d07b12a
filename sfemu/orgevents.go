package sfemu

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/dataapi"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// The org beneath the streaming surfaces: record changes become the events Salesforce sends (Change Data Capture
// events of selected entities, PushTopic events of topics whose query matches), and channels exist only when
// something defines them (docs/emulator.md, "The org").

// definitions are what make channels exist, besides the org's PushTopic and StreamingChannel records. Guarded by
// Server.mu.
type definitions struct {
	selected   map[string]bool       // object names selected for Change Data Capture
	eventTypes map[string]bool       // platform event channels (/event/Name__e) whose type is defined
	topics     map[string]*pushTopic // PushTopic records by Name
}

// pushTopic is a PushTopic record compiled: which changes fire it and what its events carry.
type pushTopic struct {
	id, name      string
	query         *org.Query
	selectCols    []int
	notifyFields  string // All, Referenced, Select, Where
	notifyOps     map[org.ChangeType]bool
	active        bool
	referencedSet map[int]bool
}

// openOrg builds the org: standard and custom objects, the -records data, and their CDC selection.
func (s *Server) openOrg(seed uint64) error {
	o, err := org.New(org.Config{OrgID: s.cfg.OrgID, UserID: s.cfg.UserID, Username: s.cfg.Username,
		Now: s.clock.Now, Seed: seed, Custom: s.cfg.CustomObjects})
	if err != nil {
		return fmt.Errorf("building the org: %w", err)
	}
	s.org = o
	s.defs = definitions{selected: map[string]bool{}, eventTypes: map[string]bool{}, topics: map[string]*pushTopic{}}
	s.data = dataapi.New(o, dataapi.Hooks{Committed: s.flushChanges, BulkQueryJob: s.countBulkQueryJob})
	for _, rc := range s.cfg.Records {
		if err := o.Populate(rc.Object, rc.Count); err != nil {
			s.logf("-records: %v", err)
			continue
		}
		obj, _ := o.Object(rc.Object)
		s.defs.selected[obj.Name] = true
	}
	return nil
}

// Org returns the emulated org (records, SOQL, Bulk jobs).
func (s *Server) Org() *org.Org { return s.org }

// SelectEntities selects objects for Change Data Capture, which defines their /data/<Object>ChangeEvent channels.
func (s *Server) SelectEntities(names ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		obj, ok := s.org.Object(n)
		if !ok || !obj.CDC {
			return fmt.Errorf("selecting %s for change data capture: no such object that supports it", n)
		}
		s.defs.selected[obj.Name] = true
	}
	return nil
}

// changeEventObject returns the org object of a /data/<Entity>ChangeEvent channel.
func (s *Server) changeEventObject(channel string) (*org.Object, bool) {
	name := strings.TrimPrefix(channel, "/data/")
	var objName string
	switch {
	case strings.HasSuffix(name, "__ChangeEvent"):
		objName = strings.TrimSuffix(name, "__ChangeEvent") + "__c"
	case strings.HasSuffix(name, "ChangeEvent") && name != "ChangeEvent":
		objName = strings.TrimSuffix(name, "ChangeEvent")
	default:
		return nil, false
	}
	obj, ok := s.org.Object(objName)
	if !ok || !obj.CDC || obj.ChangeEventName() != name {
		return nil, false
	}
	return obj, true
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
		obj, ok := s.changeEventObject(key)
		return ok && s.defs.selected[obj.Name]
	case KindPlatformEvent:
		return s.defs.eventTypes[key]
	case KindPushTopic:
		_, ok := s.defs.topics[strings.TrimPrefix(key, "/topic/")]
		return ok
	case KindGeneric:
		for _, name := range s.streamingChannels {
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
	switch channelKind(key) {
	case KindPlatformEvent:
		s.defs.eventTypes[key] = true
	case KindCDC:
		if obj, ok := s.changeEventObject(key); ok {
			s.defs.selected[obj.Name] = true
		}
	}
}

// flushChanges turns the org's committed transactions into events, in commit order.
func (s *Server) flushChanges() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
}

func (s *Server) flushLocked() {
	for _, tx := range s.org.Drain() {
		s.publishTransactionLocked(tx)
	}
}

// Transaction tags of mutations (org.Transaction.Tag): how their changes turn into change events.
const (
	tagGap      = "gap"      // header-only GAP_* events
	tagOverflow = "overflow" // one GAP_OVERFLOW per entity
)

func (s *Server) publishTransactionLocked(tx *org.Transaction) {
	var overflowed []*org.Object
	for i, ch := range tx.Changes {
		seq := i + 1
		switch ch.Object.Name {
		case "PushTopic":
			s.updateTopicLocked(ch)
		case "StreamingChannel":
			s.updateStreamingChannelLocked(ch)
		}
		s.firePushTopicsLocked(ch, tx)
		if !s.defs.selected[ch.Object.Name] {
			continue // not selected: its sequence number stays unused, as in Salesforce
		}
		var payload []byte
		switch tx.Tag {
		case tagOverflow:
			if !containsObject(overflowed, ch.Object) {
				overflowed = append(overflowed, ch.Object)
			}
			continue
		case tagGap:
			payload = s.changePayload(tx, ch, seq, true)
		default:
			payload = s.changePayload(tx, ch, seq, false)
		}
		s.publishChangeLocked(ch.Object, payload)
	}
	for i, obj := range overflowed {
		header := cdcHeaderOf(obj.Name, []string{org.EmptyID}, ChangeGapOverflow, tx.Origin, tx.Key, len(tx.Changes)+i+1,
			s.commitMillis(tx), tx.Number, s.cfg.UserID, nil)
		s.publishChangeLocked(obj, newObj(nil).raw("ChangeEventHeader", header).done())
	}
}

func containsObject(list []*org.Object, o *org.Object) bool {
	for _, x := range list {
		if x == o {
			return true
		}
	}
	return false
}

// publishChangeLocked appends a change event to the entity's channel and to /data/ChangeEvents when that
// channel has been used (it keeps events from its first subscriber or publish on).
func (s *Server) publishChangeLocked(obj *org.Object, payload []byte) {
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

func (s *Server) commitMillis(tx *org.Transaction) int64 {
	if s.cfg.PreciseCommitTimestamps {
		return tx.Commit.UnixMilli()
	}
	return tx.Commit.Unix() * 1000
}

// changePayload is a change event's payload: the header, then the record's non-null fields (CREATE,
// UNDELETE), the changed fields (UPDATE) or nothing (DELETE and gap events).
func (s *Server) changePayload(tx *org.Transaction, ch org.Change, seq int, gap bool) []byte {
	t := ChangeType(ch.Type)
	origin := tx.Origin
	if gap {
		t, origin = "GAP_"+t, ""
	}
	var changed []string
	if ch.Type == org.Updated && !gap {
		for _, i := range ch.Changed {
			changed = append(changed, ch.Object.Fields[i].Name)
		}
	}
	header := cdcHeaderOf(ch.Object.Name, []string{ch.ID}, t, origin, tx.Key, seq, s.commitMillis(tx), tx.Number, s.cfg.UserID, changed)
	o := newObj(nil).raw("ChangeEventHeader", header)
	if gap {
		return o.done()
	}
	switch ch.Type {
	case org.Created, org.Undeleted:
		for i, f := range ch.Object.Fields {
			if v := ch.After[i]; v != "" && cdcBodyField(f.Name) {
				appendCDCValue(o, f, v)
			}
		}
	case org.Updated:
		for _, i := range ch.Changed {
			appendCDCValue(o, ch.Object.Fields[i], ch.After[i])
		}
	}
	return o.done()
}

// cdcBodyField reports whether a field appears in a change event body: the id is in the header, and the
// deletion flag and system modstamp are not sent.
func cdcBodyField(name string) bool {
	return name != "Id" && name != "IsDeleted" && name != "SystemModstamp"
}

// appendCDCValue writes a field as change events carry it: datetimes in UTC with a Z, numbers and booleans
// bare, null for a cleared value.
func appendCDCValue(o *obj, f *org.Field, v string) {
	switch {
	case v == "":
		o.raw(f.Name, []byte("null"))
	case f.Type.Numeric() || f.Type == org.TypeBoolean:
		o.raw(f.Name, []byte(v))
	case f.Type == org.TypeDateTime:
		o.str(f.Name, strings.TrimSuffix(v, "+0000")+"Z")
	default:
		o.str(f.Name, v)
	}
}

// cdcHeaderOf is a ChangeEventHeader with the key order of real captures' generator (cdcHeader).
func cdcHeaderOf(entity string, ids []string, t ChangeType, origin, key string, seq int, commitMs, commitNumber int64, user string, changed []string) []byte {
	idsJSON := []byte{'['}
	for i, id := range ids {
		if i > 0 {
			idsJSON = append(idsJSON, ',')
		}
		idsJSON = appendJSONString(idsJSON, id)
	}
	changedJSON := []byte{'['}
	for i, f := range changed {
		if i > 0 {
			changedJSON = append(changedJSON, ',')
		}
		changedJSON = appendJSONString(changedJSON, f)
	}
	return newObj(nil).
		str("entityName", entity).
		raw("recordIds", append(idsJSON, ']')).
		str("changeType", string(t)).
		str("changeOrigin", origin).
		str("transactionKey", key).
		int("sequenceNumber", int64(seq)).
		int("commitTimestamp", commitMs).
		int("commitNumber", commitNumber).
		str("commitUser", user).
		raw("changedFields", append(changedJSON, ']')).
		done()
}

// topicDefined is channelDefinedLocked for the Pub/Sub surface, which does not hold the lock.
func (s *Server) topicDefined(topic string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channelDefinedLocked(topic)
}

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
