package security

import (
	"bufio"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tokenMode is how the fake token endpoint answers.
type tokenMode int

const (
	tokenIssue     tokenMode = iota // a token per request, instance_url = the CometD server
	tokenEchoError                  // 400 whose error_description echoes the request body, raw and decoded
)

// cometdMode is how the fake CometD server answers.
type cometdMode int

const (
	cometdWorking      cometdMode = iota // handshake, subscribe, one event, then quiet long polls
	cometdEcho500                        // HTTP 500 echoing the Authorization header
	cometdEchoError                      // handshake refused with the Authorization header in the error text
	cometdRedirectHTTP                   // 307 to the plain-http trap server
)

// fakeSalesforce is a hostile Salesforce: one server for the token endpoint
// and the CometD endpoint, plain or TLS, and a plain-http trap that must
// never receive a request.
type fakeSalesforce struct {
	t        *testing.T
	srv      *httptest.Server
	trap     *httptest.Server
	caFile   string // PEM of srv's certificate when TLS
	token    tokenMode
	cometd   cometdMode
	instance string // instance_url answered; default srv.URL

	tokens    atomic.Int32 // token requests
	cometds   atomic.Int32 // CometD requests
	trapHits  atomic.Int32
	mu        sync.Mutex
	connects  int
	delivered bool
}

func newFakeSalesforce(t *testing.T, useTLS bool, token tokenMode, cometd cometdMode) *fakeSalesforce {
	f := &fakeSalesforce{t: t, token: token, cometd: cometd}
	f.trap = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.trapHits.Add(1)
		http.Error(w, "trap", http.StatusTeapot)
	}))
	t.Cleanup(f.trap.Close)
	if useTLS {
		f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
		f.caFile = filepath.Join(t.TempDir(), "ca.pem")
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
		require.NoError(t, os.WriteFile(f.caFile, pemBytes, 0o600))
	} else {
		f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSalesforce) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/services/oauth2/token":
		f.serveToken(w, r)
	case strings.HasPrefix(r.URL.Path, "/cometd/"):
		f.serveCometD(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeSalesforce) serveToken(w http.ResponseWriter, r *http.Request) {
	n := int(f.tokens.Add(1))
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	if f.token == tokenEchoError {
		form, _ := url.ParseQuery(string(body))
		sec, pw := form.Get("client_secret"), form.Get("password")
		jsPW, _ := json.Marshal(pw)
		// Each echo comes first in a description of its own (the text quoted is
		// cut at 200 characters): raw, path-escaped, JSON-escaped, the form.
		descriptions := []string{
			"k=" + sec + " p=" + pw,
			"got " + url.PathEscape(sec) + " / " + url.PathEscape(pw),
			"got " + string(jsPW[1:len(jsPW)-1]),
			"body " + string(body),
		}
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"error":             "invalid_request",
			"error_description": descriptions[(n-1)%len(descriptions)],
		})
		return
	}
	instance := f.instance
	if instance == "" {
		instance = f.srv.URL
	}
	_ = json.NewEncoder(w).Encode(map[string]string{
		"access_token": tokenFor(n), "instance_url": instance, "id": "https://login.example/id/00D/005",
		"token_type": "Bearer", "issued_at": fmt.Sprint(time.Now().UnixMilli()),
	})
}

// message is one Bayeux request message.
type message struct {
	Channel      string `json:"channel"`
	ID           string `json:"id"`
	Subscription string `json:"subscription"`
}

