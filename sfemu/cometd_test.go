package sfemu

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandshakeReplyAndCookies(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	resp := c.handshake()
	want := fmt.Sprintf(`[{"ext":{"replay":true,"payload.format":true},"minimumVersion":"1.0","clientId":"%s","supportedConnectionTypes":["long-polling"],"channel":"/meta/handshake","id":"1","version":"1.0","successful":true}]`, c.clientID)
	assert.Equal(t, want, string(resp.body))
	assert.Len(t, c.clientID, 27)
	assert.Regexp(t, `^BAYEUX_BROWSER=[A-Za-z0-9]+; Path=/; HttpOnly$`, resp.setCookie("BAYEUX_BROWSER"))
	assert.Regexp(t, `^sfdc-stream=![A-Za-z0-9+/]{79}=; path=/; Expires=\w{3}, \d\d-\w{3}-\d{4} \d\d:\d\d:\d\d GMT$`, resp.setCookie("sfdc-stream"), "no Secure over plain HTTP")
	assert.Equal(t, "application/json;charset=UTF-8", resp.header.Get("Content-Type"))

	// The first connect answers at once with advice; the next ones are plain.
	_, _, first := c.connect()
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","advice":{"interval":0,"timeout":110000,"reconnect":"retry"},"channel":"/meta/connect","id":"2","successful":true}]`, c.clientID), string(first.body))
}

func TestCookiesSecureOverTLS(t *testing.T) {
	srv := New(Config{Seed: 1})
	t.Cleanup(srv.Close)
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(ts.Close)
	e := &testEmu{t: t, srv: srv, ts: ts, url: ts.URL}
	c := e.newClient()
	jar, _ := cookiejar.New(nil)
	c.hc = ts.Client()
	c.hc.Jar = jar
	resp := e.do(mustReq(t, ts.URL+"/services/oauth2/token", "grant_type=client_credentials&client_id=sfemu-client-id&client_secret=sfemu-client-secret"), ts.Client())
	require.Equal(t, http.StatusOK, resp.status)
	assert.Contains(t, string(resp.body), `"instance_url":"https://127.0.0.1:`)
	c.auth = "Bearer " + strings.Split(strings.Split(string(resp.body), `"access_token":"`)[1], `"`)[0]
	hs := c.handshake()
	assert.Regexp(t, `^BAYEUX_BROWSER=[A-Za-z0-9]+; Path=/; HttpOnly; Secure$`, hs.setCookie("BAYEUX_BROWSER"))
	assert.Regexp(t, `^sfdc-stream=![A-Za-z0-9+/]{79}=; path=/; Expires=\w{3}, \d\d-\w{3}-\d{4} \d\d:\d\d:\d\d GMT;  SameSite=None; Secure$`, hs.setCookie("sfdc-stream"))
	_, reply, _ := c.connect()
	assert.Equal(t, true, reply["successful"], "the jar sends Secure cookies back over TLS")
}

func mustReq(t *testing.T, u, form string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func TestAPIVersionAndPaths(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/cometd", 400, `[{"error":"400::API version in the URI is mandatory. URI format: '/cometd/66.0'","successful":false}]`},
		{"/cometd/", 400, `[{"error":"400::API version in the URI is mandatory. URI format: '/cometd/66.0'","successful":false}]`},
		{"/cometd/36.0", 400, `[{"error":"400::Unsupported API version. Only API versions '37.0' and later are supported. URI format: '/cometd/66.0'","successful":false}]`},
		{"/cometd/abc", 400, `[{"error":"400::Unsupported API version. Only API versions '37.0' and later are supported. URI format: '/cometd/66.0'","successful":false}]`},
		{"/cometd/64.0/bogus", 404, `[{"error":"404::Unknown path /cometd/64.0/bogus","successful":false}]`},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp := c.post(tc.path, `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"id":"1"}]`)
			assert.Equal(t, tc.status, resp.status)
			assert.Equal(t, tc.body, string(resp.body))
		})
	}
	for _, path := range []string{"/cometd/37.0", "/cometd/64.0/", "/cometd/66.0/handshake", "/cometd/64.0/handshake/"} {
		t.Run(path, func(t *testing.T) {
			resp := c.post(path, `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"id":"1"}]`)
			require.Equal(t, http.StatusOK, resp.status, resp.String())
			assert.Equal(t, true, resp.messages(t)[0]["successful"])
		})
	}
}

