// Package faults holds the faults the control API injects and hands them out, one at a time, to the surfaces
// that meet them: CometD answers, Pub/Sub streams and every HTTP request. It is the one owner of the pending
// faults, under its own lock; the effects that belong to other owners (destroying CometD clients, revoking
// tokens) are applied by whoever wires the surfaces.
package faults

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/streamerr"
)

// Fault names accepted by POST /emulator/faults (docs/emulator.md).
const (
	UnknownClient     = "unknown_client"
	RevokeTokens      = "revoke_tokens"
	ServerBusy        = "server_busy"
	ServerDisconnect  = "server_disconnect"
	DropConnection    = "drop_connection"
	HTTPError         = "http_error"
	MalformedResponse = "malformed_response"
	SlowResponse      = "slow_response"
	DailyLimit        = "daily_limit"
	SubscribeError    = "subscribe_error"
	Clear             = "clear"
)

// Names lists every fault, in the order error messages give them.
func Names() []string {
	return []string{UnknownClient, RevokeTokens, ServerBusy, ServerDisconnect, DropConnection,
		HTTPError, MalformedResponse, SlowResponse, DailyLimit, SubscribeError, Clear}
}

// Request is the body of POST /emulator/faults.
type Request struct {
	Fault  string `json:"fault"`
	Count  int    `json:"count,omitempty"`  // counted faults; default 1 (subscribe_error: until clear)
	Status int    `json:"status,omitempty"` // http_error; default 503
	// Channel and Error of subscribe_error: the subscription refused (empty: any) and Salesforce's error text,
	// one of SubscribeErrorTexts.
	Channel string `json:"channel,omitempty"`
	Error   string `json:"error,omitempty"`
	// Delay of slow_response: a Go duration string ("2s") or a number of milliseconds; default 1s.
	Delay json.RawMessage `json:"delay,omitempty"`
}

// State holds the pending injected faults. Counted faults are consumed one per matching answer.
type State struct {
	ServerBusy        int           `json:"server_busy"`
	ServerDisconnect  int           `json:"server_disconnect"`
	DropConnection    int           `json:"drop_connection"`
	HTTPError         int           `json:"http_error"`
	HTTPStatus        int           `json:"http_error_status,omitempty"`
	MalformedResponse int           `json:"malformed_response"`
	SlowResponse      int           `json:"slow_response"`
	SlowDelay         time.Duration `json:"-"`
	DailyLimit        bool          `json:"daily_limit"`
	// SubscribeErrors are checked in order; the first one matching a subscribe answers it.
	SubscribeErrors []SubscribeErrorFault `json:"subscribe_error,omitempty"`
}

// SubscribeErrorFault is a pending subscribe_error fault: Salesforce refusing subscriptions with one of its
// documented subscribe errors.
type SubscribeErrorFault struct {
	Channel string `json:"channel,omitempty"` // empty: any channel
	Error   string `json:"error"`             // one of SubscribeErrorTexts
	Count   int    `json:"count,omitempty"`   // answers left; 0: until clear
}

// channelMissingAny stands, in a staged subscribe_error, for the missing-channel refusal of whatever
// subscription meets it.
var channelMissingAny = streamerr.ChannelMissing("channel")

// SubscribeErrorTexts are the refusals subscribe_error stages.
var SubscribeErrorTexts = []string{streamerr.RestrictedChannel, streamerr.NotEnabled, streamerr.NoViewAllData,
	streamerr.TopicLimit, streamerr.NoEntityAccess, streamerr.NoAccess, channelMissingAny, streamerr.UnknownChannel}

// matches reports whether the fault applies to a subscription (name as sent, key without ?filters). A channel
// given without filters covers its filtered subscriptions too.
func (e *SubscribeErrorFault) matches(name, key string) bool {
	return e.Channel == "" || e.Channel == name || e.Channel == key
}

// text is the error of the reply to a subscription to name.
func (e *SubscribeErrorFault) text(name string) string {
	if e.Error == channelMissingAny {
		return streamerr.ChannelMissing(name)
	}
	return e.Error
}

