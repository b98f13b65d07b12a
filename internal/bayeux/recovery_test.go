package bayeux

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"

	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of the recovery policy: waits are observed through Client.waitHook
// (what the client decided), never measured.

// waitLog records the waits recovery chose.
type waitLog struct {
	mu    sync.Mutex
	waits []time.Duration
	on    func(n int) // called with the number of waits so far, outside mu
}

func (w *waitLog) hook(d time.Duration) {
	w.mu.Lock()
	w.waits = append(w.waits, d)
	n := len(w.waits)
	w.mu.Unlock()
	if w.on != nil {
		w.on(n)
	}
}

func (w *waitLog) snapshot() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.waits...)
}

func (w *waitLog) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waits)
}

// startFlakyGeneric serves a generic server that answers every request with
// HTTP 500 while down is set.
func startFlakyGeneric(t *testing.T, down *atomic.Bool) *genericServer {
	g := &genericServer{t: t, hold: 20 * time.Millisecond, clients: map[string]*genericSession{},
		wake: make(chan struct{}), refuse: map[string]string{}}
	g.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down for the test", http.StatusInternalServerError)
			return
		}
		g.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		g.ts.CloseClientConnections()
		g.ts.Close()
	})
	return g
}

// inDelayRange reports whether d is a wait Delay(attempt) can return.
func inDelayRange(b stream.BackoffConfig, attempt int, d time.Duration) bool {
	full := b.Initial
	for i := 1; i < attempt && full < b.Max; i++ {
		full *= 2
	}
	full = min(full, b.Max)
	return d >= full/2 && d < full
}

// TestBackoffGrowsInsideTheReconnectLoop: every failed handshake of one
// streak waits the next step of the exponential backoff.
func TestBackoffGrowsInsideTheReconnectLoop(t *testing.T) {
	var down atomic.Bool
	g := startFlakyGeneric(t, &down)
	boff := stream.BackoffConfig{Initial: 4 * time.Millisecond, Max: time.Second, Long: time.Second}
	h := genericClient(t, g, Config{Backoff: boff, Channels: []string{"/chat/a"}})
	const attempts = 5
	waits := &waitLog{on: func(n int) {
		if n == attempts {
			down.Store(false) // the next handshake succeeds
		}
	}}
	h.c.sess.waitHook = waits.hook
	h.start()
	down.Store(true) // the next poll (each is held 20 ms) fails, and so do the handshakes after it
	eventually(t, 10*time.Second, func() bool { return waits.len() >= attempts && !down.Load() }, "recovery did not retry")
	eventually(t, 10*time.Second, func() bool { return g.count(func(g *genericServer) int { return g.subscribes }) >= 2 },
		"the client did not resubscribe")
	g.publish("/chat/a", `{"n":1}`)
	h.collect(1, 10*time.Second)

	got := waits.snapshot()
	require.GreaterOrEqual(t, len(got), attempts)
	assert.Zero(t, got[0], "the first attempt of a streak follows the advice interval (0)")
	for k := 1; k < attempts; k++ {
		assert.True(t, inDelayRange(boff, k, got[k]), "attempt %d waits %v, not within Delay(%d)", k+1, got[k], k)
	}
}

// TestBackoffResetsAfterAHealthySession: a session that survives full long
// polls ends the failure streak, so the next failure starts from the advice
// interval again instead of the grown backoff.
func TestBackoffResetsAfterAHealthySession(t *testing.T) {
	g := startGeneric(t)
	g.set(func(g *genericServer) {
		g.hold = 20 * time.Millisecond
		g.connectErrors = []string{"402::Unknown client", "402::Unknown client", "402::Unknown client", "402::Unknown client"}
	})
	boff := stream.BackoffConfig{Initial: 4 * time.Millisecond, Max: time.Second, Long: time.Second}
	h := genericClient(t, g, Config{Backoff: boff, Channels: []string{"/chat/a"}})
	waits := &waitLog{}
	h.c.sess.waitHook = waits.hook
	h.start()
	// The scripted refusals come first, then healthy polls (each held 20 ms).
	eventually(t, 10*time.Second, func() bool {
		return g.count(func(g *genericServer) int {
			if len(g.connectErrors) > 0 {
				return 0
			}
			return g.connects
		}) >= 4+3
	}, "no healthy polls after the refusals")
	before := waits.len()
	require.Equal(t, 4, before)
	g.set(func(g *genericServer) { g.connectErrors = []string{"402::Unknown client"} })
	eventually(t, 10*time.Second, func() bool { return waits.len() > before }, "no recovery after the last refusal")

	got := waits.snapshot()
	assert.Zero(t, got[0])
	for k := 1; k < before; k++ {
		assert.True(t, inDelayRange(boff, k, got[k]), "refusal %d waits %v, within Delay(%d)", k+1, got[k], k)
	}
	assert.Zero(t, got[before], "after a healthy session the streak starts over")
}

