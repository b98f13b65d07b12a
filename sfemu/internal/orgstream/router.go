// Package orgstream turns the org's committed transactions into the events Salesforce sends: the change events of
// the objects selected for Change Data Capture, and the events of the PushTopics whose query, NotifyForFields and
// NotifyForOperation* a change satisfies. It keeps what decides that: the selection and the compiled PushTopic
// records. It receives the org's types only and hands events to a Sink; the streaming surfaces own the channels.
// A Router is not safe for concurrent use: its owner guards it.
package orgstream

import (
	"fmt"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// Sink receives the events of a transaction, in order.
type Sink interface {
	// Change receives a change event's payload (the ChangeEventHeader and the record fields) of an object.
	Change(obj *org.Object, payload []byte)
	// Topic receives a PushTopic event's sobject and the change type that caused it.
	Topic(name string, sobject []byte, t org.ChangeType)
	// StreamingChannel reports a StreamingChannel record's generic channel, or its removal.
	StreamingChannel(id, name string, deleted bool)
	// Logf reports what could not become an event.
	Logf(format string, args ...any)
}

// Router decides which events a transaction causes.
type Router struct {
	org      *org.Org
	userID   string
	precise  bool
	selected map[string]bool
	topics   map[string]*pushTopic
}

// New builds a Router over an org; precise keeps the milliseconds of commitTimestamp (real events have whole
// seconds).
func New(o *org.Org, userID string, precise bool) *Router {
	return &Router{org: o, userID: userID, precise: precise, selected: map[string]bool{}, topics: map[string]*pushTopic{}}
}

// Select selects objects for Change Data Capture.
func (r *Router) Select(names ...string) error {
	for _, n := range names {
		obj, ok := r.org.Object(n)
		if !ok || !obj.CDC {
			return fmt.Errorf("selecting %s for change data capture: no such object that supports it", n)
		}
		r.selected[obj.Name] = true
	}
	return nil
}

// Selected reports whether an object is selected for Change Data Capture.
func (r *Router) Selected(obj *org.Object) bool { return r.selected[obj.Name] }

// SelectedObjects lists the selected objects in describe order.
func (r *Router) SelectedObjects() []*org.Object {
	var out []*org.Object
	for _, obj := range r.org.Objects() {
		if r.selected[obj.Name] {
			out = append(out, obj)
		}
	}
	return out
}

// HasTopic reports whether a PushTopic record has this Name.
func (r *Router) HasTopic(name string) bool {
	_, ok := r.topics[name]
	return ok
}

// ChangeEventObject returns the object of a /data/<Object>ChangeEvent channel.
func (r *Router) ChangeEventObject(channel string) (*org.Object, bool) {
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
	obj, ok := r.org.Object(objName)
	if !ok || !obj.CDC || obj.ChangeEventName() != name {
		return nil, false
	}
	return obj, true
}

// Transaction tags (org.Transaction.Tag) that change how changes are reported.
const (
	TagGap      = "gap"      // header-only GAP_* events
	TagOverflow = "overflow" // one GAP_OVERFLOW per entity
)

// Route hands a transaction's events to the sink: per change, the PushTopic events it fires and its change event
// (when its object is selected), numbered by its place in the transaction; an overflow transaction's change
// events are replaced by one GAP_OVERFLOW per entity.
func (r *Router) Route(tx *org.Transaction, sink Sink) {
	var overflowed []*org.Object
	for i, ch := range tx.Changes {
		switch ch.Object.Name {
		case "PushTopic":
			r.updateTopic(ch, sink)
		case "StreamingChannel":
			updateStreamingChannel(ch, sink)
		}
		r.firePushTopics(ch, tx, sink)
		if !r.selected[ch.Object.Name] {
			continue // not selected: its sequence number stays unused, as in Salesforce
		}
		if tx.Tag == TagOverflow {
			if !containsObject(overflowed, ch.Object) {
				overflowed = append(overflowed, ch.Object)
			}
			continue
		}
		sink.Change(ch.Object, r.changePayload(tx, ch, i+1, tx.Tag == TagGap))
	}
	for i, obj := range overflowed {
		header := r.header(obj.Name, []string{org.EmptyID}, "GAP_OVERFLOW", tx.Origin, tx, len(tx.Changes)+i+1, nil)
		o := jsonw.Make(nil)
		o.Raw("ChangeEventHeader", header)
		sink.Change(obj, o.Done())
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

// fieldOf returns a record's value of a field by name.
func fieldOf(obj *org.Object, vals []string, name string) string {
	_, i, ok := obj.Field(name)
	if !ok {
		return ""
	}
	return vals[i]
}

// orBefore is the record as it was before a change, or after it for a create.
func orBefore(ch org.Change) []string {
	if ch.Before != nil {
		return ch.Before
	}
	return ch.After
}

func updateStreamingChannel(ch org.Change, sink Sink) {
	if old, name := fieldOf(ch.Object, orBefore(ch), "Name"), fieldOf(ch.Object, ch.After, "Name"); old != name || ch.Type == org.Deleted {
		sink.StreamingChannel(ch.ID, old, true)
	}
	if ch.Type != org.Deleted {
		sink.StreamingChannel(ch.ID, fieldOf(ch.Object, ch.After, "Name"), false)
	}
}
