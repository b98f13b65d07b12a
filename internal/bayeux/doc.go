// Package bayeux is a CometD (Bayeux 1.0) long-polling client for Salesforce's Streaming API: handshake with
// the replay extension, one subscribe per channel from its replay id, a /meta/connect loop in its own
// goroutine, and recovery by itself from every failure Salesforce is known to produce (protocol.md sections 1
// and 3). It also works with a standard Bayeux server without the replay extension ("402::Unknown client").
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
//   - an invalid replay id on (re)subscribe: OnInvalidReplayID (earliest -2, latest -1, or fail: Next returns
//     the error once the queue is drained).
//   - a full buffer (MaxBufferedEvents): /meta/disconnect, wait until Next took half, handshake and resubscribe.
//
// A failure streak ends when a session survives a full long poll, so a server that drops every new session
// meets growing waits, never a handshake storm.
//
// # Hostile answers
//
// Nothing a server sends can crash the client, make it hand on an event out of order, or grow its memory without
// bound (tests: hostile_test.go, decode_test.go, FuzzDecodeAnswer):
//
//   - an answer that is not well-formed JSON (truncated, cut mid-body, HTML, empty, more than 64 meta messages):
//     nothing of it is handed on; the session reconnects as after a dropped connection, resubscribing from the
//     last replay id handed on, so the server replays what it held.
//   - an answer above Config.MaxAnswerBytes (64 MiB): not read further (rejected up front when Content-Length
//     says so); error log, reason "answer_too_large", reconnect. Reading and decoding an answer allocates about
//     its size plus up to 1 KB per event.
//   - per message, the unusable is dropped and the rest of the answer kept, each with a warning and a
//     DropObserver count: data on a channel not subscribed, data without a channel, a replayId that is not a
//     non-negative integer (object, array, bool, fraction, text), and a replay id not above the last one handed
//     on for its channel (a repeat or a step back; presets -1/-2 accept any first id). So the ids a caller sees
//     on a channel strictly increase across answers and reconnects of one Client (until an invalid replay id
//     makes OnInvalidReplayID restart the channel from a preset, which is logged as an error).
//   - data that is not an object (text, array) is handed on as received, without replay id or metadata.
//
// # Decoding
//
// An answer is read in one pass (scan.go, extract.go): the splitter walks it, checking its grammar (so a
// malformed answer is refused whole, before anything of it is handed on), parses the few meta messages with
// fastjson, and walks each `data` object on the way, descending only into `event`, `payload` and
// `payload.ChangeEventHeader` and noting where the replay id and the metadata of protocol.md 1.11 are; long
// strings are skipped with bytes.IndexByte. No tree is built. complete then turns those positions into events:
// the replay id, the metadata strings (all of one answer in one allocation) and `data` as the original bytes, a
// capacity-limited sub-slice of the answer, which the transport allocates fresh for every answer and never
// reuses.
//
// The two steps run in different goroutines (stage.go): the connect loop splits an answer (what its state
// machine needs: the replies, and whether the answer is well-formed), hands it to the decode stage and sends the
// next /meta/connect at once, while the stage completes the previous answer's events and queues them for Next,
// in order. At most two answers are in the stage; their events count against MaxBufferedEvents; and before any
// (re)subscribe the loop waits until the stage is empty, so the replay ids it subscribes from include every event
// of every answer received (stage_test.go).
//
// BenchmarkDecodeConnectAnswer (split and complete of one connect answer of 1,000 CDC events of about 1.1 KB,
// Go 1.26.8, one core of the shared 2-core build machine, -benchtime=200x, three runs each):
//
//	before (splitter, then a fastjson parse of each data):  2,590-2,790 ns/event  0.0074 allocs/event (7 per answer)   391 B/event  ~440 MB/s
//	after (one pass, no tree):                               1,140-1,300 ns/event  0.0102 allocs/event (10 per answer)  391 B/event  ~900 MB/s
//
// (1,380-1,560 ns/event when the machine was busier.) For comparison (performance.md): encoding/json into
// RawMessage alone is ~5,000 ns/event, ~9,900 with a second decode for the replay id; a bare fastjson parse of
// the whole answer with two lookups ~900-1,100. The allocations per answer are the event and batch slices, the
// metadata strings and record ids; the per-answer scratch (one 112-byte entry per event, in chunks of 512) is
// reused. The rest of the time is the walk itself, about half of it skipping strings.
package bayeux
