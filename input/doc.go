// Package input is the salesforce_streaming Benthos input: it turns Salesforce
// Streaming API channels (PushTopic, generic streaming, platform events and
// Change Data Capture) into batches of messages with at-least-once delivery,
// over CometD (api: streaming) or the Pub/Sub API (api: pubsub).
//
// The package owns the plugin's configuration spec and lint rules, the
// per-channel checkpointing of acknowledged replay ids into a cache resource
// (with an epoch per replay-id fallback), the redelivery of whole batches the
// output rejected, the mapping of events to messages and metadata, and the
// metrics. Both APIs are a stream.Source of stream.Batches (internal/stream),
// so reading, acks, redelivery and checkpoints are one path for both; only
// sources.go knows the clients (internal/bayeux, internal/pubsub) and picks
// the configured API's Source and checkpoint codec once. Token handling is in
// internal/sfauth; importing this package registers the input with Benthos'
// global environment.
package input
