package pubsub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

func TestStatusError(t *testing.T) {
	err := testClient().statusError(status.Error(codes.InvalidArgument, "The Replay ID validation failed. rpcId: 1234-abcd"),
		metadata.Pairs("error-code", ErrorCodeReplayCorrupt))
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, codes.InvalidArgument, se.Code)
	assert.Equal(t, ErrorCodeReplayCorrupt, se.ErrorCode)
	assert.Equal(t, "1234-abcd", se.RPCID, "from the message when the trailer has none")
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "status.Code still reads it")

	se2 := testClient().statusError(status.Error(codes.Internal, "x"), metadata.Pairs("rpc-id", "r1")).(*StatusError)
	assert.Equal(t, "r1", se2.RPCID)
	assert.Equal(t, io.EOF, testClient().statusError(io.EOF, nil), "a non-status error comes back unchanged")
	assert.NoError(t, testClient().statusError(nil, nil))
}

func TestClassify(t *testing.T) {
	st := func(c codes.Code, msg, code string) error {
		return &StatusError{Code: c, Message: msg, ErrorCode: code}
	}
	tests := []struct {
		name string
		err  error
		kind errKind
		as   any
	}{
		{"unauthenticated", st(codes.Unauthenticated, "expired", ErrorCodeAuth), kindAuth, new(*stream.AuthError)},
		{"auth refresh invalid", st(codes.PermissionDenied, "refresh", ErrorCodeAuthRefresh), kindAuth, new(*stream.AuthError)},
		{"token source failure", &stream.AuthError{Err: errors.New("invalid_grant")}, kindAuth, new(*stream.AuthError)},
		{"replay corrupted", st(codes.InvalidArgument, "validation failed", ErrorCodeReplayCorrupt), kindInvalidReplay, new(*stream.InvalidReplayError)},
		{"replay without code", st(codes.InvalidArgument, "The Replay ID is invalid", ""), kindInvalidReplay, new(*stream.InvalidReplayError)},
		{"limit code", st(codes.Unknown, "too many", ErrorCodeLimitExceeded), kindLimit, new(*stream.LimitError)},
		{"resource exhausted", st(codes.ResourceExhausted, "quota", ""), kindLimit, new(*stream.LimitError)},
		{"unknown topic", st(codes.NotFound, "topic not found", ""), kindPermanent, new(*stream.PermissionError)},
		{"permission denied", st(codes.PermissionDenied, "no access", ""), kindPermanent, new(*stream.PermissionError)},
		{"other invalid argument", st(codes.InvalidArgument, "topic differs", ""), kindPermanent, new(*stream.PermissionError)},
		{"unavailable", st(codes.Unavailable, "reset", ""), kindRetryable, new(*StatusError)},
		{"internal", st(codes.Internal, "oops", ""), kindRetryable, new(*StatusError)},
		{"dropped connection", io.ErrUnexpectedEOF, kindRetryable, nil},
		{"closed", ErrClosed, kindClosed, nil},
		{"cancelled", context.Canceled, kindClosed, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, wrapped := classify(tc.err, "/event/X__e", []byte{1})
			assert.Equal(t, tc.kind, kind, kind.String())
			if tc.as != nil {
				assert.ErrorAs(t, wrapped, tc.as)
			}
			assert.ErrorIs(t, wrapped, tc.err, "the original error stays reachable")
		})
	}
}

// A replay id read from a checkpoint can be any size: its error stays short.
func TestInvalidReplayErrorBoundsTheID(t *testing.T) {
	short := &stream.InvalidReplayError{Channel: "/event/A__e", ReplayID: stream.Position{Opaque: string([]byte{0, 1, 0xff})}, Err: &StatusError{}}
	assert.Contains(t, short.Error(), "replay id 0001ff of /event/A__e")
	huge := &stream.InvalidReplayError{Channel: "/event/A__e", ReplayID: stream.Position{Opaque: string(make([]byte, 768<<10))}, Err: &StatusError{}}
	assert.Less(t, len(huge.Error()), 300, "a 768 KB replay id makes a short error")
	assert.Contains(t, huge.Error(), "... (786432 bytes) of /event/A__e")
}

// TestStreamClassOfErrors: the input classifies the client's errors through stream.Classify alone, as it
// classifies the CometD client's: a refused subscription and an invalid replay id are permanent, a limit a limit.
func TestStreamClassOfErrors(t *testing.T) {
	se := &StatusError{Code: codes.Unavailable, Message: "x"}
	tests := []struct {
		name string
		err  error
		want stream.Class
	}{
		{"status", se, stream.Retryable},
		{"permission", fmt.Errorf("subscribing: %w", &stream.PermissionError{Channel: "/e/E", Err: se}), stream.Permanent},
		{"limit", &stream.LimitError{Err: se}, stream.Limit},
		{"invalid replay id", &stream.InvalidReplayError{Channel: "/e/E", Err: se}, stream.Permanent},
		{"too large", &TooLargeError{}, stream.Retryable},
		{"refused login", &stream.AuthError{Err: &stream.LoginRejectedError{Err: errors.New("invalid_grant")}}, stream.Permanent},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, stream.Classify(tt.err), tt.name)
	}
	ch, ok := stream.InvalidReplayChannel(fmt.Errorf("x: %w", &stream.InvalidReplayError{Channel: "/e/E", Err: se}))
	assert.True(t, ok)
	assert.Equal(t, "/e/E", ch)
	assert.ErrorIs(t, ErrClosed, stream.ErrClosed)
}
