// Package cometd is the emulator's Streaming API surface: Salesforce's CometD (Bayeux) endpoint with long polling
// and the replay extension: handshake, connect, subscribe, unsubscribe and disconnect, the sessions they create,
// Salesforce's error texts, cookies and timers. Its sessions are cursors into the event store's channels; it is
// given the store, the token check, the fault set, the org's limits and the clock, and nothing else.
package cometd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/clock"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/streamerr"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/surface"
)

// Config is the CometD surface's knobs (the emulator's Config documents each).
type Config struct {
	Hold             time.Duration // long-poll hold (advice.timeout)
	ReconnectWindow  time.Duration // a client that sends nothing for this long after an answer expires
	MaxBatch         int           // events per connect answer
	MaxResponseBytes int           // 0: unlimited; else a connect answer stops adding events at this size (>= 1 event)
	MaxClients       int           // concurrent (handshaken, unexpired) clients
	MaxRequestBytes  int           // request body limit (413 above)
	// AllowMissingCookies accepts requests after the handshake without the BAYEUX_BROWSER cookie.
	AllowMissingCookies bool
	Seed                uint64 // client ids and cookie values
}

// Deps are what the surface uses and does not own.
type Deps = surface.Deps

// Handler answers the CometD endpoint and owns its sessions and long polls. Its sessions are guarded by the event
// store's lock, since each is a set of cursors into the store's channels that a publish wakes.
type Handler struct {
	cfg  Config
	deps surface.Deps // what the surface uses and does not own

	rng      *rand.Rand // under the store's lock
	clients  map[string]*client
	lbCookie string // current sfdc-stream value; rotated by the unknown_client fault and org migration
	counters counters
}

// New builds the surface.
func New(cfg Config, d Deps) *Handler {
	s := &Handler{cfg: cfg, deps: d, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5f3759df)),
		clients: make(map[string]*client)}
	s.lbCookie = s.lbCookieValue()
	return s
}

// Salesforce's Bayeux error strings (docs/emulator.md).
const (
	errVersionMandatory   = "400::API version in the URI is mandatory. URI format: '/cometd/66.0'"
	errVersionUnsupported = "400::Unsupported API version. Only API versions '37.0' and later are supported. URI format: '/cometd/66.0'"
	errHandshakeDenied    = "403::Handshake denied"
	ErrUnknownClient      = "403::Unknown client"
	errAuthInvalid        = "401::Authentication invalid"
	errAuthRequired       = "401::Request requires authentication"
	errConcurrentLimit    = "403::Organization concurrent user limit exceeded"
	ErrDailyLimit         = "403::Organization total events daily limit exceeded"
	errBusy               = "503::Server is too busy. Please try your request again later."
	errBusyConnect        = "503::Server is too busy.  Please try your request again later." // two spaces, as in Salesforce's sample
	errChannelNotGiven    = "400::Channel name not specified"
	errLeadingSlash       = "400::Channel subscriptions must start with a leading '/'"
	errRequestTooLarge    = "413::Maximum Request Size Exceeded"

	adviceHandshake    = `{"interval":0,"reconnect":"handshake"}`
	adviceNone         = `{"interval":0,"reconnect":"none"}`
	adviceNoneReversed = `{"reconnect":"none","interval":0}`
	replayExt          = `{"replay":true,"payload.format":true}`

	cookieBrowser = "BAYEUX_BROWSER"
	CookieLB      = "sfdc-stream"
)

// ErrReplayInvalid has two spaces after "invalid.", as every real capture: clients match the full string.
func ErrReplayInvalid(id string) string {
	return "400::The replayId {" + id + "} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events."
}

func errReplayKeyMissing(key, renderedMap string) string {
	return "400::The replayId for channel {" + key + "} wasn't found using the provided replay ID map {" + renderedMap +
		"}. Ensure that the channel name you provided in the replay map is valid and matches the channel name used for subscribing."
}

func errNoCookie(clientID string) string {
	return "400::Client {" + clientID + "} has established a session, but no " + cookieBrowser + " cookie present"
}

