package sfemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Salesforce's documented failure scenarios, staged over the wire.

// Scenario 1: 403 Unknown client mid-stream; the client re-handshakes and resubscribes from its last replay id.
func TestScenarioUnknownClientMidStream(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	hs := c.handshake()
	oldLB := strings.TrimPrefix(strings.Split(hs.setCookie("sfdc-stream"), ";")[0], "sfdc-stream=")
	c.subscribe("/event/Order__e", map[string]any{"/event/Order__e": -1})
	c.ready()
	e.publish("/event/Order__e", 3)
	evs, _, _ := c.connect()
	ids := replayIDs(evs)
	require.Len(t, ids, 3)

	held := c.connectAsync()
	e.waitHeld(1)
	e.fault(`{"fault":"unknown_client"}`)
	r := await(t, held)
	assert.Equal(t, `[{"advice":{"interval":0,"reconnect":"handshake"},"channel":"/meta/connect","id":"5","error":"403::Unknown client","successful":false}]`, string(r.body))
	newLB := r.setCookie("sfdc-stream")
	assert.Regexp(t, `^sfdc-stream=![A-Za-z0-9+/]{79}=; path=/; Expires=\w{3}, \d\d-\w{3}-\d{4} \d\d:\d\d:\d\d GMT$`, newLB, "the load balancer cookie rotates")
	assert.NotContains(t, newLB, oldLB)

	// Events published while the client is away are replayed after the last one it processed (ids[1]).
	_, last := e.publish("/event/Order__e", 2)
	c.handshake()
	c.subscribe("/event/Order__e", map[string]any{"/event/Order__e": ids[1]})
	evs, reply, _ := c.connect()
	got := replayIDs(evs)
	assert.Equal(t, ids[2], got[0])
	assert.Equal(t, last, got[len(got)-1])
	assert.Len(t, got, 3)
	assert.Equal(t, true, reply["successful"])
}

// Scenario 2: unknown client and the stored replay id purged meanwhile: 400 invalid replay id.
func TestScenarioPurgedReplayID(t *testing.T) {
	e := startEmu(t, Config{}, true)
	first, last := e.publish("/data/AccountChangeEvent", 4)
	var purged map[string]any
	e.control(http.MethodPost, "/emulator/purge", fmt.Sprintf(`{"channel":"/data/AccountChangeEvent","through_replay_id":%d}`, first), &purged)
	assert.EqualValues(t, 1, purged["purged"])
	c := e.loggedIn()
	c.handshake()
	resp := c.send(c.subscribeMsg("/data/AccountChangeEvent", map[string]any{"/data/AccountChangeEvent": first}))
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/subscribe","id":"2","subscription":"/data/AccountChangeEvent","error":"400::The replayId {%d} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.","successful":false}]`, c.clientID, first), string(resp.body))

	// Purging everything makes even the newest id invalid (idle channel, Confluent CC-9633).
	e.control(http.MethodPost, "/emulator/purge", `{"channel":"/data/AccountChangeEvent"}`, &purged)
	assert.EqualValues(t, 3, purged["purged"])
	resp = c.send(c.subscribeMsg("/data/AccountChangeEvent", map[string]any{"/data/AccountChangeEvent": last}))
	assert.Contains(t, string(resp.body), fmt.Sprintf(`"error":"400::The replayId {%d} you provided was invalid.`, last))
	// -2 and -1 stay valid.
	c.subscribe("/data/AccountChangeEvent", map[string]any{"/data/AccountChangeEvent": -2})
}

// Scenario 3 (empty map / missing key) is covered by TestSubscribeErrors.

// Scenario 4: token revoked: the held connect gets a server /meta/disconnect plus 401 with advice none; the old
// token's handshake is denied; a new token works.
func TestScenarioTokenRevoked(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/event/Order__e", nil)
	c.ready()
	held := c.connectAsync()
	e.waitHeld(1)
	e.fault(`{"fault":"revoke_tokens"}`)
	r := await(t, held)
	assert.Equal(t, fmt.Sprintf(`[{"channel":"/meta/disconnect"},{"clientId":"%s","advice":{"interval":0,"reconnect":"none"},"channel":"/meta/connect","id":"4","error":"401::Authentication invalid","successful":false}]`, c.clientID), string(r.body))

	resp := c.send(c.handshakeMsg())
	assert.Equal(t, `[{"ext":{"sfdc":{"failureReason":"401::Authentication invalid"}},"advice":{"reconnect":"none"},"channel":"/meta/handshake","id":"5","error":"403::Handshake denied","successful":false}]`, string(resp.body))
	c.auth = "Bearer " + e.token()
	c.handshake()
	c.subscribe("/event/Order__e", nil)
	st := e.state()
	require.Len(t, st.Clients, 1, "the revoked session is gone")
	assert.Equal(t, c.clientID, st.Clients[0].ClientID)
}

