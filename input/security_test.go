package input

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// viaHeader marks requests that went through forwardProxy.
const viaHeader = "X-Test-Proxy"

// forwardProxy is an HTTP forward proxy (absolute-URL requests) that records
// what passes: the number of token and CometD requests, and every secret the
// server hands out (access tokens in token answers and bearer headers, cookie
// values), so that tests know what must never appear anywhere.
type forwardProxy struct {
	url string

	mu        sync.Mutex
	token     int
	cometd    int
	issued    map[string]bool // access tokens and cookie values
	tokenSeen int             // of those, access tokens
}

func startForwardProxy(t *testing.T) *forwardProxy {
	t.Helper()
	p := &forwardProxy{issued: map[string]bool{}}
	tr := &http.Transport{Proxy: nil}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/services/oauth2/token"):
			p.token++
		case strings.HasPrefix(r.URL.Path, "/cometd/"):
			p.cometd++
		}
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			p.addLocked(bearer, true)
		}
		p.mu.Unlock()

		out, err := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		out.Header.Set(viaHeader, "1")
		resp, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		p.mu.Lock()
		for _, c := range resp.Cookies() {
			p.addLocked(c.Value, false)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(body, &tok) == nil {
			p.addLocked(tok.AccessToken, true)
		}
		p.mu.Unlock()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		tr.CloseIdleConnections()
	})
	p.url = srv.URL
	return p
}

func (p *forwardProxy) addLocked(v string, token bool) {
	if len(v) < 8 || p.issued[v] { // cookie values such as "1" are no secret
		return
	}
	p.issued[v] = true
	if token {
		p.tokenSeen++
	}
}

func (p *forwardProxy) secrets() (all []string, tokens int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for v := range p.issued {
		all = append(all, v)
	}
	return all, p.tokenSeen
}

func (p *forwardProxy) counts() (token, cometd int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.token, p.cometd
}

// directCounter wraps the emulator and counts Salesforce requests that did
// not come through the proxy (the test's own control calls are not counted).
type directCounter struct {
	next   http.Handler
	mu     sync.Mutex
	direct []string
}

func (d *directCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(viaHeader) == "" && !strings.HasPrefix(r.URL.Path, "/emulator/") {
		d.mu.Lock()
		d.direct = append(d.direct, r.URL.Path)
		d.mu.Unlock()
	}
	d.next.ServeHTTP(w, r)
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// traceLogger logs every level, TRACE included, into buf.
func traceLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.Level(-100)}))
}