// inMsg is a Bayeux message from a client. Fields Salesforce ignores are not decoded.
type inMsg struct {
	Channel                  string          `json:"channel"`
	ID                       json.RawMessage `json:"id"`
	ClientID                 string          `json:"clientId"`
	Subscription             json.RawMessage `json:"subscription"`
	ConnectionType           string          `json:"connectionType"`
	SupportedConnectionTypes []string        `json:"supportedConnectionTypes"`
	Ext                      json.RawMessage `json:"ext"`
	Advice                   *struct {
		Timeout *float64 `json:"timeout"`
	} `json:"advice"`
}

// reqCtx is what one CometD request carries besides its messages.
type reqCtx struct {
	r         *http.Request
	token     string
	hasAuth   bool
	hasCookie bool   // BAYEUX_BROWSER
	lbCookie  string // sfdc-stream value sent
	cookies   []*http.Cookie
	// setCookies are Set-Cookie lines written verbatim (the load balancer cookie's real form is not what
	// net/http renders).
	setCookies []string
	drop       bool // a held long poll was cut by drop_connection
	gone       bool // the client went away while held
}

// ServeHTTP answers /cometd/{version}.
func (s *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.counters.cometdRequests.Add(1)
	if msg, status := checkCometDPath(r.URL.Path); msg != "" {
		writeBayeuxError(w, status, msg)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeBayeuxError(w, http.StatusMethodNotAllowed, "405::Method Not Allowed: CometD requests are POSTs")
		return
	}
	if s.deps.Faults.ServeTransport(w, r, s.deps.Closed) {
		return
	}
	body, err := sfhttp.ReadLimited(r.Body, s.cfg.MaxRequestBytes)
	if err == sfhttp.ErrTooLarge || r.ContentLength > int64(s.cfg.MaxRequestBytes) {
		writeBayeuxError(w, http.StatusRequestEntityTooLarge, errRequestTooLarge)
		return
	}
	if err != nil {
		writeBayeuxError(w, http.StatusBadRequest, "400::Reading request: "+err.Error())
		return
	}
	raws, err := splitMessages(r.Header.Get("Content-Type"), body)
	if err != nil {
		writeBayeuxError(w, http.StatusBadRequest, "400::"+err.Error())
		return
	}
	rc := &reqCtx{r: r}
	rc.token, rc.hasAuth = sfhttp.AuthToken(r)
	if c, err := r.Cookie(cookieBrowser); err == nil && c.Value != "" {
		rc.hasCookie = true
	}
	if c, err := r.Cookie(CookieLB); err == nil {
		rc.lbCookie = c.Value
	}

	answer := make([]part, 0, 4)
	for i, raw := range raws {
		var m inMsg
		if err := json.Unmarshal(raw, &m); err != nil {
			answer = append(answer, part{a: jsonw.NewChain(nil).Str("error", "400::Invalid message: "+err.Error()).Bool("successful", false).Done()})
			continue
		}
		s.deps.Logf("cometd %s client=%s", m.Channel, m.ClientID)
		switch m.Channel {
		case "/meta/handshake":
			answer = append(answer, part{a: s.handshake(rc, &m)})
		case "/meta/connect":
			answer = s.connect(rc, &m, i == len(raws)-1, answer)
			if rc.drop {
				faults.Cut(w)
				return
			}
			if rc.gone {
				return
			}
		case "/meta/subscribe":
			answer = append(answer, part{a: s.subscribe(rc, &m)})
		case "/meta/unsubscribe":
			answer = append(answer, part{a: s.unsubscribe(rc, &m)})
		case "/meta/disconnect":
			answer = append(answer, part{a: s.disconnect(rc, &m)})
		case "":
			answer = append(answer, part{a: jsonw.NewChain(nil).Raw("id", m.ID).Str("error", errChannelNotGiven).Bool("successful", false).Done()})
		default:
			errText := "403::Publish denied"
			if strings.HasPrefix(m.Channel, "/meta/") {
				errText = "400::Unknown channel"
			}
			answer = append(answer, part{a: jsonw.NewChain(nil).StrIf("clientId", m.ClientID).Str("channel", m.Channel).Raw("id", m.ID).
				Str("error", errText).Bool("successful", false).Done()})
		}
	}
	for _, c := range rc.cookies {
		http.SetCookie(w, c)
	}
	for _, line := range rc.setCookies {
		w.Header().Add("Set-Cookie", line)
	}
	writeAnswer(w, http.StatusOK, answer)
}

