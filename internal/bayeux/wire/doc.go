// Package wire is the Bayeux (CometD 1.0) wire format as Salesforce's Streaming API speaks it: the request
// messages the client sends, the replies and advice it reads, and the one-pass decoder that turns a server answer
// into replies and per-channel batches of events with their replay ids and metadata. It does no I/O and keeps no
// session state; package bayeux drives it.
//
// # Data path
//
// An answer's bytes travel one way, one file after the other:
//
//   - scan.go: the JSON grammar, without building values: whitespace, the string scanner, skipping and checking a
//     value, member names. Every other file uses it; it uses none of them.
//   - split.go: Splitter.Split walks the answer once, checking its grammar (a malformed answer is refused whole,
//     before anything of it is handed on), parses the few meta messages with fastjson into Reply (message.go),
//     routes data messages to the channels configured, and walks each `data` object on the way, descending only
//     into `event`, `payload` and `payload.ChangeEventHeader`, noting where the replay id and the metadata are.
//   - complete.go: Assembler.Complete turns those positions into Events (timestamp.go rewrites times): the replay
//     id, the metadata strings (all of one answer in one allocation) and `data` as the original bytes, a
//     capacity-limited sub-slice of the answer, which the transport allocates fresh for every answer.
//
// Split and Complete may run in different goroutines (one answer is completed while the next is fetched); each
// of the two is used by one goroutine at a time. The metadata Salesforce puts on events, and why an event is
// dropped instead of handed on, are described in docs/guarantees.md and in Salesforce's Streaming API Developer
// Guide (https://developer.salesforce.com/docs/atlas.en-us.api_streaming.meta/api_streaming/).
package wire
