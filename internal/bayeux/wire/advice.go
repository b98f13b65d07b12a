package wire

import (
	"time"

	"github.com/valyala/fastjson"
)

// Reconnect advice values (Bayeux 1.0).
const (
	ReconnectRetry     = "retry"
	ReconnectHandshake = "handshake"
	ReconnectNone      = "none"
)

// defaultConnectTimeout is the long-poll hold assumed before the server advises one (Salesforce: 110 s).
const defaultConnectTimeout = 110 * time.Second

// Advice is the server's reconnect advice. Salesforce sends it on the first connect after a handshake and on
// failures only, so the client keeps the last known value and merges each new one into it.
type Advice struct {
	Reconnect   string
	Interval    time.Duration // advice.interval, milliseconds on the wire
	Timeout     time.Duration // advice.timeout, milliseconds on the wire
	hasInterval bool
	hasTimeout  bool
}

func parseAdvice(v *fastjson.Value) Advice {
	var a Advice
	if r := v.Get("reconnect"); r != nil && r.Type() == fastjson.TypeString {
		a.Reconnect = string(r.GetStringBytes())
	}
	a.Interval, a.hasInterval = millis(v, "interval")
	a.Timeout, a.hasTimeout = millis(v, "timeout")
	return a
}

// millis reads a member that holds a non-negative whole number of milliseconds; ok is false for anything else.
func millis(v *fastjson.Value, key string) (d time.Duration, ok bool) {
	n := v.Get(key)
	if n == nil || n.Type() != fastjson.TypeNumber {
		return 0, false
	}
	ms, err := n.Int64()
	if err != nil || ms < 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// merge overlays the members b carries.
func (a *Advice) Merge(b Advice) {
	if b.Reconnect != "" {
		a.Reconnect = b.Reconnect
	}
	if b.hasInterval {
		a.Interval, a.hasInterval = b.Interval, true
	}
	if b.hasTimeout {
		a.Timeout, a.hasTimeout = b.Timeout, true
	}
}

// connectTimeout is the HTTP timeout of a long poll: the advised hold plus a margin for the network, so the
// client never gives up on a poll the server is still entitled to hold .
func (a Advice) ConnectTimeout(margin time.Duration) time.Duration {
	hold := defaultConnectTimeout
	if a.hasTimeout {
		hold = a.Timeout
	}
	return hold + margin
}