func TestRequestFormsAndAuthSchemes(t *testing.T) {
	e := startEmu(t, Config{}, true)
	tok := e.token()
	hs := `{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"id":"1"}`
	cases := []struct {
		name, auth, contentType, body string
		ok                            bool
		reason                        string
	}{
		{"bearer array", "Bearer " + tok, "application/json", "[" + hs + "]", true, ""},
		{"single object", "Bearer " + tok, "application/json", hs, true, ""},
		{"lowercase bearer", "bearer " + tok, "application/json", hs, true, ""},
		{"OAuth scheme", "OAuth " + tok, "application/json", hs, true, ""},
		{"bare token", tok, "application/json", hs, true, ""},
		{"form message=", "Bearer " + tok, "application/x-www-form-urlencoded", "message=" + urlEscape("["+hs+"]"), true, ""},
		{"basic scheme", "Basic " + tok, "application/json", hs, false, "401::Authentication invalid"},
		{"no header", "", "application/json", hs, false, "401::Request requires authentication"},
		{"empty bearer", "Bearer ", "application/json", hs, false, "401::Request requires authentication"},
		{"unknown token", "Bearer 00Dxx!nope", "application/json", hs, false, "401::Authentication invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.url+"/cometd/64.0", strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", tc.contentType)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp := e.do(req, nil)
			require.Equal(t, http.StatusOK, resp.status, resp.String())
			msgs := resp.messages(t)
			require.Len(t, msgs, 1)
			if tc.ok {
				assert.Equal(t, true, msgs[0]["successful"], resp.String())
				return
			}
			want := fmt.Sprintf(`[{"ext":{"sfdc":{"failureReason":"%s"}},"advice":{"reconnect":"none"},"channel":"/meta/handshake","id":"1","error":"403::Handshake denied","successful":false}]`, tc.reason)
			assert.Equal(t, want, string(resp.body))
		})
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "=", "%3D", " ", "%20")
	return r.Replace(s)
}

func TestBadRequests(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"not json", `hello`, 400, `[{"error":"400::invalid JSON in request: expected an array of Bayeux messages","successful":false}]`},
		{"broken json", `[{"channel":`, 400, `[{"error":"400::invalid JSON in request","successful":false}]`},
		{"empty", ``, 400, `[{"error":"400::empty request: expected a JSON array of Bayeux messages","successful":false}]`},
		{"empty array", `[]`, 400, `[{"error":"400::empty message array","successful":false}]`},
		{"no channel", `[{"id":"9"}]`, 200, `[{"id":"9","error":"400::Channel name not specified","successful":false}]`},
		{"unknown meta", `[{"channel":"/meta/bogus","id":"9"}]`, 200, `[{"channel":"/meta/bogus","id":"9","error":"400::Unknown channel","successful":false}]`},
		{"client publish", `[{"channel":"/event/X__e","id":"9","data":{}}]`, 200, `[{"channel":"/event/X__e","id":"9","error":"403::Publish denied","successful":false}]`},
		{"wrong field type", `[{"channel":"/meta/connect","clientId":5}]`, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.post("", tc.body)
			assert.Equal(t, tc.status, resp.status, resp.String())
			if tc.want != "" {
				assert.Equal(t, tc.want, string(resp.body))
			} else {
				assert.Contains(t, string(resp.body), `"error":"400::Invalid message`)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		resp := e.do(mustGet(t, e.url+"/cometd/64.0"), nil)
		assert.Equal(t, http.StatusMethodNotAllowed, resp.status)
	})
}

func mustGet(t *testing.T, u string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return req
}

