package bayeux

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
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
	// raw are answered, in order, to the next connects instead of polling: hostile or broken answers.
	raw []rawAnswer

	handshakes, subscribes, connects, disconnects int
	subscribeExts                                 []json.RawMessage
}

// rawAnswer is a connect answer written byte for byte. In body, {{ID}} becomes the connect's id.
type rawAnswer struct {
	body    string
	chunked bool // no Content-Length (the client cannot size its buffer up front)
	cutAt   int  // when > 0: declare the full length, send only this many bytes, then close the connection
}

// connectOK is the successful connect reply to append to a raw answer's messages.
const connectOK = `{"channel":"/meta/connect","id":"{{ID}}","successful":true,"advice":{"reconnect":"retry","interval":0}}`

// rawEvents is a raw answer body: the messages (JSON objects) followed by connectOK.
func rawEvents(msgs ...string) string {
	return "[" + strings.Join(append(msgs, connectOK), ",") + "]"
}

// event is a data message of channel with replay id and a payload of about size bytes.
func event(channel string, replayID any, size int) string {
	id, _ := json.Marshal(replayID)
	return fmt.Sprintf(`{"channel":%q,"data":{"event":{"replayId":%s},"payload":{"Text__c":%q}}}`, channel, id,
		strings.Repeat("x", max(size-60, 1)))
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

// auth is a token source for the generic server (which ignores tokens).
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
	if len(msgs) == 1 && msgs[0].Channel == wire.ChannelConnect && g.writeRaw(w, msgs[0]) {
		return
	}
	var out []any
	for _, m := range msgs {
		out = append(out, g.handle(r.Context(), m)...)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// writeRaw answers a connect with the next raw answer, if one is queued.
func (g *genericServer) writeRaw(w http.ResponseWriter, m genericMsg) bool {
	g.mu.Lock()
	if len(g.raw) == 0 {
		g.mu.Unlock()
		return false
	}
	a := g.raw[0]
	g.raw = g.raw[1:]
	g.connects++
	g.mu.Unlock()
	body := []byte(strings.ReplaceAll(a.body, `"{{ID}}"`, string(m.ID)))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case a.cutAt > 0:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body[:a.cutAt])
		panic(http.ErrAbortHandler) // closes the connection mid-answer
	case a.chunked:
		for len(body) > 0 { // several writes, flushed: Transfer-Encoding chunked
			n := min(len(body), 64<<10)
			_, _ = w.Write(body[:n])
			w.(http.Flusher).Flush()
			body = body[n:]
		}
	default:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
	return true
}

func (g *genericServer) handle(ctx context.Context, m genericMsg) []any {
	unknown := map[string]any{"channel": m.Channel, "id": m.ID, "successful": false, "error": "402::Unknown client",
		"advice": map[string]any{"reconnect": "handshake", "interval": 0}}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch m.Channel {
	case wire.ChannelHandshake:
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
	case wire.ChannelSubscribe:
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
	case wire.ChannelDisconnect:
		g.disconnects++
		delete(g.clients, m.ClientID)
		return []any{map[string]any{"channel": m.Channel, "id": m.ID, "successful": true}}
	case wire.ChannelConnect:
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
