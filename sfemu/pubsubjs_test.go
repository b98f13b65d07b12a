package sfemu_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The npm Pub/Sub client (salesforce-pubsub-api-client, pinned in testdata/pubsubjs/package-lock.json) in its
// username-password mode: a SOAP login() to the emulator, then gRPC over TLS with the session id. It also proves
// the keepalive edge from the client's side: the client decodes every latest_replay_id, and an empty one on a
// topic that never had an event ends the Node process.

const (
	pubsubJSDir     = "testdata/pubsubjs"
	pubsubJSInstall = "run `npm ci --prefix sfemu/testdata/pubsubjs` (make node-deps does)"
	pubsubJSTopic   = "/event/Order_Event__e"
)

func TestPubSubJSUsernamePassword(t *testing.T) {
	node := requireNodeModules(t, pubsubJSDir, pubsubJSInstall, "salesforce-pubsub-api-client")

	clock := sfemu.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	// The platform event type exists before the client subscribes (a preload of 0 events defines it).
	srv := sfemu.New(sfemu.Config{Clock: clock, SecurityToken: "TOK", Seed: 7,
		Preload: []sfemu.ChannelCount{{Channel: "/event/Order_Event__e"}}})
	ts := httptest.NewServer(srv)
	files, err := harness.WriteSelfSignedCert(t.TempDir())
	require.NoError(t, err)
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := srv.NewPubSubServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		g.Stop()
		ts.Close()
	})

	const count = 5
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "subscribe.js", ts.URL, lis.Addr().String(), pubsubJSTopic, fmt.Sprint(count))
	cmd.Dir = pubsubJSDir
	cmd.Env = append(os.Environ(), "SFEMU_PASSWORD="+sfemu.DefaultPassword+"TOK", "SFEMU_TIMEOUT_MS=50000")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func(what string) string {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "subscribe.js ended before %s; stderr:\n%s", what, stderr.String())
			return l
		case <-ctx.Done():
			t.Fatalf("no %s from subscribe.js; stderr:\n%s", what, stderr.String())
			return ""
		}
	}
	require.JSONEq(t, `{"subscribed":"`+pubsubJSTopic+`"}`, next("subscribed line"))

	// The subscription is parked on its keepalive timer; the topic never had an event. Its keepalive carries a
	// position the client decodes; then the events arrive.
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	require.NoError(t, clock.WaitTimers(wctx, 1), "the client's subscription; stderr:\n%s", stderr.String())
	clock.Advance(sfemu.PubSubKeepalive)
	require.NoError(t, clock.WaitTimers(wctx, 1), "the keepalive went out and the subscription waits again; stderr:\n%s", stderr.String())
	resp, err := http.Post(ts.URL+"/emulator/publish", "application/json", strings.NewReader(fmt.Sprintf(`{"channel":%q,"count":%d}`, pubsubJSTopic, count)))
	require.NoError(t, err)
	var published sfemu.PublishResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&published))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	first, last := published.FirstReplayID, published.LastReplayID

	var got []int64
	for range count {
		var ev struct {
			ReplayID int64          `json:"replay_id"`
			Payload  map[string]any `json:"payload"`
		}
		l := next("an event")
		require.NoError(t, json.Unmarshal([]byte(l), &ev), l)
		assert.NotEmpty(t, ev.Payload["Order_Number__c"], "a decoded payload: %s", l)
		got = append(got, ev.ReplayID)
	}
	require.Len(t, got, count)
	assert.Equal(t, first, got[0])
	assert.Equal(t, last, got[count-1])
	err = cmd.Wait()
	require.NoError(t, err, "subscribe.js; stderr:\n%s", stderr.String())
	assert.Contains(t, stderr.String(), "Connected to Salesforce org "+ts.URL, "the SOAP login's server URL is the instance URL")
	assert.NotContains(t, stderr.String(), sfemu.DefaultPassword, "no secret in the client's log")
}