// checkCometDPath applies Salesforce's URL rules: /cometd/{version}[/][handshake|connect|...].
func checkCometDPath(p string) (msg string, status int) {
	rest := strings.Trim(strings.TrimPrefix(p, "/cometd"), "/")
	if rest == "" {
		return errVersionMandatory, http.StatusBadRequest
	}
	version, suffix, _ := strings.Cut(rest, "/")
	v, err := strconv.ParseFloat(version, 64)
	if err != nil || v < 37 || strings.ContainsAny(version, "eE+-") {
		return errVersionUnsupported, http.StatusBadRequest
	}
	switch suffix {
	case "", "handshake", "connect", "subscribe", "unsubscribe", "disconnect":
		return "", 0
	}
	return "404::Unknown path " + p, http.StatusNotFound
}

// splitMessages accepts a JSON array, a single JSON object, or a form body with message=<json>.
func splitMessages(contentType string, body []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(body)
	isJSON := len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{')
	// A form body carries message=<json>; a JSON body mislabelled as a form (curl -d) is still JSON.
	if !isJSON && strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("parsing form body: %v", err)
		}
		body = []byte(form.Get("message"))
	}
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, fmt.Errorf("empty request: expected a JSON array of Bayeux messages")
	case body[0] == '{':
		if !json.Valid(body) {
			return nil, fmt.Errorf("invalid JSON in request")
		}
		return []json.RawMessage{body}, nil
	case body[0] == '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, fmt.Errorf("invalid JSON in request")
		}
		if len(raws) == 0 {
			return nil, fmt.Errorf("empty message array")
		}
		return raws, nil
	}
	return nil, fmt.Errorf("invalid JSON in request: expected an array of Bayeux messages")
}

func (s *Handler) tokenValidLocked(rc *reqCtx) bool {
	return s.deps.Tokens.Valid(rc.token)
}

func (s *Handler) setCookie(rc *reqCtx, name, value string, httpOnly bool) {
	if name == CookieLB {
		rc.setCookies = append(rc.setCookies, lbCookieLine(value, rc.r.TLS != nil, time.Now()))
		return
	}
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: httpOnly}
	if rc.r.TLS != nil {
		c.Secure = true
	}
	rc.cookies = append(rc.cookies, c)
}

// lbCookieTTL is how long the load balancer's sfdc-stream cookie lives. Real captures show an Expires attribute
// but not when the answer was sent, so the lifetime itself is not verified.
const lbCookieTTL = time.Hour

// lbCookieLine is the Set-Cookie line of the load balancer cookie in the exact form of a real capture:
// `sfdc-stream=!…=; path=/; Expires=Sun, 24-Sep-2023 19:55:37 GMT;  SameSite=None; Secure` (lowercase path,
// dashed date, two spaces). Over plain HTTP the line ends after Expires, since SameSite=None without Secure is
// refused by browsers. Expires follows the wall clock, not the emulator's clock: cookie jars compare it with
// theirs.
func lbCookieLine(value string, tls bool, now time.Time) string {
	line := CookieLB + "=" + value + "; path=/; Expires=" + now.Add(lbCookieTTL).UTC().Format("Mon, 02-Jan-2006 15:04:05 GMT") + ";"
	if tls {
		return line + "  SameSite=None; Secure"
	}
	return strings.TrimSuffix(line, ";")
}

// unknownClientLocked is the 403::Unknown client reply; it hands out the current load-balancer cookie, which
// the unknown_client fault rotates.
func (s *Handler) unknownClientLocked(rc *reqCtx, m *inMsg, withSubscription bool) []byte {
	s.counters.unknownClient.Add(1)
	if rc.lbCookie != s.lbCookie {
		s.setCookie(rc, CookieLB, s.lbCookie, false)
		rc.lbCookie = s.lbCookie
	}
	o := jsonw.NewChain(nil).Raw("advice", []byte(adviceHandshake)).Str("channel", m.Channel).Raw("id", m.ID)
	if withSubscription {
		o.Raw("subscription", m.Subscription)
	}
	return o.Str("error", ErrUnknownClient).Bool("successful", false).Done()
}