// TestSecretsNeverLeak runs the input at TRACE level through everything that
// touches credentials (a rejected login, token revocation, an expired
// session, a dropped connection) for each grant, then searches the logs, the
// messages' metadata and bodies, and every file the run wrote (the file
// cache) for each secret: the configured ones, the private key, and every
// access token and cookie value the emulator handed out (recorded by a proxy
// the input was sent through). Tokens are held in memory only.
func TestSecretsNeverLeak(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	keyLines := strings.Split(strings.TrimSpace(keyPEM), "\n")
	keyFile := filepath.Join(t.TempDir(), "server.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(keyPEM), 0o600))

	const wrongSecret = "wrong-client-secret-6c1f"
	configured := []string{sfemu.DefaultClientSecret, sfemu.DefaultPassword, sfemu.DefaultRefreshToken, wrongSecret}
	configured = append(configured, keyLines[1:len(keyLines)-1]...) // the key's base64 body, line by line

	tests := []struct {
		grant string
		auth  string
	}{
		{"password", fmt.Sprintf("{ grant_type: password, client_id: %s, client_secret: %s, username: %s, password: %s }",
			sfemu.DefaultClientID, sfemu.DefaultClientSecret, sfemu.DefaultUsername, sfemu.DefaultPassword)},
		{"refresh_token", fmt.Sprintf("{ grant_type: refresh_token, client_id: %s, client_secret: %s, refresh_token: %s }",
			sfemu.DefaultClientID, sfemu.DefaultClientSecret, sfemu.DefaultRefreshToken)},
		{"jwt_bearer inline key", fmt.Sprintf("{ grant_type: jwt_bearer, client_id: %s, username: %s, private_key: %s }",
			sfemu.DefaultClientID, sfemu.DefaultUsername, strconv.Quote(keyPEM))},
		{"jwt_bearer key file", fmt.Sprintf("{ grant_type: jwt_bearer, client_id: %s, username: %s, private_key_file: %s }",
			sfemu.DefaultClientID, sfemu.DefaultUsername, keyFile)},
	}
	for _, test := range tests {
		t.Run(test.grant, func(t *testing.T) {
			cfg := sfemu.Config{JWTPublicKey: &key.PublicKey}
			emu := newTestEmulator(cfg)
			ts := httptest.NewServer(&directCounter{next: emu})
			t.Cleanup(func() { ts.Close(); emu.Close() })
			proxy := startForwardProxy(t)
			logs := &syncBuffer{}
			dir := t.TempDir()
			fields := fmt.Sprintf(`
  channels: [ /event/A__e ]
  replay_preset: earliest
  proxy_url: %s
  backoff: { initial_interval: 10ms, max_interval: 50ms, long_interval: 200ms }
`, proxy.url)
			cacheYAML := fmt.Sprintf("label: replay_ids\nfile:\n  directory: %s\n", dir)

			// A login Salesforce rejects, retried in the background meanwhile.
			// It shares the cache and key but must not take the lease from
			// the stream under test.
			rejected := startStreamWith(t, ts.URL, fields+"  lease: { enabled: false }\n", newCollector(), streamOpts{cacheYAML: cacheYAML, logger: traceLogger(logs),
				auth: fmt.Sprintf("{ client_id: %s, client_secret: %s }", sfemu.DefaultClientID, wrongSecret), fast: true})

			c := newCollector()
			rs := startStreamWith(t, ts.URL, fields, c, streamOpts{cacheYAML: cacheYAML, logger: traceLogger(logs), auth: test.auth, fast: true})
			want := 0
			for _, fault := range []string{"", sfemu.FaultRevokeTokens, sfemu.FaultUnknownClient, sfemu.FaultDropConnection} {
				if fault != "" {
					require.NoError(t, emu.InjectFault(sfemu.FaultRequest{Fault: fault}))
				}
				_, _, err := emu.PublishN("/event/A__e", 3)
				require.NoError(t, err)
				want += 3
				c.waitFor(t, want)
			}
			rs.stop(t)
			rejected.stop(t)

			secrets, tokens := proxy.secrets()
			require.GreaterOrEqual(t, tokens, 2, "the revocation made the input fetch a second token")
			require.Greater(t, len(secrets), tokens, "cookie values were recorded too")
			secrets = append(secrets, configured...)

			out := logs.String()
			require.Contains(t, out, "invalid_client: invalid client credentials", "the rejected login is logged")
			require.Contains(t, out, "level=DEBUG", "logs were captured at every level (TRACE and DEBUG included)")
			c.mu.Lock()
			shown := fmt.Sprint(c.metas) + string(bytes.Join(c.bodies, nil))
			c.mu.Unlock()

			var files []string
			require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					raw, rerr := os.ReadFile(path)
					require.NoError(t, rerr)
					files = append(files, string(raw))
				}
				return err
			}))
			require.NotEmpty(t, files, "the checkpoint was written")

			for _, secret := range secrets {
				assert.NotContains(t, out, secret, "a secret in the logs")
				assert.NotContains(t, shown, secret, "a secret in the messages")
				for _, f := range files {
					assert.NotContains(t, f, secret, "a secret in a file")
				}
			}
			token, cometd := proxy.counts()
			assert.Positive(t, token)
			assert.Positive(t, cometd)
		})
	}
}