// Scenario 5 (handshake denied without header / with a bad token) is covered by TestRequestFormsAndAuthSchemes.

// Scenario 6: 503 busy on handshake, connect and subscribe.
func TestScenarioServerBusy(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	e.fault(`{"fault":"server_busy","count":1}`)
	resp := c.send(c.handshakeMsg())
	assert.Equal(t, `[{"ext":{"sfdc":{"failureReason":"503::Server is too busy. Please try your request again later."}},"advice":{"reconnect":"none"},"channel":"/meta/handshake","id":"1","error":"403::Handshake denied","successful":false}]`, string(resp.body))
	c.handshake()

	e.fault(`{"fault":"server_busy","count":2}`)
	resp = c.send(c.subscribeMsg("/event/Order__e", nil))
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/subscribe","id":"3","subscription":"/event/Order__e","error":"503::Server is too busy. Please try your request again later.","successful":false,"ext":{"sfdc":{"failureReason":"503::Server is too busy. Please try your request again later."}}}]`, c.clientID), string(resp.body))
	resp = c.send(c.connectMsg())
	assert.Equal(t, fmt.Sprintf(`[{"channel":"/meta/connect","id":"4","error":"401::Authentication invalid","successful":false,"ext":{"sfdc":{"failureReason":"503::Server is too busy.  Please try your request again later."}},"clientId":"%s","advice":{"reconnect":"none","interval":0}}]`, c.clientID), string(resp.body))
	// The count is used up.
	c.subscribe("/event/Order__e", nil)
	assert.Zero(t, e.state().Faults.ServerBusy)
}

// Scenario 7: daily limit on subscribe and connect until cleared; the concurrent-client limit and slot release.
func TestScenarioDailyLimit(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/event/Order__e", nil)
	c.ready()
	held := c.connectAsync()
	e.waitHeld(1)
	e.fault(`{"fault":"daily_limit"}`)
	r := await(t, held)
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/connect","id":"4","error":"403::Organization total events daily limit exceeded","successful":false,"advice":{"interval":0,"reconnect":"none"}}]`, c.clientID), string(r.body))
	assert.Empty(t, e.state().Clients[0].Subscriptions, "the subscription is dropped")
	resp := c.send(c.subscribeMsg("/event/Order__e", nil))
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/subscribe","id":"5","subscription":"/event/Order__e","error":"403::Organization total events daily limit exceeded","successful":false}]`, c.clientID), string(resp.body))
	_, reply, _ := c.connect()
	assert.Equal(t, "403::Organization total events daily limit exceeded", reply["error"])
	e.fault(`{"fault":"clear"}`)
	c.subscribe("/event/Order__e", nil)
}

func TestScenarioConcurrentClientLimit(t *testing.T) {
	e := startEmu(t, Config{MaxClients: 2}, true)
	a, b, c := e.loggedIn(), e.loggedIn(), e.loggedIn()
	a.handshake()
	b.handshake()
	resp := c.send(c.handshakeMsg())
	assert.Equal(t, `[{"ext":{"sfdc":{"failureReason":"403::Organization concurrent user limit exceeded"}},"advice":{"reconnect":"none"},"channel":"/meta/handshake","id":"1","error":"403::Handshake denied","successful":false}]`, string(resp.body))
	// A clean /meta/disconnect frees a slot at once.
	a.send(map[string]any{"channel": "/meta/disconnect", "clientId": a.clientID, "id": "9"})
	c.handshake()
	// A client that leaks its slot frees it only when it expires after the reconnect window.
	resp = a.send(a.handshakeMsg())
	assert.Contains(t, string(resp.body), "concurrent user limit exceeded")
	e.clock.Advance(41 * time.Second)
	a.handshake()
	assert.Len(t, e.state().Clients, 1)
}

