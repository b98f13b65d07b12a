package orgstream

import (
	"slices"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// pushTopic is a PushTopic record compiled: which changes fire it and what its events carry.
type pushTopic struct {
	id, name     string
	query        *org.Query
	selectCols   []int
	notifyFields string // All, Referenced, Select, Where
	notifyOps    map[org.ChangeType]bool
	active       bool
	watched      map[int]bool // the fields whose update fires the topic (unused for All)
}

// updateTopic keeps the compiled PushTopics in step with the PushTopic records.
func (r *Router) updateTopic(ch org.Change, sink Sink) {
	if old := fieldOf(ch.Object, orBefore(ch), "Name"); r.topics[old] != nil && r.topics[old].id == ch.ID {
		delete(r.topics, old)
	}
	if ch.Type == org.Deleted {
		return
	}
	v := func(name string) string { return fieldOf(ch.Object, ch.After, name) }
	q, err := r.org.Compile(v("Query"))
	if err != nil {
		sink.Logf("PushTopic %s: %v", v("Name"), err)
		return
	}
	t := &pushTopic{id: ch.ID, name: v("Name"), query: q, notifyFields: v("NotifyForFields"), active: v("IsActive") != "false",
		notifyOps: map[org.ChangeType]bool{
			org.Created: v("NotifyForOperationCreate") == "true", org.Updated: v("NotifyForOperationUpdate") == "true",
			org.Deleted: v("NotifyForOperationDelete") == "true", org.Undeleted: v("NotifyForOperationUndelete") == "true",
		},
		selectCols: append([]int{0}, q.Columns...), watched: map[int]bool{}}
	var watched []int
	switch t.notifyFields {
	case "Select":
		watched = q.Columns
	case "Where":
		watched = q.WhereFields
	case "All":
	default: // Referenced: the fields of SELECT and WHERE
		watched = append(slices.Clone(q.Columns), q.WhereFields...)
	}
	for _, c := range watched {
		t.watched[c] = true
	}
	r.topics[t.name] = t
}

// firePushTopics hands the sink an event for every active topic on the change's object that the change
// satisfies.
func (r *Router) firePushTopics(ch org.Change, tx *org.Transaction, sink Sink) {
	names := make([]string, 0, len(r.topics))
	for name := range r.topics {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t := r.topics[name]
		if !t.active || t.query.Object != ch.Object || !t.notifyOps[ch.Type] {
			continue
		}
		vals := ch.After
		if ch.Type == org.Deleted {
			vals = ch.Before // a deleted record is matched as it was
		}
		if !t.query.Matches(vals, tx.Commit) || (ch.Type == org.Updated && !t.watches(ch.Changed)) {
			continue
		}
		cols := t.selectCols
		if ch.Type == org.Deleted {
			cols = cols[:1] // a deleted record's event carries its Id
		}
		o := jsonw.Make(nil)
		for _, c := range cols {
			appendValue(&o, ch.Object.Fields[c], vals[c])
		}
		sink.Topic(t.name, o.Done(), ch.Type)
	}
}

// watches reports whether an update of these fields fires the topic under its NotifyForFields.
func (t *pushTopic) watches(changed []int) bool {
	if t.notifyFields == "All" || (t.notifyFields == "Where" && len(t.query.WhereFields) == 0) {
		return true
	}
	for _, c := range changed {
		if t.watched[c] {
			return true
		}
	}
	return false
}
