package sfemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The tests talk to the emulator over real loopback TCP with this minimal raw HTTP client (net/http +
// encoding/json), not the project's CometD client, so that the emulator is checked on its own.

type testEmu struct {
	t     *testing.T
	srv   *Server
	ts    *httptest.Server
	url   string
	clock *FakeClock // nil unless the config asked for one
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// startEmu serves New(cfg) on loopback; fake makes it run on a FakeClock. A subscribe defines the channel it
// names (AnyChannel), as these tests subscribe before they publish; startStrictEmu keeps Salesforce's rule.
func startEmu(t *testing.T, cfg Config, fake bool) *testEmu {
	t.Helper()
	cfg.AnyChannel = true
	return startStrictEmu(t, cfg, fake)
}

// startStrictEmu is startEmu where channels exist only when defined.
func startStrictEmu(t *testing.T, cfg Config, fake bool) *testEmu {
	t.Helper()
	e := &testEmu{t: t}
	if fake {
		e.clock = NewFakeClock(epoch)
		cfg.Clock = e.clock
	}
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	e.srv = New(cfg)
	e.ts = httptest.NewServer(e.srv)
	e.url = e.ts.URL
	t.Cleanup(func() {
		e.srv.Close()
		e.ts.Close()
	})
	return e
}

type rawResp struct {
	status int
	header http.Header
	body   []byte
}

func (r rawResp) String() string { return fmt.Sprintf("HTTP %d %s", r.status, r.body) }

// messages decodes a Bayeux answer.
func (r rawResp) messages(t *testing.T) []map[string]any {
	t.Helper()
	var msgs []map[string]any
	require.NoError(t, json.Unmarshal(r.body, &msgs), "answer: %s", r.body)
	return msgs
}

// setCookie returns the Set-Cookie header line for a cookie name ("" when absent).
func (r rawResp) setCookie(name string) string {
	for _, line := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, name+"=") {
			return line
		}
	}
	return ""
}

type rawClient struct {
	t        *testing.T
	e        *testEmu
	hc       *http.Client
	auth     string // Authorization header value; "" sends none
	clientID string
	n        int
	path     string // CometD endpoint; "" is /cometd/64.0
}

