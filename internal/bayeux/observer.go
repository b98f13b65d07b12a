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

// FieldLogger is an optional extension of Logger: a Logger that implements it gets structured fields on the lines
// that concern one channel or one reason (the field names are in LogField*). The message text says the same, so
// a plain Logger loses nothing but the fields.
type FieldLogger interface {
	Logger
	// With returns a Logger that adds the key/value pairs to every line.
	With(keyValues ...any) Logger
}

// Field names of the clients' structured log lines.
const (
	LogFieldChannel  = "channel"
	LogFieldReplayID = "replay_id"
	LogFieldReason   = "reason"
)

// WithFields returns l adding the key/value pairs to every line when l is a FieldLogger, else l.
func WithFields(l Logger, keyValues ...any) Logger {
	if fl, ok := l.(FieldLogger); ok {
		return fl.With(keyValues...)
	}
	return l
}
