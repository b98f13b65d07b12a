package sfemu

import (
	"encoding/json"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
)

// Channel kinds and change types; package eventstore owns them.
type (
	// Kind is a channel's event type; it decides payload shape and retention.
	Kind = eventstore.Kind
	// ChangeType is a change event's ChangeEventHeader.changeType.
	ChangeType = eventstore.ChangeType
)

// Channel kinds.
const (
	KindUnknown       = eventstore.KindUnknown
	KindPushTopic     = eventstore.KindPushTopic
	KindGeneric       = eventstore.KindGeneric
	KindPlatformEvent = eventstore.KindPlatformEvent
	KindCDC           = eventstore.KindCDC
)

// Change types of Change Data Capture events.
const (
	ChangeCreate      = eventstore.ChangeCreate
	ChangeUpdate      = eventstore.ChangeUpdate
	ChangeDelete      = eventstore.ChangeDelete
	ChangeUndelete    = eventstore.ChangeUndelete
	ChangeGapCreate   = eventstore.ChangeGapCreate
	ChangeGapUpdate   = eventstore.ChangeGapUpdate
	ChangeGapDelete   = eventstore.ChangeGapDelete
	ChangeGapUndelete = eventstore.ChangeGapUndelete
	ChangeGapOverflow = eventstore.ChangeGapOverflow
)

// ChangeTypes lists every change type the emulator can publish.
var ChangeTypes = eventstore.ChangeTypes

// KindOf classifies a channel name (without ?filters); KindUnknown means the emulator cannot serve it.
func KindOf(channel string) Kind { return eventstore.KindOf(channel) }

// PublishN publishes n events with realistic generated payloads for the channel's kind and returns the first and
// last replay ids assigned.
func (s *Server) PublishN(channel string, n int) (first, last int64, err error) {
	return s.store.PublishN(channel, n)
}

// Publish publishes one event per payload: the sobject (PushTopic), the payload object (platform event, CDC; a
// missing CreatedDate or ChangeEventHeader is added) or the payload text (generic).
func (s *Server) Publish(channel string, payloads ...json.RawMessage) (first, last int64, err error) {
	return s.store.Publish(eventstore.Spec{Channel: channel, Payloads: payloads})
}
