// Package sfemu is a Salesforce emulator for tests and demos: the OAuth 2.0 token endpoint, the Streaming API
// (CometD/Bayeux long polling with the replay extension, Salesforce's message shapes, errors, cookies, timers and
// limits), the platform-event publish path, and a control API (/emulator/*) that publishes events and injects
// faults. It is a plain http.Handler, so tests run it with httptest and cmd/sfemu serves it on a port.
package sfemu

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/dataapi"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/orgstream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// Default credentials and timers. Pipelines in config/ and tests rely on these values.
const (
	DefaultClientID     = "sfemu-client-id"
	DefaultClientSecret = "sfemu-client-secret"
	DefaultUsername     = "sfemu@example.com"
	DefaultPassword     = "sfemu-password"
	DefaultRefreshToken = "sfemu-refresh-token"

	DefaultHold            = 110 * time.Second
	DefaultReconnectWindow = 40 * time.Second
	// DefaultMaxBatch bounds the events in one connect answer. Salesforce's own bound is not documented; traces
	// show answers above 1 MiB, which 1,000 CDC events of ~1 KB reproduce.
	DefaultMaxBatch        = 1000
	DefaultMaxClients      = 2000 // Performance/Unlimited edition concurrent CometD clients
	DefaultMaxRequestBytes = 32768
	DefaultShortRetention  = 24 * time.Hour // PushTopic, generic
	DefaultLongRetention   = 72 * time.Hour // platform events, CDC
	DefaultMaxReplayGap    = 3
	DefaultOrgID           = "00D5e000000SfEmUAQ"
	DefaultUserID          = "0055e000001SfEmUAA"
)

// ChannelCount asks for N retained events on a channel at start (-preload).
type ChannelCount struct {
	Channel string
	Count   int
}

// ChannelRate asks for a steady stream of events on a channel (-generate).
type ChannelRate struct {
	Channel string
	Rate    float64 // events per second
}

// ObjectCount asks for N generated records of an object at start (-records).
type ObjectCount struct {
	Object string
	Count  int
}

