package bayeux

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// genericServer is a minimal standard CometD server (Bayeux 1.0 long polling) as found outside Salesforce: no
// replay extension unless asked, "402::Unknown client" for a client it does not know, advice on the handshake.
// Tests script its refusals.
type genericServer struct {
	t  *testing.T
	ts *httptest.Server

	mu        sync.Mutex
	hold      time.Duration
	replayExt bool
	clients   map[string]*genericSession
	nextID    int
	wake      chan struct{}
	// refuse maps a channel to the error text its subscribe gets ("" or absent: accepted).
	refuse map[string]string
	// connectErrors are answered, in order, to the next connects instead of polling.
	connectErrors []string
	// handshakeAdvice is sent with every successful handshake reply (raw JSON), if set.
	handshakeAdvice string

	handshakes, subscribes, connects, disconnects int
	subscribeExts                                 []json.RawMessage
}

type genericSession struct {
	subs  map[string]bool
	queue []json.RawMessage
}

func startGeneric(t *testing.T) *genericServer {
	g := &genericServer{t: t, hold: 200 * time.Millisecond, clients: map[string]*genericSession{},
		wake: make(chan struct{}), refuse: map[string]string{}}
	g.ts = httptest.NewServer(g)
	t.Cleanup(func() {
		g.ts.CloseClientConnections()
		g.ts.Close()
	})
	return g
}

// auth is an Authenticator for the generic server (which ignores tokens).
func (g *genericServer) auth() *staticAuth {
	return &staticAuth{url: g.ts.URL, first: "generic-token"}
}

func (g *genericServer) set(f func(g *genericServer)) {
	g.mu.Lock()
	f(g)
	g.mu.Unlock()
}

func (g *genericServer) count(f func(g *genericServer) int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return f(g)
}

// publish queues one message for every client subscribed to channel.
func (g *genericServer) publish(channel, data string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	msg := json.RawMessage(fmt.Sprintf(`{"channel":%q,"data":%s}`, channel, data))
	for _, c := range g.clients {
		if c.subs[channel] {
			c.queue = append(c.queue, msg)
		}
	}
	g.wakeLocked()
}

// forget drops every client, as a restarted or rebalanced server does.
func (g *genericServer) forget() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.clients = map[string]*genericSession{}
	g.wakeLocked()
}

func (g *genericServer) liveClients() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.clients)
}

func (g *genericServer) wakeLocked() {
	close(g.wake)
	g.wake = make(chan struct{})
}

type genericMsg struct {
	Channel      string          `json:"channel"`
	ID           json.RawMessage `json:"id"`
	ClientID     string          `json:"clientId"`
	Subscription string          `json:"subscription"`
	Ext          json.RawMessage `json:"ext"`
}

func (g *genericServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var msgs []genericMsg
	if err := json.Unmarshal(body, &msgs); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var out []any
	for _, m := range msgs {
		out = append(out, g.handle(r.Context(), m)...)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (g *genericServer) handle(ctx context.Context, m genericMsg) []any {
	unknown := map[string]any{"channel": m.Channel, "id": m.ID, "successful": false, "error": "402::Unknown client",
		"advice": map[string]any{"reconnect": "handshake", "interval": 0}}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch m.Channel {
	case channelHandshake:
		g.handshakes++
		g.nextID++
		id := fmt.Sprintf("generic%d", g.nextID)
		g.clients[id] = &genericSession{subs: map[string]bool{}}
		reply := map[string]any{"channel": m.Channel, "id": m.ID, "successful": true, "clientId": id, "version": "1.0",
			"supportedConnectionTypes": []string{"long-polling", "callback-polling"}}
		if g.replayExt {
			reply["ext"] = map[string]any{"replay": true}
		}
		if g.handshakeAdvice != "" {
			reply["advice"] = json.RawMessage(g.handshakeAdvice)
		}
		return []any{reply}
	case channelSubscribe:
		c := g.clients[m.ClientID]
		if c == nil {
			return []any{unknown}
		}
		g.subscribeExts = append(g.subscribeExts, m.Ext)
		if text := g.refuse[m.Subscription]; text != "" {
			return []any{map[string]any{"channel": m.Channel, "id": m.ID, "clientId": m.ClientID,
				"subscription": m.Subscription, "successful": false, "error": text}}
		}
		g.subscribes++
		c.subs[m.Subscription] = true
		return []any{map[string]any{"channel": m.Channel, "id": m.ID, "clientId": m.ClientID,
			"subscription": m.Subscription, "successful": true}}
	case channelDisconnect:
		g.disconnects++
		delete(g.clients, m.ClientID)
		return []any{map[string]any{"channel": m.Channel, "id": m.ID, "successful": true}}
	case channelConnect:
		g.connects++
		if len(g.connectErrors) > 0 {
			text := g.connectErrors[0]
			g.connectErrors = g.connectErrors[1:]
			return []any{map[string]any{"channel": m.Channel, "id": m.ID, "clientId": m.ClientID, "successful": false,
				"error": text, "advice": map[string]any{"reconnect": "retry", "interval": 0}}}
		}
		deadline := time.NewTimer(g.hold)
		defer deadline.Stop()
		for {
			c := g.clients[m.ClientID]
			if c == nil {
				return []any{unknown}
			}
			if len(c.queue) > 0 {
				out := make([]any, 0, len(c.queue)+1)
				for _, q := range c.queue {
					out = append(out, q)
				}
				c.queue = nil
				return append(out, map[string]any{"channel": m.Channel, "id": m.ID, "successful": true})
			}
			wake := g.wake
			g.mu.Unlock()
			select {
			case <-wake:
				g.mu.Lock()
				continue
			case <-deadline.C:
				g.mu.Lock()
			case <-ctx.Done():
				g.mu.Lock()
			}
			return []any{map[string]any{"channel": m.Channel, "id": m.ID, "successful": true,
				"advice": map[string]any{"reconnect": "retry", "interval": 0, "timeout": g.hold.Milliseconds()}}}
		}
	}
	return []any{map[string]any{"channel": m.Channel, "id": m.ID, "successful": false, "error": "400::unknown channel"}}
}