// Scenario 8: missing BAYEUX_BROWSER cookie; (load-balancer cookie rotation: scenario 1).
func TestScenarioMissingCookie(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	c.hc.Jar = nil // a client that drops cookies
	resp := c.send(c.subscribeMsg("/event/Order__e", nil))
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/subscribe","id":"2","subscription":"/event/Order__e","error":"400::Client {%s} has established a session, but no BAYEUX_BROWSER cookie present","successful":false}]`, c.clientID, c.clientID), string(resp.body))
	resp = c.send(c.connectMsg())
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/connect","id":"3","error":"400::Client {%s} has established a session, but no BAYEUX_BROWSER cookie present","successful":false}]`, c.clientID, c.clientID), string(resp.body))

	lenient := startEmu(t, Config{AllowMissingCookies: true}, true)
	d := lenient.loggedIn()
	d.handshake()
	d.hc.Jar = nil
	d.subscribe("/event/Order__e", nil)
}

// Scenario 9: large batches (>1 MiB, >10 MiB) in one connect answer.
func TestScenarioLargeBatch(t *testing.T) {
	e := startEmu(t, Config{MaxBatch: 20000}, true)
	first, last := e.publish("/data/ChangeEvents", 16000)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/data/ChangeEvents", map[string]any{"/data/ChangeEvents": -2})
	evs, reply, resp := c.connect()
	assert.Greater(t, len(resp.body), 10<<20, "answer above 10 MiB")
	require.Len(t, evs, 16000)
	ids := replayIDs(evs)
	assert.Equal(t, first, ids[0])
	assert.Equal(t, last, ids[len(ids)-1])
	assert.Equal(t, true, reply["successful"])

	// The default batch bound splits a backlog over several answers without loss.
	e2 := startEmu(t, Config{}, true)
	e2.publish("/data/ChangeEvents", 2500)
	c2 := e2.loggedIn()
	c2.handshake()
	c2.subscribe("/data/ChangeEvents", map[string]any{"/data/ChangeEvents": -2})
	var sizes []int
	for range 3 {
		evs, _, _ := c2.connect()
		sizes = append(sizes, len(evs))
	}
	assert.Equal(t, []int{1000, 1000, 500}, sizes)

	e3 := startEmu(t, Config{MaxResponseBytes: 5000}, true)
	e3.publish("/data/ChangeEvents", 20)
	c3 := e3.loggedIn()
	c3.handshake()
	c3.subscribe("/data/ChangeEvents", map[string]any{"/data/ChangeEvents": -2})
	_, _, r3 := c3.connect()
	assert.LessOrEqual(t, len(r3.body), 5000+300)
}

// Scenario 10: a long poll that reaches the hold with no events; a client idle beyond the reconnect window.
func TestScenarioHoldAndExpiry(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/event/Order__e", nil)
	c.ready()
	held := c.connectAsync()
	e.waitHeld(1)
	e.clock.Advance(109 * time.Second)
	select {
	case r := <-held:
		t.Fatalf("answered before the hold ended: %s", r)
	case <-time.After(50 * time.Millisecond):
	}
	e.clock.Advance(time.Second)
	r := await(t, held)
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/connect","id":"4","successful":true}]`, c.clientID), string(r.body))

	// Within 40 s the session lives; beyond it, 403::Unknown client.
	e.clock.Advance(39 * time.Second)
	resp := c.send(c.subscribeMsg("/u/X", nil))
	assert.Equal(t, true, resp.messages(t)[0]["successful"])
	e.clock.Advance(41 * time.Second)
	_, reply, resp := c.connect()
	assert.Equal(t, `[{"advice":{"interval":0,"reconnect":"handshake"},"channel":"/meta/connect","id":"6","error":"403::Unknown client","successful":false}]`, string(resp.body))
	assert.Equal(t, "403::Unknown client", reply["error"])
	assert.EqualValues(t, 1, e.state().Counters["clients_expired"])
}

// A held long poll wakes on publish, without polling.
func TestLongPollWakesOnPublish(t *testing.T) {
	e := startEmu(t, Config{Hold: time.Hour}, false)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/u/Alerts", nil)
	c.ready()
	held := c.connectAsync()
	e.waitHeld(1)
	start := time.Now()
	_, last := e.publishPayloads("/u/Alerts", `"hello"`)
	r := await(t, held)
	assert.Less(t, time.Since(start), 2*time.Second)
	msgs := r.messages(t)
	require.Len(t, msgs, 2)
	assert.Equal(t, "/u/Alerts", msgs[0]["channel"])
	assert.Equal(t, "hello", msgs[0]["data"].(map[string]any)["payload"])
	assert.EqualValues(t, last, msgs[0]["data"].(map[string]any)["event"].(map[string]any)["replayId"])
}