// Config holds every knob. Its zero value means Salesforce's behaviour and the documented default credentials.
type Config struct {
	Clock Clock // nil: the wall clock

	ClientID      string
	ClientSecret  string
	Username      string
	Password      string // the password grant expects Password+SecurityToken
	SecurityToken string
	RefreshToken  string
	// JWTPublicKey verifies jwt-bearer assertions (RS256); nil rejects that grant.
	JWTPublicKey *rsa.PublicKey
	// JWTAudiences are accepted `aud` values besides https://login.salesforce.com, https://test.salesforce.com
	// and the emulator's own base URL.
	JWTAudiences []string
	// GenericLoginHost makes the token endpoint behave like login.salesforce.com: client_credentials is refused.
	GenericLoginHost bool
	// InstanceURL overrides instance_url in token answers (default: scheme://host of the request).
	InstanceURL string
	OrgID       string
	UserID      string

	Hold            time.Duration // long-poll hold (advice.timeout)
	ReconnectWindow time.Duration // a client that sends nothing for this long after an answer expires

	MaxBatch         int // events per connect answer
	MaxResponseBytes int // 0: unlimited; else a connect answer stops adding events at this size (>= 1 event)
	MaxClients       int // concurrent (handshaken, unexpired) clients
	MaxRequestBytes  int // CometD request body limit (413 above)

	TopicRetention         time.Duration
	GenericRetention       time.Duration
	PlatformEventRetention time.Duration
	CDCRetention           time.Duration
	MaxRetainedEvents      int // per channel; 0: bounded by retention only

	// AcceptReplayInRange accepts any replay id within [oldest, newest] retained; by default an id is valid only
	// when the event with exactly that id is still retained (Salesforce).
	AcceptReplayInRange bool
	// MaxReplayGap: consecutive replay ids differ by 1..1+MaxReplayGap (0: default 3; negative: contiguous).
	MaxReplayGap int
	// PreciseCommitTimestamps keeps the milliseconds of ChangeEventHeader.commitTimestamp (real captures have
	// whole seconds), for latency measurements that read the publish time from the event.
	PreciseCommitTimestamps bool
	// PubSubEncodeAtPublish encodes each platform and change event for the Pub/Sub API when it is published
	// (preloads included) rather than when it is first served, so that serving it costs no encoding: for
	// benchmarks of Pub/Sub clients. It costs memory: the Avro form (about 40% of the CometD message of a
	// change event) and its ids stay with every such event (docs/emulator.md).
	PubSubEncodeAtPublish bool
	// DailyDeliveryLimit and DailyStreamingLimit enforce the daily delivery allocations shown by the limits
	// resource: platform and change events (DailyDeliveredPlatformEvents), PushTopic and generic events
	// (DailyDurableStreamingApiEvents). 0 counts deliveries without enforcing, against Salesforce's default Max.
	DailyDeliveryLimit  int64
	DailyStreamingLimit int64
	// DailyAPIRequestLimit enforces DailyApiRequests: REST calls above it get REQUEST_LIMIT_EXCEEDED (0: counted
	// against Salesforce's default Max, not enforced).
	DailyAPIRequestLimit int64
	// AllowMissingCookies accepts requests after the handshake without the BAYEUX_BROWSER cookie.
	AllowMissingCookies bool

	Preload  []ChannelCount
	Generate []ChannelRate

	// Records creates N records of an object at start (-records Account=N) and selects it for Change Data
	// Capture. CustomObjects declares custom objects (-object Name__c:Field__c=type,...).
	Records       []ObjectCount
	CustomObjects []org.ObjectSpec
	// AnyChannel lets a subscribe define the channel it names, as the emulator did before channels had to be
	// defined: for suites that subscribe before they publish. By default a channel nobody defined gets
	// Salesforce's answer.
	AnyChannel bool

	Seed uint64                           // 0: random
	Logf func(format string, args ...any) // optional request log; never receives secrets
}

// DefaultConfig returns the configuration with every default spelled out.
func DefaultConfig() Config {
	var c Config
	c.fill()
	return c
}

func (c *Config) fill() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defDur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(i *int, v int) {
		if *i <= 0 {
			*i = v
		}
	}
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	def(&c.ClientID, DefaultClientID)
	def(&c.ClientSecret, DefaultClientSecret)
	def(&c.Username, DefaultUsername)
	def(&c.Password, DefaultPassword)
	def(&c.RefreshToken, DefaultRefreshToken)
	def(&c.OrgID, DefaultOrgID)
	def(&c.UserID, DefaultUserID)
	defDur(&c.Hold, DefaultHold)
	defDur(&c.ReconnectWindow, DefaultReconnectWindow)
	defDur(&c.TopicRetention, DefaultShortRetention)
	defDur(&c.GenericRetention, DefaultShortRetention)
	defDur(&c.PlatformEventRetention, DefaultLongRetention)
	defDur(&c.CDCRetention, DefaultLongRetention)
	defInt(&c.MaxBatch, DefaultMaxBatch)
	defInt(&c.MaxClients, DefaultMaxClients)
	defInt(&c.MaxRequestBytes, DefaultMaxRequestBytes)
	if c.MaxReplayGap == 0 {
		c.MaxReplayGap = DefaultMaxReplayGap
	}
	c.InstanceURL = strings.TrimRight(c.InstanceURL, "/")
}

// Server is the emulator. It implements http.Handler. It holds what every
// surface shares (config, clock, the one lock, randomness, counters, lifetime)
// and wires the surfaces, each of which owns its own part of the state; all
// of it is guarded by mu.
type Server struct {
	cfg   Config
	clock Clock

	mu        sync.Mutex
	rng       *rand.Rand
	orgLimits orgUsage // what counts against the org's allocations (limits.go)
	counters  counters

	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // generators

	// The surfaces: each holds a pointer back to this Server for the state and lock they share.
	eventStore
	payloadBuilder
	cometdHandler
	controlAPI
	faultSet
	oauthHandler
	restHandler
	pubsubServer
	eventGenerator

	// The org beneath the surfaces, its REST data API, and what the streaming surfaces derive from its records.
	org    *org.Org
	data   *dataapi.API
	router *orgstream.Router
	defs   definitions
	orgInstance
}

