package sfemu

import (
	"encoding/json"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/pubsubapi"
	"google.golang.org/grpc"
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

// The Pub/Sub API's timers (package pubsubapi owns them): the keepalive of an idle subscription, the close of a
// subscription that owes nothing and hears nothing, of an idle PublishStream, and of a managed subscription that
// commits nothing.
const (
	PubSubKeepalive      = pubsubapi.PubSubKeepalive
	PubSubIdleClose      = pubsubapi.PubSubIdleClose
	PubSubPublishIdle    = pubsubapi.PubSubPublishIdle
	ManagedCommitTimeout = pubsubapi.ManagedCommitTimeout
)

// NewPubSubServer returns a gRPC server serving Salesforce's Pub/Sub API from the emulator's event store; opts may
// add TLS credentials. Serve it on a listener; Close ends its subscriptions.
func (s *Server) NewPubSubServer(opts ...grpc.ServerOption) *grpc.Server {
	return s.pubsub.NewPubSubServer(opts...)
}

// ResetPubSubStreams ends every open Subscribe stream with UNAVAILABLE, as a dropped connection or a server restart
// on Salesforce's side would; clients resubscribe.
func (s *Server) ResetPubSubStreams() { s.pubsub.ResetPubSubStreams() }