// Scenario 11: several channels of mixed kinds on one session; a filtered PushTopic with its replay key.
func TestScenarioMixedChannels(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/event/Order__e", nil)
	c.subscribe("/data/AccountChangeEvent", map[string]any{"/data/AccountChangeEvent": -1})
	c.subscribe("/topic/Invoices?Status__c=Open", map[string]any{"/topic/Invoices": -1, "/event/Order__e": -1})
	c.subscribe("/u/Alerts", nil)
	c.ready()

	e.publishPayloads("/event/Order__e", `{"Order_Number__c":"ORD-1"}`)
	e.publishPayloads("/data/AccountChangeEvent", `{"Name":"Acme"}`)
	_, open := e.publishPayloads("/topic/Invoices", `{"Id":"a00000000000001AAA","Name":"INV-1","Status__c":"Closed"}`, `{"Id":"a00000000000002AAA","Name":"INV-2","Status__c":"Open"}`)
	e.publishPayloads("/u/Alerts", `{"level":"high"}`)
	evs, _, resp := c.connect()
	require.Len(t, evs, 4, resp.String())
	byChannel := map[string]map[string]any{}
	for _, ev := range evs {
		byChannel[ev["channel"].(string)] = ev["data"].(map[string]any)
	}
	pe := byChannel["/event/Order__e"]
	require.NotNil(t, pe)
	assert.NotEmpty(t, pe["schema"])
	payload := pe["payload"].(map[string]any)
	assert.Equal(t, "ORD-1", payload["Order_Number__c"])
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, payload["CreatedDate"])
	assert.NotEmpty(t, payload["CreatedById"])
	assert.Regexp(t, `^[0-9a-f-]{36}$`, pe["event"].(map[string]any)["EventUuid"])

	cdc := byChannel["/data/AccountChangeEvent"]["payload"].(map[string]any)
	header := cdc["ChangeEventHeader"].(map[string]any)
	assert.Equal(t, "Account", header["entityName"])
	assert.IsType(t, float64(0), header["commitTimestamp"])
	assert.Equal(t, "Acme", cdc["Name"])

	topic := byChannel["/topic/Invoices?Status__c=Open"]
	require.NotNil(t, topic, "a filtered subscription's events carry its channel: %v", byChannel)
	assert.Equal(t, "INV-2", topic["sobject"].(map[string]any)["Name"])
	assert.EqualValues(t, open, topic["event"].(map[string]any)["replayId"])
	assert.Equal(t, "created", topic["event"].(map[string]any)["type"])

	assert.Equal(t, `{"level":"high"}`, byChannel["/u/Alerts"]["payload"])
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, byChannel["/u/Alerts"]["event"].(map[string]any)["createdDate"])
}

// Scenario 12: EOF mid long poll; HTTP 5xx from the load balancer; malformed and slow answers.
func TestScenarioTransportFaults(t *testing.T) {
	e := startEmu(t, Config{}, false)
	c := e.loggedIn()
	c.handshake()
	c.ready()
	held := c.connectAsync()
	e.waitHeld(1)
	e.fault(`{"fault":"drop_connection","count":1}`)
	r := await(t, held)
	assert.Equal(t, -1, r.status, "the long poll ends without an answer: %s", r.body)
	assert.EqualValues(t, 1, e.state().Counters["connections_dropped"])

	e.fault(`{"fault":"drop_connection"}`)
	_, err := c.hc.Post(e.url+"/cometd/64.0", "application/json", strings.NewReader("[]"))
	assert.Error(t, err)

	e.fault(`{"fault":"http_error","count":2,"status":502}`)
	for range 2 {
		resp := c.send(c.connectMsg())
		assert.Equal(t, http.StatusBadGateway, resp.status)
		assert.Contains(t, string(resp.body), "<html>")
		assert.Equal(t, "text/html; charset=UTF-8", resp.header.Get("Content-Type"))
	}
	e.fault(`{"fault":"malformed_response"}`)
	resp := c.send(c.connectMsg())
	assert.Equal(t, http.StatusOK, resp.status)
	assert.False(t, json.Valid(resp.body))

	e.fault(`{"fault":"slow_response","delay":"150ms"}`)
	start := time.Now()
	m := c.connectMsg()
	m["advice"] = map[string]any{"timeout": 0}
	resp = c.send(m)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	assert.Equal(t, true, resp.messages(t)[0]["successful"])
}

// A server-initiated /meta/disconnect (API 64+) answers the held connect and ends the session.
func TestServerDisconnect(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/event/Order__e", nil)
	c.ready()
	held := c.connectAsync()
	e.waitHeld(1)
	e.fault(`{"fault":"server_disconnect"}`)
	r := await(t, held)
	assert.Equal(t, fmt.Sprintf(`[{"channel":"/meta/disconnect","clientId":"%[1]s"},{"clientId":"%[1]s","advice":{"interval":0,"reconnect":"handshake"},"channel":"/meta/connect","id":"4","successful":true}]`, c.clientID), string(r.body))
	_, reply, _ := c.connect()
	assert.Equal(t, "403::Unknown client", reply["error"])
}

