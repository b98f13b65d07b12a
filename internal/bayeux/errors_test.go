package bayeux

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"

	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
)

func TestClassifySalesforceErrors(t *testing.T) {
	tests := []struct {
		channel, text, reason string
		kind                  errKind
	}{
		{wire.ChannelConnect, "403::Unknown client", "", kindUnknownClient},
		{wire.ChannelConnect, "402::Unknown client", "", kindUnknownClient},
		{wire.ChannelConnect, "401::Authentication invalid", "", kindAuth},
		{wire.ChannelHandshake, "403::Handshake denied", "401::Authentication invalid", kindAuth},
		{wire.ChannelHandshake, "403::Handshake denied", "401::Request requires authentication", kindAuth},
		{wire.ChannelHandshake, "401::Request requires authentication", "", kindAuth},
		// Salesforce's documented busy sample pairs a 401 error with a 503 reason: the reason wins.
		{wire.ChannelConnect, "401::Authentication invalid", "503::Server is too busy.  Please try your request again later.", kindBusy},
		{wire.ChannelHandshake, "403::Handshake denied", "503::Server is too busy. Please try your request again later.", kindBusy},
		{wire.ChannelHandshake, "403::Handshake denied", "403::Organization concurrent user limit exceeded", kindLimit},
		{wire.ChannelHandshake, "403::Handshake denied", "403::To protect all customers from excessive use and Denial of Service attacks, we limit the number of simultaneous connections per server. Your request has been denied because this limit has been exceeded. Please try your request again later.", kindLimit},
		{wire.ChannelConnect, "403::Organization total events daily limit exceeded", "", kindLimit},
		{wire.ChannelSubscribe, "403::Organization total events daily limit exceeded", "", kindLimit},
		{wire.ChannelSubscribe, "403::Subscription limit exceeded for this topic", "", kindLimit},
		{wire.ChannelSubscribe, "400::The replayId {1553783} you provided was invalid. Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.", "", kindInvalidReplay},
		{wire.ChannelSubscribe, "403::Restricted channel", "", kindPermission},
		{wire.ChannelSubscribe, "403::User not enabled for streaming", "", kindPermission},
		{wire.ChannelSubscribe, "403::User not allowed to subscribe CDC without View All Data permissions", "", kindPermission},
		{wire.ChannelSubscribe, "403::Subscriber does not have access to the entity in this topic", "", kindPermission},
		{wire.ChannelSubscribe, "400::The channel you requested to subscribe to doesn’t exist {/topic/X}", "", kindPermission},
		{wire.ChannelSubscribe, "400::The channel you requested to subscribe to does not exist", "", kindPermission},
		{wire.ChannelSubscribe, "400::Channel subscriptions must start with a leading '/'", "", kindPermission},
		{wire.ChannelSubscribe, "403::No access on channel", "", kindPermission},
		{wire.ChannelSubscribe, "400::The replayId for channel {/topic/X} wasn't found using the provided replay ID map {{}}. Ensure...", "", kindOther},
		{wire.ChannelConnect, "400::Client {c} has established a session, but no BAYEUX_BROWSER cookie present", "", kindOther},
		{wire.ChannelConnect, "", "", kindOther},
	}
	for _, tt := range tests {
		t.Run(tt.text+"|"+tt.reason, func(t *testing.T) {
			err := classify(wire.Reply{Error: tt.text, FailureReason: tt.reason}, tt.channel, "/topic/X", 5)
			assert.Equal(t, tt.kind, kindOf(err), "%v", err)
			if tt.text != "" {
				assert.Contains(t, err.Error(), tt.text, "the Salesforce text is kept")
			}
			if tt.reason != "" && tt.reason != tt.text {
				assert.Contains(t, err.Error(), tt.reason)
			}
		})
	}
}

func TestTypedErrors(t *testing.T) {
	err := classify(wire.Reply{Error: "403::Restricted channel"}, wire.ChannelSubscribe, "/topic/X?A=1", 0)
	var pe *stream.PermissionError
	assert.True(t, errors.As(err, &pe))
	assert.Equal(t, "/topic/X?A=1", pe.Channel)
	assert.Equal(t, "Salesforce refused the subscription to /topic/X?A=1: 403::Restricted channel", err.Error())

	err = classify(wire.Reply{Error: "403::Unknown client"}, wire.ChannelConnect, "", 0)
	assert.ErrorIs(t, err, ErrUnknownClient)

	err = classify(wire.Reply{Error: "400::The replayId {9} you provided was invalid."}, wire.ChannelSubscribe, "/event/E__e", 9)
	var ie *stream.InvalidReplayError
	assert.True(t, errors.As(err, &ie))
	assert.Equal(t, int64(9), ie.ReplayID.Seq)

	assert.Equal(t, kindAuth, kindOf(&HTTPError{Status: 401}))
	assert.Equal(t, kindOther, kindOf(&HTTPError{Status: 503}))
}

