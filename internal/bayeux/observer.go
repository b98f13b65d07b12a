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
	// "backpressure".
	Reconnect(reason string)
	// TokenRefresh is called before each Auth.Refresh.
	TokenRefresh()
	// ReplayFallback is called when an invalid replay id is replaced per policy (or fails with
	// ReplayFallbackFail).
	ReplayFallback(channel string, policy InvalidReplayPolicy)
	// Events is called when n events of channel are queued for Next.
	Events(channel string, n int)
}

// ObserverFuncs adapts functions to Observer; nil fields are skipped.
type ObserverFuncs struct {
	OnReconnect      func(reason string)
	OnTokenRefresh   func()
	OnReplayFallback func(channel string, policy InvalidReplayPolicy)
	OnEvents         func(channel string, n int)
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

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}
