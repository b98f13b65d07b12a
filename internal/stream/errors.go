package stream

import (
	"errors"
	"fmt"
	"strconv"
)

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

// Classed is implemented by the errors that know their class: the refusals below, and a client's own server
// errors (a CometD error text, a gRPC status) that say a limit or a refusal by themselves.
type Classed interface {
	error
	Class() Class
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
	var ir *InvalidReplayError
	if errors.As(err, &ir) {
		return ir.Channel, true
	}
	return "", false
}

// The refusals both clients report alike. Err is the client's own error with Salesforce's text (a CometD
// error reply, a gRPC status), redacted by the client.

// PermissionError is a permanent refusal to subscribe a channel: a restricted channel, a user without streaming
// permission or without View All Data, no access to the entity, a channel or topic that does not exist.
type PermissionError struct {
	Channel string
	Err     error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("Salesforce refused the subscription to %s: %s", e.Channel, e.Err)
}
func (e *PermissionError) Unwrap() error { return e.Err }
func (e *PermissionError) Class() Class  { return Permanent }

// LimitError is an org or server limit: concurrent clients, simultaneous connections, daily events or delivery
// allocations, a topic's subscriptions, or (Busy) a busy server. Clients wait Backoff.Long before trying again.
type LimitError struct {
	Busy bool // 503 Server is too busy
	Err  error
}

func (e *LimitError) Error() string {
	if e.Busy {
		return "Salesforce is too busy: " + e.Err.Error()
	}
	return "Salesforce limit reached: " + e.Err.Error()
}
func (e *LimitError) Unwrap() error { return e.Err }
func (e *LimitError) Class() Class  { return Limit }

// InvalidReplayError is a subscription refused because its replay id is no longer retained, never existed or is
// corrupted. ReplayID is the refused position: CometD's id in Seq, a Pub/Sub id in Opaque.
type InvalidReplayError struct {
	Channel  string
	ReplayID Position
	Err      error
}

func (e *InvalidReplayError) Error() string {
	return fmt.Sprintf("replay id %s of %s is not valid any more: %s", showReplayID(e.ReplayID), e.Channel, e.Err)
}
func (e *InvalidReplayError) Unwrap() error { return e.Err }
func (e *InvalidReplayError) Class() Class  { return Permanent }

// maxShownReplayID bounds the bytes of an opaque replay id an error shows: the id can come from a checkpoint
// store holding anything (a 768 KB value once made a 1.5 MB log line).
const maxShownReplayID = 32

// showReplayID writes a refused replay id for an error: CometD's in decimal, an opaque one in hex, at most
// maxShownReplayID bytes of it.
func showReplayID(p Position) string {
	id := p.Opaque
	switch {
	case id == "":
		return strconv.FormatInt(p.Seq, 10)
	case len(id) <= maxShownReplayID:
		return fmt.Sprintf("%x", id)
	}
	return fmt.Sprintf("%x... (%d bytes)", id[:maxShownReplayID], len(id))
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
