package input

import (
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Structured fields of the input's log lines (with logger.format: json they
// are keys beside msg). Every line carries api and channel: the channel it
// is about (without a PushTopic filter, as in the metrics' labels), or, on a
// line about the whole session, the configured channels joined by commas.
// replay_id, reason and checkpoint_key come where they apply; the message
// text says the same in words.
const (
	logFieldAPI           = "api"
	logFieldChannel       = stream.LogFieldChannel
	logFieldReplayID      = stream.LogFieldReplayID
	logFieldReason        = stream.LogFieldReason
	logFieldCheckpointKey = "checkpoint_key"
)

// inputLoggers derives the input's loggers from the one Benthos gives it.
type inputLoggers struct {
	api     *service.Logger // api only, the base of the per-channel loggers
	session *service.Logger // api and every channel
}

func newInputLoggers(l *service.Logger, api apiKind, channels []string) inputLoggers {
	bases := make([]string, len(channels))
	for k, ch := range channels {
		bases[k] = stream.ChannelKey(ch)
	}
	withAPI := l.With(logFieldAPI, string(api))
	return inputLoggers{api: withAPI, session: withAPI.With(logFieldChannel, strings.Join(bases, ","))}
}

// channel is the logger of lines about one channel.
func (l inputLoggers) channel(ch string) *service.Logger {
	return l.api.With(logFieldChannel, stream.ChannelKey(ch))
}

// client is the logger the bayeux and Pub/Sub clients get: the session's,
// and a stream.FieldLogger, so that their lines about one channel carry it
// as the channel field instead of the list.
func (l inputLoggers) client() clientLogger {
	return clientLogger{Logger: l.session, api: l.api}
}

// clientLogger logs with its Logger; With derives from api (which has no
// channel field) when the pairs set the channel, so that no line holds the
// field twice.
type clientLogger struct {
	*service.Logger
	api *service.Logger
}

func (l clientLogger) With(keyValues ...any) stream.Logger {
	for k := 0; k+1 < len(keyValues); k += 2 {
		if keyValues[k] == logFieldChannel {
			return clientLogger{Logger: l.api.With(keyValues...), api: l.api}
		}
	}
	return clientLogger{Logger: l.Logger.With(keyValues...), api: l.api}
}

var _ stream.FieldLogger = clientLogger{}

// classReason is the reason field of a failure: what retrying can do about it.
func classReason(c stream.Class) string {
	switch c {
	case stream.Limit:
		return "limit"
	case stream.Permanent:
		return "permanent"
	}
	return "retryable"
}