func (s *Handler) handshake(rc *reqCtx, m *inMsg) []byte {
	s.deps.Store.Lock()
	defer s.deps.Store.Unlock()
	now := s.deps.Clock.Now()
	denied := func(reason string) []byte {
		s.counters.handshakesDenied.Add(1)
		// Salesforce's sample of a denied handshake carries only the failure reason in ext.
		ext := jsonw.NewChain(nil).Raw("sfdc", jsonw.NewChain(nil).Str("failureReason", reason).Done()).Done()
		return jsonw.NewChain(nil).Raw("ext", ext).Raw("advice", []byte(`{"reconnect":"none"}`)).Str("channel", "/meta/handshake").
			Raw("id", m.ID).Str("error", errHandshakeDenied).Bool("successful", false).Done()
	}
	switch {
	case !rc.hasAuth:
		return denied(errAuthRequired)
	case !s.tokenValidLocked(rc):
		return denied(errAuthInvalid)
	case s.deps.Faults.TakeServerBusy():
		return denied(errBusy)
	}
	if m.SupportedConnectionTypes != nil && !contains(m.SupportedConnectionTypes, "long-polling") {
		s.counters.handshakesDenied.Add(1)
		return jsonw.NewChain(nil).Str("channel", "/meta/handshake").Raw("id", m.ID).
			Str("error", "400::Invalid connection type "+strings.Join(m.SupportedConnectionTypes, ",")).Bool("successful", false).
			Raw("supportedConnectionTypes", []byte(`["long-polling"]`)).Done()
	}
	s.sweepLocked(now)
	if len(s.clients) >= s.cfg.MaxClients {
		return denied(errConcurrentLimit)
	}
	c := s.newClientLocked(now)
	s.counters.handshakes.Add(1)
	if !rc.hasCookie {
		s.setCookie(rc, cookieBrowser, s.randomToken(26), true)
		rc.hasCookie = true
	}
	if rc.lbCookie != s.lbCookie {
		s.setCookie(rc, CookieLB, s.lbCookie, false)
		rc.lbCookie = s.lbCookie
	}
	return jsonw.NewChain(nil).Raw("ext", []byte(replayExt)).Str("minimumVersion", "1.0").Str("clientId", c.id).
		Raw("supportedConnectionTypes", []byte(`["long-polling"]`)).Str("channel", "/meta/handshake").Raw("id", m.ID).
		Str("version", "1.0").Bool("successful", true).Done()
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// sessionLocked resolves the client of a post-handshake message. It returns the error reply when there is none
// to use: unknown or expired client, missing BAYEUX_BROWSER cookie.
func (s *Handler) sessionLocked(rc *reqCtx, m *inMsg, now time.Time, withSubscription bool) (*client, []byte) {
	c := s.liveClientLocked(m.ClientID, now)
	if c == nil {
		return nil, s.unknownClientLocked(rc, m, withSubscription)
	}
	if !rc.hasCookie && !s.cfg.AllowMissingCookies {
		o := jsonw.NewChain(nil).Str("clientId", c.id).Str("channel", m.Channel).Raw("id", m.ID)
		if withSubscription {
			o.Raw("subscription", m.Subscription)
		}
		return nil, o.Str("error", errNoCookie(c.id)).Bool("successful", false).Done()
	}
	c.lastSeen = now
	return c, nil
}

func (s *Handler) subscribe(rc *reqCtx, m *inMsg) []byte {
	s.deps.Store.Lock()
	defer s.deps.Store.Unlock()
	now := s.deps.Clock.Now()
	c, errReply := s.sessionLocked(rc, m, now, true)
	if errReply != nil {
		return errReply
	}
	fail := func(errText, reason string, advice string) []byte {
		s.counters.subscribesFailed.Add(1)
		o := jsonw.NewChain(nil).Str("clientId", c.id).Str("channel", "/meta/subscribe").Raw("id", m.ID).Raw("subscription", m.Subscription).
			Str("error", errText).Bool("successful", false)
		if reason != "" {
			o.Raw("ext", jsonw.NewChain(nil).Raw("sfdc", jsonw.NewChain(nil).Str("failureReason", reason).Done()).Done())
		}
		if advice != "" {
			o.Raw("advice", []byte(advice))
		}
		return o.Done()
	}
	switch {
	case !rc.hasAuth:
		return fail(errAuthRequired, "", adviceNone)
	case !s.tokenValidLocked(rc):
		return fail(errAuthInvalid, "", adviceNone)
	case s.deps.Faults.TakeServerBusy():
		return fail(errBusy, errBusy, "")
	case s.deps.Limits.DailyLimitReached():
		return fail(ErrDailyLimit, "", "")
	}
	var name string
	if len(m.Subscription) == 0 || json.Unmarshal(m.Subscription, &name) != nil || name == "" {
		return fail(errChannelNotGiven, "", "")
	}
	if !strings.HasPrefix(name, "/") {
		return fail(errLeadingSlash, "", "")
	}
	key, filters, err := eventstore.SplitChannel(name)
	if err != nil {
		return fail(streamerr.ChannelMissing(name), "", "")
	}
	if errText := s.deps.Faults.TakeSubscribeError(name, key); errText != "" {
		return fail(errText, "", "")
	}
	if eventstore.KindOf(key) == eventstore.KindUnknown || !s.deps.ChannelDefined(key) {
		return fail(streamerr.ChannelMissing(name), "", "")
	}
	ch, err := s.deps.Store.ChannelLocked(key)
	if err != nil || (len(filters) > 0 && ch.Kind() != eventstore.KindPushTopic) {
		return fail(streamerr.ChannelMissing(name), "", "")
	}
	s.deps.Store.PruneLocked(ch, now)
	cursor, errText := s.replayStartLocked(ch, key, m.Ext)
	if errText != "" {
		return fail(errText, "", "")
	}
	sub := &subscription{name: name, ch: ch, filters: filters, cursor: cursor}
	if name != key {
		sub.label = jsonw.AppendString([]byte(`{"channel":`), name)
	}
	s.subscribeLocked(c, sub)
	s.counters.subscribes.Add(1)
	return jsonw.NewChain(nil).Str("clientId", c.id).Str("channel", "/meta/subscribe").Raw("id", m.ID).Raw("subscription", m.Subscription).
		Bool("successful", true).Done()
}

// replayStartLocked applies the replay extension: the cursor after which events are due, or the error text.
func (s *Handler) replayStartLocked(ch *eventstore.Channel, key string, ext json.RawMessage) (int64, string) {
	var e struct {
		Replay json.RawMessage `json:"replay"`
	}
	if len(ext) == 0 || json.Unmarshal(ext, &e) != nil || len(e.Replay) == 0 || e.Replay[0] != '{' {
		return ch.LastID(), "" // no replay map: new events only
	}
	var replay map[string]json.RawMessage
	if err := json.Unmarshal(e.Replay, &replay); err != nil {
		return 0, errReplayKeyMissing(key, "")
	}
	raw, ok := replay[key]
	if !ok {
		return 0, errReplayKeyMissing(key, renderJavaMap(replay))
	}
	text := strings.Trim(strings.TrimSpace(string(raw)), `"`) // numbers, or numeric strings (lenient)
	id, err := strconv.ParseInt(text, 10, 64)
	switch {
	case err != nil:
		return 0, ErrReplayInvalid(text)
	case id == -1:
		return ch.LastID(), ""
	case id == -2:
		return 0, ""
	case s.deps.Store.ReplayValidLocked(ch, id):
		return id, ""
	}
	return 0, ErrReplayInvalid(text)
}

// renderJavaMap renders a replay map the way Salesforce's Java server prints it: k=v, k2=v2.
func renderJavaMap(m map[string]json.RawMessage) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strings.Trim(string(m[k]), `"`)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func (s *Handler) unsubscribe(rc *reqCtx, m *inMsg) []byte {
	s.deps.Store.Lock()
	defer s.deps.Store.Unlock()
	c, errReply := s.sessionLocked(rc, m, s.deps.Clock.Now(), true)
	if errReply != nil {
		return errReply
	}
	var name string
	if len(m.Subscription) == 0 || json.Unmarshal(m.Subscription, &name) != nil || name == "" {
		return jsonw.NewChain(nil).Str("clientId", c.id).Str("channel", "/meta/unsubscribe").Raw("id", m.ID).Raw("subscription", m.Subscription).
			Str("error", errChannelNotGiven).Bool("successful", false).Done()
	}
	s.unsubscribeLocked(c, name)
	s.counters.unsubscribes.Add(1)
	return jsonw.NewChain(nil).Str("clientId", c.id).Str("channel", "/meta/unsubscribe").Raw("id", m.ID).Raw("subscription", m.Subscription).
		Bool("successful", true).Done()
}

func (s *Handler) disconnect(rc *reqCtx, m *inMsg) []byte {
	s.deps.Store.Lock()
	defer s.deps.Store.Unlock()
	c := s.liveClientLocked(m.ClientID, s.deps.Clock.Now())
	if c == nil {
		return s.unknownClientLocked(rc, m, false)
	}
	s.destroyLocked(c, "disconnect")
	s.counters.disconnects.Add(1)
	return jsonw.NewChain(nil).Str("channel", "/meta/disconnect").Str("clientId", c.id).Raw("id", m.ID).Bool("successful", true).Done()
}

// connect answers a /meta/connect: at once when events are due, on the first connect after a handshake, or when
// it is not the last message of its request; otherwise it holds the long poll until events arrive, the hold ends,
// a fault or a newer connect ends it, or the client goes away. It appends its messages to answer.
func (s *Handler) connect(rc *reqCtx, m *inMsg, canHold bool, answer []part) []part {
	s.counters.connects.Add(1)
	hold := s.cfg.Hold
	if m.Advice != nil && m.Advice.Timeout != nil {
		if ms := *m.Advice.Timeout; ms >= 0 && ms < float64(hold.Milliseconds()) { // a client may ask for less, never more
			hold = time.Duration(ms * float64(time.Millisecond))
		}
	}
	s.deps.Store.Lock()
	defer s.deps.Store.Unlock()
	now := s.deps.Clock.Now()
	c, errReply := s.sessionLocked(rc, m, now, false)
	if errReply != nil {
		return append(answer, part{a: errReply})
	}
	if m.ConnectionType != "long-polling" {
		return append(answer, part{a: jsonw.NewChain(nil).Str("clientId", c.id).Str("channel", "/meta/connect").Raw("id", m.ID).
			Str("error", "400::Invalid connection type "+m.ConnectionType).Bool("successful", false).Done()})
	}
	if s.deps.Faults.TakeServerBusy() {
		return append(answer, part{a: jsonw.NewChain(nil).Str("channel", "/meta/connect").Raw("id", m.ID).Str("error", errAuthInvalid).
			Bool("successful", false).Raw("ext", jsonw.NewChain(nil).Raw("sfdc", jsonw.NewChain(nil).Str("failureReason", errBusyConnect).Done()).Done()).
			Str("clientId", c.id).Raw("advice", []byte(adviceNoneReversed)).Done()})
	}

	var (
		timer   clock.Timer
		held    bool
		timedUp bool
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if held {
			c.holding--
			c.lastSeen = s.deps.Clock.Now()
		}
	}()
	if canHold && c.connected && hold > 0 {
		c.kickLocked() // one long poll per client: a newer connect answers the older one now
	}
	for {
		now = s.deps.Clock.Now()
		switch c.gone {
		case "":
		case "disconnect":
			return append(answer, part{a: jsonw.NewChain(nil).Str("clientId", c.id).Str("channel", "/meta/connect").Raw("id", m.ID).
				Bool("successful", true).Raw("advice", []byte(adviceNone)).Done()})
		default: // expired, unknown_client fault, ...
			return append(answer, part{a: s.unknownClientLocked(rc, m, false)})
		}
		if !s.tokenValidLocked(rc) {
			errText := errAuthInvalid
			if !rc.hasAuth {
				errText = errAuthRequired
			}
			s.destroyLocked(c, "revoked")
			return append(answer,
				part{a: []byte(`{"channel":"/meta/disconnect"}`)},
				part{a: jsonw.NewChain(nil).Str("clientId", c.id).Raw("advice", []byte(adviceNone)).Str("channel", "/meta/connect").
					Raw("id", m.ID).Str("error", errText).Bool("successful", false).Done()})
		}
		if s.deps.Limits.DailyLimitReached() {
			s.dropSubscriptionsLocked(c)
			return append(answer, part{a: jsonw.NewChain(nil).Str("clientId", c.id).Str("channel", "/meta/connect").Raw("id", m.ID).
				Str("error", ErrDailyLimit).Bool("successful", false).Raw("advice", []byte(adviceNone)).Done()})
		}
		if s.deps.Faults.TakeServerDisconnect() {
			s.counters.serverDisconnects.Add(1)
			s.destroyLocked(c, "server_disconnect")
			return append(answer,
				part{a: jsonw.NewChain(nil).Str("channel", "/meta/disconnect").Str("clientId", c.id).Done()},
				part{a: jsonw.NewChain(nil).Str("clientId", c.id).Raw("advice", []byte(adviceHandshake)).Str("channel", "/meta/connect").
					Raw("id", m.ID).Bool("successful", true).Done()})
		}
		if held && s.deps.Faults.TakeDropConnection() {
			rc.drop = true
			return answer
		}
		first := !c.connected
		if first || !canHold || hold <= 0 || timedUp || s.isClosed() || s.pendingLocked(c) {
			var n int
			answer, n = s.collectLocked(c, now, answer)
			c.sent += int64(n)
			s.counters.eventsDelivered.Add(int64(n))
			c.connected = true
			o := jsonw.NewChain(nil).Str("clientId", c.id)
			if first {
				o.Raw("advice", fmt.Appendf(nil, `{"interval":0,"timeout":%d,"reconnect":"retry"}`, s.cfg.Hold.Milliseconds()))
			}
			return append(answer, part{a: o.Str("channel", "/meta/connect").Raw("id", m.ID).Bool("successful", true).Done()})
		}
		if !held {
			held = true
			c.holding++
			timer = s.deps.Clock.NewTimer(hold)
		}
		kick, faultCh := c.kick, s.deps.Faults.Woken()
		s.deps.Store.Unlock()
		select {
		case <-c.wake:
		case <-kick:
			timedUp = true // a newer connect or a destroy: answer now
		case <-faultCh:
		case <-timer.C():
			timedUp = true
		case <-s.deps.Closed:
		case <-rc.r.Context().Done():
			rc.gone = true
			s.deps.Store.Lock()
			return answer
		}
		s.deps.Store.Lock()
	}
}

func (s *Handler) isClosed() bool {
	select {
	case <-s.deps.Closed:
		return true
	default:
		return false
	}
}

var answerPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// writeAnswer writes `[m1,m2,...]` with one Write from a pooled buffer: the stored event bytes are copied once.
func writeAnswer(w http.ResponseWriter, status int, msgs []part) {
	size := 2 + len(msgs)
	for _, p := range msgs {
		size += p.size()
	}
	bp := answerPool.Get().(*[]byte)
	b := (*bp)[:0]
	if cap(b) < size {
		b = make([]byte, 0, size)
	}
	b = append(b, '[')
	for i, p := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p.a...)
		b = append(b, p.b...)
	}
	b = append(b, ']')
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= 16<<20 {
		*bp = b[:0]
		answerPool.Put(bp)
	}
}

// writeBayeuxError answers a request that could not be read as Bayeux messages.
func writeBayeuxError(w http.ResponseWriter, status int, errText string) {
	writeAnswer(w, status, []part{{a: jsonw.NewChain(nil).Str("error", errText).Bool("successful", false).Done()}})
}
