package bayeux

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
)

// hostileToken has the shape of a Salesforce session id and characters that
// change under URL and JSON encoding.
const hostileToken = `00D000000000001!AQ"tok&en y/é`

// A server that echoes the Authorization header back, in a 500 body or in a
// Bayeux error text: neither the error Start returns nor any log line holds the
// token in any encoding, nor the configured secret.
func TestEchoedAuthorizationIsRedacted(t *testing.T) {
	const secret = `cfg-sec"ret&1 2`
	tests := map[string]func(w http.ResponseWriter, auth string){
		"500 body": func(w http.ResponseWriter, auth string) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "<html>oops, you sent Authorization: %s and %s and %s and %s</html>", auth, url.QueryEscape(auth), strings.TrimPrefix(auth, "Bearer "), secret)
		},
		"bayeux error text": func(w http.ResponseWriter, auth string) {
			tok := strings.TrimPrefix(auth, "Bearer ")
			js := strings.ReplaceAll(strings.ReplaceAll(tok, `\`, `\\`), `"`, `\"`)
			fmt.Fprintf(w, `[{"channel":"/meta/handshake","successful":false,"error":"403::denied for %s (%s)","ext":{"sfdc":{"failureReason":"403::%s"}}}]`,
				js, url.PathEscape(tok), js)
		},
	}
	for name, respond := range tests {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				respond(w, r.Header.Get("Authorization"))
			}))
			t.Cleanup(srv.Close)
			h := newHarness(t, Config{Auth: &staticAuth{url: srv.URL, first: hostileToken}, Channels: []string{"/topic/A"},
				Redactor: redact.New(secret)})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := h.c.Start(ctx)
			require.Error(t, err)
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), h.log.all()} {
				for _, form := range []string{hostileToken, url.QueryEscape(hostileToken), url.PathEscape(hostileToken), `AQ\"tok`, "tok&en", secret, "sec\"ret"} {
					assert.NotContains(t, text, form)
				}
			}
		})
	}
}

// A redirect of the CometD endpoint is not followed: the target sees no
// request, so the bearer token never reaches it.
func TestCometDRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(target.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/cometd?sid=x", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, Config{Auth: &staticAuth{url: srv.URL, first: hostileToken}, Channels: []string{"/topic/A"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := h.c.Start(ctx)
	require.Error(t, err)
	var he *HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusTemporaryRedirect, he.Status)
	assert.Contains(t, err.Error(), "not followed")
	assert.NotContains(t, err.Error(), "sid=x")
	assert.Zero(t, hits.Load(), "the redirect target got a request")
}

// A server naming an unknown channel with a token: the drop warning quotes the
// name through the redactor.
func TestDroppedChannelNameIsRedacted(t *testing.T) {
	const leaky = "/topic/00D000000000001AAA!AQleakyTokenPart"
	var connects atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msgs []map[string]any
		_ = json.NewDecoder(r.Body).Decode(&msgs)
		m := msgs[0]
		reply := map[string]any{"channel": m["channel"], "id": m["id"], "successful": true, "clientId": "c1"}
		out := []map[string]any{reply}
		switch m["channel"] {
		case "/meta/handshake":
			reply["ext"] = map[string]any{"replay": true}
		case "/meta/subscribe":
			reply["subscription"] = m["subscription"]
		case "/meta/connect":
			if connects.Add(1) == 1 {
				out = append([]map[string]any{{"channel": leaky, "data": map[string]any{"event": map[string]any{"replayId": 1}}}}, out...)
			} else {
				time.Sleep(50 * time.Millisecond)
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, Config{Auth: &staticAuth{url: srv.URL, first: "tok"}, Channels: []string{"/topic/A"}})
	h.start()
	eventually(t, 5*time.Second, func() bool { return h.log.has("WARN", "dropped 1 event") }, "the drop is logged")
	assert.NotContains(t, h.log.all(), "leakyTokenPart")
}