func (f *fakeSalesforce) serveCometD(w http.ResponseWriter, r *http.Request) {
	f.cometds.Add(1)
	auth := r.Header.Get("Authorization")
	switch f.cometd {
	case cometdEcho500:
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "<html><body>Internal error for request with Authorization: %s; token=%s</body></html>", auth, strings.TrimPrefix(auth, "Bearer "))
		return
	case cometdRedirectHTTP:
		http.Redirect(w, r, f.trap.URL+r.URL.Path, http.StatusTemporaryRedirect)
		return
	}
	var msgs []message
	if err := json.NewDecoder(r.Body).Decode(&msgs); err != nil || len(msgs) == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	m := msgs[0]
	w.Header().Set("Content-Type", "application/json")
	tok := strings.TrimPrefix(auth, "Bearer ")
	var out []map[string]any
	switch m.Channel {
	case "/meta/handshake":
		if f.cometd == cometdEchoError {
			out = append(out, map[string]any{"channel": m.Channel, "id": m.ID, "successful": false,
				"error": "403::Handshake denied for " + auth,
				"ext":   map[string]any{"sfdc": map[string]any{"failureReason": "403::token " + tok + " not accepted"}}})
			break
		}
		out = append(out, map[string]any{"channel": m.Channel, "id": m.ID, "successful": true, "clientId": "client-1",
			"version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": map[string]any{"replay": true}})
	case "/meta/subscribe":
		out = append(out, map[string]any{"channel": m.Channel, "id": m.ID, "successful": true, "clientId": "client-1",
			"subscription": m.Subscription})
	case "/meta/connect":
		f.mu.Lock()
		first := !f.delivered
		f.delivered = true
		f.connects++
		f.mu.Unlock()
		if first {
			out = append(out, map[string]any{"channel": "/topic/Sec", "data": map[string]any{
				"event":   map[string]any{"replayId": 1, "createdDate": "2026-01-01T00:00:00.000Z", "type": "created"},
				"sobject": map[string]any{"Id": "001000000000001", "Name": "Account 1"},
			}})
		} else {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
		out = append(out, map[string]any{"channel": m.Channel, "id": m.ID, "successful": true, "clientId": "client-1",
			"advice": map[string]any{"reconnect": "retry", "interval": 0, "timeout": 1000}})
	default:
		out = append(out, map[string]any{"channel": m.Channel, "id": m.ID, "successful": true})
	}
	_ = json.NewEncoder(w).Encode(out)
}

// recordingProxy is an HTTP proxy that tunnels CONNECT and records every
// byte it sees in both directions, and whole plain requests.
type recordingProxy struct {
	srv      *httptest.Server
	mu       sync.Mutex
	seen     strings.Builder
	connects int
	wg       sync.WaitGroup
}

func newRecordingProxy(t *testing.T) *recordingProxy {
	p := &recordingProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.srv.CloseClientConnections()
		p.srv.Close()
		p.wg.Wait()
	})
	return p
}

func (p *recordingProxy) record(b []byte) {
	p.mu.Lock()
	p.seen.Write(b)
	p.mu.Unlock()
}

// recorded returns everything the proxy saw and the CONNECTs it tunnelled.
func (p *recordingProxy) recorded() (string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen.String(), p.connects
}

func (p *recordingProxy) serve(w http.ResponseWriter, r *http.Request) {
	head, _ := httputilDump(r)
	p.record(head)
	if r.Method != http.MethodConnect {
		http.Error(w, "this proxy only tunnels", http.StatusBadGateway)
		return
	}
	p.mu.Lock()
	p.connects++
	p.mu.Unlock()
	upstream, err := net.DialTimeout("tcp", r.Host, 5*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "no hijack", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	both := closers{conn, upstream}
	p.wg.Add(2)
	go p.pipe(upstream, buf.Reader, both)
	go p.pipe(conn, upstream, both)
}

// closers closes a tunnel's two ends: when one direction ends, so does the other.
type closers []io.Closer

func (c closers) Close() error {
	for _, x := range c {
		_ = x.Close()
	}
	return nil
}

// pipe copies src to dst, recording the bytes, and closes closeWhenDone.
func (p *recordingProxy) pipe(dst io.Writer, src io.Reader, closeWhenDone io.Closer) {
	defer p.wg.Done()
	defer closeWhenDone.Close()
	b := make([]byte, 32<<10)
	for {
		n, err := src.Read(b)
		if n > 0 {
			p.record(b[:n])
			if _, werr := dst.Write(b[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// httputilDump renders a request's line and headers as the proxy got them.
func httputilDump(r *http.Request) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\n", r.Method, r.RequestURI, r.Proto)
	_ = r.Header.Write(&b)
	body, err := io.ReadAll(bufio.NewReader(r.Body))
	b.Write(body)
	return []byte(b.String()), err
}
