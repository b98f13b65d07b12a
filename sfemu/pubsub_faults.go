package sfemu

import (
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// The control API's faults applied to Pub/Sub streams (docs/pubsub.md):
//
//   - subscribe_error refuses a Subscribe as it refuses a CometD subscribe, with the gRPC status Salesforce uses
//     for that kind of refusal (a topic limit is RESOURCE_EXHAUSTED, a missing channel NOT_FOUND, the rest
//     PERMISSION_DENIED) and the CometD text as the message;
//   - drop_connection ends one open stream with UNAVAILABLE, as a cut connection does;
//   - server_disconnect ends one open stream cleanly (status OK): the server closing its side;
//   - slow_response delays the next response of a stream (wall-clock time, like the CometD fault);
//   - revoke_tokens and daily_limit end streams at their next step (pubsub_subscribe.go).
//
// Counted faults are shared with CometD: whichever request or stream meets one first consumes it.

// subscribeRefusalLocked consumes a subscribe_error fault matching topic and returns its refusal.
func (s *faultSet) subscribeRefusalLocked(topic string) (code codes.Code, errorCode, msg string, refused bool) {
	text := s.takeSubscribeErrorLocked(topic, topic)
	if text == "" {
		return codes.OK, "", "", false
	}
	msg = text
	if parts := strings.SplitN(text, ":", 3); len(parts) == 3 {
		msg = parts[2]
	}
	switch text {
	case errTopicLimit:
		return codes.ResourceExhausted, errCodeLimitExceeded, msg, true
	case errUnknownChannel:
		return codes.NotFound, "", msg, true
	}
	if strings.HasPrefix(text, "400::") { // the channel does not exist
		return codes.NotFound, "", msg, true
	}
	return codes.PermissionDenied, "", msg, true
}

// streamFault is what a transport fault does to a stream.
type streamFault int

const (
	streamOK    streamFault = iota
	streamDrop              // end with UNAVAILABLE
	streamClose             // end cleanly
	streamSlow              // delay the response about to go out
)

// takeStreamFaultLocked consumes a transport fault for a stream; a delay only when it is about to send.
func (s *faultSet) takeStreamFaultLocked(sending bool) (streamFault, time.Duration) {
	f := &s.faults
	switch {
	case f.DropConnection > 0:
		f.DropConnection--
		s.counters.dropped.Add(1)
		return streamDrop, 0
	case f.ServerDisconnect > 0:
		f.ServerDisconnect--
		return streamClose, 0
	case sending && f.SlowResponse > 0:
		f.SlowResponse--
		return streamSlow, f.SlowDelay
	}
	return streamOK, 0
}
