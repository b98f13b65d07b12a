package sfemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/streamerr"
)

// cometdHandler answers the CometD (Bayeux) endpoint and owns its sessions and long polls.
// It shares the Server's state and lock through the embedded pointer.
type cometdHandler struct {
	*Server

	clients  map[string]*client
	lbCookie string // current sfdc-stream value; rotated by the unknown_client fault and org migration
}

// Salesforce's Bayeux error strings (docs/emulator.md).
const (
	errVersionMandatory   = "400::API version in the URI is mandatory. URI format: '/cometd/66.0'"
	errVersionUnsupported = "400::Unsupported API version. Only API versions '37.0' and later are supported. URI format: '/cometd/66.0'"
	errHandshakeDenied    = "403::Handshake denied"
	errUnknownClient      = "403::Unknown client"
	errAuthInvalid        = "401::Authentication invalid"
	errAuthRequired       = "401::Request requires authentication"
	errConcurrentLimit    = "403::Organization concurrent user limit exceeded"
	errDailyLimit         = "403::Organization total events daily limit exceeded"
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
	cookieLB      = "sfdc-stream"
)

// errReplayInvalid has two spaces after "invalid.", as every real capture: clients match the full string.
func errReplayInvalid(id string) string {
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

func (s *cometdHandler) serveCometD(w http.ResponseWriter, r *http.Request) {
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
	if s.faults.ServeTransport(w, r, s.closed) {
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
	if c, err := r.Cookie(cookieLB); err == nil {
		rc.lbCookie = c.Value
	}

	answer := make([]part, 0, 4)
	for i, raw := range raws {
		var m inMsg
		if err := json.Unmarshal(raw, &m); err != nil {
			answer = append(answer, part{a: newObj(nil).str("error", "400::Invalid message: "+err.Error()).bool("successful", false).done()})
			continue
		}
		s.logf("cometd %s client=%s", m.Channel, m.ClientID)
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
			answer = append(answer, part{a: newObj(nil).raw("id", m.ID).str("error", errChannelNotGiven).bool("successful", false).done()})
		default:
			errText := "403::Publish denied"
			if strings.HasPrefix(m.Channel, "/meta/") {
				errText = "400::Unknown channel"
			}
			answer = append(answer, part{a: newObj(nil).strIf("clientId", m.ClientID).str("channel", m.Channel).raw("id", m.ID).
				str("error", errText).bool("successful", false).done()})
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

func (s *cometdHandler) tokenValidLocked(rc *reqCtx) bool {
	return s.tokens.Valid(rc.token)
}

func (s *cometdHandler) setCookie(rc *reqCtx, name, value string, httpOnly bool) {
	if name == cookieLB {
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
	line := cookieLB + "=" + value + "; path=/; Expires=" + now.Add(lbCookieTTL).UTC().Format("Mon, 02-Jan-2006 15:04:05 GMT") + ";"
	if tls {
		return line + "  SameSite=None; Secure"
	}
	return strings.TrimSuffix(line, ";")
}

// unknownClientLocked is the 403::Unknown client reply; it hands out the current load-balancer cookie, which
// the unknown_client fault rotates.
func (s *cometdHandler) unknownClientLocked(rc *reqCtx, m *inMsg, withSubscription bool) []byte {
	s.counters.unknownClient.Add(1)
	if rc.lbCookie != s.lbCookie {
		s.setCookie(rc, cookieLB, s.lbCookie, false)
		rc.lbCookie = s.lbCookie
	}
	o := newObj(nil).raw("advice", []byte(adviceHandshake)).str("channel", m.Channel).raw("id", m.ID)
	if withSubscription {
		o.raw("subscription", m.Subscription)
	}
	return o.str("error", errUnknownClient).bool("successful", false).done()
}

func (s *cometdHandler) handshake(rc *reqCtx, m *inMsg) []byte {
	s.store.Lock()
	defer s.store.Unlock()
	now := s.clock.Now()
	denied := func(reason string) []byte {
		s.counters.handshakesDenied.Add(1)
		// Salesforce's sample of a denied handshake carries only the failure reason in ext.
		ext := newObj(nil).raw("sfdc", newObj(nil).str("failureReason", reason).done()).done()
		return newObj(nil).raw("ext", ext).raw("advice", []byte(`{"reconnect":"none"}`)).str("channel", "/meta/handshake").
			raw("id", m.ID).str("error", errHandshakeDenied).bool("successful", false).done()
	}
	switch {
	case !rc.hasAuth:
		return denied(errAuthRequired)
	case !s.tokenValidLocked(rc):
		return denied(errAuthInvalid)
	case s.faults.TakeServerBusy():
		return denied(errBusy)
	}
	if m.SupportedConnectionTypes != nil && !contains(m.SupportedConnectionTypes, "long-polling") {
		s.counters.handshakesDenied.Add(1)
		return newObj(nil).str("channel", "/meta/handshake").raw("id", m.ID).
			str("error", "400::Invalid connection type "+strings.Join(m.SupportedConnectionTypes, ",")).bool("successful", false).
			raw("supportedConnectionTypes", []byte(`["long-polling"]`)).done()
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
		s.setCookie(rc, cookieLB, s.lbCookie, false)
		rc.lbCookie = s.lbCookie
	}
	return newObj(nil).raw("ext", []byte(replayExt)).str("minimumVersion", "1.0").str("clientId", c.id).
		raw("supportedConnectionTypes", []byte(`["long-polling"]`)).str("channel", "/meta/handshake").raw("id", m.ID).
		str("version", "1.0").bool("successful", true).done()
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
func (s *cometdHandler) sessionLocked(rc *reqCtx, m *inMsg, now time.Time, withSubscription bool) (*client, []byte) {
	c := s.liveClientLocked(m.ClientID, now)
	if c == nil {
		return nil, s.unknownClientLocked(rc, m, withSubscription)
	}
	if !rc.hasCookie && !s.cfg.AllowMissingCookies {
		o := newObj(nil).str("clientId", c.id).str("channel", m.Channel).raw("id", m.ID)
		if withSubscription {
			o.raw("subscription", m.Subscription)
		}
		return nil, o.str("error", errNoCookie(c.id)).bool("successful", false).done()
	}
	c.lastSeen = now
	return c, nil
}

func (s *cometdHandler) subscribe(rc *reqCtx, m *inMsg) []byte {
	s.store.Lock()
	defer s.store.Unlock()
	now := s.clock.Now()
	c, errReply := s.sessionLocked(rc, m, now, true)
	if errReply != nil {
		return errReply
	}
	fail := func(errText, reason string, advice string) []byte {
		s.counters.subscribesFailed.Add(1)
		o := newObj(nil).str("clientId", c.id).str("channel", "/meta/subscribe").raw("id", m.ID).raw("subscription", m.Subscription).
			str("error", errText).bool("successful", false)
		if reason != "" {
			o.raw("ext", newObj(nil).raw("sfdc", newObj(nil).str("failureReason", reason).done()).done())
		}
		if advice != "" {
			o.raw("advice", []byte(advice))
		}
		return o.done()
	}
	switch {
	case !rc.hasAuth:
		return fail(errAuthRequired, "", adviceNone)
	case !s.tokenValidLocked(rc):
		return fail(errAuthInvalid, "", adviceNone)
	case s.faults.TakeServerBusy():
		return fail(errBusy, errBusy, "")
	case s.limits.DailyLimitReached():
		return fail(errDailyLimit, "", "")
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
	if errText := s.faults.TakeSubscribeError(name, key); errText != "" {
		return fail(errText, "", "")
	}
	if KindOf(key) == KindUnknown || !s.channelDefinedLocked(key) {
		return fail(streamerr.ChannelMissing(name), "", "")
	}
	ch, err := s.store.ChannelLocked(key)
	if err != nil || (len(filters) > 0 && ch.Kind() != KindPushTopic) {
		return fail(streamerr.ChannelMissing(name), "", "")
	}
	s.store.PruneLocked(ch, now)
	cursor, errText := s.replayStartLocked(ch, key, m.Ext)
	if errText != "" {
		return fail(errText, "", "")
	}
	sub := &subscription{name: name, ch: ch, filters: filters, cursor: cursor}
	if name != key {
		sub.label = appendJSONString([]byte(`{"channel":`), name)
	}
	s.subscribeLocked(c, sub)
	s.counters.subscribes.Add(1)
	return newObj(nil).str("clientId", c.id).str("channel", "/meta/subscribe").raw("id", m.ID).raw("subscription", m.Subscription).
		bool("successful", true).done()
}

// replayStartLocked applies the replay extension: the cursor after which events are due, or the error text.
func (s *cometdHandler) replayStartLocked(ch *eventstore.Channel, key string, ext json.RawMessage) (int64, string) {
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
		return 0, errReplayInvalid(text)
	case id == -1:
		return ch.LastID(), ""
	case id == -2:
		return 0, ""
	case s.store.ReplayValidLocked(ch, id):
		return id, ""
	}
	return 0, errReplayInvalid(text)
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

func (s *cometdHandler) unsubscribe(rc *reqCtx, m *inMsg) []byte {
	s.store.Lock()
	defer s.store.Unlock()
	c, errReply := s.sessionLocked(rc, m, s.clock.Now(), true)
	if errReply != nil {
		return errReply
	}
	var name string
	if len(m.Subscription) == 0 || json.Unmarshal(m.Subscription, &name) != nil || name == "" {
		return newObj(nil).str("clientId", c.id).str("channel", "/meta/unsubscribe").raw("id", m.ID).raw("subscription", m.Subscription).
			str("error", errChannelNotGiven).bool("successful", false).done()
	}
	s.unsubscribeLocked(c, name)
	s.counters.unsubscribes.Add(1)
	return newObj(nil).str("clientId", c.id).str("channel", "/meta/unsubscribe").raw("id", m.ID).raw("subscription", m.Subscription).
		bool("successful", true).done()
}

func (s *cometdHandler) disconnect(rc *reqCtx, m *inMsg) []byte {
	s.store.Lock()
	defer s.store.Unlock()
	c := s.liveClientLocked(m.ClientID, s.clock.Now())
	if c == nil {
		return s.unknownClientLocked(rc, m, false)
	}
	s.destroyLocked(c, "disconnect")
	s.counters.disconnects.Add(1)
	return newObj(nil).str("channel", "/meta/disconnect").str("clientId", c.id).raw("id", m.ID).bool("successful", true).done()
}

// connect answers a /meta/connect: at once when events are due, on the first connect after a handshake, or when
// it is not the last message of its request; otherwise it holds the long poll until events arrive, the hold ends,
// a fault or a newer connect ends it, or the client goes away. It appends its messages to answer.
func (s *cometdHandler) connect(rc *reqCtx, m *inMsg, canHold bool, answer []part) []part {
	s.counters.connects.Add(1)
	hold := s.cfg.Hold
	if m.Advice != nil && m.Advice.Timeout != nil {
		if ms := *m.Advice.Timeout; ms >= 0 && ms < float64(hold.Milliseconds()) { // a client may ask for less, never more
			hold = time.Duration(ms * float64(time.Millisecond))
		}
	}
	s.store.Lock()
	defer s.store.Unlock()
	now := s.clock.Now()
	c, errReply := s.sessionLocked(rc, m, now, false)
	if errReply != nil {
		return append(answer, part{a: errReply})
	}
	if m.ConnectionType != "long-polling" {
		return append(answer, part{a: newObj(nil).str("clientId", c.id).str("channel", "/meta/connect").raw("id", m.ID).
			str("error", "400::Invalid connection type "+m.ConnectionType).bool("successful", false).done()})
	}
	if s.faults.TakeServerBusy() {
		return append(answer, part{a: newObj(nil).str("channel", "/meta/connect").raw("id", m.ID).str("error", errAuthInvalid).
			bool("successful", false).raw("ext", newObj(nil).raw("sfdc", newObj(nil).str("failureReason", errBusyConnect).done()).done()).
			str("clientId", c.id).raw("advice", []byte(adviceNoneReversed)).done()})
	}

	var (
		timer   Timer
		held    bool
		timedUp bool
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if held {
			c.holding--
			c.lastSeen = s.clock.Now()
		}
	}()
	if canHold && c.connected && hold > 0 {
		c.kickLocked() // one long poll per client: a newer connect answers the older one now
	}
	for {
		now = s.clock.Now()
		switch c.gone {
		case "":
		case "disconnect":
			return append(answer, part{a: newObj(nil).str("clientId", c.id).str("channel", "/meta/connect").raw("id", m.ID).
				bool("successful", true).raw("advice", []byte(adviceNone)).done()})
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
				part{a: newObj(nil).str("clientId", c.id).raw("advice", []byte(adviceNone)).str("channel", "/meta/connect").
					raw("id", m.ID).str("error", errText).bool("successful", false).done()})
		}
		if s.limits.DailyLimitReached() {
			s.dropSubscriptionsLocked(c)
			return append(answer, part{a: newObj(nil).str("clientId", c.id).str("channel", "/meta/connect").raw("id", m.ID).
				str("error", errDailyLimit).bool("successful", false).raw("advice", []byte(adviceNone)).done()})
		}
		if s.faults.TakeServerDisconnect() {
			s.counters.serverDisconnects.Add(1)
			s.destroyLocked(c, "server_disconnect")
			return append(answer,
				part{a: newObj(nil).str("channel", "/meta/disconnect").str("clientId", c.id).done()},
				part{a: newObj(nil).str("clientId", c.id).raw("advice", []byte(adviceHandshake)).str("channel", "/meta/connect").
					raw("id", m.ID).bool("successful", true).done()})
		}
		if held && s.faults.TakeDropConnection() {
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
			o := newObj(nil).str("clientId", c.id)
			if first {
				o.raw("advice", fmt.Appendf(nil, `{"interval":0,"timeout":%d,"reconnect":"retry"}`, s.cfg.Hold.Milliseconds()))
			}
			return append(answer, part{a: o.str("channel", "/meta/connect").raw("id", m.ID).bool("successful", true).done()})
		}
		if !held {
			held = true
			c.holding++
			timer = s.clock.NewTimer(hold)
		}
		kick, faultCh := c.kick, s.faults.Woken()
		s.store.Unlock()
		select {
		case <-c.wake:
		case <-kick:
			timedUp = true // a newer connect or a destroy: answer now
		case <-faultCh:
		case <-timer.C():
			timedUp = true
		case <-s.closed:
		case <-rc.r.Context().Done():
			rc.gone = true
			s.store.Lock()
			return answer
		}
		s.store.Lock()
	}
}

func (s *cometdHandler) isClosed() bool {
	select {
	case <-s.closed:
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
	writeAnswer(w, status, []part{{a: newObj(nil).str("error", errText).bool("successful", false).done()}})
}
