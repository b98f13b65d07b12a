package sfemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
)

// subscribeFailure is the exact reply of a refused subscribe (the subscription echoed).
func subscribeFailure(c *rawClient, id any, subscription, errText string) string {
	return fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/subscribe","id":"%s","subscription":"%s","error":"%s","successful":false}]`,
		c.clientID, id, subscription, errText)
}

// documentedSubscribeErrors are the values subscribe_error accepts.
var documentedSubscribeErrors = []string{
	"403::Restricted channel",
	"403::User not enabled for streaming",
	"403::User not allowed to subscribe CDC without View All Data permissions",
	"403::Subscription limit exceeded for this topic",
	"403::Subscriber does not have access to the entity in this topic",
	"403::No access on channel",
	"400::The channel you requested to subscribe to doesn’t exist {channel}",
	"404::Unknown channel",
}

func TestSubscribeErrorFaultReplies(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	for _, fault := range documentedSubscribeErrors {
		t.Run(fault, func(t *testing.T) {
			t.Cleanup(func() { e.fault(`{"fault":"clear"}`) })
			body, err := json.Marshal(map[string]any{"fault": "subscribe_error", "channel": "/topic/X", "error": fault})
			require.NoError(t, err)
			e.fault(string(body))
			want := fault // the reply's error for /topic/X: Salesforce's table with the channel rendered
			if fault == "400::The channel you requested to subscribe to doesn’t exist {channel}" {
				want = "400::The channel you requested to subscribe to doesn’t exist {/topic/X}"
			}

			m := c.subscribeMsg("/topic/X", nil)
			assert.Equal(t, subscribeFailure(c, m["id"], "/topic/X", want), string(c.send(m).body))
			c.subscribe("/event/Order__e", nil) // another channel is not refused
			m = c.subscribeMsg("/topic/X", nil)
			assert.Equal(t, subscribeFailure(c, m["id"], "/topic/X", want), string(c.send(m).body), "without count: until clear")
		})
	}
	e.fault(`{"fault":"clear"}`)
	c.subscribe("/topic/X", nil)
	st := e.state()
	assert.Equal(t, []string{"/event/Order__e", "/topic/X"}, st.Clients[0].Subscriptions)
	assert.EqualValues(t, 2*len(documentedSubscribeErrors), st.Counters["subscribes_failed"])
}

func TestSubscribeErrorFaultMatching(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()

	// A channel without filters covers its filtered subscriptions; the missing-channel text names the subscription.
	e.fault(`{"fault":"subscribe_error","channel":"/topic/X","error":"400::The channel you requested to subscribe to doesn’t exist {channel}"}`)
	m := c.subscribeMsg("/topic/X?Status__c=Open", nil)
	assert.Equal(t, subscribeFailure(c, m["id"], "/topic/X?Status__c=Open",
		"400::The channel you requested to subscribe to doesn’t exist {/topic/X?Status__c=Open}"), string(c.send(m).body))
	c.subscribe("/topic/Y?Status__c=Open", nil)
	e.fault(`{"fault":"clear"}`)

	// Without a channel every subscription is refused.
	e.fault(`{"fault":"subscribe_error","error":"403::User not enabled for streaming"}`)
	for _, ch := range []string{"/event/Order__e", "/data/ChangeEvents", "/u/Alerts"} {
		m := c.subscribeMsg(ch, nil)
		assert.Equal(t, subscribeFailure(c, m["id"], ch, "403::User not enabled for streaming"), string(c.send(m).body))
	}
	e.fault(`{"fault":"clear"}`)
	c.subscribe("/event/Order__e", nil)
}