func TestRequestSizeLimit(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	// Exactly 32,768 bytes passes; one more is refused with 413.
	build := func(size int) string {
		prefix := `[{"channel":"/meta/subscribe","clientId":"` + c.clientID + `","id":"x","subscription":"/event/A__e","pad":"`
		suffix := `"}]`
		return prefix + strings.Repeat("p", size-len(prefix)-len(suffix)) + suffix
	}
	ok := c.post("", build(32768))
	assert.Equal(t, http.StatusOK, ok.status, ok.String())
	big := c.post("", build(32769))
	assert.Equal(t, http.StatusRequestEntityTooLarge, big.status)
	assert.Equal(t, `[{"error":"413::Maximum Request Size Exceeded","successful":false}]`, string(big.body))
}

func TestSubscribeErrors(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	_, last := e.publish("/event/Order__e", 3)
	cases := []struct {
		name         string
		subscription any
		replay       map[string]any
		err          string
	}{
		{"no channel", nil, nil, "400::Channel name not specified"},
		{"empty channel", "", nil, "400::Channel name not specified"},
		{"no leading slash", "event/Order__e", nil, "400::Channel subscriptions must start with a leading '/'"},
		{"unknown kind", "/foo/Bar", nil, "400::The channel you requested to subscribe to doesn’t exist {/foo/Bar}"},
		{"filter on platform event", "/event/Order__e?A=1", nil, "400::The channel you requested to subscribe to doesn’t exist {/event/Order__e?A=1}"},
		{"empty replay map", "/event/Order__e", map[string]any{}, "400::The replayId for channel {/event/Order__e} wasn't found using the provided replay ID map {{}}. Ensure that the channel name you provided in the replay map is valid and matches the channel name used for subscribing."},
		{"other key only", "/event/Order__e", map[string]any{"/event/Other__e": 5, "/data/ChangeEvents": -1}, "400::The replayId for channel {/event/Order__e} wasn't found using the provided replay ID map {{/data/ChangeEvents=-1, /event/Other__e=5}}. Ensure that the channel name you provided in the replay map is valid and matches the channel name used for subscribing."},
		{"never existed id", "/event/Order__e", map[string]any{"/event/Order__e": last + 1000}, fmt.Sprintf("400::The replayId {%d} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.", last+1000)},
		{"other negative", "/event/Order__e", map[string]any{"/event/Order__e": -3}, "400::The replayId {-3} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events."},
		{"not a number", "/event/Order__e", map[string]any{"/event/Order__e": "abc"}, "400::The replayId {abc} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := c.subscribeMsg("", tc.replay)
			delete(m, "subscription")
			sub := ""
			if tc.subscription != nil {
				m["subscription"] = tc.subscription
				sub = fmt.Sprintf(`"subscription":"%s",`, tc.subscription)
			}
			resp := c.send(m)
			want := fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/subscribe","id":"%s",%s"error":"%s","successful":false}]`, c.clientID, m["id"], sub, tc.err)
			assert.Equal(t, want, string(resp.body))
		})
	}
}

