// Package stream is the transport-neutral core between the Salesforce clients and the input: what a stream of
// events is, independent of the API that carries it. Its one job is to be the vocabulary both clients
// (internal/bayeux for CometD, internal/pubsub for the Pub/Sub API) implement and the input alone depends on:
//
//   - the event model: Event, Metadata, Batch (each batch carries its own release handle) and ChannelKey, the
//     one rule for the key of a channel's replay position, checkpoint and metrics;
//   - Position, one ordered place in a channel (an epoch, a sequence within it, the opaque bytes a source
//     resumes from), and Start, where a subscription begins;
//   - Source, what a client is to the input: batches in order, the terminal error, Close;
//   - the shared vocabulary: Logger and its field names, Observer, BackoffConfig with its defaults and Sleep,
//     reconnect reasons, the invalid-replay policy, TokenSource, and one error set with its classification
//     (AuthError, LoginRejectedError, PermissionError, LimitError, InvalidReplayError, ErrClosed; Class, Classify).
//
// Data flows one way: auth -> client -> stream -> input. The package imports no client, and neither client
// imports the other.
//
// A third Source: the CDC snapshot reader (the input's snapshot pages) fits the same interface. Its batches
// would be pages of one object's records as Events with Metadata (entity name, change type "SNAPSHOT"), its
// Position the page's resumable progress: Opaque holds the bulk job or query locator and the last record id,
// Seq numbers the pages, the epoch is the snapshot's generation. Release frees the page once the input has
// acknowledged it, exactly as a Pub/Sub batch frees flow-control capacity, so the checkpointer tracks pages and
// events alike.
package stream
