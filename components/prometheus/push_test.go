package prometheus

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gateway is a Pushgateway stand-in on loopback that records each push.
type gateway struct {
	srv    *httptest.Server
	status int

	mu     sync.Mutex
	pushes []pushed
}

type pushed struct {
	method, path, user, password, body string
}

func newGateway(t *testing.T, status int) *gateway {
	g := &gateway{status: status}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		g.mu.Lock()
		g.pushes = append(g.pushes, pushed{r.Method, r.URL.Path, user, pass, string(body)})
		g.mu.Unlock()
		w.WriteHeader(g.status)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) received() []pushed {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]pushed(nil), g.pushes...)
}

func TestPushAtCloseWithJobAndBasicAuth(t *testing.T) {
	g := newGateway(t, http.StatusOK)
	e := newTestExporter(t, `
push_url: `+g.srv.URL+`
push_job_name: sfjob
push_basic_auth:
  username: pusher
  password: s3cret
`)
	e.NewCounterCtor("output_sent", "label")("out").Incr(2)
	assert.Empty(t, g.received(), "no interval: nothing before close")

	require.NoError(t, e.Close(context.Background()))
	got := g.received()
	require.Len(t, got, 1)
	assert.Equal(t, http.MethodPut, got[0].method)
	assert.Equal(t, "/metrics/job/sfjob", got[0].path)
	assert.Equal(t, "pusher", got[0].user)
	assert.Equal(t, "s3cret", got[0].password)
	assert.Contains(t, got[0].body, "output_sent", "the registry's metrics are pushed")
}

func TestPushEveryInterval(t *testing.T) {
	g := newGateway(t, http.StatusOK)
	e := newTestExporter(t, "push_url: "+g.srv.URL+"\npush_interval: 20ms\n")
	e.NewGaugeCtor("g")().Set(1)
	// Bounded wait for two interval pushes; no assertion on how fast.
	deadline := time.Now().Add(30 * time.Second)
	for len(g.received()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.GreaterOrEqual(t, len(g.received()), 2, "pushes before close")
	require.NoError(t, e.Close(context.Background()))
	assert.Equal(t, "/metrics/job/benthos_push", g.received()[0].path, "Connect's default job name")
}

// A failed push names the field, never the password in the URL or the basic
// auth.
func TestPushErrorHidesSecrets(t *testing.T) {
	g := newGateway(t, http.StatusInternalServerError)
	withUser := strings.Replace(g.srv.URL, "http://", "http://user:urlpass@", 1)
	e := newTestExporter(t, `
push_url: `+withUser+`
push_basic_auth:
  username: u
  password: authpass
`)
	err := e.Close(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "push_url")
	assert.NotContains(t, err.Error(), "urlpass")
	assert.NotContains(t, err.Error(), "authpass")
	require.Len(t, g.received(), 1, "the gateway was reached")
}

func TestEmptyPushURLPushesNothing(t *testing.T) {
	e := newTestExporter(t, `push_url: ""`)
	assert.Nil(t, e.pusher)
}

func TestInvalidPushURLErrorHidesPassword(t *testing.T) {
	parsed, err := spec().ParseYAML(`push_url: "http://u:hunter2@bad host:9091"`, nil)
	require.NoError(t, err)
	_, err = parseConfig(parsed)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "push_url")
	assert.NotContains(t, err.Error(), "hunter2")
}
