package stream

// Observer receives a client's metric hooks. All calls come from the client's own goroutines and must not block.
type Observer interface {
	// Reconnect is called once per recovery, with its reason.
	Reconnect(reason ReconnectReason)
	// TokenRefresh is called before each refresh of a refused token.
	TokenRefresh()
	// ReplayFallback is called when an invalid replay id is replaced per policy (or fails with
	// ReplayFallbackFail).
	ReplayFallback(channel string, policy InvalidReplayPolicy)
	// Events is called when n events of channel are queued for Next (dropped events are not counted).
	Events(channel string, n int)
}

// DropObserver is an optional extension of Observer: an Observer that also implements it is told about every
// event a client drops instead of handing it to Next.
type DropObserver interface {
	// Dropped is called with the channel (as configured, or as received for an unsubscribed one; empty when the
	// message had none), a Drop* reason and the number of events of one answer dropped for it.
	Dropped(channel, reason string, n int)
}

// Reasons an event is dropped instead of handed on (DropObserver.Dropped): the label of the input's dropped
// events metric.
const (
	DropUnknownChannel        = "unknown_channel"          // a data message on a channel that is not subscribed
	DropMissingChannel        = "missing_channel"          // a data message without a channel
	DropInvalidReplayID       = "invalid_replay_id"        // replayId neither an integer nor null, or negative
	DropReplayIDNotIncreasing = "replay_id_not_increasing" // replayId not above the last one handed on
)

// NopObserver ignores every hook: the Observer of a client configured without one.
type NopObserver struct{}

func (NopObserver) Reconnect(ReconnectReason)                  {}
func (NopObserver) TokenRefresh()                              {}
func (NopObserver) ReplayFallback(string, InvalidReplayPolicy) {}
func (NopObserver) Events(string, int)                         {}

// ReconnectReason says why a session or stream was re-established; it is the value of Observer.Reconnect and the
// label of the input's reconnect metric, the same over both APIs.
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
	ReconnectAnswerTooLarge   ReconnectReason = "answer_too_large"  // an answer above the client's size bound
)
