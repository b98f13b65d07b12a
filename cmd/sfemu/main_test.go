package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// start runs the command's main logic and returns the URL from its ready line and a stop function that
// waits for it to return.
func start(t *testing.T, args ...string) (string, *strings.Builder, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, pw, &stderr)
		pw.Close()
	}()
	lines := make(chan string, 1)
	rest := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		var extra strings.Builder
		for i := 0; sc.Scan(); i++ {
			if i == 0 {
				lines <- sc.Text()
				continue
			}
			extra.WriteString(sc.Text() + "\n")
		}
		close(lines)
		rest <- extra.String()
	}()
	var line string
	select {
	case line = <-lines:
	case err := <-done:
		cancel()
		t.Fatalf("sfemu exited before its ready line: %v; stderr: %s", err, stderr.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("no ready line within 10s")
	}
	re := regexp.MustCompile(`^sfemu listening on (https?://127\.0\.0\.1:\d+)$`)
	m := re.FindStringSubmatch(line)
	require.NotNil(t, m, "ready line %q", line)
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			assert.Empty(t, <-rest, "exactly one line on stdout")
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("sfemu did not stop within 10s")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return m[1], &stderr, stop
}

func TestReadyLineAndControlAPI(t *testing.T) {
	url, _, stop := start(t, "-addr", "127.0.0.1:0", "-preload", "/event/Order__e=1000")
	resp, err := http.Get(url + "/emulator/state")
	require.NoError(t, err)
	var st struct {
		Channels map[string]struct {
			FirstReplayID int64 `json:"first_replay_id"`
			LastReplayID  int64 `json:"last_replay_id"`
			Retained      int   `json:"retained"`
		} `json:"channels"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	assert.Equal(t, 1000, st.Channels["/event/Order__e"].Retained)
	assert.Greater(t, st.Channels["/event/Order__e"].LastReplayID, st.Channels["/event/Order__e"].FirstReplayID)

	for _, body := range []string{`{`, `{"fault":"nope"}`, `[]`, ``} {
		resp, err := http.Post(url+"/emulator/faults", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		var e map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
		assert.NotEmpty(t, e["error"], body)
	}
	resp, err = http.Post(url+"/emulator/publish", "application/json", strings.NewReader(`{"channel":"/event/Order__e","count":10}`))
	require.NoError(t, err)
	var pub map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&pub))
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "/event/Order__e", pub["channel"])
	require.NoError(t, stop())
}

func TestTLSWithCertOut(t *testing.T) {
	certFile := filepath.Join(t.TempDir(), "sfemu.pem")
	url, _, _ := start(t, "-addr", "127.0.0.1:0", "-tls", "-tls-cert-out", certFile)
	require.True(t, strings.HasPrefix(url, "https://"))
	pemBytes, err := os.ReadFile(certFile)
	require.NoError(t, err)
	block, _ := pem.Decode(pemBytes)
	require.NotNil(t, block)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemBytes))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Post(url+"/services/oauth2/token", "application/x-www-form-urlencoded",
		strings.NewReader("grant_type=client_credentials&client_id=sfemu-client-id&client_secret=sfemu-client-secret"))
	require.NoError(t, err, "the written certificate verifies the server")
	defer resp.Body.Close()
	var tok map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	assert.Equal(t, url, tok["instance_url"])
}

func TestJWTKeyOut(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "jwt.pem")
	start(t, "-addr", "127.0.0.1:0", "-jwt-key-out", keyFile)
	info, err := os.Stat(keyFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestBadFlags(t *testing.T) {
	cases := [][]string{
		{"-preload", "/event/X__e"},
		{"-preload", "/event/X__e=abc"},
		{"-generate", "/event/X__e=0"},
		{"-preload", "/foo/X=3"},
		{"-generate", "/topic/T?A=1=5"},
		{"-addr", "256.0.0.1:bad"},
		{"-nosuchflag"},
		{"extra"},
		{"-jwt-public-key", "/nonexistent.pem"},
		{"-addr", "127.0.0.1:0", "-preload", "/data/UserChangeEvent=5"}, // a preload the emulator cannot make
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut strings.Builder
			err := run(context.Background(), args, &out, &errOut)
			assert.Error(t, err)
			assert.Empty(t, out.String(), "no ready line")
		})
	}
}

func TestGenerateFlag(t *testing.T) {
	url, _, _ := start(t, "-addr", "127.0.0.1:0", "-generate", "/data/ChangeEvents=200")
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url + "/emulator/state")
		require.NoError(t, err)
		var st struct {
			Counters map[string]int64 `json:"counters"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
		resp.Body.Close()
		if st.Counters["events_published"] >= 20 {
			return
		}
		require.True(t, time.Now().Before(deadline), "generator published %d events in 5s", st.Counters["events_published"])
		time.Sleep(20 * time.Millisecond) // polling an external process's state: no signal to wait on
	}
}

func TestOrgFlags(t *testing.T) {
	cfg, _, err := parseFlags([]string{"-precise-timestamps", "-daily-delivery-limit", "500", "-daily-streaming-limit", "70"}, io.Discard)
	require.NoError(t, err)
	assert.True(t, cfg.PreciseCommitTimestamps)
	assert.EqualValues(t, 500, cfg.DailyDeliveryLimit)
	assert.EqualValues(t, 70, cfg.DailyStreamingLimit)
	cfg, _, err = parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.False(t, cfg.PreciseCommitTimestamps, "real events have whole-second commit timestamps")
	assert.Zero(t, cfg.DailyDeliveryLimit, "deliveries are counted, not enforced, by default")

	// A preload runs under the tight GC target and the emulator serves it; the Versions resource needs no token.
	url, _, stop := start(t, "-addr", "127.0.0.1:0", "-preload", "/data/AccountChangeEvent=3000")
	resp, err := http.Get(url + "/services/data/")
	require.NoError(t, err)
	var versions []struct{ Version string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&versions))
	resp.Body.Close()
	require.NotEmpty(t, versions)
	resp, err = http.Get(url + "/emulator/state")
	require.NoError(t, err)
	var st struct {
		Channels map[string]struct{ Retained int } `json:"channels"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	assert.Equal(t, 3000, st.Channels["/data/AccountChangeEvent"].Retained)
	require.NoError(t, stop())
}

// TestRecordsFlag: -records creates the records and selects the object for Change Data Capture; -object declares
// a custom object; bad declarations are refused before the emulator starts.
func TestRecordsFlag(t *testing.T) {
	url, _, stop := start(t, "-addr", "127.0.0.1:0", "-object", "Invoice__c:Amount__c=currency", "-records", "Account=3000",
		"-records", "Invoice__c=5")
	resp, err := http.PostForm(url+"/services/oauth2/token", map[string][]string{"grant_type": {"client_credentials"},
		"client_id": {"sfemu-client-id"}, "client_secret": {"sfemu-client-secret"}})
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	count := func(object string) int {
		req, _ := http.NewRequest(http.MethodGet, url+"/services/data/v66.0/query?q=SELECT+COUNT()+FROM+"+object, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var answer struct {
			TotalSize int `json:"totalSize"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
		return answer.TotalSize
	}
	assert.Equal(t, 3000, count("Account"))
	assert.Equal(t, 5, count("Invoice__c"))
	require.NoError(t, stop())

	for _, args := range [][]string{
		{"-records", "Account"}, {"-records", "Account=-1"}, {"-records", "Nope=3"}, {"-records", "User=3"},
		{"-object", "Invoice"}, {"-object", "Invoice__c:Amount__c=money"}, {"-object", "A__c", "-object", "A__c"},
	} {
		_, _, err := parseFlags(args, io.Discard)
		assert.Error(t, err, "%v", args)
	}
}
