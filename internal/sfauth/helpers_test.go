package sfauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Secret values used across tests; redaction tests look for them in output.
const (
	testClientSecret = "test-client-SECRET-value"
	testPassword     = "test-PASSWORD-valueTOKEN"
	testRefreshToken = "test-REFRESH-token-value"
	testAccessToken  = "00D000000000001!ACCESS-token-value"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 5 * time.Second

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// rsaKey returns one RSA key shared by all tests (generating is slow).
func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		testKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
	})
	return testKey
}

func pkcs1PEM(t *testing.T) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey(t))})
}

func pkcs8PEM(t *testing.T) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(rsaKey(t))
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// publicKeyPEM is the PKIX public key of rsaKey, as an emulator or a
// connected app's certificate would hold it.
func publicKeyPEM(t *testing.T) []byte {
	der, err := x509.MarshalPKIXPublicKey(&rsaKey(t).PublicKey)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// tokenRequest is what the fake endpoint saw of one request.
type tokenRequest struct {
	Method, Path, ContentType, Accept string
	Form                              url.Values
}

// fakeEndpoint is a counting token endpoint. respond writes the answer to the
// n-th request (1-based); if gate is set, each request first signals arrived
// and then waits for gate to be closed (or the request to be cancelled, which
// it reports on cancelled).
type fakeEndpoint struct {
	t         *testing.T
	srv       *httptest.Server
	count     atomic.Int32
	respond   func(w http.ResponseWriter, n int)
	gate      chan struct{}
	arrived   chan struct{}
	cancelled chan struct{}

	mu       sync.Mutex
	requests []tokenRequest
}

func newFakeEndpoint(t *testing.T, respond func(w http.ResponseWriter, n int)) *fakeEndpoint {
	t.Helper()
	f := &fakeEndpoint{
		t:         t,
		respond:   respond,
		arrived:   make(chan struct{}, 100),
		cancelled: make(chan struct{}, 100),
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// gated makes every request wait for release; call before the first request.
func (f *fakeEndpoint) gated() *fakeEndpoint {
	f.gate = make(chan struct{})
	return f
}

func (f *fakeEndpoint) release() { close(f.gate) }

func (f *fakeEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	n := int(f.count.Add(1))
	_ = r.ParseForm()
	f.mu.Lock()
	f.requests = append(f.requests, tokenRequest{
		Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"),
		Accept: r.Header.Get("Accept"), Form: r.PostForm,
	})
	f.mu.Unlock()
	if f.gate != nil {
		f.arrived <- struct{}{}
		select {
		case <-f.gate:
		case <-r.Context().Done():
			f.cancelled <- struct{}{}
			return
		}
	}
	f.respond(w, n)
}

func (f *fakeEndpoint) lastRequest() tokenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(f.t, f.requests, "no request reached the endpoint")
	return f.requests[len(f.requests)-1]
}

func (f *fakeEndpoint) requestCount() int { return int(f.count.Load()) }

// await receives from ch or fails the test after waitTimeout.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// numberedToken answers the n-th request with token "tok-n".
func numberedToken(w http.ResponseWriter, n int) {
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tokenName(n),
		"instance_url": "https://acme.my.salesforce.com",
		"id":           "https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA",
		"token_type":   "Bearer",
		"issued_at":    "1700000000000",
	})
}

func tokenName(n int) string { return "tok-" + string(rune('0'+n)) }

// clientCredentials is a valid client_credentials config for url.
func clientCredentials(url string) Config {
	return Config{OrgURL: url, GrantType: GrantClientCredentials, ClientID: "cid", ClientSecret: testClientSecret}
}

func newTestSource(t *testing.T, cfg Config) *Source {
	t.Helper()
	s, err := NewSource(cfg)
	require.NoError(t, err)
	return s
}

// computeSignature is the token signature as Salesforce sends it (base64), for answers the tests forge.
func computeSignature(clientSecret, id, issuedAt string) string {
	return base64.StdEncoding.EncodeToString(signatureMAC(clientSecret, id, issuedAt))
}
