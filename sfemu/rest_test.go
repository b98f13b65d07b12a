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

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/cometd"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/limits"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/rest"
)

// get sends a GET with an optional Authorization header.
func (e *testEmu) get(path, auth string) rawResp {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	require.NoError(e.t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return e.do(req, nil)
}

// postJSON sends a JSON body with an Authorization header.
func (e *testEmu) postJSON(path, auth, body string) rawResp {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return e.do(req, nil)
}

type apiVersion struct {
	Label   string `json:"label"`
	URL     string `json:"url"`
	Version string `json:"version"`
}

// The seed's quickstart, as written: read the Versions resource without a token, take the newest version, then
// handshake on /cometd/<that version>/ and stream events.
func TestQuickstartPicksNewestVersionAndStreams(t *testing.T) {
	e := startEmu(t, Config{}, true)
	for _, path := range []string{"/services/data/", "/services/data"} {
		resp := e.get(path, "")
		require.Equal(t, http.StatusOK, resp.status, "%s: %s", path, resp)
		assert.Equal(t, "application/json;charset=UTF-8", resp.header.Get("Content-Type"))
	}
	var versions []apiVersion
	require.NoError(t, json.Unmarshal(e.get("/services/data/", "").body, &versions))
	require.NotEmpty(t, versions)
	newest := versions[len(versions)-1].Version

	c := e.loggedIn()
	c.path = "/cometd/" + newest + "/"
	c.handshake()
	c.subscribe("/data/AccountChangeEvent", nil)
	c.ready()
	first, last := e.publish("/data/AccountChangeEvent", 5)
	var got []int64
	for i := 0; i < 5 && len(got) < 5; i++ { // bounded: the events may straddle answers
		evs, reply, resp := c.connect()
		require.Equal(t, true, reply["successful"], resp.String())
		got = append(got, replayIDs(evs)...)
	}
	require.Len(t, got, 5)
	assert.Equal(t, first, got[0])
	assert.Equal(t, last, got[4])
}

func TestVersionsResource(t *testing.T) {
	e := startEmu(t, Config{}, true)
	var versions []apiVersion
	require.NoError(t, json.Unmarshal(e.get("/services/data/", "").body, &versions))
	require.Len(t, versions, latestAPIMajor-oldestAPIVersion+1)
	assert.Equal(t, apiVersion{Label: "Winter '11", URL: "/services/data/v20.0", Version: "20.0"}, versions[0])
	assert.Equal(t, apiVersion{Label: "Spring '24", URL: "/services/data/v60.0", Version: "60.0"}, versions[40])
	assert.Equal(t, apiVersion{Label: "Spring '26", URL: "/services/data/v" + LatestAPIVersion, Version: LatestAPIVersion}, versions[len(versions)-1])
	for i := 1; i < len(versions); i++ {
		var prev, cur float64
		_, err := fmt.Sscan(versions[i-1].Version, &prev)
		require.NoError(t, err)
		_, err = fmt.Sscan(versions[i].Version, &cur)
		require.NoError(t, err)
		assert.Less(t, prev, cur, "oldest to newest")
	}
	assert.Equal(t, http.StatusMethodNotAllowed, e.postJSON("/services/data/", "", `{}`).status)
}

func TestResourcesByVersionAndLimits(t *testing.T) {
	e := startEmu(t, Config{}, true)
	auth := "Bearer " + e.token()
	resp := e.get("/services/data/v66.0/", auth)
	require.Equal(t, http.StatusOK, resp.status, resp.String())
	assert.Equal(t, `{"limits":"/services/data/v66.0/limits","sobjects":"/services/data/v66.0/sobjects","query":"/services/data/v66.0/query","queryAll":"/services/data/v66.0/queryAll","composite":"/services/data/v66.0/composite","jobs":"/services/data/v66.0/jobs"}`, string(resp.body))
	assert.Equal(t, http.StatusOK, e.get("/services/data/v60.0", auth).status)

	cases := []struct {
		name, path, auth string
		status           int
		code             string
	}{
		{"no token", "/services/data/v66.0/", "", 401, "INVALID_SESSION_ID"},
		{"bad token", "/services/data/v66.0/limits", "Bearer nope", 401, "INVALID_SESSION_ID"},
		{"unknown version", "/services/data/v99.0/", auth, 404, "NOT_FOUND"},
		{"not a version", "/services/data/latest/", auth, 404, "NOT_FOUND"},
		{"unknown resource", "/services/data/v66.0/nope", auth, 404, "NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.get(tc.path, tc.auth)
			assert.Equal(t, tc.status, resp.status, resp.String())
			assert.Contains(t, string(resp.body), `"errorCode":"`+tc.code+`"`)
		})
	}
}

type limitsAnswer map[string]struct{ Max, Remaining int64 }