// Retention per channel kind: 24 h for PushTopic and generic, 72 h for platform events and CDC.
func TestRetentionPerKind(t *testing.T) {
	e := startEmu(t, Config{}, true)
	channels := map[string]time.Duration{"/topic/T": 24 * time.Hour, "/u/G": 24 * time.Hour, "/event/E__e": 72 * time.Hour, "/data/ChangeEvents": 72 * time.Hour}
	firsts := map[string]int64{}
	for ch := range channels {
		firsts[ch], _ = e.publish(ch, 2)
	}
	e.clock.Advance(24*time.Hour - time.Second)
	for ch := range channels {
		assert.Equal(t, 2, e.state().Channels[ch].Retained, ch)
	}
	e.clock.Advance(2 * time.Second)
	st := e.state()
	for ch, keep := range channels {
		want := 2
		if keep == 24*time.Hour {
			want = 0
		}
		assert.Equal(t, want, st.Channels[ch].Retained, ch)
	}
	c := e.loggedIn()
	c.handshake()
	resp := c.send(c.subscribeMsg("/topic/T", map[string]any{"/topic/T": firsts["/topic/T"]}))
	assert.Contains(t, string(resp.body), "you provided was invalid")
	c.subscribe("/event/E__e", map[string]any{"/event/E__e": firsts["/event/E__e"]})
	e.clock.Advance(48 * time.Hour)
	assert.Zero(t, e.state().Channels["/event/E__e"].Retained)
}

// Memory stays bounded by retention (and the optional cap) while nobody connects.
func TestRetentionBoundsMemory(t *testing.T) {
	e := startEmu(t, Config{MaxRetainedEvents: 100}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/data/ChangeEvents", map[string]any{"/data/ChangeEvents": -2}) // and never connects
	for range 20 {
		e.publish("/data/ChangeEvents", 50)
	}
	st := e.state().Channels["/data/ChangeEvents"]
	assert.Equal(t, 100, st.Retained)
	e.srv.store.Lock()
	capacity := e.srv.store.LookupLocked("/data/ChangeEvents").IndexCap()
	e.srv.store.Unlock()
	assert.LessOrEqual(t, capacity, 400, "the dropped prefix is reclaimed")

	e2 := startEmu(t, Config{}, true)
	for range 10 {
		e2.publish("/event/E__e", 100)
		e2.clock.Advance(24 * time.Hour)
	}
	// Batches aged 24 h and 48 h stay; the one aged exactly 72 h is gone.
	assert.Equal(t, 200, e2.state().Channels["/event/E__e"].Retained)
}

// Salesforce's REST publish path for platform events.
func TestPublishAPI(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/event/Order__e", nil)
	c.ready()
	req, err := http.NewRequest(http.MethodPost, e.url+"/services/data/v64.0/sobjects/Order__e/", strings.NewReader(`{"Order_Number__c":"ORD-9","Amount__c":12.5}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Content-Type", "application/json")
	resp := e.do(req, nil)
	require.Equal(t, http.StatusCreated, resp.status, resp.String())
	assert.Regexp(t, `^\{"id":"e01[0-9A-Z]{12}AAA","success":true,"errors":\[\{"statusCode":"OPERATION_ENQUEUED","message":"[0-9a-f-]{36}","fields":\[\]\}\]\}$`, string(resp.body))
	evs, _, _ := c.connect()
	require.Len(t, evs, 1)
	assert.Equal(t, "ORD-9", evs[0]["data"].(map[string]any)["payload"].(map[string]any)["Order_Number__c"])

	cases := []struct {
		name, path, auth, body string
		status                 int
		code                   string
	}{
		{"no token", "/services/data/v64.0/sobjects/Order__e/", "", `{}`, 401, "INVALID_SESSION_ID"},
		{"bad json", "/services/data/v64.0/sobjects/Order__e", c.auth, `[1]`, 400, "JSON_PARSER_ERROR"},
		{"not an object", "/services/data/v64.0/sobjects/Nope/", c.auth, `{}`, 404, "NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.url+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp := e.do(req, nil)
			assert.Equal(t, tc.status, resp.status)
			assert.Contains(t, string(resp.body), `"errorCode":"`+tc.code+`"`)
		})
	}
}