func (e *testEmu) newClient() *rawClient {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	return &rawClient{t: e.t, e: e, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// loggedIn returns a client holding a bearer token from the client_credentials grant.
func (e *testEmu) loggedIn() *rawClient {
	c := e.newClient()
	c.auth = "Bearer " + e.token()
	return c
}

func (e *testEmu) token() string {
	resp := e.postForm("/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}})
	require.Equal(e.t, http.StatusOK, resp.status, resp.String())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(e.t, json.Unmarshal(resp.body, &tok))
	require.NotEmpty(e.t, tok.AccessToken)
	return tok.AccessToken
}

func (e *testEmu) do(req *http.Request, hc *http.Client) rawResp {
	e.t.Helper()
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return rawResp{status: resp.StatusCode, header: resp.Header, body: body}
}

func (e *testEmu) postForm(path string, form url.Values) rawResp {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req, nil)
}

// control calls the control API and decodes a 200 answer into out (when not nil).
func (e *testEmu) control(method, path, body string, out any) rawResp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp := e.do(req, nil)
	if out != nil {
		require.Equal(e.t, http.StatusOK, resp.status, resp.String())
		require.NoError(e.t, json.Unmarshal(resp.body, out))
	}
	return resp
}

func (e *testEmu) publish(channel string, count int) (first, last int64) {
	e.t.Helper()
	var out PublishResponse
	e.control(http.MethodPost, "/emulator/publish", fmt.Sprintf(`{"channel":%q,"count":%d}`, channel, count), &out)
	return out.FirstReplayID, out.LastReplayID
}

func (e *testEmu) publishPayloads(channel string, payloads ...string) (first, last int64) {
	e.t.Helper()
	var out PublishResponse
	e.control(http.MethodPost, "/emulator/publish", fmt.Sprintf(`{"channel":%q,"payloads":[%s]}`, channel, strings.Join(payloads, ",")), &out)
	return out.FirstReplayID, out.LastReplayID
}

func (e *testEmu) fault(body string) {
	e.t.Helper()
	resp := e.control(http.MethodPost, "/emulator/faults", body, nil)
	require.Equal(e.t, http.StatusOK, resp.status, resp.String())
}

func (e *testEmu) state() State {
	e.t.Helper()
	var st State
	e.control(http.MethodGet, "/emulator/state", "", &st)
	return st
}

// waitHeld waits until n long polls are held (bounded), so a test acts on a parked connect.
func (e *testEmu) waitHeld(n int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e.clock != nil {
		require.NoError(e.t, e.clock.WaitTimers(ctx, n), "waiting for %d held long polls", n)
		return
	}
	for {
		e.srv.store.Lock()
		held := e.srv.cometd.HeldLocked()
		e.srv.store.Unlock()
		if held >= n {
			return
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("waiting for %d held long polls: %d held", n, held)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (c *rawClient) endpoint() string {
	if c.path != "" {
		return c.path
	}
	return "/cometd/64.0"
}

func (c *rawClient) id() string {
	c.n++
	return fmt.Sprint(c.n)
}

// post sends a raw CometD body to path, by default the client's endpoint.
func (c *rawClient) post(path, body string) rawResp {
	c.t.Helper()
	if path == "" {
		path = c.endpoint()
	}
	req, err := http.NewRequest(http.MethodPost, c.e.url+path, strings.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	return c.e.do(req, c.hc)
}

// send posts Bayeux messages as a JSON array.
func (c *rawClient) send(msgs ...map[string]any) rawResp {
	c.t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(c.t, enc.Encode(msgs))
	return c.post("", buf.String())
}

func (c *rawClient) handshakeMsg() map[string]any {
	return map[string]any{"channel": "/meta/handshake", "version": "1.0", "minimumVersion": "1.0",
		"supportedConnectionTypes": []string{"long-polling"}, "id": c.id(), "ext": map[string]any{"replay": true}}
}

// handshake performs a successful handshake and remembers the clientId.
func (c *rawClient) handshake() rawResp {
	c.t.Helper()
	resp := c.send(c.handshakeMsg())
	require.Equal(c.t, http.StatusOK, resp.status, resp.String())
	msgs := resp.messages(c.t)
	require.Len(c.t, msgs, 1)
	require.Equal(c.t, true, msgs[0]["successful"], resp.String())
	c.clientID = msgs[0]["clientId"].(string)
	return resp
}

func (c *rawClient) subscribeMsg(channel string, replay map[string]any) map[string]any {
	m := map[string]any{"channel": "/meta/subscribe", "clientId": c.clientID, "subscription": channel, "id": c.id()}
	if replay != nil {
		m["ext"] = map[string]any{"replay": replay}
	}
	return m
}

// subscribe subscribes and requires success.
func (c *rawClient) subscribe(channel string, replay map[string]any) {
	c.t.Helper()
	resp := c.send(c.subscribeMsg(channel, replay))
	msgs := resp.messages(c.t)
	require.Len(c.t, msgs, 1)
	require.Equal(c.t, true, msgs[0]["successful"], resp.String())
}

func (c *rawClient) connectMsg() map[string]any {
	return map[string]any{"channel": "/meta/connect", "clientId": c.clientID, "connectionType": "long-polling", "id": c.id()}
}

// connect sends one /meta/connect and splits the answer into events and the connect reply.
func (c *rawClient) connect() (events []map[string]any, reply map[string]any, resp rawResp) {
	c.t.Helper()
	resp = c.send(c.connectMsg())
	require.Equal(c.t, http.StatusOK, resp.status, resp.String())
	for _, m := range resp.messages(c.t) {
		if m["channel"] == "/meta/connect" {
			reply = m
		} else if _, ok := m["data"]; ok {
			events = append(events, m)
		}
	}
	return events, reply, resp
}

// connectAsync runs connect in the background; the result arrives on the channel.
func (c *rawClient) connectAsync() <-chan rawResp {
	out := make(chan rawResp, 1)
	body, _ := json.Marshal([]map[string]any{c.connectMsg()})
	go func() {
		req, _ := http.NewRequest(http.MethodPost, c.e.url+c.endpoint(), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", c.auth)
		resp, err := c.hc.Do(req)
		if err != nil {
			out <- rawResp{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			out <- rawResp{status: -1, body: []byte(err.Error())}
			return
		}
		out <- rawResp{status: resp.StatusCode, header: resp.Header, body: b}
	}()
	return out
}

func await(t *testing.T, ch <-chan rawResp) rawResp {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no answer to the long poll within 10s")
		return rawResp{}
	}
}

// replayIDs lists event.replayId of data messages.
func replayIDs(events []map[string]any) []int64 {
	var ids []int64
	for _, ev := range events {
		data := ev["data"].(map[string]any)
		ids = append(ids, int64(data["event"].(map[string]any)["replayId"].(float64)))
	}
	return ids
}

// ready connects once (the first connect answers at once with advice) so later connects are held.
func (c *rawClient) ready() {
	c.t.Helper()
	_, reply, resp := c.connect()
	require.Equal(c.t, true, reply["successful"], resp.String())
}
