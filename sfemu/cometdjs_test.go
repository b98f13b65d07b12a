package sfemu_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// A third-party client must be able to stream from the emulator, or the emulator only proves that our client agrees
// with itself. The official CometD JavaScript client (npm cometd + cometd-nodejs-client, versions pinned in
// testdata/cometdjs/package-lock.json) runs testdata/cometdjs/stream.js: handshake with ext.replay, subscribe with a
// replay id in ext.replay, long polls, disconnect.

const (
	cometdJSDir     = "testdata/cometdjs"
	cometdJSInstall = "run `npm ci --prefix sfemu/testdata/cometdjs` (make test does)"
	cometdJSChannel = "/event/Order__e"
	cometdJSWait    = 20 * time.Second // bound of every wait for the script; its own timeout is the same
)

func TestCometDJSStreamsFromEmulator(t *testing.T) {
	node := requireNodeModules(t, cometdJSDir, cometdJSInstall, "cometd", "cometd-nodejs-client")

	cases := []struct {
		name string
		// replayFrom picks the subscribe replay id from the ids of the 10 events published before the subscription.
		replayFrom func(ids []int64) int64
		// replayed lists the events the subscription must deliver before any live one.
		replayed func(ids []int64) []int64
		// apiVersion is SFEMU_API_VERSION; "latest" reads the Versions resource first, as Salesforce's quickstart.
		apiVersion string
	}{
		{"after the 3rd retained event", func(ids []int64) int64 { return ids[2] }, func(ids []int64) []int64 { return ids[3:] }, ""},
		{"all retained (-2)", func([]int64) int64 { return -2 }, func(ids []int64) []int64 { return ids }, ""},
		{"new events only (-1)", func([]int64) int64 { return -1 }, func([]int64) []int64 { return nil }, ""},
		{"newest API version from /services/data/", func(ids []int64) int64 { return ids[4] }, func(ids []int64) []int64 { return ids[5:] }, "latest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu := startCometDJSEmulator(t)
			token, instanceURL := emu.token(t)
			require.Equal(t, emu.url, instanceURL, "instance_url must be the emulator's own base URL")

			retained := make([]int64, 10)
			for i := range retained {
				retained[i] = emu.publishOne(t)
			}
			const live = 5
			wantReplayed := tc.replayed(retained)
			run := startStreamJS(t, node, instanceURL, token, tc.replayFrom(retained), len(wantReplayed)+live, tc.apiVersion)

			// Replay path: the subscription delivers exactly the retained events after the replay id, in order.
			// The subscribe answer and the first events travel on concurrent requests, so either may come first.
			got := run.collect(t, len(wantReplayed), true)
			require.Equal(t, wantReplayed, got, "replayed events")

			// Live path: events published while the client's long poll is held reach it (on that poll, or on the
			// next one when the 2 s hold ends first), after the replayed ones and nothing else in between.
			emu.waitHeldPoll(t)
			var wantLive []int64
			for range live {
				wantLive = append(wantLive, emu.publishOne(t))
			}
			got = run.collect(t, live, false)
			require.Equal(t, wantLive, got, "live events")

			run.requireSuccess(t)
			st := emu.state(t)
			assert.Empty(t, st.Clients, "the client's /meta/disconnect must end its session")
			assert.EqualValues(t, 1, st.Counters["handshakes"], "a re-handshake means the client hit an error")
			assert.EqualValues(t, 1, st.Counters["subscribes"])
			assert.EqualValues(t, 1, st.Counters["disconnects"])
			assert.EqualValues(t, len(wantReplayed)+live, st.Counters["events_delivered"])
		})
	}
}

type cometdJSEmulator struct {
	url string
	hc  *http.Client
}

