package input

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// frameworkLines start the lines Benthos itself logs under the input's path
// (its input wrapper's, not the input's): they cannot carry our fields.
var frameworkLines = []string{"Input type salesforce_streaming is now active", "Consumed ", "Waiting for pending acks", "Pending acks resolved"}

// TestLogLinesCarryFields runs a stream over each API with a JSON logger at
// debug level and checks every line of the input (Benthos' path
// root.input, less the framework's own): it carries api and channel as
// fields; the lines about one channel name it alone, and over CometD the
// start lines carry the replay_id and the session lines every channel.
func TestLogLinesCarryFields(t *testing.T) {
	emu, url, addr := startPubSubEmulator(t, sfemu.Config{})
	channels := []string{"/event/Order__e", "/data/AccountChangeEvent"}
	for _, ch := range channels {
		_, _, err := emu.PublishN(ch, 5)
		require.NoError(t, err)
	}
	for _, api := range []apiKind{apiStreaming, apiPubSub} {
		t.Run(string(api), func(t *testing.T) {
			fields := "  channels: [ /event/Order__e, /data/AccountChangeEvent ]\n  replay_preset: earliest\n  limits_interval: 1s\n"
			if api == apiPubSub {
				fields = pubsubFields(addr, fields)
			}
			var buf syncBuffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := newCollector()
			rs := startStreamWith(t, url, fields, c, streamOpts{logger: logger, cacheYAML: "label: replay_ids\nfile:\n  directory: " + t.TempDir() + "\n"})
			c.waitFor(t, 10)
			rs.stop(t)

			lines := jsonLogLines(t, buf.String())
			byChannel := map[string]int{}
			withReplayID := 0
			inputLines := 0
			for _, l := range lines {
				msg, _ := l["msg"].(string)
				if l["path"] != "root.input" || hasAnyPrefix(msg, frameworkLines) {
					continue
				}
				inputLines++
				assert.Equal(t, string(api), l[logFieldAPI], "%v", l)
				ch, _ := l[logFieldChannel].(string)
				assert.NotEmpty(t, ch, "%v", l)
				byChannel[ch]++
				if _, ok := l[logFieldReplayID]; ok {
					withReplayID++
				}
			}
			require.NotZero(t, inputLines, "the input logged: %s", buf.String())
			for _, ch := range channels {
				assert.NotZero(t, byChannel[ch], "a line about %s alone: %v", ch, byChannel)
			}
			if api == apiStreaming {
				assert.NotZero(t, byChannel[strings.Join(channels, ",")], "session lines name every channel: %v", byChannel)
				assert.GreaterOrEqual(t, withReplayID, 2, "each channel's start line carries its replay_id")
			}
		})
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestClientLoggerFields: the clients' lines carry the session's fields, and
// a line about one channel names that channel once, in place of the list.
func TestClientLoggerFields(t *testing.T) {
	var buf syncBuffer
	logs := newInputLoggers(jsonLogger(&buf), apiPubSub, []string{"/event/A__e", "/topic/B?X__c=1"})
	c := logs.client()
	c.Infof("session line")
	stream.WithFields(c, logFieldChannel, "/event/A__e", logFieldReplayID, 7).Warnf("channel line")
	stream.WithFields(c, logFieldReason, "limit").Errorf("reason line")

	raw := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, raw, 3)
	for _, line := range raw {
		assert.Equal(t, 1, strings.Count(line, `"channel":`), "one channel field: %s", line)
	}
	lines := jsonLogLines(t, buf.String())
	assert.Equal(t, "/event/A__e,/topic/B", lines[0][logFieldChannel])
	assert.Equal(t, "/event/A__e", lines[1][logFieldChannel])
	assert.Equal(t, "7", lines[1][logFieldReplayID])
	assert.Equal(t, "/event/A__e,/topic/B", lines[2][logFieldChannel])
	assert.Equal(t, "limit", lines[2][logFieldReason])
	for _, l := range lines {
		assert.Equal(t, "pubsub", l[logFieldAPI])
	}
}