// TestProxyURLCarriesEveryRequest checks that with proxy_url set every token
// and CometD request goes through the proxy and none goes direct.
func TestProxyURLCarriesEveryRequest(t *testing.T) {
	emu := newTestEmulator(sfemu.Config{})
	direct := &directCounter{next: emu}
	ts := httptest.NewServer(direct)
	t.Cleanup(func() { ts.Close(); emu.Close() })
	proxy := startForwardProxy(t)

	c := newCollector()
	rs := startStream(t, ts.URL, t.TempDir(), fmt.Sprintf("  channels: [ /event/A__e ]\n  replay_preset: earliest\n  proxy_url: %s\n", proxy.url), c)
	_, _, err := emu.PublishN("/event/A__e", 5)
	require.NoError(t, err)
	c.waitFor(t, 5)
	rs.stop(t)

	token, cometd := proxy.counts()
	st := emu.State()
	assert.Equal(t, int(st.Counters["token_grants"]), token, "every token request went through the proxy")
	assert.GreaterOrEqual(t, cometd, int(st.Counters["handshakes"]+st.Counters["subscribes"]+st.Counters["connects"]))
	assert.Positive(t, cometd)
	direct.mu.Lock()
	assert.Empty(t, direct.direct, "requests that bypassed the proxy")
	direct.mu.Unlock()
}

// TestTLSVerifiedByDefault serves the emulator over TLS with a self-signed
// certificate: the input refuses it with the x509 error in plain words, and
// streams once the certificate is configured as a root CA (inline or file).
func TestTLSVerifiedByDefault(t *testing.T) {
	emu := newTestEmulator(sfemu.Config{})
	ts := httptest.NewTLSServer(emu)
	t.Cleanup(func() { ts.Close(); emu.Close() })
	require.True(t, strings.HasPrefix(ts.URL, "https://"))
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}))
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, []byte(caPEM), 0o600))

	t.Run("rejected by default", func(t *testing.T) {
		for _, fields := range []string{"", "tls: { enabled: true }\n"} {
			h := newHarness(t, t.TempDir(), ts.URL, "channels: [ /event/A__e ]\n"+fields)
			err := h.in.Connect(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "x509: certificate signed by unknown authority")
			assert.Contains(t, err.Error(), "getting Salesforce token from "+ts.URL)
		}
		assert.Zero(t, emu.State().Counters["token_grants"], "no token was requested over an unverified connection")
	})
	for name, fields := range map[string]string{
		"root_cas":      "tls: { enabled: true, root_cas: " + strconv.Quote(caPEM) + " }\n",
		"root_cas_file": "tls: { enabled: true, root_cas_file: " + caFile + " }\n",
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, t.TempDir(), ts.URL, "channels: [ /event/A__e ]\n"+fields)
			require.NoError(t, h.in.Connect(t.Context()))
			_, _, err := emu.PublishN("/event/A__e", 2)
			require.NoError(t, err)
			assert.Len(t, h.readN(t, 2, true), 2)
		})
	}
}

// TestWrongCredentialsBoundedRetries runs a stream whose client secret
// Salesforce rejects: the error reads as Salesforce's, and token requests are
// spaced by backoff.long_interval, so a wrong secret never becomes a login
// storm (or an account lockout).
func TestWrongCredentialsBoundedRetries(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{})
	logs := &syncBuffer{}
	const long = 500 * time.Millisecond
	rs := startStreamWith(t, url, fmt.Sprintf(`
  channels: [ /event/A__e ]
  backoff: { initial_interval: 10ms, max_interval: 20ms, long_interval: %s }
`, long), newCollector(), streamOpts{
		cacheYAML: fmt.Sprintf("label: replay_ids\nfile:\n  directory: %s\n", t.TempDir()),
		logger:    traceLogger(logs),
		auth:      "{ client_id: sfemu-client-id, client_secret: not-the-secret }",
		fast:      true,
	})
	const window = 3 * time.Second
	time.Sleep(window) // the observation window itself: nothing to wait for
	failures := emu.State().Counters["token_failures"]
	rs.stop(t)

	assert.GreaterOrEqual(t, failures, int64(2), "the input keeps trying")
	// jittered waits are at least long/2: at most window/(long/2) retries after the first attempt
	assert.LessOrEqual(t, failures, int64(window/(long/2))+1, "token requests are spaced by long_interval")
	assert.Zero(t, emu.State().Counters["token_grants"])
	out := logs.String()
	assert.Contains(t, out, "invalid_client: invalid client credentials")
	assert.Contains(t, out, "This does not fix itself: check org_url, auth")
	assert.Equal(t, 1, strings.Count(out, "This does not fix itself"), "the hint is given once per failure streak")
	assert.Contains(t, out, "counts toward the user's lockout", "the hint names the lockout risk of a refused login")
	assert.NotContains(t, out, "not-the-secret")
}
