package sfemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// faultSet hands out the injected faults to the CometD, transport and Pub/Sub surfaces.
// It shares the Server's state and lock through the embedded pointer.
type faultSet struct {
	*Server

	faults   faultState
	faultCh  chan struct{} // closed (and replaced) when a fault should wake held long polls
	lbCookie string        // current sfdc-stream value; rotated by the unknown_client fault
}

// Fault names accepted by POST /emulator/faults (docs/emulator.md).
const (
	FaultUnknownClient     = "unknown_client"
	FaultRevokeTokens      = "revoke_tokens"
	FaultServerBusy        = "server_busy"
	FaultServerDisconnect  = "server_disconnect"
	FaultDropConnection    = "drop_connection"
	FaultHTTPError         = "http_error"
	FaultMalformedResponse = "malformed_response"
	FaultSlowResponse      = "slow_response"
	FaultDailyLimit        = "daily_limit"
	FaultSubscribeError    = "subscribe_error"
	FaultClear             = "clear"
)

// faultState holds the pending injected faults. Counted faults are consumed one per matching answer.
type faultState struct {
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
	SubscribeErrors []subscribeError `json:"subscribe_error,omitempty"`
}

// snapshot copies the state for reading outside the lock: subscribes consume the subscribe errors in place.
func (f faultState) snapshot() faultState {
	f.SubscribeErrors = slices.Clone(f.SubscribeErrors)
	return f
}

// subscribeError is a pending subscribe_error fault: Salesforce refusing subscriptions with one of its
// documented subscribe errors.
type subscribeError struct {
	Channel string `json:"channel,omitempty"` // empty: any channel
	Error   string `json:"error"`             // one of subscribeErrorTexts
	Count   int    `json:"count,omitempty"`   // answers left; 0: until clear
}

// subscribeErrorTexts are the refusals subscribe_error stages. In errChannelMissingAny,
// "{channel}" stands for the subscription, rendered per subscribe.
var (
	errChannelMissingAny = errChannelMissing("channel")
	subscribeErrorTexts  = []string{errRestrictedChannel, errNotEnabled, errNoViewAllData, errTopicLimit, errNoEntityAccess,
		errNoAccess, errChannelMissingAny, errUnknownChannel}
)

// matches reports whether the fault applies to a subscription (name as sent, key without ?filters). A channel given
// without filters covers its filtered subscriptions too.
func (e *subscribeError) matches(name, key string) bool {
	return e.Channel == "" || e.Channel == name || e.Channel == key
}

// text is the error of the reply to a subscription to name.
func (e *subscribeError) text(name string) string {
	if e.Error == errChannelMissingAny {
		return errChannelMissing(name)
	}
	return e.Error
}

// takeSubscribeErrorLocked consumes the first pending subscribe_error matching the subscription and returns its
// error text ("" when none matches).
func (s *faultSet) takeSubscribeErrorLocked(name, key string) string {
	list := s.faults.SubscribeErrors
	for i := range list {
		e := &list[i]
		if !e.matches(name, key) {
			continue
		}
		text := e.text(name)
		if e.Count > 0 {
			if e.Count--; e.Count == 0 {
				s.faults.SubscribeErrors = slices.Delete(list, i, i+1)
			}
		}
		return text
	}
	return ""
}

// FaultRequest is the body of POST /emulator/faults.
type FaultRequest struct {
	Fault  string `json:"fault"`
	Count  int    `json:"count,omitempty"`  // counted faults; default 1 (subscribe_error: until clear)
	Status int    `json:"status,omitempty"` // http_error; default 503
	// Channel and Error of subscribe_error: the subscription refused (empty: any) and Salesforce's error text,
	// one of subscribeErrorTexts.
	Channel string `json:"channel,omitempty"`
	Error   string `json:"error,omitempty"`
	// Delay of slow_response: a Go duration string ("2s") or a number of milliseconds; default 1s.
	Delay json.RawMessage `json:"delay,omitempty"`
}

