package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// ErrClosed is returned by calls on a closed Client or Subscription.
var ErrClosed = fmt.Errorf("pubsub client %w", stream.ErrClosed)

// Salesforce's custom error codes (the error-code trailer), the ones the client acts on
// (https://developer.salesforce.com/docs/platform/pub-sub-api/guide/handling-errors.html).
const (
	ErrorCodeAuth          = "sfdc.platform.eventbus.grpc.service.auth.error"
	ErrorCodeAuthRefresh   = "sfdc.platform.eventbus.grpc.service.auth.refresh.invalid"
	ErrorCodeReplayCorrupt = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
	ErrorCodeLimitExceeded = "sfdc.platform.eventbus.grpc.subscription.limit.exceeded"
)

// StatusError is a failed call as Salesforce reports it: the gRPC status, the custom code of the error-code
// trailer and the rpc id (trailer rpc-id, also at the end of the message after "rpcId: ").
type StatusError struct {
	Code      codes.Code
	Message   string
	ErrorCode string
	RPCID     string
}

func (e *StatusError) Error() string {
	msg := e.Code.String() + ": " + e.Message
	if e.ErrorCode != "" {
		msg += " (" + e.ErrorCode + ")"
	}
	return msg
}

// GRPCStatus lets status.Code and status.Convert read the original code.
func (e *StatusError) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// statusError builds a StatusError from a gRPC error and the call's trailer, every server text in it (the
// status message, the error-code and rpc-id trailers) quoted through the redactor: a server or a proxy may echo
// the accesstoken header into any of them, and they end up in errors, logs and /ready. Other trailers are never
// read. A response refused for its size becomes a TooLargeError. Errors without a status (a context ended)
// come back unchanged.
func (c *Client) statusError(err error, trailer metadata.MD) error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	if size, limit, ok := tooLarge(st); ok {
		return &TooLargeError{Size: size, Limit: limit}
	}
	e := &StatusError{Code: st.Code(), Message: c.red.QuoteString(st.Message())}
	if v := trailer.Get("error-code"); len(v) > 0 {
		e.ErrorCode = c.red.QuoteString(v[0])
	}
	if v := trailer.Get("rpc-id"); len(v) > 0 {
		e.RPCID = c.red.QuoteString(v[0])
	} else if _, id, ok := strings.Cut(e.Message, "rpcId: "); ok {
		e.RPCID = strings.TrimSpace(id)
	}
	return e
}

// tooLarge recognises gRPC's own refusal of a message above MaxCallRecvMsgSize ("grpc: received message larger
// than max (N vs. M)"), which the client library raises before reading the message.
func tooLarge(st *status.Status) (size, limit int64, ok bool) {
	if st.Code() != codes.ResourceExhausted {
		return 0, 0, false
	}
	_, rest, found := strings.Cut(st.Message(), "received message larger than max (")
	if !found {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(rest, "%d vs. %d)", &size, &limit); err != nil {
		return 0, 0, false
	}
	return size, limit, true
}

// TooLargeError is a response the client refused unread because it exceeds Config.MaxResponseBytes.
type TooLargeError struct {
	Topic       string
	Size, Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("a response on %s of %d bytes exceeds the %d-byte limit (Salesforce caps an event at 1 MB); "+
		"it was refused unread", e.Topic, e.Size, e.Limit)
}

// FlowError is a server that sent more events than the stream had requested: the excess is dropped unread and
// the stream ends, so that the next one resubscribes after the last event handed on.
type FlowError struct {
	Topic              string
	Received, Expected int
}

func (e *FlowError) Error() string {
	return fmt.Sprintf("the server sent %d events on %s where %d were requested (flow control violated); "+
		"dropped the excess and resubscribing after the last event handed on", e.Received, e.Topic, e.Expected)
}

// errKind is how a subscription reacts to a failure, the same reactions as the CometD client's.
type errKind int

const (
	kindRetryable     errKind = iota // dropped stream, server errors: backoff, then resubscribe
	kindAuth                         // refresh the token, then resubscribe
	kindLimit                        // Backoff.Long
	kindPermanent                    // permission or unknown topic: Backoff.Long on a resubscribe
	kindInvalidReplay                // OnInvalidReplayID
	kindClosed                       // the caller closed the subscription
	kindTooLarge                     // a response above MaxResponseBytes: backoff, smaller requests
)

func (k errKind) String() string {
	return [...]string{"retryable", "auth", "limit", "permanent", "invalid_replay", "closed", "too_large"}[k]
}

// classify wraps a call's failure into the error callers see and tells the reaction.
func classify(err error, topic string, replayID []byte) (errKind, error) {
	var (
		ae *stream.AuthError
		se *StatusError
		tl *TooLargeError
	)
	switch {
	case errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled):
		return kindClosed, err
	case errors.As(err, &tl):
		if tl.Topic == "" {
			tl.Topic = topic
		}
		return kindTooLarge, err
	case errors.As(err, &ae):
		return kindAuth, err
	case !errors.As(err, &se):
		return kindRetryable, err
	}
	switch {
	case se.Code == codes.Unauthenticated || se.ErrorCode == ErrorCodeAuth || se.ErrorCode == ErrorCodeAuthRefresh:
		return kindAuth, &stream.AuthError{Err: se}
	case se.ErrorCode == ErrorCodeReplayCorrupt ||
		(se.Code == codes.InvalidArgument && strings.Contains(strings.ToLower(se.Message), "replay")):
		return kindInvalidReplay, &stream.InvalidReplayError{Channel: topic, ReplayID: stream.Position{Opaque: string(replayID)}, Err: se}
	case se.Code == codes.ResourceExhausted || strings.Contains(se.ErrorCode, "limit.exceeded"):
		return kindLimit, &stream.LimitError{Err: se}
	case se.Code == codes.PermissionDenied || se.Code == codes.NotFound || se.Code == codes.InvalidArgument ||
		se.Code == codes.Unimplemented || se.Code == codes.FailedPrecondition:
		return kindPermanent, &stream.PermissionError{Channel: topic, Err: se}
	}
	return kindRetryable, se
}
