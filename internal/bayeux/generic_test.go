package bayeux

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Tests against a standard CometD server (genericserver_test.go): no replay extension, 402::Unknown client.

func genericClient(t *testing.T, g *genericServer, cfg Config) *harness {
	cfg.Auth = g.auth()
	if cfg.Channels == nil {
		cfg.Channels = []string{"/chat/a", "/chat/b"}
	}
	return newHarness(t, cfg)
}

func TestGenericServerWithoutReplay(t *testing.T) {
	g := startGeneric(t)
	h := genericClient(t, g, Config{ReplayIDs: map[string]int64{"/chat/a": 42}})
	h.start()
	g.publish("/chat/a", `{"n":1}`)
	g.publish("/chat/b", `{"n":2}`)
	g.publish("/chat/a", `{"n":3}`)
	evs := h.collect(3, 5*time.Second)
	var a []string
	for _, ev := range evs {
		assert.False(t, ev.HasReplayID)
		assert.Zero(t, ev.ReplayID)
		if ev.Channel == "/chat/a" {
			a = append(a, string(ev.Data))
		}
	}
	assert.Equal(t, []string{`{"n":1}`, `{"n":3}`}, a, "order per channel")
	assert.Equal(t, int64(42), h.c.replayIDs()["/chat/a"], "events without replay id do not move the position")

	// 402::Unknown client (standard CometD) is recognised: new handshake, every channel resubscribed.
	g.forget()
	eventually(t, 5*time.Second, func() bool { return g.count(func(g *genericServer) int { return g.subscribes }) == 4 },
		"channels not resubscribed")
	g.publish("/chat/b", `{"n":4}`)
	evs = h.collect(1, 5*time.Second)
	assert.Equal(t, `{"n":4}`, string(evs[0].Data))
	assert.Equal(t, []string{"unknown_client"}, h.obs.reasons())
	assert.True(t, h.log.has("INFO", "402::Unknown client"))
	assert.Equal(t, 2, g.count(func(g *genericServer) int { return g.handshakes }))
	g.set(func(g *genericServer) {
		for _, ext := range g.subscribeExts {
			assert.Empty(t, ext, "no replay map for a server without the replay extension")
		}
	})
}

func TestGenericServerWithReplayExtension(t *testing.T) {
	g := startGeneric(t)
	g.replayExt = true
	h := genericClient(t, g, Config{Channels: []string{"/chat/a"}, ReplayIDs: map[string]int64{"/chat/a": 42}})
	h.start()
	g.set(func(g *genericServer) {
		require.Len(t, g.subscribeExts, 1)
		assert.JSONEq(t, `{"replay":{"/chat/a":42}}`, string(g.subscribeExts[0]))
	})
}

// A stale handshake advice (reconnect handshake) must not be followed: after a handshake comes a connect.
func TestGenericHandshakeAdviceIsNotFollowed(t *testing.T) {
	g := startGeneric(t)
	g.handshakeAdvice = `{"reconnect":"handshake","interval":0,"timeout":200}`
	h := genericClient(t, g, Config{})
	h.start()
	h.quiet(600 * time.Millisecond)
	assert.Equal(t, 1, g.count(func(g *genericServer) int { return g.handshakes }))
	assert.GreaterOrEqual(t, g.count(func(g *genericServer) int { return g.connects }), 2)
}

// A failed connect with advice retry polls again with the same client after a backoff.
func TestGenericConnectRetryAdvice(t *testing.T) {
	g := startGeneric(t)
	h := genericClient(t, g, Config{})
	h.start()
	g.set(func(g *genericServer) { g.connectErrors = []string{"500::temporary", "500::temporary"} })
	g.publish("/chat/a", `{"n":1}`)
	evs := h.collect(1, 5*time.Second)
	assert.Equal(t, `{"n":1}`, string(evs[0].Data))
	assert.Equal(t, 1, g.count(func(g *genericServer) int { return g.handshakes }))
	assert.Equal(t, []string{"connect_error", "connect_error"}, h.obs.reasons())
}