// requireNodeModules returns the node binary, or ends the test when node or the pinned npm packages are missing: a
// failure in CI (which must run the test), a skip on a developer machine without Node.js.
func requireNodeModules(t *testing.T, dir, install string, packages ...string) string {
	t.Helper()
	problem := ""
	node, err := exec.LookPath("node")
	if err != nil {
		problem = "node (Node.js 20+) is not on PATH"
	} else {
		problem = checkNodeModules(dir, packages)
	}
	if problem == "" {
		return node
	}
	msg := problem + "; " + install
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// checkNodeModules reports ("" when fine) whether dir/node_modules holds the versions dir/package.json pins.
func checkNodeModules(dir string, packages []string) string {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return fmt.Sprintf("reading package.json: %v", err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return fmt.Sprintf("decoding package.json: %v", err)
	}
	for _, name := range packages {
		want := pkg.Dependencies[name]
		if want == "" {
			return "package.json does not pin " + name
		}
		var installed struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil {
			return fmt.Sprintf("%s/node_modules/%s is missing", dir, name)
		}
		if err := json.Unmarshal(b, &installed); err != nil || installed.Version != want {
			return fmt.Sprintf("%s/node_modules/%s is version %q, package.json pins %q", dir, name, installed.Version, want)
		}
	}
	return ""
}

// TestPubSubJSManagedSubscription: the npm client reads a ManagedEventSubscription through the Tooling API (its own
// query), subscribes with ManagedSubscribe and commits each event; a second run resumes after the last commit.
func TestPubSubJSManagedSubscription(t *testing.T) {
	node := requireNodeModules(t, pubsubJSDir, pubsubJSInstall, "salesforce-pubsub-api-client")
	srv := sfemu.New(sfemu.Config{Seed: 8, Preload: []sfemu.ChannelCount{{Channel: pubsubJSTopic, Count: 5}}})
	ts := httptest.NewServer(srv)
	files, err := harness.WriteSelfSignedCert(t.TempDir())
	require.NoError(t, err)
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := srv.NewPubSubServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		g.Stop()
		ts.Close()
	})

	// The record, created over the Tooling API with a client_credentials token.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {sfemu.DefaultClientID}, "client_secret": {sfemu.DefaultClientSecret}}
	resp, err := http.PostForm(ts.URL+"/services/oauth2/token", form)
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/services/data/v62.0/tooling/sobjects/ManagedEventSubscription",
		strings.NewReader(`{"FullName":"Node_Orders","Metadata":{"label":"Node Orders","topicName":"`+pubsubJSTopic+`","defaultReplay":"EARLIEST","state":"RUN","errorRecoveryReplay":"LATEST"}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	run := func(count int) ([]int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "subscribe.js", ts.URL, lis.Addr().String(), pubsubJSTopic, fmt.Sprint(count))
		cmd.Dir = pubsubJSDir
		cmd.Env = append(os.Environ(), "SFEMU_PASSWORD="+sfemu.DefaultPassword, "SFEMU_MANAGED=Node_Orders", "SFEMU_TIMEOUT_MS=50000")
		var stderr syncBuffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("subscribe.js: %w; stderr:\n%s", err, stderr.String())
		}
		var ids []int64
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var ev struct {
				ReplayID int64 `json:"replay_id"`
			}
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				return nil, fmt.Errorf("subscribe.js printed %q: %w", l, err)
			}
			if ev.ReplayID != 0 {
				ids = append(ids, ev.ReplayID)
			}
		}
		return ids, nil
	}
	firstRun, err := run(3)
	require.NoError(t, err)
	require.Len(t, firstRun, 3)
	st := srv.State().Channels[pubsubJSTopic]
	assert.Equal(t, st.FirstReplayID, firstRun[0], "defaultReplay EARLIEST: the first run starts at the oldest event")
	// The slot frees when the first client's stream ends (ALREADY_EXISTS until then): a few tries.
	var secondRun []int64
	for attempt := 1; ; attempt++ {
		if secondRun, err = run(2); err == nil || attempt == 5 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	require.NoError(t, err)
	require.Len(t, secondRun, 2)
	assert.Greater(t, secondRun[0], firstRun[2], "the second run resumes after the committed replay id")
	assert.Equal(t, st.LastReplayID, secondRun[1])
}