// Set is the pending faults and the signal that wakes held requests when one is injected.
type Set struct {
	mu      sync.Mutex
	state   State
	wake    chan struct{} // closed (and replaced) when a fault should wake held long polls and streams
	dropped atomic.Int64  // connections cut by drop_connection
}

// New returns a Set with no fault pending.
func New() *Set { return &Set{wake: make(chan struct{})} }

// Snapshot copies the pending faults.
func (s *Set) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	st.SubscribeErrors = slices.Clone(st.SubscribeErrors)
	return st
}

// Dropped is how many connections drop_connection cut.
func (s *Set) Dropped() int64 { return s.dropped.Load() }

// Woken returns the channel the next injected fault closes.
func (s *Set) Woken() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

// Wake closes the current wake channel: held requests re-check their state now rather than after their hold.
func (s *Set) Wake() {
	s.mu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

// Apply validates req and records the fault it names. unknown_client and revoke_tokens record nothing here:
// the caller applies them to their owners. It does not wake anyone; the caller calls Wake once every effect is
// in place.
func (s *Set) Apply(req Request) error {
	count := req.Count
	if count < 0 || count > 1_000_000 {
		return fmt.Errorf("count %d outside 0..1000000", count)
	}
	if count == 0 {
		count = 1
	}
	if req.Fault == SubscribeError {
		if err := checkSubscribeError(req); err != nil {
			return err
		}
	}
	delay, err := ParseDelay(req.Delay)
	if err != nil {
		return err
	}
	if delay < 0 || delay > 10*time.Minute {
		return fmt.Errorf("delay %s outside 0..10m", delay)
	}
	status := req.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	if status < 100 || status > 599 {
		return fmt.Errorf("status %d is not an HTTP status", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.state
	switch req.Fault {
	case UnknownClient, RevokeTokens:
	case ServerBusy:
		f.ServerBusy += count
	case ServerDisconnect:
		f.ServerDisconnect += count
	case DropConnection:
		f.DropConnection += count
	case HTTPError:
		f.HTTPError += count
		f.HTTPStatus = status
	case MalformedResponse:
		f.MalformedResponse += count
	case SlowResponse:
		f.SlowResponse += count
		f.SlowDelay = delay
	case DailyLimit:
		f.DailyLimit = true
	case SubscribeError:
		f.SubscribeErrors = append(f.SubscribeErrors, SubscribeErrorFault{Channel: req.Channel, Error: req.Error, Count: req.Count})
	case Clear:
		*f = State{}
	case "":
		return fmt.Errorf("fault not given; one of %s", strings.Join(Names(), ", "))
	default:
		return fmt.Errorf("unknown fault %q; one of %s", req.Fault, strings.Join(Names(), ", "))
	}
	return nil
}

// checkSubscribeError validates a subscribe_error request: a documented error text and, when given, a channel a
// subscribe can name.
func checkSubscribeError(req Request) error {
	if !slices.Contains(SubscribeErrorTexts, req.Error) {
		quoted := make([]string, len(SubscribeErrorTexts))
		for i, t := range SubscribeErrorTexts {
			quoted[i] = strconv.Quote(t)
		}
		what := `"error" not given`
		if req.Error != "" {
			what = fmt.Sprintf("error %q is not a Salesforce subscribe error", req.Error)
		}
		return fmt.Errorf("%s: %s; one of %s", SubscribeError, what, strings.Join(quoted, ", "))
	}
	if req.Channel != "" && !strings.HasPrefix(req.Channel, "/") {
		return fmt.Errorf("%s: channel %q must start with '/' (omit it for any channel)", SubscribeError, req.Channel)
	}
	return nil
}

// ParseDelay reads a Go duration string ("2s") or a number of milliseconds; empty is 1 s.
func ParseDelay(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 {
		return time.Second, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		d, err := time.ParseDuration(text)
		if err != nil {
			return 0, fmt.Errorf("parsing delay %q: %w", text, err)
		}
		return d, nil
	}
	ms, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	if err != nil {
		return 0, fmt.Errorf("delay must be a duration string or milliseconds, got %s", raw)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// take consumes one of a counted fault.
func (s *Set) take(n *int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *n > 0 {
		*n--
		return true
	}
	return false
}

// TakeServerBusy consumes a server_busy fault.
func (s *Set) TakeServerBusy() bool { return s.take(&s.state.ServerBusy) }

// TakeServerDisconnect consumes a server_disconnect fault.
func (s *Set) TakeServerDisconnect() bool { return s.take(&s.state.ServerDisconnect) }

// TakeDropConnection consumes a drop_connection fault for a held long poll (counted as a dropped connection).
func (s *Set) TakeDropConnection() bool {
	if s.take(&s.state.DropConnection) {
		s.dropped.Add(1)
		return true
	}
	return false
}

// DailyLimit reports whether the daily_limit fault is set.
func (s *Set) DailyLimit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.DailyLimit
}

// TakeSubscribeError consumes the first pending subscribe_error matching the subscription and returns its error
// text ("" when none matches).
func (s *Set) TakeSubscribeError(name, key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.state.SubscribeErrors
	for i := range list {
		e := &list[i]
		if !e.matches(name, key) {
			continue
		}
		text := e.text(name)
		if e.Count > 0 {
			if e.Count--; e.Count == 0 {
				s.state.SubscribeErrors = slices.Delete(list, i, i+1)
			}
		}
		return text
	}
	return ""
}

// StreamFault is what a transport fault does to a Pub/Sub stream.
type StreamFault int

// The stream faults.
const (
	StreamOK    StreamFault = iota
	StreamDrop              // end with UNAVAILABLE
	StreamClose             // end cleanly
	StreamSlow              // delay the response about to go out
)

// TakeStream consumes a transport fault for a stream; a delay only when it is about to send.
func (s *Set) TakeStream(sending bool) (StreamFault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.state
	switch {
	case f.DropConnection > 0:
		f.DropConnection--
		s.dropped.Add(1)
		return StreamDrop, 0
	case f.ServerDisconnect > 0:
		f.ServerDisconnect--
		return StreamClose, 0
	case sending && f.SlowResponse > 0:
		f.SlowResponse--
		return StreamSlow, f.SlowDelay
	}
	return StreamOK, 0
}

// ServeTransport consumes a fault that replaces the whole answer of an HTTP request and acts it out. It reports
// whether the request is finished. A slow response waits wall-clock time (a slow network, even under a fake
// clock) until the request or the emulator (closed) ends.
func (s *Set) ServeTransport(w http.ResponseWriter, r *http.Request, closed <-chan struct{}) bool {
	s.mu.Lock()
	f := &s.state
	var kind string
	var status int
	var delay time.Duration
	switch {
	case f.DropConnection > 0:
		f.DropConnection--
		kind = DropConnection
	case f.HTTPError > 0:
		f.HTTPError--
		kind, status = HTTPError, f.HTTPStatus
	case f.MalformedResponse > 0:
		f.MalformedResponse--
		kind = MalformedResponse
	case f.SlowResponse > 0:
		f.SlowResponse--
		kind, delay = SlowResponse, f.SlowDelay
	}
	s.mu.Unlock()
	switch kind {
	case DropConnection:
		s.dropped.Add(1)
		Cut(w)
		return true
	case HTTPError:
		writeHTMLError(w, status)
		return true
	case MalformedResponse:
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write([]byte(`[{"channel":"/meta/connect","successful":true,"advice":{"interval":0,`))
		return true
	case SlowResponse:
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-closed:
		}
	}
	return false
}

// Cut closes the connection without an answer, as a load balancer cut or a reset does.
func Cut(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // HTTP/2 and wrapped writers: the stdlib's way to abort a response
}

// writeHTMLError answers like a load balancer in front of Salesforce: an HTML page, not JSON.
func writeHTMLError(w http.ResponseWriter, status int) {
	text := http.StatusText(status)
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><h1>%s</h1><p>The server is temporarily unable to service your request.</p></body></html>\n", status, text, text)
}
