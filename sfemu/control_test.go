package sfemu

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
)

func TestControlPublishAndState(t *testing.T) {
	e := startEmu(t, Config{}, true)
	first, last := e.publish("/event/Order__e", 10)
	assert.Greater(t, last, first)
	f2, l2 := e.publishPayloads("/event/Order__e", `{"A__c":1}`, `{"A__c":2}`)
	assert.Greater(t, f2, last, "ids keep increasing")
	assert.Greater(t, l2, f2)
	var fixed PublishResponse
	e.control(http.MethodPost, "/emulator/publish", `{"channel":"/u/G","count":3,"gap":10}`, &fixed)
	assert.Equal(t, int64(20), fixed.LastReplayID-fixed.FirstReplayID)

	c := e.loggedIn()
	c.handshake()
	c.subscribe("/event/Order__e", nil)
	st := e.state()
	require.Len(t, st.Clients, 1)
	assert.Equal(t, c.clientID, st.Clients[0].ClientID)
	assert.Equal(t, []string{"/event/Order__e"}, st.Clients[0].Subscriptions)
	assert.Equal(t, ChannelState{Kind: "platform_event", FirstReplayID: first, LastReplayID: l2, Retained: 12, Published: 12, Subscribers: 1, Retention: "72h0m0s"}, st.Channels["/event/Order__e"])
	for _, k := range []string{"token_grants", "handshakes", "connects", "subscribes", "unsubscribes", "disconnects", "events_published", "events_delivered"} {
		assert.Contains(t, st.Counters, k)
	}
	assert.EqualValues(t, 15, st.Counters["events_published"])
	assert.EqualValues(t, 1, st.Counters["token_grants"])
	assert.EqualValues(t, 1, st.Counters["handshakes"])
	assert.EqualValues(t, 1, st.Counters["subscribes"])

	// The raw JSON uses the contract's names.
	resp := e.control(http.MethodGet, "/emulator/state", "", nil)
	var raw struct {
		Channels map[string]map[string]any `json:"channels"`
	}
	require.NoError(t, json.Unmarshal(resp.body, &raw))
	ch := raw.Channels["/event/Order__e"]
	for _, k := range []string{"first_replay_id", "last_replay_id", "retained"} {
		assert.Contains(t, ch, k)
	}
}

func TestControlBadRequests(t *testing.T) {
	e := startEmu(t, Config{}, true)
	cases := []struct {
		name, method, path, body string
		status                   int
		errPart                  string
	}{
		{"publish not json", "POST", "/emulator/publish", `nope`, 400, "decoding JSON body"},
		{"publish unknown field", "POST", "/emulator/publish", `{"channel":"/u/A","cnt":1}`, 400, `unknown field "cnt"`},
		{"publish no channel", "POST", "/emulator/publish", `{"count":1}`, 400, "not a PushTopic"},
		{"publish bad channel", "POST", "/emulator/publish", `{"channel":"/foo/x","count":1}`, 400, "not a PushTopic"},
		{"publish filter", "POST", "/emulator/publish", `{"channel":"/topic/T?A=1","count":1}`, 400, "filters belong to subscriptions"},
		{"publish nothing", "POST", "/emulator/publish", `{"channel":"/u/A"}`, 400, "nothing to publish"},
		{"publish negative", "POST", "/emulator/publish", `{"channel":"/u/A","count":-1}`, 400, "negative"},
		{"publish huge", "POST", "/emulator/publish", `{"channel":"/u/A","count":999999999}`, 400, "outside"},
		{"publish bad payload", "POST", "/emulator/publish", `{"channel":"/event/E__e","payloads":[1]}`, 400, "payload must be a JSON object"},
		{"publish wrong type", "POST", "/emulator/publish", `{"channel":5}`, 400, "decoding JSON body"},
		{"publish trailing", "POST", "/emulator/publish", `{"channel":"/u/A","count":1} {}`, 400, "trailing data"},
		{"publish GET", "GET", "/emulator/publish", ``, 405, "takes POST"},
		{"fault unknown", "POST", "/emulator/faults", `{"fault":"bogus"}`, 400, `unknown fault "bogus"`},
		{"fault missing", "POST", "/emulator/faults", `{}`, 400, "fault not given"},
		{"fault bad count", "POST", "/emulator/faults", `{"fault":"server_busy","count":-2}`, 400, "count -2"},
		{"fault bad status", "POST", "/emulator/faults", `{"fault":"http_error","status":99}`, 400, "not an HTTP status"},
		{"fault bad delay", "POST", "/emulator/faults", `{"fault":"slow_response","delay":"soon"}`, 400, "parsing delay"},
		{"purge unknown channel", "POST", "/emulator/purge", `{"channel":"bogus"}`, 400, "unknown channel"},
		{"purge negative", "POST", "/emulator/purge", `{"channel":"/u/A","through_replay_id":-5}`, 400, "negative"},
		{"state POST", "POST", "/emulator/state", `{}`, 405, "takes GET"},
		{"unknown endpoint", "POST", "/emulator/nope", `{}`, 404, "unknown control endpoint"},
	}
	e.publish("/u/A", 1)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.control(tc.method, tc.path, tc.body, nil)
			assert.Equal(t, tc.status, resp.status)
			var body map[string]string
			require.NoError(t, json.Unmarshal(resp.body, &body), resp.String())
			assert.Contains(t, body["error"], tc.errPart)
		})
	}
	// Still serving.
	e.publish("/u/A", 1)
	assert.Equal(t, 2, e.state().Channels["/u/A"].Retained)
}

func TestFaultAnswerAndClear(t *testing.T) {
	e := startEmu(t, Config{}, true)
	var out struct {
		Fault   string       `json:"fault"`
		Pending faults.State `json:"pending"`
	}
	e.control(http.MethodPost, "/emulator/faults", `{"fault":"server_busy","count":3}`, &out)
	assert.Equal(t, 3, out.Pending.ServerBusy)
	e.control(http.MethodPost, "/emulator/faults", `{"fault":"daily_limit"}`, &out)
	assert.True(t, out.Pending.DailyLimit)
	e.control(http.MethodPost, "/emulator/faults", `{"fault":"clear"}`, &out)
	assert.Equal(t, faults.State{}, out.Pending)
}

func TestGenerator(t *testing.T) {
	clock := NewFakeClock(epoch)
	s := New(Config{Clock: clock, Generate: []ChannelRate{{Channel: "/data/ChangeEvents", Rate: 50}}})
	defer s.Close()
	for range 20 { // 20 ticks of 100 ms = 2 s at 50/s
		ctx := t.Context()
		require.NoError(t, clock.WaitTimers(ctx, 1))
		clock.Advance(100 * time.Millisecond)
	}
	require.NoError(t, clock.WaitTimers(t.Context(), 1)) // the last tick has published
	st := s.State().Channels["/data/ChangeEvents"]
	assert.InDelta(t, 100, st.Retained, 5)
	s.Close()
	s.Close() // idempotent
}
