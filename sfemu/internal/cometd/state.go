package cometd

import (
	"encoding/base64"
	"sort"
	"sync/atomic"
	"time"
)

// counters are what GET /emulator/state shows of the CometD surface.
type counters struct {
	cometdRequests                            atomic.Int64
	handshakes, handshakesDenied              atomic.Int64
	connects, subscribes, subscribesFailed    atomic.Int64
	unsubscribes, disconnects                 atomic.Int64
	eventsDelivered                           atomic.Int64
	unknownClient, expired, serverDisconnects atomic.Int64
}

// Counts returns the surface's counters by their state names.
func (s *Handler) Counts() map[string]int64 {
	c := &s.counters
	return map[string]int64{
		"cometd_requests":        c.cometdRequests.Load(),
		"handshakes":             c.handshakes.Load(),
		"handshakes_denied":      c.handshakesDenied.Load(),
		"connects":               c.connects.Load(),
		"subscribes":             c.subscribes.Load(),
		"subscribes_failed":      c.subscribesFailed.Load(),
		"unsubscribes":           c.unsubscribes.Load(),
		"disconnects":            c.disconnects.Load(),
		"events_delivered":       c.eventsDelivered.Load(),
		"unknown_client_replies": c.unknownClient.Load(),
		"clients_expired":        c.expired.Load(),
		"server_disconnects":     c.serverDisconnects.Load(),
	}
}

// Session is what the control API shows of one CometD client.
type Session struct {
	ClientID       string
	Subscriptions  []string
	ReplayCursors  map[string]int64
	Connected      bool
	ConnectPending bool
	EventsSent     int64
	LastSeen       time.Time
}

// SessionsLocked expires the clients whose reconnect window has passed and lists the others by id.
func (s *Handler) SessionsLocked(now time.Time) []Session {
	s.sweepLocked(now)
	out := make([]Session, 0, len(s.clients))
	for _, c := range s.clients {
		cs := Session{ClientID: c.id, Subscriptions: []string{}, ReplayCursors: map[string]int64{}, Connected: c.connected,
			ConnectPending: c.holding > 0, EventsSent: c.sent, LastSeen: c.lastSeen}
		for _, sub := range c.subs {
			cs.Subscriptions = append(cs.Subscriptions, sub.name)
			cs.ReplayCursors[sub.name] = sub.cursor
		}
		out = append(out, cs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClientID < out[j].ClientID })
	return out
}

// ClientsLocked counts the clients, expired or not, as the limits resource reports concurrent clients.
func (s *Handler) ClientsLocked() int { return len(s.clients) }

// HeldLocked counts the long polls being held.
func (s *Handler) HeldLocked() int {
	n := 0
	for _, c := range s.clients {
		n += c.holding
	}
	return n
}

// ForgetClientsLocked ends every session (why: "unknown_client", "migrated") and hands out a new load balancer
// cookie, as when the org's requests are routed to another server: each client's next request gets
// 403::Unknown client.
func (s *Handler) ForgetClientsLocked(why string) {
	for _, c := range s.clients {
		s.destroyLocked(c, why)
	}
	s.lbCookie = s.lbCookieValue()
}

// RewindLocked moves every cursor of a session back before the oldest event, so that benchmarks serve one
// backlog again and again; false when there is no such session.
func (s *Handler) RewindLocked(clientID string) bool {
	c := s.clients[clientID]
	if c == nil {
		return false
	}
	for _, sub := range c.subs {
		sub.cursor = 0
	}
	return true
}

// lbCookieValue is a load balancer cookie value shaped like a real one: '!' and base64 ending in one '='.
func (s *Handler) lbCookieValue() string {
	raw := make([]byte, 59)
	for i := range raw {
		raw[i] = byte(s.rng.Uint32())
	}
	return "!" + base64.StdEncoding.EncodeToString(raw)
}

func (s *Handler) randomToken(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}
