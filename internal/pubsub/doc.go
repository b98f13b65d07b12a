// Package pubsub is a client of Salesforce's Pub/Sub API (gRPC, Avro), the second transport beside the CometD
// client in internal/bayeux, with the same error reactions and backoff (docs/pubsub.md).
//
// A Client holds one gRPC connection, the current access token (every call carries the accesstoken,
// instanceurl and tenantid headers; the tenant id is the org id of the token answer's identity URL) and the
// schema cache, keyed by schema id. A call Salesforce refuses with UNAUTHENTICATED is retried once with a
// refreshed token.
//
// A Subscription keeps one topic's Subscribe stream open. Flow control is real: num_requested never exceeds
// MaxInFlight minus the events the caller holds (handed on by Next, not yet Released), nor 100 outstanding per
// stream, and more is requested only as Release frees at least half the window. After any stream error it
// resubscribes after the replay id of the last batch it queued for Next, with the CometD client's retry policy
// (retryPolicy; New fills zero Backoff fields with the CometD defaults):
//
//   - UNAUTHENTICATED: one token refresh per refusal, the first of a streak at once, later ones after backoff;
//   - an invalid or expired replay id (sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted):
//     OnInvalidReplayID (earliest, latest, or fail: Next returns the stream.InvalidReplayError);
//   - a limit (RESOURCE_EXHAUSTED, ...limit.exceeded) or a permission error on a resubscribe: Backoff.Long;
//   - anything else (dropped connection, UNAVAILABLE, INTERNAL, a failing GetSchema, a flood, a response above
//     MaxResponseBytes, no response for StreamIdleTimeout): resubscribe at once, then Backoff.Delay from the
//     second failure of a streak. Only a healthy stream (one that handed a batch on and stayed open for
//     HealthyAfter) ends a streak: an answer alone does not.
//
// The server is trusted no further than needed: the client counts what a stream owes from its own requests
// (pending_num_requested is only compared), refuses events past that count, drops a replay id repeated within a
// stream, takes a keepalive's position only when nothing is in flight and the stream was quiet for
// KeepaliveQuiet, refuses a response above MaxResponseBytes unread, and logs each violation, rate-limited. Every
// server text that reaches an error, a log or an event field goes through Config.Redactor (internal/redact).
//
// An optional Observer (stream.Observer) is told of each resubscription with its reason, each token refresh and
// each replay-id fallback, as the CometD client tells its own, so that the input's metrics mean the same over
// both transports.
//
// Events are handed on with their opaque replay ids, the raw Avro payload and the payload decoded to the JSON
// a CometD subscriber receives for the same event (DecodePayload), change event bitmaps decoded to field names.
// Decoding reads the Avro binary once, straight into JSON, walking the schema (no map per event). Each stream's
// decode stage (decodestage.go) decodes responses on up to one goroutine per CPU and queues them in arrival
// order, so that the goroutine reading the stream asks for more as soon as a response arrives. Each of its
// workers keeps one decoder (eventDecoder) with each schema's field plan, a cache of bitmap field lists and the
// day of the last date-time, and writes events' JSON into shared chunks: BenchmarkDecodePayload/subscription, the documented
// account update of about 300 bytes, on the shared 2-core build machine: 1,923-3,428 ns/event, 1 allocation
// (a first version decoding into map[string]any with hamba/avro and re-encoding took 24,700 ns and 216
// allocations). DecodePayload and DecodeEvent decode one payload with a fresh decoder. FuzzDecodePayload and
// FuzzDecodeBitmapFields check that no input panics or yields invalid JSON.
//
// The client's gRPC codec (codec.go) reads FetchResponses itself, without protobuf's per-event copies.
package pubsub
