package bayeux

import "github.com/salesforce-streaming/salesforce_streaming/internal/stream"

// Replay presets of a subscribe request: -1 new events only, -2 every event Salesforce retains (stream's presets
// are these very values).
const (
	ReplayLatest   = int64(stream.Latest)
	ReplayEarliest = int64(stream.Earliest)
)

// The defaults a zero Config field takes, exported so that the input's configuration spec documents and applies
// the very values the client uses (the backoff's are stream.DefaultBackoff*).
const (
	DefaultAPIVersion        = defaultAPIVersion
	DefaultMaxBufferedEvents = defaultMaxBufferedEvents
)

// oldClientMayLive reports whether the server may still hold the client the session leaves behind after a
// recovery for reason r, so that a /meta/disconnect frees its slot of the org's concurrent-client limit before a
// new handshake. After an unknown client, a server disconnect, handshake advice or a refused token the server
// has already dropped it.
func oldClientMayLive(r stream.ReconnectReason) bool {
	switch r {
	case stream.ReconnectUnknownClient, stream.ReconnectServerDisconnect, stream.ReconnectAdviceHandshake, stream.ReconnectAuth:
		return false
	}
	return true
}
