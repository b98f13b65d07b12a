package sfemu

import (
	"encoding/json"
	"slices"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// PushTopic records decide which record changes reach /topic/<Name>: the topic's query (its object and WHERE
// condition), NotifyForFields and NotifyForOperation*. StreamingChannel records define generic channels.

// fieldOf returns a record's value of a field by name.
func fieldOf(obj *org.Object, vals []string, name string) string {
	_, i, ok := obj.Field(name)
	if !ok {
		return ""
	}
	return vals[i]
}

// updateTopicLocked keeps the compiled PushTopics in step with the PushTopic records.
func (s *Server) updateTopicLocked(ch org.Change) {
	if old := fieldOf(ch.Object, orBefore(ch), "Name"); old != "" && s.defs.topics[old] != nil && s.defs.topics[old].id == ch.ID {
		delete(s.defs.topics, old)
	}
	if ch.Type == org.Deleted {
		return
	}
	v := func(name string) string { return fieldOf(ch.Object, ch.After, name) }
	q, err := s.org.Compile(v("Query"))
	if err != nil {
		s.logf("PushTopic %s: %v", v("Name"), err)
		return
	}
	t := &pushTopic{id: ch.ID, name: v("Name"), query: q, notifyFields: v("NotifyForFields"), active: v("IsActive") != "false",
		notifyOps: map[org.ChangeType]bool{
			org.Created: v("NotifyForOperationCreate") == "true", org.Updated: v("NotifyForOperationUpdate") == "true",
			org.Deleted: v("NotifyForOperationDelete") == "true", org.Undeleted: v("NotifyForOperationUndelete") == "true",
		}}
	t.selectCols = append([]int{0}, q.Columns...)
	t.referencedSet = map[int]bool{}
	switch t.notifyFields {
	case "Select":
		for _, c := range q.Columns {
			t.referencedSet[c] = true
		}
	case "Where":
		for _, c := range q.WhereFields {
			t.referencedSet[c] = true
		}
	case "All":
	default: // Referenced: the fields of SELECT and WHERE
		for _, c := range append(slices.Clone(q.Columns), q.WhereFields...) {
			t.referencedSet[c] = true
		}
	}
	s.defs.topics[t.name] = t
}

func orBefore(ch org.Change) []string {
	if ch.Before != nil {
		return ch.Before
	}
	return ch.After
}

// updateStreamingChannelLocked registers the generic channel a StreamingChannel record names.
func (s *Server) updateStreamingChannelLocked(ch org.Change) {
	if old := fieldOf(ch.Object, orBefore(ch), "Name"); old != "" && s.streamingChannels[ch.ID] == old {
		delete(s.streamingChannels, ch.ID)
	}
	if ch.Type == org.Deleted {
		return
	}
	name := fieldOf(ch.Object, ch.After, "Name")
	s.streamingChannels[ch.ID] = name
	c, err := s.channelLocked(name)
	if err != nil {
		s.logf("StreamingChannel %s: %v", name, err)
		return
	}
	c.streamingID = ch.ID
}

// firePushTopicsLocked publishes a change to every active topic on its object that it satisfies.
func (s *Server) firePushTopicsLocked(ch org.Change, tx *org.Transaction) {
	for _, name := range sortedTopicNames(s.defs.topics) {
		t := s.defs.topics[name]
		if !t.active || t.query.Object != ch.Object || !t.notifyOps[ch.Type] {
			continue
		}
		vals := ch.After
		if ch.Type == org.Deleted {
			vals = ch.Before
		}
		if !t.query.Matches(vals, tx.Commit) {
			continue
		}
		if ch.Type == org.Updated && t.notifyFields != "All" && !(t.notifyFields == "Where" && len(t.query.WhereFields) == 0) {
			hit := false
			for _, c := range ch.Changed {
				if t.referencedSet[c] {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
		}
		sobject := newObj(nil)
		cols := t.selectCols
		if ch.Type == org.Deleted {
			cols = cols[:1] // a deleted record's event carries its Id
		}
		for _, c := range cols {
			appendCDCValue(sobject, ch.Object.Fields[c], vals[c])
		}
		if _, _, err := s.publishLocked(publishSpec{channel: "/topic/" + t.name, payloads: []json.RawMessage{sobject.done()},
			changeType: ChangeType(ch.Type)}); err != nil {
			s.logf("publishing on PushTopic %s: %v", t.name, err)
		}
	}
}

func sortedTopicNames(m map[string]*pushTopic) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
