package input

import (
	"context"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux"
	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
)

// transport is what the input needs of a Salesforce client: batches of one
// channel in order, a way to hand capacity back as batches are acknowledged,
// the error that ended it for good, and Close. ReadBatch, acks, redelivery
// and checkpointing are the same over both (cometdTransport over bayeux,
// pubsubTransport over internal/pubsub).
type transport interface {
	// Next returns the next batch: events of one channel, or (Pub/Sub) a
	// keepalive with no events and the channel's newest position.
	Next(ctx context.Context) (eventBatch, error)
	// Release tells the client that n events of channel it handed out are
	// acknowledged (or dropped), which lets a client with flow control ask
	// for more.
	Release(channel string, n int)
	// Err is the terminal error that stopped the client, if any (an invalid
	// replay id with on_invalid_replay_id fail).
	Err() error
	Close(ctx context.Context) error
}

// eventBatch is a batch as the input tracks and redelivers it: the events
// with their metadata, and, over Pub/Sub, each event's opaque replay id.
type eventBatch struct {
	wire.Batch
	// pubsub holds, over Pub/Sub, what each event of Events carries beyond
	// wire.Event (same index); nil over CometD.
	pubsub []pubsubEvent
	// latest is a Pub/Sub keepalive's position (Events is empty then).
	latest []byte
}

// pubsubEvent is what a Pub/Sub event carries beyond wire.Event.
type pubsubEvent struct {
	replayID []byte // opaque
	eventID  string
	schemaID string
	// decodeErr: the payload did not decode; the event's body is the Avro.
	decodeErr error
}

// lastOpaque is the replay id of the batch's last event, over Pub/Sub.
func (b *eventBatch) lastOpaque() []byte {
	if n := len(b.pubsub); n > 0 {
		return b.pubsub[n-1].replayID
	}
	return nil
}

// cometdTransport is the bayeux client as a transport. CometD has no flow
// control: Release does nothing (max_buffered_events bounds the client).
// With payloadBody (body: payload) each event's body is its payload.
type cometdTransport struct {
	*bayeux.Client
	payloadBody bool
}

func (t cometdTransport) Next(ctx context.Context) (eventBatch, error) {
	b, err := t.Client.Next(ctx)
	if err == nil && t.payloadBody {
		payloadBody(&b)
	}
	return eventBatch{Batch: b}, err
}

func (cometdTransport) Release(string, int) {}
