// Package input is the salesforce_streaming Benthos input: it turns Salesforce
// Streaming API channels (PushTopic, generic streaming, platform events and
// Change Data Capture) into batches of messages with at-least-once delivery,
// over CometD (api: streaming) or the Pub/Sub API (api: pubsub).
//
// The package owns the plugin's configuration spec and lint rules, the
// per-channel checkpointing of acknowledged replay ids into a cache resource
// (with an epoch per replay-id fallback), the redelivery of whole batches the
// output rejected, the mapping of events to messages and metadata, and the
// metrics. Both APIs sit behind one small transport interface (transport.go),
// so reading, acks, redelivery and checkpoints are the same for both. The
// wire protocols live in internal/bayeux and internal/pubsub, token handling
// in internal/sfauth; importing this package registers the input with
// Benthos' global environment.
package input