func (e *testEmu) limits(auth string) limitsAnswer {
	e.t.Helper()
	resp := e.get("/services/data/v66.0/limits", auth)
	require.Equal(e.t, http.StatusOK, resp.status, resp.String())
	var l limitsAnswer
	require.NoError(e.t, json.Unmarshal(resp.body, &l))
	return l
}

// Deliveries count against the allocations; an enforced allocation used up refuses connects like the
// daily_limit fault, and the fault shows as Remaining 0.
func TestLimitsCountDeliveries(t *testing.T) {
	e := startEmu(t, Config{DailyDeliveryLimit: 10}, true)
	auth := "Bearer " + e.token()
	l := e.limits(auth)
	assert.EqualValues(t, 10, l["DailyDeliveredPlatformEvents"].Max)
	assert.EqualValues(t, 10, l["DailyDeliveredPlatformEvents"].Remaining)
	assert.EqualValues(t, limits.DefaultDailyStreamingMax, l["DailyDurableStreamingApiEvents"].Max)

	c := e.loggedIn()
	c.handshake()
	c.subscribe("/event/Order__e", map[string]any{"/event/Order__e": -2})
	c.subscribe("/topic/Invoices", map[string]any{"/topic/Invoices": -2})
	e.publish("/event/Order__e", 7)
	e.publish("/topic/Invoices", 3)
	evs, _, _ := c.connect()
	require.Len(t, evs, 10)
	l = e.limits(auth)
	assert.EqualValues(t, 3, l["DailyDeliveredPlatformEvents"].Remaining)
	assert.EqualValues(t, limits.DefaultDailyStreamingMax-3, l["DailyDurableStreamingApiEvents"].Remaining)

	e.publish("/event/Order__e", 5)
	evs, _, _ = c.connect()
	require.Len(t, evs, 5, "the answer that crosses the allocation is delivered whole")
	assert.EqualValues(t, 0, e.limits(auth)["DailyDeliveredPlatformEvents"].Remaining)
	_, reply, resp := c.connect()
	assert.Equal(t, cometd.ErrDailyLimit, reply["error"], resp.String())

	f := startEmu(t, Config{}, true)
	fauth := "Bearer " + f.token()
	f.fault(`{"fault":"daily_limit"}`)
	faulted := f.limits(fauth)
	for _, name := range []string{"DailyDeliveredPlatformEvents", "DailyDurableStreamingApiEvents", "MonthlyPlatformEventsUsageEntitlement"} {
		assert.EqualValues(t, 0, faulted[name].Remaining, name)
	}
}

func TestStreamingChannelPush(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	resp := e.postJSON("/services/data/v66.0/sobjects/StreamingChannel", c.auth, `{"Name":"/u/notifications/ExampleUserChannel"}`)
	require.Equal(t, http.StatusCreated, resp.status, resp.String())
	var created struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(resp.body, &created))
	assert.Regexp(t, `^0M6[0-9A-Za-z]{15}$`, created.ID)
	assert.Equal(t, created.ID, e.state().Channels["/u/notifications/ExampleUserChannel"].StreamingChannelID)
	dup := e.postJSON("/services/data/v66.0/sobjects/StreamingChannel", c.auth, `{"Name":"/u/notifications/ExampleUserChannel"}`)
	assert.Equal(t, http.StatusBadRequest, dup.status)
	assert.Contains(t, string(dup.body), "DUPLICATE_VALUE")

	push := "/services/data/v66.0/sobjects/StreamingChannel/" + created.ID + "/push"
	resp = e.get(push, c.auth)
	assert.Equal(t, `{"OnlineUserIds":[],"ChannelName":"/u/notifications/ExampleUserChannel"}`, string(resp.body))
	resp = e.postJSON(push, c.auth, `{"pushEvents":[{"payload":"nobody hears this","userIds":[]}]}`)
	assert.Equal(t, `[{"fanoutCount":0,"userOnlineStatus":{}}]`, string(resp.body))

	c.handshake()
	c.subscribe("/u/notifications/ExampleUserChannel", nil)
	c.ready()
	resp = e.get(push, c.auth)
	assert.Equal(t, fmt.Sprintf(`{"OnlineUserIds":["%s"],"ChannelName":"/u/notifications/ExampleUserChannel"}`, DefaultUserID), string(resp.body))
	resp = e.postJSON(push, c.auth, fmt.Sprintf(`{"pushEvents":[{"payload":"Broadcast message to all subscribers","userIds":[]},{"payload":"to me","userIds":["%s","005D0000001QXi1IAG"]},{"payload":"to another","userIds":["005D0000001QXi1IAG"]}]}`, DefaultUserID))
	require.Equal(t, http.StatusOK, resp.status, resp.String())
	assert.Equal(t, fmt.Sprintf(`[{"fanoutCount":-1,"userOnlineStatus":{}},{"fanoutCount":1,"userOnlineStatus":{"%s":true,"005D0000001QXi1IAG":false}},{"fanoutCount":0,"userOnlineStatus":{"005D0000001QXi1IAG":false}}]`, DefaultUserID), string(resp.body))
	evs, _, _ := c.connect()
	require.Len(t, evs, 2, "a push to other users only reaches nobody in the emulator's org")
	assert.Equal(t, "Broadcast message to all subscribers", evs[0]["data"].(map[string]any)["payload"])
	assert.Equal(t, "to me", evs[1]["data"].(map[string]any)["payload"])

	cases := []struct {
		name, path, body string
		status           int
	}{
		{"unknown channel id", "/services/data/v66.0/sobjects/StreamingChannel/0M6000000000000AAA/push", `{"pushEvents":[{"payload":"x"}]}`, 404},
		{"no events", push, `{"pushEvents":[]}`, 400},
		{"payload too long", push, `{"pushEvents":[{"payload":"` + strings.Repeat("x", rest.MaxPushPayload+1) + `"}]}`, 400},
		{"not an object", push, `[1]`, 400},
		{"not a /u/ channel", "/services/data/v66.0/sobjects/StreamingChannel", `{"Name":"/topic/X"}`, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.status, e.postJSON(tc.path, c.auth, tc.body).status)
		})
	}
	assert.Equal(t, http.StatusUnauthorized, e.postJSON(push, "", `{"pushEvents":[{"payload":"x"}]}`).status)
}

