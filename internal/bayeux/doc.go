// Package bayeux is a CometD (Bayeux 1.0) long-polling client for Salesforce's Streaming API: handshake with
// the replay extension, one subscribe per channel from its replay id, a /meta/connect loop in its own
// goroutine, and recovery by itself from every failure Salesforce is known to produce (see docs/guarantees.md and
// Salesforce's Streaming API Developer Guide,
// https://developer.salesforce.com/docs/atlas.en-us.api_streaming.meta/api_streaming/). It also works with a
// standard Bayeux server without the replay extension ("402::Unknown client"). The wire format (messages, advice,
// the answer decoder, events and their metadata) is package wire.
//
// # Parts
//
// A Client is three parts with one owner each:
//
//   - the session (session.go, recover.go): token, client id, advice, the connect loop and its recovery, with an
//     explicit state (sessionState), typed reconnect reasons (stream.ReconnectReason, the input's metric labels) and an
//     explicit next action for each trouble. One goroutine at a time drives it: Start, then the loop, then Close.
//   - the decode stage (stage.go): one goroutine that completes split answers into batches.
//   - the buffer (buffer.go, admit.go): the batches queued for Next, the replay positions, the terminal error, and
//     admission, backpressure and drop accounting, behind its own lock. It is the only state the goroutines share.
//
// Failures are classified once (stream.Classify: Retryable, Limit, Permanent; the client's errors say their class);
// the client and the input choose their waits by that class. The event model, the vocabulary (Logger, Observer,
// BackoffConfig, reconnect reasons, the invalid-replay policy, TokenSource) and the Source the client implements
// are internal/stream's.
//
// # Session
//
// Start gets a token, handshakes and subscribes each channel in order (one request per message), then starts
// the loop; Next hands out batches (the events of one channel from one answer, in order); Close cancels the
// pending long poll, sends /meta/disconnect and returns within about a second. Each connect answer's events are
// decoded in a second goroutine while the next long poll is on its way (see Decoding). The loop keeps the last
// advice, gives each long poll advice.timeout plus a margin, keeps one cookie jar, and recovers:
//
//   - 403/402::Unknown client, a server /meta/disconnect, advice handshake: handshake at once (advice interval),
//     resubscribe every channel from the replay id of the last event queued for Next.
//   - dropped connection, EOF, HTTP 5xx, malformed answer: best-effort /meta/disconnect of the old client, then
//     the same, after a jittered exponential backoff from the second failure of a streak on.
//   - 401 on connect (revoked token): Auth.Refresh, then handshake: one token request and one handshake.
//     Handshake denied with failureReason 401: one immediate refresh, then backoff between refreshes.
//   - 503 too busy, concurrent-client, simultaneous-connection and daily limits, and permission errors on a
//     resubscribe: Backoff.Long with an error line quoting Salesforce.
//   - an invalid replay id on (re)subscribe: OnInvalidReplayID (earliest -2, latest -1, or fail: a terminal error,
//     which Err reports and Next returns once the queue is drained).
//   - a full buffer (MaxBufferedEvents): /meta/disconnect, wait until Next took half, handshake and resubscribe.
//
// A failure streak ends when a session survives a full long poll, so a server that drops every new session
// meets growing waits, never a handshake storm.
//
// # Hostile answers
//
// Nothing a server sends can crash the client, make it hand on an event out of order, or grow its memory without
// bound (tests: hostile_test.go here, decode_test.go and FuzzDecodeAnswer in package wire):
//
//   - an answer that is not well-formed JSON (truncated, cut mid-body, HTML, empty, more than 64 meta messages):
//     nothing of it is handed on; the session reconnects as after a dropped connection, resubscribing from the
//     last replay id handed on, so the server replays what it held.
//   - an answer above Config.MaxAnswerBytes (64 MiB): not read further (rejected up front when Content-Length
//     says so); error log, reason "answer_too_large", reconnect. Reading and decoding an answer allocates about
//     its size plus up to 1 KB per event.
//   - per message, the unusable is dropped and the rest of the answer kept, each with a warning and a
//     stream.DropObserver count: data on a channel not subscribed, data without a channel, a replayId that is not a
//     non-negative integer (object, array, bool, fraction, text), and a replay id not above the last one handed
//     on for its channel (a repeat or a step back; presets -1/-2 accept any first id). So the ids a caller sees
//     on a channel strictly increase across answers and reconnects of one Client (until an invalid replay id
//     makes OnInvalidReplayID restart the channel from a preset, which is logged as an error).
//   - data that is not an object (text, array) is handed on as received, without replay id or metadata.
//
// # Decoding
//
// An answer is read in one pass by package wire: the session splits it (its grammar, its replies, where its data
// messages are: what the session's state machine needs), hands its data messages to the decode stage and sends
// the next /meta/connect at once, while the stage completes the previous answer's events and queues them for
// Next, in order. At most two answers are in the stage; their events count against MaxBufferedEvents; and before
// any (re)subscribe the session waits until the stage is empty, so the replay ids it subscribes from include every
// event of every answer received (stage_test.go). How the decoder works and what it costs: docs/decoder.md.
package bayeux