func TestReplaySemantics(t *testing.T) {
	e := startEmu(t, Config{}, true)
	_, _ = e.publish("/event/Order__e", 5)
	st := e.state().Channels["/event/Order__e"]
	all := func() []int64 {
		c := e.loggedIn()
		c.handshake()
		c.subscribe("/event/Order__e", map[string]any{"/event/Order__e": -2})
		evs, _, _ := c.connect()
		return replayIDs(evs)
	}()
	require.Len(t, all, 5)
	assert.Equal(t, st.FirstReplayID, all[0])
	assert.Equal(t, st.LastReplayID, all[4])
	gaps := false
	for i := 1; i < len(all); i++ {
		assert.Greater(t, all[i], all[i-1], "replay ids increase")
		gaps = gaps || all[i]-all[i-1] > 1
	}
	assert.True(t, gaps, "replay ids have gaps: %v", all)

	cases := []struct {
		name   string
		replay map[string]any
		want   []int64
	}{
		{"no ext: new only", nil, nil},
		{"-1: new only", map[string]any{"/event/Order__e": -1}, nil},
		{"-2: everything retained", map[string]any{"/event/Order__e": -2}, all},
		{"after N excludes N", map[string]any{"/event/Order__e": all[1]}, all[2:]},
		{"numeric string", map[string]any{"/event/Order__e": fmt.Sprint(all[3])}, all[4:]},
		{"newest id", map[string]any{"/event/Order__e": all[4]}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.loggedIn()
			c.handshake()
			c.subscribe("/event/Order__e", tc.replay)
			m := c.connectMsg()
			m["advice"] = map[string]any{"timeout": 0} // answer now even without events
			resp := c.send(m)
			var got []int64
			for _, msg := range resp.messages(t) {
				if msg["channel"] == "/event/Order__e" {
					got = append(got, int64(msg["data"].(map[string]any)["event"].(map[string]any)["replayId"].(float64)))
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestReplayInRangeKnob(t *testing.T) {
	e := startEmu(t, Config{AcceptReplayInRange: true, MaxReplayGap: 10}, true)
	first, last := e.publish("/data/ChangeEvents", 5)
	c := e.loggedIn()
	c.handshake()
	// An id inside the retained range that no event has is accepted with the knob.
	var inside int64
	for id := first + 1; id < last; id++ {
		if !e.srv.replayValidExact(id) {
			inside = id
			break
		}
	}
	require.NotZero(t, inside, "some id between %d and %d has no event", first, last)
	c.subscribe("/data/ChangeEvents", map[string]any{"/data/ChangeEvents": inside})
	resp := c.send(c.subscribeMsg("/data/ChangeEvents", map[string]any{"/data/ChangeEvents": last + 1}))
	assert.Contains(t, string(resp.body), "400::The replayId {")
}

// replayValidExact reports whether an event with exactly this id is retained on /data/ChangeEvents.
func (s *Server) replayValidExact(id int64) bool {
	s.store.Lock()
	defer s.store.Unlock()
	for _, ev := range s.store.LookupLocked("/data/ChangeEvents").Retained() {
		if ev.ID == id {
			return true
		}
	}
	return false
}

func TestUnsubscribeAndDisconnectShapes(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/u/Alerts", nil)
	resp := c.send(map[string]any{"channel": "/meta/unsubscribe", "clientId": c.clientID, "subscription": "/u/Alerts", "id": "7"})
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/unsubscribe","id":"7","subscription":"/u/Alerts","successful":true}]`, c.clientID), string(resp.body))
	assert.Empty(t, e.state().Clients[0].Subscriptions)

	resp = c.send(map[string]any{"channel": "/meta/disconnect", "clientId": c.clientID, "id": "8"})
	assert.Equal(t, fmt.Sprintf(`[{"channel":"/meta/disconnect","clientId":"%s","id":"8","successful":true}]`, c.clientID), string(resp.body))
	assert.Empty(t, e.state().Clients, "disconnect frees the client")
	_, reply, _ := c.connect()
	assert.Equal(t, "403::Unknown client", reply["error"])
}

func TestBatchedMessagesInOneRequest(t *testing.T) {
	e := startEmu(t, Config{}, true)
	e.publish("/event/A__e", 2)
	c := e.loggedIn()
	c.handshake()
	// Bulk subscribe plus the connect in one POST: replies in order, events before the connect reply.
	resp := c.send(c.subscribeMsg("/event/A__e", map[string]any{"/event/A__e": -2}), c.subscribeMsg("/u/B", nil), c.connectMsg())
	msgs := resp.messages(t)
	require.Len(t, msgs, 5)
	assert.Equal(t, "/meta/subscribe", msgs[0]["channel"])
	assert.Equal(t, "/meta/subscribe", msgs[1]["channel"])
	assert.Equal(t, "/event/A__e", msgs[2]["channel"])
	assert.Equal(t, "/event/A__e", msgs[3]["channel"])
	assert.Equal(t, "/meta/connect", msgs[4]["channel"])
}

func TestNewerConnectAnswersOlder(t *testing.T) {
	e := startEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	c.ready()
	older := c.connectAsync()
	e.waitHeld(1)
	newer := c.connectAsync()
	r := await(t, older)
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/connect","id":"3","successful":true}]`, c.clientID), string(r.body))
	e.waitHeld(1)
	e.clock.Advance(110 * time.Second)
	assert.Equal(t, http.StatusOK, await(t, newer).status)
}
