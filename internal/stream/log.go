package stream

// Logger receives a client's log lines. *service.Logger from Benthos satisfies it. Lines never contain tokens or
// cookies.
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

// FieldLogger is an optional extension of Logger: a Logger that implements it gets structured fields on the lines
// that concern one channel or one reason (the field names are in LogField*). The message text says the same, so
// a plain Logger loses nothing but the fields.
type FieldLogger interface {
	Logger
	// With returns a Logger that adds the key/value pairs to every line.
	With(keyValues ...any) Logger
}

// Field names of the clients' and the input's structured log lines.
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

// NopLogger discards every line: the Logger of a client configured without one.
type NopLogger struct{}

func (NopLogger) Debugf(string, ...any) {}
func (NopLogger) Infof(string, ...any)  {}
func (NopLogger) Warnf(string, ...any)  {}
func (NopLogger) Errorf(string, ...any) {}
