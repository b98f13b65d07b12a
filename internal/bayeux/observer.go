package bayeux

// Logger receives the client's log lines. *service.Logger from Benthos satisfies it. Lines never contain
// tokens or cookies.
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Observer receives metric hooks. All calls come from the client's own goroutines and must not block.
type Observer interface {
	// Reconnect is called once per recovery, with a reason: "unknown_client", "server_disconnect",
	// "connection_error", "auth", "server_busy", "limit", "advice_handshake", "advice_none", "connect_error",
	// "backpressure", "answer_too_large".
	Reconnect(reason string)
	// TokenRefresh is called before each Auth.Refresh.
	TokenRefresh()
	// ReplayFallback is called when an invalid replay id is replaced per policy (or fails with
	// ReplayFallbackFail).
	ReplayFallback(channel string, policy InvalidReplayPolicy)
	// Events is called when n events of channel are queued for Next (dropped events are not counted).
	Events(channel string, n int)
}

// DropObserver is an optional extension of Observer: an Observer that also implements it is told about every
// event the client drops instead of handing it to Next (see "Hostile answers" in the package documentation).
type DropObserver interface {
	// Dropped is called with the channel (as configured, or as received for an unsubscribed one; empty when the
	// message had none), a reason (DropUnknownChannel, DropMissingChannel, DropInvalidReplayID,
	// DropReplayIDNotIncreasing) and the number of events of one answer dropped for it.
	Dropped(channel, reason string, n int)
}

// Reasons passed to DropObserver.Dropped.
const (
	DropUnknownChannel        = "unknown_channel"          // a data message on a channel that is not subscribed
	DropMissingChannel        = "missing_channel"          // a data message without a channel
	DropInvalidReplayID       = "invalid_replay_id"        // replayId neither an integer nor null, or negative
	DropReplayIDNotIncreasing = "replay_id_not_increasing" // replayId not above the last one handed on
)

// ObserverFuncs adapts functions to Observer and DropObserver; nil fields are skipped.
type ObserverFuncs struct {
	OnReconnect      func(reason string)
	OnTokenRefresh   func()
	OnReplayFallback func(channel string, policy InvalidReplayPolicy)
	OnEvents         func(channel string, n int)
	OnDropped        func(channel, reason string, n int)
}

func (o ObserverFuncs) Reconnect(reason string) {
	if o.OnReconnect != nil {
		o.OnReconnect(reason)
	}
}

func (o ObserverFuncs) TokenRefresh() {
	if o.OnTokenRefresh != nil {
		o.OnTokenRefresh()
	}
}

func (o ObserverFuncs) ReplayFallback(channel string, policy InvalidReplayPolicy) {
	if o.OnReplayFallback != nil {
		o.OnReplayFallback(channel, policy)
	}
}

func (o ObserverFuncs) Events(channel string, n int) {
	if o.OnEvents != nil {
		o.OnEvents(channel, n)
	}
}

func (o ObserverFuncs) Dropped(channel, reason string, n int) {
	if o.OnDropped != nil {
		o.OnDropped(channel, reason, n)
	}
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}