func startCometDJSEmulator(t *testing.T) *cometdJSEmulator {
	t.Helper()
	cfg := sfemu.DefaultConfig()
	// A short hold makes the client go through empty long polls (and advice handling) within the test, while still
	// leaving a poll held long enough to publish into it.
	cfg.Hold = 2 * time.Second
	srv := sfemu.New(cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return &cometdJSEmulator{url: ts.URL, hc: &http.Client{Timeout: 10 * time.Second}}
}

func (e *cometdJSEmulator) post(t *testing.T, path, contentType string, body io.Reader, out any) {
	t.Helper()
	resp, err := e.hc.Post(e.url+path, contentType, body)
	require.NoError(t, err, "POST %s", path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "reading the answer of POST %s", path)
	require.Equal(t, http.StatusOK, resp.StatusCode, "POST %s: %s", path, b)
	require.NoError(t, json.Unmarshal(b, out), "decoding the answer of POST %s: %s", path, b)
}

// token runs the client_credentials grant with the default credentials.
func (e *cometdJSEmulator) token(t *testing.T) (accessToken, instanceURL string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {sfemu.DefaultClientID},
		"client_secret": {sfemu.DefaultClientSecret}}
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	e.post(t, "/services/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), &tok)
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken, tok.InstanceURL
}

// publishOne publishes one event through the control API and returns its replay id.
func (e *cometdJSEmulator) publishOne(t *testing.T) int64 {
	t.Helper()
	var res sfemu.PublishResponse
	e.post(t, "/emulator/publish", "application/json", strings.NewReader(`{"channel":"`+cometdJSChannel+`","count":1}`), &res)
	require.Equal(t, res.FirstReplayID, res.LastReplayID, "one event published")
	return res.LastReplayID
}

func (e *cometdJSEmulator) state(t *testing.T) sfemu.State {
	t.Helper()
	st, err := e.fetchState()
	require.NoError(t, err)
	return st
}

func (e *cometdJSEmulator) fetchState() (sfemu.State, error) {
	var st sfemu.State
	resp, err := e.hc.Get(e.url + "/emulator/state")
	if err != nil {
		return st, fmt.Errorf("getting /emulator/state: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("getting /emulator/state: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("decoding /emulator/state: %w", err)
	}
	return st, nil
}

// waitHeldPoll waits until the one client, subscribed to the channel, has a long poll held. The emulator offers no
// notification for that, so the state is polled, bounded.
func (e *cometdJSEmulator) waitHeldPoll(t *testing.T) {
	t.Helper()
	ok := assert.Eventually(t, func() bool { // runs in another goroutine: no require in here
		st, err := e.fetchState()
		return err == nil && len(st.Clients) == 1 && st.Clients[0].ConnectPending &&
			assert.ObjectsAreEqual([]string{cometdJSChannel}, st.Clients[0].Subscriptions)
	}, cometdJSWait, 20*time.Millisecond)
	if !ok {
		st, err := e.fetchState()
		require.Failf(t, "the CometD JS client never held a long poll with its subscription",
			"clients %+v (state error: %v)", st.Clients, err)
	}
}

// streamJS is one run of stream.js; its stdout lines arrive on lines, closed at EOF.
type streamJS struct {
	cmd        *exec.Cmd
	lines      chan string
	stderr     *syncBuffer
	subscribed bool
	done       chan struct{} // closed when cmd.Wait returned; waitErr is set then
	waitErr    error
}

func startStreamJS(t *testing.T, node, instanceURL, token string, replayFrom int64, count int, apiVersion string) *streamJS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*cometdJSWait)
	cmd := exec.CommandContext(ctx, node, "stream.js", instanceURL, cometdJSChannel,
		strconv.FormatInt(replayFrom, 10), strconv.Itoa(count))
	cmd.Dir = cometdJSDir
	cmd.Env = append(os.Environ(), "SFEMU_TOKEN="+token, "SFEMU_TRACE=1",
		"SFEMU_TIMEOUT_MS="+strconv.Itoa(int(cometdJSWait.Milliseconds())))
	if apiVersion != "" {
		cmd.Env = append(cmd.Env, "SFEMU_API_VERSION="+apiVersion)
	}
	r := &streamJS{cmd: cmd, lines: make(chan string, 64), stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = r.stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start(), "starting node stream.js")
	go func() {
		// Wait must follow the last read of stdout (os/exec), so the reader owns it.
		defer close(r.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case r.lines <- sc.Text():
			case <-ctx.Done(): // the test is gone; keep draining so that node is not blocked writing
			}
		}
		close(r.lines)
		r.waitErr = cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel() // kills node if the test ended early
		<-r.done
		if t.Failed() {
			t.Logf("stream.js exit: %v; stderr (Bayeux trace):\n%s", r.waitErr, r.stderr.String())
		}
	})
	return r
}

// collect reads stdout until n events arrived (and, with needSubscribed, the subscribe confirmation) and returns
// their replay ids in order.
func (r *streamJS) collect(t *testing.T, n int, needSubscribed bool) []int64 {
	t.Helper()
	ids := []int64{}
	deadline := time.After(cometdJSWait)
	for len(ids) < n || (needSubscribed && !r.subscribed) {
		select {
		case line, ok := <-r.lines:
			require.True(t, ok, "stream.js ended after %d of %d events (subscribed: %v)", len(ids), n, r.subscribed)
			var out struct {
				Subscribed string `json:"subscribed"`
				Channel    string `json:"channel"`
				ReplayID   *int64 `json:"replay_id"`
			}
			require.NoError(t, json.Unmarshal([]byte(line), &out), "stream.js printed %q", line)
			switch {
			case out.Subscribed != "":
				require.False(t, r.subscribed, "subscribed twice: the client re-handshook")
				require.Equal(t, cometdJSChannel, out.Subscribed)
				r.subscribed = true
			case out.ReplayID != nil:
				require.Equal(t, cometdJSChannel, out.Channel, "event channel")
				ids = append(ids, *out.ReplayID)
			default:
				require.Failf(t, "unexpected line from stream.js", "%q", line)
			}
		case <-deadline:
			require.Failf(t, "timed out waiting for stream.js", "%d of %d events after %s (subscribed: %v)",
				len(ids), n, cometdJSWait, r.subscribed)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// requireSuccess waits for the script to disconnect and exit 0, having printed nothing more.
func (r *streamJS) requireSuccess(t *testing.T) {
	t.Helper()
	var extra []string
	timeout := time.After(cometdJSWait)
	for {
		select {
		case line, ok := <-r.lines:
			if ok {
				extra = append(extra, line)
				continue
			}
			select {
			case <-r.done:
			case <-timeout:
				require.Fail(t, "stream.js did not exit after its output ended")
			}
			require.NoError(t, r.waitErr, "stream.js must exit 0 after a successful /meta/disconnect")
			assert.Empty(t, extra, "stream.js printed more than the expected events")
			return
		case <-timeout:
			require.Fail(t, "stream.js did not exit after receiving every event")
		}
	}
}

// syncBuffer is the script's stderr: written by os/exec's copying goroutine, read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
