package bayeux

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// ---- logging and metrics seen by the user ----

// testLog records log lines ("LEVEL text") and mirrors them to t.Log.
type testLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func newTestLog(t *testing.T) *testLog { return &testLog{t: t} }

func (l *testLog) add(level, format string, args ...any) {
	line := level + " " + fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	l.t.Log(line)
}

func (l *testLog) Debugf(f string, a ...any) { l.add("DEBUG", f, a...) }
func (l *testLog) Infof(f string, a ...any)  { l.add("INFO", f, a...) }
func (l *testLog) Warnf(f string, a ...any)  { l.add("WARN", f, a...) }
func (l *testLog) Errorf(f string, a ...any) { l.add("ERROR", f, a...) }

// has reports whether a line of the level contains every fragment.
func (l *testLog) has(level string, fragments ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, line := range l.lines {
		if !strings.HasPrefix(line, level+" ") {
			continue
		}
		for _, f := range fragments {
			if !strings.Contains(line, f) {
				continue next
			}
		}
		return true
	}
	return false
}

func (l *testLog) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// testObserver counts the Observer calls.
type testObserver struct {
	mu         sync.Mutex
	reconnects []string
	refreshes  int
	fallbacks  []string
	events     int
	drops      map[string]int // "reason channel" -> events dropped
}

func (o *testObserver) Dropped(channel, reason string, n int) {
	o.mu.Lock()
	if o.drops == nil {
		o.drops = map[string]int{}
	}
	o.drops[strings.TrimSpace(reason+" "+channel)] += n
	o.mu.Unlock()
}

func (o *testObserver) dropped() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for k, v := range o.drops {
		out[k] = v
	}
	return out
}

func (o *testObserver) Reconnect(reason stream.ReconnectReason) {
	o.mu.Lock()
	o.reconnects = append(o.reconnects, string(reason))
	o.mu.Unlock()
}

func (o *testObserver) TokenRefresh() {
	o.mu.Lock()
	o.refreshes++
	o.mu.Unlock()
}

func (o *testObserver) ReplayFallback(channel string, policy stream.InvalidReplayPolicy) {
	o.mu.Lock()
	o.fallbacks = append(o.fallbacks, channel+":"+policy.String())
	o.mu.Unlock()
}

func (o *testObserver) Events(_ string, n int) {
	o.mu.Lock()
	o.events += n
	o.mu.Unlock()
}

func (o *testObserver) reasons() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.reconnects...)
}

// ---- authenticators ----

// sfauthAdapter is the adapter the input uses: *sfauth.Source as a stream.TokenSource. It counts calls.
type sfauthAdapter struct {
	src              *sfauth.Source
	tokens, refreshs atomic.Int32
}

func newSfauth(t *testing.T, orgURL string) *sfauthAdapter {
	t.Helper()
	src, err := sfauth.NewSource(sfauth.Config{
		OrgURL:       orgURL,
		GrantType:    sfauth.GrantClientCredentials,
		ClientID:     sfemu.DefaultClientID,
		ClientSecret: sfemu.DefaultClientSecret,
	})
	require.NoError(t, err)
	return &sfauthAdapter{src: src}
}

func (a *sfauthAdapter) Token(ctx context.Context) (sfauth.Token, error) {
	a.tokens.Add(1)
	return a.src.Token(ctx)
}

func (a *sfauthAdapter) Refresh(ctx context.Context, stale sfauth.Token) (sfauth.Token, error) {
	a.refreshs.Add(1)
	return a.src.Refresh(ctx, stale)
}

// staticAuth hands out fixed tokens: first from Token, then each Refresh returns the next of refreshed.
type staticAuth struct {
	url       string
	first     string
	mu        sync.Mutex
	refreshed []string
	refreshes int
}

func (a *staticAuth) Token(context.Context) (sfauth.Token, error) {
	return sfauth.Token{AccessToken: a.first, InstanceURL: a.url}, nil
}

func (a *staticAuth) Refresh(context.Context, sfauth.Token) (sfauth.Token, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refreshes++
	if len(a.refreshed) == 0 {
		return sfauth.Token{AccessToken: a.first, InstanceURL: a.url}, nil
	}
	tok := a.refreshed[0]
	if len(a.refreshed) > 1 {
		a.refreshed = a.refreshed[1:]
	}
	return sfauth.Token{AccessToken: tok, InstanceURL: a.url}, nil
}

// ---- the emulator over loopback TCP ----

// emu is sfemu behind httptest, driven through its HTTP control API, with a recorder of the CometD requests.
type emu struct {
	t   *testing.T
	srv *sfemu.Server
	ts  *httptest.Server
	url string
	rec *recorder
}

func startEmu(t *testing.T, cfg sfemu.Config) *emu {
	t.Helper()
	if cfg.Hold == 0 {
		cfg.Hold = 300 * time.Millisecond
	}
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	// These tests subscribe before they publish; channel existence is sfemu's
	// own test, so the emulator defines a channel on its first subscribe.
	cfg.AnyChannel = true
	e := &emu{t: t, srv: sfemu.New(cfg)}
	e.rec = &recorder{next: e.srv}
	e.ts = httptest.NewServer(e.rec)
	e.url = e.ts.URL
	t.Cleanup(func() {
		e.ts.CloseClientConnections()
		e.srv.Close()
		e.ts.Close()
	})
	return e
}

func (e *emu) control(method, path string, body any, out any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, "%s %s: %s", method, path, raw)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(raw, out))
	}
}