func TestErrorCode(t *testing.T) {
	for s, want := range map[string]int{"403::Unknown client": 403, "503::x": 503, "401": 401, "40": 0, "abc::x": 0,
		"4031::x": 0, "": 0} {
		assert.Equal(t, want, errorCode(s), s)
	}
}

func TestBackoff(t *testing.T) {
	b := stream.BackoffConfig{Initial: 100 * time.Millisecond, Max: time.Second, Long: 10 * time.Second}.WithDefaults()
	for attempt, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 20 {
			d := b.Delay(attempt)
			assert.GreaterOrEqual(t, d, base/2, "attempt %d", attempt)
			assert.Less(t, d, base, "attempt %d", attempt)
		}
	}
	for range 20 {
		assert.GreaterOrEqual(t, b.LongDelay(), 5*time.Second)
	}
	def := stream.BackoffConfig{}.WithDefaults()
	assert.Equal(t, stream.BackoffConfig{Initial: time.Second, Max: time.Minute, Long: 2 * time.Minute}, def)
}

// Replies from Salesforce's documentation, decoded as the client reads them, are classified by their cause.
func TestClassifyDocumentedReplies(t *testing.T) {
	decode := func(t *testing.T, body, channel, id string) wire.Reply {
		t.Helper()
		ans, err := wire.NewSplitter(nil).Split([]byte(body))
		require.NoError(t, err)
		r, ok := wire.FindReply(ans.Replies, channel, id)
		require.True(t, ok)
		return r
	}
	t.Run("handshake denied 401", func(t *testing.T) {
		r := decode(t, `[{"ext":{"sfdc":{"failureReason":"401::Authentication invalid"},"replay":true,"payload.format":true},"advice":{"reconnect":"none"},"channel":"/meta/handshake","id":"2x","error":"403::Handshake denied","successful":false}]`,
			wire.ChannelHandshake, "2x")
		err := classify(r, wire.ChannelHandshake, "", 0)
		var ae *stream.AuthError
		require.ErrorAs(t, err, &ae)
		assert.Contains(t, err.Error(), "403::Handshake denied (401::Authentication invalid)")
	})
	t.Run("revoked token: server disconnect then 401", func(t *testing.T) {
		r := decode(t, `[{"channel":"/meta/disconnect"},{"clientId":"qzyabiswk9lddtqmjz","advice":{"interval":0,"reconnect":"none"},"channel":"/meta/connect","id":"1j3","error":"401::Authentication invalid","successful":false}]`,
			wire.ChannelConnect, "1j3")
		assert.Equal(t, kindAuth, kindOf(classify(r, wire.ChannelConnect, "", 0)))
	})
	t.Run("unknown client without channel and id", func(t *testing.T) {
		r := decode(t, `[{"advice":{"interval":0,"reconnect":"handshake"},"error":"403::Unknown client","successful":false}]`,
			wire.ChannelConnect, "5")
		assert.ErrorIs(t, classify(r, wire.ChannelConnect, "", 0), ErrUnknownClient)
	})
}

// stream.Classify puts every failure in the class both the client and the input wait by.
func TestClassify(t *testing.T) {
	se := func(text string) *ServerError { return &ServerError{Text: text} }
	tests := []struct {
		name string
		err  error
		want stream.Class
	}{
		{"dropped connection", errors.New("EOF"), stream.Retryable},
		{"load balancer 503", &HTTPError{Status: 503}, stream.Retryable},
		{"refused token", &stream.AuthError{Err: se("401::Authentication invalid")}, stream.Retryable},
		{"unknown client", se("403::Unknown client"), stream.Retryable},
		{"busy", &stream.LimitError{Busy: true, Err: se("503::Server is too busy")}, stream.Limit},
		{"limit", fmt.Errorf("handshaking: %w", &stream.LimitError{Err: se("403::Organization concurrent user limit exceeded")}), stream.Limit},
		{"refused login", &stream.AuthError{Err: &stream.LoginRejectedError{Err: errors.New("invalid_grant")}}, stream.Permanent},
		{"refused subscription", &stream.PermissionError{Channel: "/topic/X", Err: se("403::Restricted channel")}, stream.Permanent},
		{"invalid replay id", fmt.Errorf("subscribing: %w", &stream.InvalidReplayError{Channel: "/e/E", ReplayID: stream.Position{Seq: 5}, Err: se("400::The replayId {5} you provided was invalid.")}), stream.Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, stream.Classify(tt.err))
		})
	}
}
