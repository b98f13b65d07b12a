package pubsubapi

import (
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/streamerr"
)

// The control API's faults applied to Pub/Sub streams (docs/pubsub.md):
//
//   - subscribe_error refuses a Subscribe as it refuses a CometD subscribe, with the gRPC status Salesforce uses
//     for that kind of refusal (a topic limit is RESOURCE_EXHAUSTED, a missing channel NOT_FOUND, the rest
//     PERMISSION_DENIED) and the CometD text as the message;
//   - drop_connection ends one open stream with UNAVAILABLE, as a cut connection does;
//   - server_disconnect ends one open stream cleanly (status OK): the server closing its side;
//   - slow_response delays the next response of a stream (wall-clock time, like the CometD fault);
//   - revoke_tokens and daily_limit end streams at their next step (subscribe.go).
//
// Counted faults are shared with CometD: whichever request or stream meets one first consumes it.

// subscribeRefusalLocked consumes a subscribe_error fault matching topic and returns its refusal.
func (s *Handler) subscribeRefusalLocked(topic string) (code codes.Code, errorCode, msg string, refused bool) {
	text := s.deps.Faults.TakeSubscribeError(topic, topic)
	if text == "" {
		return codes.OK, "", "", false
	}
	msg = text
	if parts := strings.SplitN(text, ":", 3); len(parts) == 3 {
		msg = parts[2]
	}
	switch text {
	case streamerr.TopicLimit:
		return codes.ResourceExhausted, errCodeLimitExceeded, msg, true
	case streamerr.UnknownChannel:
		return codes.NotFound, "", msg, true
	}
	if strings.HasPrefix(text, "400::") { // the channel does not exist
		return codes.NotFound, "", msg, true
	}
	return codes.PermissionDenied, "", msg, true
}