// publish publishes n generated events and returns their first and last replay ids.
func (e *emu) publish(channel string, n int) (int64, int64) {
	e.t.Helper()
	var out sfemu.PublishResponse
	e.control(http.MethodPost, "/emulator/publish", map[string]any{"channel": channel, "count": n}, &out)
	return out.FirstReplayID, out.LastReplayID
}

func (e *emu) publishPayloads(channel string, payloads ...string) (int64, int64) {
	e.t.Helper()
	raws := make([]json.RawMessage, len(payloads))
	for i, p := range payloads {
		raws[i] = json.RawMessage(p)
	}
	var out sfemu.PublishResponse
	e.control(http.MethodPost, "/emulator/publish", map[string]any{"channel": channel, "payloads": raws}, &out)
	return out.FirstReplayID, out.LastReplayID
}

func (e *emu) fault(name string, extra ...any) {
	e.t.Helper()
	body := map[string]any{"fault": name}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	e.control(http.MethodPost, "/emulator/faults", body, nil)
}

func (e *emu) purge(channel string, through int64) {
	e.t.Helper()
	e.control(http.MethodPost, "/emulator/purge", map[string]any{"channel": channel, "through_replay_id": through}, nil)
}

func (e *emu) state() sfemu.State {
	e.t.Helper()
	var st sfemu.State
	e.control(http.MethodGet, "/emulator/state", nil, &st)
	return st
}

func (e *emu) counter(name string) int64 { return e.state().Counters[name] }

// recorder keeps every CometD message the client sends, with the cookies of its request.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	msgs []recorded
}

type recorded struct {
	Channel      string                     `json:"channel"`
	Subscription string                     `json:"subscription"`
	ClientID     string                     `json:"clientId"`
	Ext          map[string]json.RawMessage `json:"ext"`
	Replay       map[string]int64           `json:"-"` // ext.replay of a subscribe
	Cookies      map[string]string          `json:"-"` // cookies of the request
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if strings.HasPrefix(req.URL.Path, "/cometd/") {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		var msgs []recorded
		if json.Unmarshal(body, &msgs) == nil {
			cookies := map[string]string{}
			for _, c := range req.Cookies() {
				cookies[c.Name] = c.Value
			}
			r.mu.Lock()
			for _, m := range msgs {
				m.Cookies = cookies
				if raw, ok := m.Ext["replay"]; ok {
					_ = json.Unmarshal(raw, &m.Replay)
				}
				r.msgs = append(r.msgs, m)
			}
			r.mu.Unlock()
		}
	}
	r.next.ServeHTTP(w, req)
}

// messages returns the recorded messages on a meta channel.
func (r *recorder) messages(channel string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, m := range r.msgs {
		if m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// subscribeReplays lists, in order, the replay id each subscribe to channel carried (absent: "none").
func (r *recorder) subscribeReplays(channel string) []string {
	var out []string
	for _, m := range r.messages(wire.ChannelSubscribe) {
		if m.Subscription != channel {
			continue
		}
		if m.Replay == nil {
			out = append(out, "none")
			continue
		}
		id, ok := m.Replay[stream.ChannelKey(channel)]
		if !ok || len(m.Replay) != 1 {
			out = append(out, fmt.Sprintf("bad map %v", m.Replay))
			continue
		}
		out = append(out, fmt.Sprint(id))
	}
	return out
}

// ---- the client under test ----

type harness struct {
	t   *testing.T
	c   *Client
	log *testLog
	obs *testObserver
}

// fastBackoff keeps recoveries within test time while still exercising every wait.
var fastBackoff = stream.BackoffConfig{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Long: 300 * time.Millisecond}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, log: newTestLog(t), obs: &testObserver{}}
	cfg.Logger = h.log
	cfg.Observer = h.obs
	if cfg.Backoff == (stream.BackoffConfig{}) {
		cfg.Backoff = fastBackoff
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.ConnectTimeoutMargin == 0 {
		cfg.ConnectTimeoutMargin = 2 * time.Second
	}
	c, err := New(cfg)
	require.NoError(t, err)
	h.c = c
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return h
}

func (h *harness) start() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(h.t, h.c.Start(ctx))
}

// collect takes batches until n events arrived, failing after timeout.
func (h *harness) collect(n int, timeout time.Duration) []stream.Event {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []stream.Event
	for len(out) < n {
		b, err := h.c.Next(ctx)
		require.NoError(h.t, err, "got %d of %d events", len(out), n)
		require.NotEmpty(h.t, b.Events)
		for _, e := range b.Events {
			require.Equal(h.t, b.Channel, e.Channel)
		}
		out = append(out, b.Events...)
	}
	return out
}

// quiet asserts that no batch arrives within d.
func (h *harness) quiet(d time.Duration) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	b, err := h.c.Next(ctx)
	require.ErrorIs(h.t, err, context.DeadlineExceeded, "unexpected batch %+v", b)
}

// replayIDs lists the events' replay ids.
func replayIDs(evs []stream.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.ReplayID
	}
	return out
}

// assertSequence checks that ids are exactly the published ranges, in order, each once: no loss, no
// duplicate, no reordering (ids are increasing per channel with gaps, so strictly increasing and the right
// count between first and last is the check).
func assertSequence(t *testing.T, ids []int64, first, last int64, count int) {
	t.Helper()
	require.Len(t, ids, count, "ids %v", ids)
	require.Equal(t, first, ids[0])
	require.Equal(t, last, ids[len(ids)-1])
	for i := 1; i < len(ids); i++ {
		require.Greater(t, ids[i], ids[i-1], "out of order or duplicate at %d: %v", i, ids)
	}
}

// eventually polls cond every 10 ms up to timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(msg, args...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fmtInt(n int64) string { return fmt.Sprint(n) }
