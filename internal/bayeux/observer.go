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
	// Reconnect is called once per recovery, with its reason.
	Reconnect(reason ReconnectReason)
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
	// message had none), a reason (wire.DropUnknownChannel, wire.DropMissingChannel, wire.DropInvalidReplayID,
	// wire.DropReplayIDNotIncreasing) and the number of events of one answer dropped for it.
	Dropped(channel, reason string, n int)
}

// nopObserver is the Observer of a client configured without one.
type nopObserver struct{}

func (nopObserver) Reconnect(ReconnectReason)                  {}
func (nopObserver) TokenRefresh()                              {}
func (nopObserver) ReplayFallback(string, InvalidReplayPolicy) {}
func (nopObserver) Events(string, int)                         {}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}
