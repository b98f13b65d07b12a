package bayeux

import (
	"errors"
	"fmt"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// ErrClosed is returned by Next and Start after Close.
var ErrClosed = fmt.Errorf("bayeux client %w", stream.ErrClosed)

// ErrUnknownClient is matched (errors.Is) by a ServerError saying the server no longer knows the client
// ("403::Unknown client" on Salesforce, "402::Unknown client" on standard CometD). The client recovers from it
// by itself; it is exported so callers and tests can recognise it.
var ErrUnknownClient = errors.New("unknown client")

// ServerError is an unsuccessful Bayeux reply, carrying Salesforce's texts verbatim.
type ServerError struct {
	Channel       string // the meta channel of the request: /meta/handshake, /meta/subscribe, /meta/connect
	Subscription  string // for /meta/subscribe
	Text          string // the `error` member, e.g. "403::Handshake denied"
	FailureReason string // ext.sfdc.failureReason, e.g. "401::Authentication invalid"
}

func (e *ServerError) Error() string {
	msg := e.Text
	if msg == "" {
		msg = "unsuccessful reply without an error text"
	}
	if e.FailureReason != "" && e.FailureReason != e.Text {
		msg += " (" + e.FailureReason + ")"
	}
	return msg
}

// Is makes errors.Is(err, ErrUnknownClient) work.
func (e *ServerError) Is(target error) bool {
	return target == ErrUnknownClient && e.kind() == kindUnknownClient
}

// errorCode parses the "<code>" of "<code>:<args>:<message>" (three digits), 0 if absent.
func errorCode(s string) int {
	if len(s) < 3 {
		return 0
	}
	n := 0
	for _, c := range []byte(s[:3]) {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	if len(s) > 3 && s[3] != ':' {
		return 0
	}
	return n
}

// HTTPError is a CometD answer with an HTTP status other than 200 (load balancer errors, 413, ...).
type HTTPError struct {
	Status int
	Body   string // first bytes of the body, for the log
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP status %d", e.Status)
	}
	return fmt.Sprintf("HTTP status %d: %s", e.Status, e.Body)
}

// errKind is how the session reacts to a failure.
type errKind int

const (
	kindOther errKind = iota
	kindUnknownClient
	kindAuth
	kindLoginRejected
	kindBusy
	kindLimit
	kindPermission
	kindInvalidReplay
)

func (e *ServerError) kind() errKind {
	both := e.Text + "\n" + e.FailureReason
	lower := strings.ToLower(both)
	switch {
	// The documented 503 sample has error "401::Authentication invalid" next to failureReason 503: the reason wins.
	case errorCode(e.FailureReason) == 503 || errorCode(e.Text) == 503 || strings.Contains(lower, "too busy"):
		return kindBusy
	case strings.Contains(lower, "unknown client"):
		return kindUnknownClient
	case errorCode(e.FailureReason) == 401 || errorCode(e.Text) == 401 ||
		strings.Contains(lower, "requires authentication") || strings.Contains(lower, "authentication invalid"):
		return kindAuth
	case containsAny(lower, "concurrent user limit", "simultaneous connections", "daily limit",
		"subscription limit exceeded", "maximum channel limit", "limit exceeded"):
		return kindLimit
	case strings.Contains(lower, "replayid") && strings.Contains(lower, "invalid"):
		return kindInvalidReplay
	case containsAny(lower, "restricted channel", "not enabled for streaming", "view all data",
		"does not have access", "no access on channel", "t exist", "unknown channel",
		"must start with a leading", "channel name not specified", "may not vary only by case"):
		return kindPermission
	}
	return kindOther
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// classify turns an unsuccessful reply to a request on channel into the error callers see.
func classify(r wire.Reply, channel, subscription string, replayID int64) error {
	se := &ServerError{Channel: channel, Subscription: subscription, Text: r.Error, FailureReason: r.FailureReason}
	switch se.kind() {
	case kindAuth:
		return &stream.AuthError{Err: se}
	case kindBusy:
		return &stream.LimitError{Busy: true, Err: se}
	case kindLimit:
		return &stream.LimitError{Err: se}
	case kindPermission:
		if channel == wire.ChannelSubscribe {
			return &stream.PermissionError{Channel: subscription, Err: se}
		}
	case kindInvalidReplay:
		if channel == wire.ChannelSubscribe {
			return &stream.InvalidReplayError{Channel: subscription, ReplayID: stream.Position{Seq: replayID}, Err: se}
		}
	}
	return se
}

// classOf is the stream.Class of a kind: the one classification the input shares with the Pub/Sub client.
func classOf(k errKind) stream.Class {
	switch k {
	case kindBusy, kindLimit:
		return stream.Limit
	case kindLoginRejected, kindPermission, kindInvalidReplay:
		return stream.Permanent
	}
	return stream.Retryable
}

// Class makes the client's own errors stream.Classed: stream.Classify reads them without importing this package
// (a bare ServerError of a busy server is a limit, as its LimitError would be).
func (e *ServerError) Class() stream.Class { return classOf(e.kind()) }
func (e *HTTPError) Class() stream.Class   { return classOf(kindOf(e)) }

// kindOf tells how the session must react to err: finer than Class, for the session's own recovery.
func kindOf(err error) errKind {
	var (
		lr *stream.LoginRejectedError
		ae *stream.AuthError
		le *stream.LimitError
		pe *stream.PermissionError
		ie *stream.InvalidReplayError
		se *ServerError
		he *HTTPError
	)
	switch {
	case errors.As(err, &lr):
		return kindLoginRejected
	case errors.As(err, &ae):
		return kindAuth
	case errors.As(err, &le):
		if le.Busy {
			return kindBusy
		}
		return kindLimit
	case errors.As(err, &pe):
		return kindPermission
	case errors.As(err, &ie):
		return kindInvalidReplay
	case errors.As(err, &he):
		if he.Status == 401 {
			return kindAuth
		}
		return kindOther // including a load balancer's 503: ordinary backoff, not Salesforce's "too busy"
	case errors.As(err, &se):
		return se.kind()
	}
	return kindOther
}