// Change events carry what real ones do per change type: the whole record for CREATE and UNDELETE, the changed
// fields for UPDATE, the header alone for DELETE and gap events; no recordIds for an overflow event.
func TestChangeEventShapes(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/data/AccountChangeEvent", nil)
	c.ready()
	for _, ct := range ChangeTypes {
		var out PublishResponse
		e.control(http.MethodPost, "/emulator/publish", fmt.Sprintf(`{"channel":"/data/AccountChangeEvent","count":1,"change_type":"%s"}`, ct), &out)
	}
	evs, _, resp := c.connect()
	require.Len(t, evs, len(ChangeTypes), resp.String())
	for i, ev := range evs {
		ct := ChangeTypes[i]
		payload := ev["data"].(map[string]any)["payload"].(map[string]any)
		header := payload["ChangeEventHeader"].(map[string]any)
		assert.Equal(t, string(ct), header["changeType"])
		assert.NotContains(t, header, "isTransactionEnd")
		ts := int64(header["commitTimestamp"].(float64))
		assert.Zero(t, ts%1000, "commitTimestamp has whole seconds")
		assert.Regexp(t, `^0{3}[0-9a-f]{5}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, header["transactionKey"])
		assert.Regexp(t, `^\d{14}$`, fmt.Sprintf("%.0f", header["commitNumber"].(float64)))
		changed := header["changedFields"].([]any)
		fields := len(payload) - 1
		switch ct {
		case ChangeCreate, ChangeUndelete:
			assert.Equal(t, len(eventstore.RecordFields), fields, ct)
			assert.Empty(t, changed)
			assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$`, payload["CreatedDate"])
		case ChangeUpdate:
			require.NotEmpty(t, changed)
			assert.Equal(t, len(changed), fields, "an update carries only its changed fields")
			for _, f := range changed {
				assert.Contains(t, payload, f)
			}
			assert.Equal(t, "LastModifiedDate", changed[len(changed)-1])
		default:
			assert.Zero(t, fields, "%s carries the header only", ct)
		}
		if ct == ChangeGapOverflow {
			assert.Equal(t, []any{"000000000000000AAA"}, header["recordIds"], "the empty id of Salesforce's documented overflow event")
		} else {
			assert.Len(t, header["recordIds"], 1)
		}
	}
	bad := e.control(http.MethodPost, "/emulator/publish", `{"channel":"/event/E__e","count":1,"change_type":"UPDATE"}`, nil)
	assert.Equal(t, http.StatusBadRequest, bad.status)
	bad = e.control(http.MethodPost, "/emulator/publish", `{"channel":"/data/AccountChangeEvent","count":1,"change_type":"MERGE"}`, nil)
	assert.Equal(t, http.StatusBadRequest, bad.status)

	precise := startEmu(t, Config{PreciseCommitTimestamps: true}, true)
	precise.clock.Advance(123 * time.Millisecond)
	d := precise.loggedIn()
	d.handshake()
	d.subscribe("/data/AccountChangeEvent", nil)
	d.ready()
	precise.publish("/data/AccountChangeEvent", 1)
	evs, _, _ = d.connect()
	require.Len(t, evs, 1)
	header := evs[0]["data"].(map[string]any)["payload"].(map[string]any)["ChangeEventHeader"].(map[string]any)
	assert.EqualValues(t, precise.clock.Now().UnixMilli(), header["commitTimestamp"])
}