func parseDelay(raw json.RawMessage) (time.Duration, error) {
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

// InjectFault applies a fault as POST /emulator/faults does.
func (s *faultSet) InjectFault(req FaultRequest) error {
	count := req.Count
	if count < 0 || count > 1_000_000 {
		return fmt.Errorf("count %d outside 0..1000000", count)
	}
	if count == 0 {
		count = 1
	}
	if req.Fault == FaultSubscribeError {
		if err := checkSubscribeError(req); err != nil {
			return err
		}
	}
	delay, err := parseDelay(req.Delay)
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
	f := &s.faults
	switch req.Fault {
	case FaultUnknownClient:
		for _, c := range s.clients {
			s.destroyLocked(c, "unknown_client")
		}
		s.lbCookie = s.lbCookieValue() // the load balancer routes elsewhere: a new sfdc-stream cookie
	case FaultRevokeTokens:
		s.tokens.RevokeAll()
	case FaultServerBusy:
		f.ServerBusy += count
	case FaultServerDisconnect:
		f.ServerDisconnect += count
	case FaultDropConnection:
		f.DropConnection += count
	case FaultHTTPError:
		f.HTTPError += count
		f.HTTPStatus = status
	case FaultMalformedResponse:
		f.MalformedResponse += count
	case FaultSlowResponse:
		f.SlowResponse += count
		f.SlowDelay = delay
	case FaultDailyLimit:
		f.DailyLimit = true
	case FaultSubscribeError:
		f.SubscribeErrors = append(f.SubscribeErrors, subscribeError{Channel: req.Channel, Error: req.Error, Count: req.Count})
	case FaultClear:
		*f = faultState{}
	case "":
		return fmt.Errorf("fault not given; one of %s", strings.Join(faultNames(), ", "))
	default:
		return fmt.Errorf("unknown fault %q; one of %s", req.Fault, strings.Join(faultNames(), ", "))
	}
	s.counters.faults.Add(1)
	// Held long polls re-check their state: a revoked token, a server disconnect, a dropped connection or the
	// daily limit answers them now rather than after the hold.
	close(s.faultCh)
	s.faultCh = make(chan struct{})
	return nil
}

func faultNames() []string {
	return []string{FaultUnknownClient, FaultRevokeTokens, FaultServerBusy, FaultServerDisconnect, FaultDropConnection,
		FaultHTTPError, FaultMalformedResponse, FaultSlowResponse, FaultDailyLimit, FaultSubscribeError, FaultClear}
}

// checkSubscribeError validates a subscribe_error request: a documented error text and, when given, a channel a
// subscribe can name.
func checkSubscribeError(req FaultRequest) error {
	if !slices.Contains(subscribeErrorTexts, req.Error) {
		quoted := make([]string, len(subscribeErrorTexts))
		for i, t := range subscribeErrorTexts {
			quoted[i] = strconv.Quote(t)
		}
		what := `"error" not given`
		if req.Error != "" {
			what = fmt.Sprintf("error %q is not a Salesforce subscribe error", req.Error)
		}
		return fmt.Errorf("%s: %s; one of %s", FaultSubscribeError, what, strings.Join(quoted, ", "))
	}
	if req.Channel != "" && !strings.HasPrefix(req.Channel, "/") {
		return fmt.Errorf("%s: channel %q must start with '/' (omit it for any channel)", FaultSubscribeError, req.Channel)
	}
	return nil
}

// takeTransportFault consumes a fault that replaces the whole answer of a request. It reports whether the request
// is finished.
func (s *faultSet) takeTransportFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	f := &s.faults
	var kind string
	var status int
	var delay time.Duration
	switch {
	case f.DropConnection > 0:
		f.DropConnection--
		kind = FaultDropConnection
	case f.HTTPError > 0:
		f.HTTPError--
		kind, status = FaultHTTPError, f.HTTPStatus
	case f.MalformedResponse > 0:
		f.MalformedResponse--
		kind = FaultMalformedResponse
	case f.SlowResponse > 0:
		f.SlowResponse--
		kind, delay = FaultSlowResponse, f.SlowDelay
	}
	s.mu.Unlock()
	switch kind {
	case FaultDropConnection:
		s.counters.dropped.Add(1)
		dropConnection(w)
		return true
	case FaultHTTPError:
		writeHTMLError(w, status)
		return true
	case FaultMalformedResponse:
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write([]byte(`[{"channel":"/meta/connect","successful":true,"advice":{"interval":0,`))
		return true
	case FaultSlowResponse:
		// A slow network, so wall-clock time even with a fake clock.
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-s.closed:
		}
	}
	return false
}

// dropConnection closes the connection without an answer, as a load balancer cut or a reset does.
func dropConnection(w http.ResponseWriter) {
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