// TestAdviceOnASuccessfulConnect: reconnect advice handshake or none on a
// successful /meta/connect is obeyed: the client handshakes again (and, for
// none, frees the old client first).
func TestAdviceOnASuccessfulConnect(t *testing.T) {
	for _, test := range []struct {
		advice, reason string
		disconnects    bool
	}{
		{"handshake", "advice_handshake", false},
		{"none", "advice_none", true},
	} {
		t.Run(test.advice, func(t *testing.T) {
			g := startGeneric(t)
			g.set(func(g *genericServer) {
				g.raw = []rawAnswer{{body: `[{"channel":"/meta/connect","id":"{{ID}}","successful":true,"advice":{"reconnect":"` +
					test.advice + `","interval":0}}]`}}
			})
			h := genericClient(t, g, Config{Channels: []string{"/chat/a"}})
			h.start()
			eventually(t, 10*time.Second, func() bool { return g.count(func(g *genericServer) int { return g.handshakes }) >= 2 },
				"advice %s on a successful connect was ignored", test.advice)
			assert.Contains(t, h.obs.reasons(), test.reason)
			if test.disconnects {
				assert.Positive(t, g.count(func(g *genericServer) int { return g.disconnects }), "the old client is freed")
			}
			// The new session subscribes, then receives what is published.
			eventually(t, 10*time.Second, func() bool { return g.count(func(g *genericServer) int { return g.subscribes }) >= 2 },
				"the client did not resubscribe")
			g.publish("/chat/a", `{"n":1}`)
			h.collect(1, 10*time.Second)
			assert.Equal(t, 2, g.count(func(g *genericServer) int { return g.handshakes }), "one handshake per advice")
		})
	}
}

// rejectingAuth hands out a token, then refuses every login: a token
// revoked mid-session whose refresh Salesforce refuses (invalid_grant).
type rejectingAuth struct {
	url       string
	refreshes atomic.Int32
}

func (a *rejectingAuth) Token(context.Context) (sfauth.Token, error) {
	return sfauth.Token{AccessToken: "t", InstanceURL: a.url}, nil
}

func (a *rejectingAuth) Refresh(context.Context, sfauth.Token) (sfauth.Token, error) {
	a.refreshes.Add(1)
	return sfauth.Token{}, &stream.LoginRejectedError{Err: errors.New("invalid_grant: expired access/refresh token")}
}

// TestRejectedLoginMidSessionWaitsLong: a refused login mid-session is
// followed by Backoff.Long, never the short backoff, with a hint that names
// the likely causes and the lockout risk.
func TestRejectedLoginMidSessionWaitsLong(t *testing.T) {
	g := startGeneric(t)
	g.set(func(g *genericServer) { g.hold = 20 * time.Millisecond })
	auth := &rejectingAuth{url: g.ts.URL}
	boff := stream.BackoffConfig{Initial: 4 * time.Millisecond, Max: 8 * time.Millisecond, Long: 40 * time.Millisecond}
	h := newHarness(t, Config{Auth: auth, Backoff: boff, Channels: []string{"/chat/a"}})
	waits := &waitLog{}
	h.c.sess.waitHook = waits.hook
	h.start()
	g.set(func(g *genericServer) { g.connectErrors = []string{"401::Authentication invalid"} })
	eventually(t, 10*time.Second, func() bool { return auth.refreshes.Load() >= 3 }, "the client stopped trying")

	got := waits.snapshot()
	require.GreaterOrEqual(t, len(got), 3)
	assert.Zero(t, got[0], "the first refresh after a refused token is immediate")
	for k, d := range got[1:] {
		assert.True(t, d >= boff.Long/2 && d < boff.Long, "wait %d after a refused login is %v, not the long backoff", k+2, d)
	}
	assert.True(t, h.log.has("ERROR", "refused the login", "invalid_grant", "lockout"), "the hint names the cause and the lockout risk")
}
