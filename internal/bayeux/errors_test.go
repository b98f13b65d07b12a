package bayeux

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestClassifySalesforceErrors(t *testing.T) {
	tests := []struct {
		channel, text, reason string
		kind                  errKind
	}{
		{channelConnect, "403::Unknown client", "", kindUnknownClient},
		{channelConnect, "402::Unknown client", "", kindUnknownClient},
		{channelConnect, "401::Authentication invalid", "", kindAuth},
		{channelHandshake, "403::Handshake denied", "401::Authentication invalid", kindAuth},
		{channelHandshake, "403::Handshake denied", "401::Request requires authentication", kindAuth},
		{channelHandshake, "401::Request requires authentication", "", kindAuth},
		// Salesforce's documented busy sample pairs a 401 error with a 503 reason: the reason wins.
		{channelConnect, "401::Authentication invalid", "503::Server is too busy.  Please try your request again later.", kindBusy},
		{channelHandshake, "403::Handshake denied", "503::Server is too busy. Please try your request again later.", kindBusy},
		{channelHandshake, "403::Handshake denied", "403::Organization concurrent user limit exceeded", kindLimit},
		{channelHandshake, "403::Handshake denied", "403::To protect all customers from excessive use and Denial of Service attacks, we limit the number of simultaneous connections per server. Your request has been denied because this limit has been exceeded. Please try your request again later.", kindLimit},
		{channelConnect, "403::Organization total events daily limit exceeded", "", kindLimit},
		{channelSubscribe, "403::Organization total events daily limit exceeded", "", kindLimit},
		{channelSubscribe, "403::Subscription limit exceeded for this topic", "", kindLimit},
		{channelSubscribe, "400::The replayId {1553783} you provided was invalid. Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.", "", kindInvalidReplay},
		{channelSubscribe, "403::Restricted channel", "", kindPermission},
		{channelSubscribe, "403::User not enabled for streaming", "", kindPermission},
		{channelSubscribe, "403::User not allowed to subscribe CDC without View All Data permissions", "", kindPermission},
		{channelSubscribe, "403::Subscriber does not have access to the entity in this topic", "", kindPermission},
		{channelSubscribe, "400::The channel you requested to subscribe to doesn’t exist {/topic/X}", "", kindPermission},
		{channelSubscribe, "400::The channel you requested to subscribe to does not exist", "", kindPermission},
		{channelSubscribe, "400::Channel subscriptions must start with a leading '/'", "", kindPermission},
		{channelSubscribe, "403::No access on channel", "", kindPermission},
		{channelSubscribe, "400::The replayId for channel {/topic/X} wasn't found using the provided replay ID map {{}}. Ensure...", "", kindOther},
		{channelConnect, "400::Client {c} has established a session, but no BAYEUX_BROWSER cookie present", "", kindOther},
		{channelConnect, "", "", kindOther},
	}
	for _, tt := range tests {
		t.Run(tt.text+"|"+tt.reason, func(t *testing.T) {
			err := classify(reply{Error: tt.text, FailureReason: tt.reason}, tt.channel, "/topic/X", 5)
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
	err := classify(reply{Error: "403::Restricted channel"}, channelSubscribe, "/topic/X?A=1", 0)
	var pe *PermissionError
	assert.True(t, errors.As(err, &pe))
	assert.Equal(t, "/topic/X?A=1", pe.Channel)
	assert.Equal(t, "Salesforce refused the subscription to /topic/X?A=1: 403::Restricted channel", err.Error())

	err = classify(reply{Error: "403::Unknown client"}, channelConnect, "", 0)
	assert.ErrorIs(t, err, ErrUnknownClient)

	err = classify(reply{Error: "400::The replayId {9} you provided was invalid."}, channelSubscribe, "/event/E__e", 9)
	var ie *InvalidReplayError
	assert.True(t, errors.As(err, &ie))
	assert.Equal(t, int64(9), ie.ReplayID)

	assert.Equal(t, kindAuth, kindOf(&HTTPError{Status: 401}))
	assert.Equal(t, kindOther, kindOf(&HTTPError{Status: 503}))
}

func TestErrorCode(t *testing.T) {
	for s, want := range map[string]int{"403::Unknown client": 403, "503::x": 503, "401": 401, "40": 0, "abc::x": 0,
		"4031::x": 0, "": 0} {
		assert.Equal(t, want, errorCode(s), s)
	}
	assert.Equal(t, "Unknown client", errorMessage("403::Unknown client"))
	assert.Equal(t, "no code here", errorMessage("no code here"))
}

func TestBackoff(t *testing.T) {
	b := BackoffConfig{Initial: 100 * time.Millisecond, Max: time.Second, Long: 10 * time.Second}.withDefaults()
	for attempt, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 20 {
			d := b.Delay(attempt)
			assert.GreaterOrEqual(t, d, base/2, "attempt %d", attempt)
			assert.Less(t, d, base, "attempt %d", attempt)
		}
	}
	for range 20 {
		assert.GreaterOrEqual(t, b.long(), 5*time.Second)
	}
	def := BackoffConfig{}.withDefaults()
	assert.Equal(t, BackoffConfig{Initial: time.Second, Max: time.Minute, Long: 2 * time.Minute}, def)
}

func TestAdviceMerge(t *testing.T) {
	var a advice
	assert.Equal(t, 110*time.Second+time.Second, a.connectTimeout(time.Second), "Salesforce's hold before any advice")
	a.merge(advice{Reconnect: "retry", Timeout: 110 * time.Second, hasTimeout: true, hasInterval: true})
	a.merge(advice{Reconnect: "handshake"}) // a later advice without timings keeps them
	assert.Equal(t, "handshake", a.Reconnect)
	assert.Equal(t, 125*time.Second, a.connectTimeout(15*time.Second), "HTTP timeout above advice.timeout")
	assert.Equal(t, time.Duration(0), a.Interval)
}