func TestSubscribeErrorFaultCountAndState(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	var out struct {
		Pending faults.State `json:"pending"`
	}
	e.control(http.MethodPost, "/emulator/faults", `{"fault":"subscribe_error","channel":"/topic/X","error":"403::Restricted channel","count":2}`, &out)
	assert.Equal(t, []faults.SubscribeErrorFault{{Channel: "/topic/X", Error: "403::Restricted channel", Count: 2}}, out.Pending.SubscribeErrors)
	e.fault(`{"fault":"subscribe_error","error":"404::Unknown channel"}`)

	// GET /emulator/state shows the pending ones under faults, with the request's names.
	resp := e.control(http.MethodGet, "/emulator/state", "", nil)
	var raw struct {
		Faults map[string]json.RawMessage `json:"faults"`
	}
	require.NoError(t, json.Unmarshal(resp.body, &raw), resp.String())
	assert.JSONEq(t, `[{"channel":"/topic/X","error":"403::Restricted channel","count":2},{"error":"404::Unknown channel"}]`,
		string(raw.Faults["subscribe_error"]))

	// The first matching fault answers, one count per refused subscribe; then the next one in line.
	for range 2 {
		m := c.subscribeMsg("/topic/X", nil)
		assert.Equal(t, subscribeFailure(c, m["id"], "/topic/X", "403::Restricted channel"), string(c.send(m).body))
	}
	m := c.subscribeMsg("/topic/X", nil)
	assert.Equal(t, subscribeFailure(c, m["id"], "/topic/X", "404::Unknown channel"), string(c.send(m).body))
	assert.Equal(t, []faults.SubscribeErrorFault{{Error: "404::Unknown channel"}}, e.state().Faults.SubscribeErrors)

	e.fault(`{"fault":"clear"}`)
	resp = e.control(http.MethodGet, "/emulator/state", "", nil)
	raw.Faults = nil
	require.NoError(t, json.Unmarshal(resp.body, &raw), resp.String())
	assert.Contains(t, raw.Faults, "server_busy")
	assert.NotContains(t, raw.Faults, "subscribe_error")
	c.subscribe("/topic/X", nil)
}

func TestSubscribeErrorFaultBadRequests(t *testing.T) {
	e := startEmu(t, Config{}, true)
	cases := []struct {
		name, body, errPart string
		listsAllowed        bool // the answer names every allowed error
	}{
		{"error missing", `{"fault":"subscribe_error","channel":"/topic/X"}`, `subscribe_error: "error" not given; one of `, true},
		{"error unknown", `{"fault":"subscribe_error","error":"403::Nope"}`, `subscribe_error: error "403::Nope" is not a Salesforce subscribe error`, true},
		{"error with the channel filled in", `{"fault":"subscribe_error","error":"400::The channel you requested to subscribe to doesn’t exist {/topic/X}"}`, "is not a Salesforce subscribe error", true},
		{"ASCII apostrophe", `{"fault":"subscribe_error","error":"400::The channel you requested to subscribe to doesn't exist {channel}"}`, "is not a Salesforce subscribe error", true},
		{"error without code", `{"fault":"subscribe_error","error":"Restricted channel"}`, "is not a Salesforce subscribe error", true},
		{"channel without slash", `{"fault":"subscribe_error","channel":"topic/X","error":"403::Restricted channel"}`, `channel "topic/X" must start with '/'`, false},
		{"negative count", `{"fault":"subscribe_error","error":"403::Restricted channel","count":-1}`, "count -1", false},
		{"error not a string", `{"fault":"subscribe_error","error":403}`, "decoding JSON body", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.control(http.MethodPost, "/emulator/faults", tc.body, nil)
			assert.Equal(t, http.StatusBadRequest, resp.status)
			var body map[string]string
			require.NoError(t, json.Unmarshal(resp.body, &body), resp.String())
			assert.Contains(t, body["error"], tc.errPart)
			if tc.listsAllowed {
				for _, allowed := range documentedSubscribeErrors {
					assert.Contains(t, body["error"], `"`+allowed+`"`, "the answer names the allowed values")
				}
			}
		})
	}
	assert.Empty(t, e.state().Faults.SubscribeErrors, "no bad request leaves a fault behind")
}