// New builds a Server, publishes the preloaded events and starts the generators. Close stops them.
func New(cfg Config) *Server {
	cfg.fill()
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		cfg:    cfg,
		clock:  cfg.Clock,
		rng:    rand.New(rand.NewPCG(seed, seed^0x5f3759df)),
		closed: make(chan struct{}),
	}
	s.eventStore = eventStore{Server: s, channels: make(map[string]*channel), streamingChannels: make(map[string]string)}
	s.payloadBuilder = payloadBuilder{Server: s}
	s.cometdHandler = cometdHandler{Server: s, clients: make(map[string]*client)}
	s.controlAPI = controlAPI{s}
	s.faultSet = faultSet{Server: s, faultCh: make(chan struct{})}
	s.oauthHandler = oauthHandler{Server: s, tokens: make(map[string]struct{})}
	s.restHandler = restHandler{s}
	s.pubsubServer = pubsubServer{Server: s, pubsub: newPubSubState()}
	s.eventGenerator = eventGenerator{s}
	s.lbCookie = s.lbCookieValue()
	if err := s.openOrg(seed); err != nil {
		s.logf("%v; starting without the custom objects", err)
		s.cfg.CustomObjects = nil
		_ = s.openOrg(seed) // the standard objects alone always build
	}
	for _, p := range cfg.Preload {
		s.defineChannel(p.Channel)
		if p.Count == 0 {
			continue // defines the channel only
		}
		if _, _, err := s.produce(p.Channel, p.Count); err != nil {
			s.logf("preloading %s: %v", p.Channel, err)
		}
	}
	for _, g := range cfg.Generate {
		s.defineChannel(g.Channel)
	}
	for _, g := range cfg.Generate {
		s.startGenerator(g)
	}
	return s
}

// Config returns the effective configuration (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Close stops the generators and answers every held long poll; it is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.wg.Wait()
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// ServeHTTP routes the Salesforce endpoints and the control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// Last resort only: handlers return errors as replies. http.ErrAbortHandler is how a connection is dropped.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logf("internal error serving %s %s: %v", r.Method, r.URL.Path, v)
			writeJSONError(w, http.StatusInternalServerError, "internal error")
		}
	}()
	p := r.URL.Path
	switch {
	case p == "/services/oauth2/token":
		s.serveToken(w, r)
	case p == "/services/oauth2/userinfo":
		s.serveUserInfo(w, r)
	case strings.HasPrefix(p, "/services/Soap/"):
		s.serveSOAP(w, r)
	case p == "/cometd" || strings.HasPrefix(p, "/cometd/"):
		s.serveCometD(w, r)
	case strings.HasPrefix(p, "/emulator/"):
		s.serveControl(w, r)
	case p == "/services/data" || strings.HasPrefix(p, "/services/data/"):
		s.serveREST(w, r)
	default:
		writeJSONError(w, http.StatusNotFound, "not found: "+p)
	}
}

// baseURL is scheme://host as the client reached us.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.InstanceURL != "" {
		return s.cfg.InstanceURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// lbCookieValue is a load balancer cookie value shaped like a real one: '!' and base64 ending in one '='.
func (s *Server) lbCookieValue() string {
	raw := make([]byte, 59)
	for i := range raw {
		raw[i] = byte(s.rng.Uint32())
	}
	return "!" + base64.StdEncoding.EncodeToString(raw)
}

func (s *Server) randomToken(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalNoEscape(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding answer"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func marshalNoEscape(v any) ([]byte, error) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(sb.String(), "\n")), nil
}
