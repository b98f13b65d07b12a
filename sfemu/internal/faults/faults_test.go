package faults

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/streamerr"
)

func TestApplyRejects(t *testing.T) {
	cases := []struct {
		name string
		req  Request
		want string
	}{
		{"no fault", Request{}, "fault not given"},
		{"unknown", Request{Fault: "nope"}, `unknown fault "nope"`},
		{"negative count", Request{Fault: ServerBusy, Count: -1}, "count -1 outside"},
		{"bad status", Request{Fault: HTTPError, Status: 42}, "status 42 is not an HTTP status"},
		{"bad delay", Request{Fault: SlowResponse, Delay: json.RawMessage(`"soon"`)}, `parsing delay "soon"`},
		{"long delay", Request{Fault: SlowResponse, Delay: json.RawMessage(`"11m"`)}, "outside 0..10m"},
		{"subscribe error text", Request{Fault: SubscribeError, Error: "500::nope"}, "is not a Salesforce subscribe error"},
		{"subscribe error channel", Request{Fault: SubscribeError, Error: streamerr.NoAccess, Channel: "topic/X"}, "must start with '/'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			err := s.Apply(tc.req)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, State{}, s.Snapshot(), "a rejected fault records nothing")
		})
	}
}

func TestCountedFaultsAreConsumedOnce(t *testing.T) {
	s := New()
	require.NoError(t, s.Apply(Request{Fault: ServerBusy, Count: 2}))
	require.NoError(t, s.Apply(Request{Fault: DropConnection}))
	assert.True(t, s.TakeServerBusy())
	assert.True(t, s.TakeServerBusy())
	assert.False(t, s.TakeServerBusy())
	assert.True(t, s.TakeDropConnection())
	assert.False(t, s.TakeDropConnection())
	assert.Equal(t, int64(1), s.Dropped())

	require.NoError(t, s.Apply(Request{Fault: SlowResponse, Delay: json.RawMessage(`250`)}))
	f, _ := s.TakeStream(false)
	assert.Equal(t, StreamOK, f, "a delay applies only to a stream about to send")
	f, d := s.TakeStream(true)
	assert.Equal(t, StreamSlow, f)
	assert.Equal(t, 250*time.Millisecond, d)
}

func TestSubscribeErrorMatchesAndRenders(t *testing.T) {
	s := New()
	require.NoError(t, s.Apply(Request{Fault: SubscribeError, Error: streamerr.ChannelMissing("channel"), Channel: "/data/AccountChangeEvent", Count: 1}))
	assert.Empty(t, s.TakeSubscribeError("/topic/Other", "/topic/Other"))
	assert.Equal(t, streamerr.ChannelMissing("/data/AccountChangeEvent"), s.TakeSubscribeError("/data/AccountChangeEvent", "/data/AccountChangeEvent"))
	assert.Empty(t, s.TakeSubscribeError("/data/AccountChangeEvent", "/data/AccountChangeEvent"), "count 1 is used up")
}

func TestWakeClosesTheChannelHandedOut(t *testing.T) {
	s := New()
	w := s.Woken()
	s.Wake()
	select {
	case <-w:
	default:
		t.Fatal("Wake did not close the channel Woken handed out")
	}
	select {
	case <-s.Woken():
		t.Fatal("the next channel is already closed")
	default:
	}
	require.NoError(t, s.Apply(Request{Fault: Clear}))
}
