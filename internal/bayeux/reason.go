package bayeux

// ReconnectReason says why a session was re-established; it is the value of Observer.Reconnect and the label of
// the input's reconnect metric.
type ReconnectReason string

// Reconnect reasons.
const (
	ReconnectUnknownClient    ReconnectReason = "unknown_client"    // 403/402::Unknown client: the server forgot the session
	ReconnectServerDisconnect ReconnectReason = "server_disconnect" // the server sent /meta/disconnect
	ReconnectConnectionError  ReconnectReason = "connection_error"  // dropped connection, HTTP error, malformed answer
	ReconnectAuth             ReconnectReason = "auth"              // Salesforce refused the access token
	ReconnectServerBusy       ReconnectReason = "server_busy"       // 503::Server is too busy
	ReconnectLimit            ReconnectReason = "limit"             // an org or server limit
	ReconnectAdviceHandshake  ReconnectReason = "advice_handshake"  // the server advised a new handshake
	ReconnectAdviceNone       ReconnectReason = "advice_none"       // the server advised not to reconnect
	ReconnectConnectError     ReconnectReason = "connect_error"     // another unsuccessful /meta/connect
	ReconnectBackpressure     ReconnectReason = "backpressure"      // MaxBufferedEvents reached
	ReconnectAnswerTooLarge   ReconnectReason = "answer_too_large"  // an answer above MaxAnswerBytes
)

// oldClientMayLive reports whether the server may still hold the client the session leaves behind, so that a
// /meta/disconnect frees its slot of the org's concurrent-client limit before a new handshake. After an unknown
// client, a server disconnect, handshake advice or a refused token the server has already dropped it.
func (r ReconnectReason) oldClientMayLive() bool {
	switch r {
	case ReconnectUnknownClient, ReconnectServerDisconnect, ReconnectAdviceHandshake, ReconnectAuth:
		return false
	}
	return true
}
