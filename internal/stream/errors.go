package stream

import "errors"

// ErrClosed is matched (errors.Is) by the error of a call on a source or client that was closed; each client's
// own ErrClosed wraps it, so the input recognises a close of either without importing them.
var ErrClosed = errors.New("closed")

// Class is what retrying can do about a failure; the clients and the input choose their waits by it.
type Class int

const (
	// Retryable failures may pass by themselves: dropped connections, HTTP errors, a refused token (a new one is
	// requested), an unknown client. Wait the ordinary backoff.
	Retryable Class = iota
	// Limit failures pass in minutes: an org or server limit, a busy server. Wait Backoff.Long.
	Limit
	// Permanent failures do not pass without a change of configuration, credentials, permissions or checkpoint:
	// a refused login, a refused subscription, an invalid replay id with policy fail. Wait Backoff.Long and say so.
	Permanent
)

// Classed is implemented by the clients' errors that know their class (a limit, a refused subscription, an
// invalid replay id, a server error).
type Classed interface {
	error
	Class() Class
}

// InvalidReplay is implemented by the clients' errors of a subscription refused for its replay id.
type InvalidReplay interface {
	error
	// InvalidReplayChannel is the channel (topic) whose replay id was refused.
	InvalidReplayChannel() string
}

// Classify tells the class of err, the one classification of both APIs: a refused login is permanent and a
// refused token retryable whatever they wrap; otherwise the outermost Classed error in the chain decides;
// anything else is retryable.
func Classify(err error) Class {
	var (
		lr *LoginRejectedError
		ae *AuthError
		ce Classed
	)
	switch {
	case errors.As(err, &lr):
		return Permanent
	case errors.As(err, &ae):
		return Retryable
	case errors.As(err, &ce):
		return ce.Class()
	}
	return Retryable
}

// InvalidReplayChannel returns the channel of an invalid-replay-id error of either client.
func InvalidReplayChannel(err error) (string, bool) {
	var ir InvalidReplay
	if errors.As(err, &ir) {
		return ir.InvalidReplayChannel(), true
	}
	return "", false
}

// AuthError means Salesforce refused the access token (401, UNAUTHENTICATED) or the token source failed.
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return "authentication failed: " + e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// LoginRejectedError is what a TokenSource returns (wrapping its own error) when the token endpoint refused the
// credentials themselves: retrying soon cannot help, and with a password each refused login counts toward the
// user's lockout. Clients then wait Backoff.Long between logins, at start and mid-session alike.
type LoginRejectedError struct{ Err error }

func (e *LoginRejectedError) Error() string { return e.Err.Error() }
func (e *LoginRejectedError) Unwrap() error { return e.Err }