// Permission errors on subscribe are permanent: Start names the channel and Salesforce's text and frees the
// client slot.
func TestPermissionErrorsAtStart(t *testing.T) {
	for _, text := range []string{
		"403::Restricted channel",
		"403::User not enabled for streaming",
		"403::User not allowed to subscribe CDC without View All Data permissions",
		"403::Subscriber does not have access to the entity in this topic",
		"400::The channel you requested to subscribe to doesn’t exist {/chat/b}",
	} {
		t.Run(text, func(t *testing.T) {
			g := startGeneric(t)
			g.refuse["/chat/b"] = text
			h := genericClient(t, g, Config{})
			err := h.c.Start(context.Background())
			var pe *stream.PermissionError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "/chat/b", pe.Channel)
			assert.Contains(t, err.Error(), "/chat/b")
			assert.Contains(t, err.Error(), text)
			assert.Zero(t, g.liveClients(), "the refused session is disconnected")
		})
	}
}

// On a resubscribe the same refusal is logged at error level and retried only after Backoff.Long.
func TestPermissionErrorOnResubscribe(t *testing.T) {
	g := startGeneric(t)
	h := genericClient(t, g, Config{})
	h.start()
	g.set(func(g *genericServer) { g.refuse["/chat/b"] = "403::Restricted channel" })
	g.forget()
	const window = time.Second
	time.Sleep(window)
	handshakes := g.count(func(g *genericServer) int { return g.handshakes })
	assert.LessOrEqual(t, handshakes, 1+int(window/(fastBackoff.Long/2))+1, "no tight loop")
	assert.True(t, h.log.has("ERROR", "/chat/b", "403::Restricted channel"))
	assert.LessOrEqual(t, g.liveClients(), 1)

	g.set(func(g *genericServer) { delete(g.refuse, "/chat/b") })
	eventually(t, 3*time.Second, func() bool { return g.liveClients() == 1 && h.log.has("INFO", "re-established") },
		"no recovery after the permission came back")
	g.publish("/chat/b", `{"ok":true}`)
	assert.Equal(t, `{"ok":true}`, string(h.collect(1, 5*time.Second)[0].Data))
}

// Close returns within a second in the middle of a long poll and sends /meta/disconnect.
func TestCloseMidPoll(t *testing.T) {
	g := startGeneric(t)
	g.hold = time.Minute
	h := genericClient(t, g, Config{})
	h.start()
	eventually(t, 2*time.Second, func() bool { return g.count(func(g *genericServer) int { return g.connects }) >= 1 },
		"no poll")
	time.Sleep(20 * time.Millisecond)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.c.Close(ctx))
	assert.Less(t, time.Since(began), time.Second)
	assert.Equal(t, 1, g.count(func(g *genericServer) int { return g.disconnects }))
	_, err := h.c.Next(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, h.c.Start(ctx), ErrClosed)
}

// Next after Close, Close before Start, concurrent Close.
func TestCloseLifecycle(t *testing.T) {
	g := startGeneric(t)
	h := genericClient(t, g, Config{})
	done := make(chan error, 3)
	for range 3 {
		go func() { done <- h.c.Close(context.Background()) }()
	}
	for range 3 {
		require.NoError(t, <-done)
	}
	_, err := h.c.Next(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
	assert.Zero(t, g.count(func(g *genericServer) int { return g.handshakes }))
}

func TestNewValidates(t *testing.T) {
	auth := &staticAuth{}
	for name, cfg := range map[string]Config{
		"no auth":          {Channels: []string{"/a"}},
		"no channels":      {Auth: auth},
		"relative channel": {Auth: auth, Channels: []string{"a"}},
		"meta channel":     {Auth: auth, Channels: []string{"/meta/connect"}},
		"same replay key":  {Auth: auth, Channels: []string{"/topic/X?A=1", "/topic/X?A=2"}},
		"bad policy":       {Auth: auth, Channels: []string{"/a"}, OnInvalidReplayID: 7},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg)
			assert.Error(t, err)
		})
	}
}

// Batches are handed out one per channel and answer, across concurrent Next callers, each exactly once.
func TestNextConcurrentCallers(t *testing.T) {
	g := startGeneric(t)
	h := genericClient(t, g, Config{Channels: []string{"/chat/a"}})
	h.start()
	const n = 50
	got := make(chan string, n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 {
		go func() {
			for {
				b, err := h.c.Next(ctx)
				if err != nil {
					return
				}
				for _, ev := range b.Events {
					got <- string(ev.Data)
				}
			}
		}()
	}
	for i := range n {
		g.publish("/chat/a", fmt.Sprintf(`{"n":%d}`, i))
	}
	seen := map[string]bool{}
	for range n {
		select {
		case s := <-got:
			assert.False(t, seen[s], "duplicate %s", s)
			seen[s] = true
		case <-ctx.Done():
			t.Fatalf("got %d of %d", len(seen), n)
		}
	}
}
