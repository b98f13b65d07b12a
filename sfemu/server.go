// Package sfemu is a Salesforce emulator for tests and demos: the OAuth 2.0 token endpoint and SOAP login, the
// Streaming API (CometD/Bayeux long polling with the replay extension, Salesforce's message shapes, errors,
// cookies, timers and limits), the Pub/Sub API, the REST API (platform-event publish, the data API on an org of
// records), and a control API (/emulator/*) that publishes events and injects faults. It wires the surfaces that
// are packages of their own (sfemu/internal/...) to the org and the shared owners. It is a plain http.Handler, so
// tests run it with httptest and cmd/sfemu serves it on a port.
package sfemu

import (
	"crypto/rsa"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/cometd"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/control"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/dataapi"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/generate"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/limits"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/oauth"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/orgstream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/pubsubapi"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/rest"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/tokens"
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

	// mutationCap overrides maxMutations, the changes one /emulator/mutate request may ask for, so that tests
	// can show a preload above the cap whole without making a million changes; 0: maxMutations.
	mutationCap int
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

// Server is the emulator. It implements http.Handler. It builds the org, the
// event store and the shared owners (tokens, faults, limits), and the surfaces
// (login, REST, control, CometD, Pub/Sub), each a package given what it uses, and
// routes to them. It embeds none of them, and none of them holds it.
type Server struct {
	cfg   Config
	clock Clock

	counters counters

	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // generators

	preloadErr error // what New could not preload; see PreloadErr

	// The retained events of every channel, under the one lock the streaming surfaces share.
	store *eventstore.Store

	// The shared owners, each under its own lock, calling nothing above it.
	tokens *tokens.Store // the issued access tokens
	faults *faults.Set   // the pending injected faults, handed out to CometD, Pub/Sub and the transport
	limits *limits.Usage // what counts against the org's allocations

	// The surfaces.
	login   *oauth.Handler     // token endpoint, userinfo, SOAP login
	cometd  *cometd.Handler    // /cometd: the Streaming API
	pubsub  *pubsubapi.Handler // the Pub/Sub API (gRPC), and the Tooling API records of managed subscriptions
	rest    *rest.Handler      // /services/data
	control *control.Handler   // /emulator/*

	// The org beneath the surfaces, its REST data API, and what the streaming surfaces derive from its records.
	org      *org.Org
	data     *dataapi.API
	router   *orgstream.Router
	defs     definitions
	instance orgInstance // the instance the org lives on, moved by a migration
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
		closed: make(chan struct{}),
	}
	s.store = eventstore.New(eventstore.Config{Clock: cfg.Clock, TopicRetention: cfg.TopicRetention,
		GenericRetention: cfg.GenericRetention, PlatformEventRetention: cfg.PlatformEventRetention,
		CDCRetention: cfg.CDCRetention, MaxRetainedEvents: cfg.MaxRetainedEvents, AcceptReplayInRange: cfg.AcceptReplayInRange,
		MaxReplayGap: cfg.MaxReplayGap, UserID: cfg.UserID, APIVersion: LatestAPIVersion,
		PreciseCommitTimestamps: cfg.PreciseCommitTimestamps, Seed: seed,
	}, eventstore.Hooks{Defined: s.defineLocked, StreamingChannelID: s.streamingChannelIDLocked})
	s.faults = faults.New()
	s.limits = limits.New(limits.Config{DailyDelivery: cfg.DailyDeliveryLimit, DailyStreaming: cfg.DailyStreamingLimit,
		DailyAPIRequests: cfg.DailyAPIRequestLimit, MaxClients: cfg.MaxClients}, cfg.Clock, s.faults)
	s.tokens = tokens.New(cfg.OrgID, seed)
	s.login = oauth.New(oauth.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Username: cfg.Username, Password: cfg.Password,
		SecurityToken: cfg.SecurityToken, RefreshToken: cfg.RefreshToken, JWTPublicKey: cfg.JWTPublicKey,
		JWTAudiences: cfg.JWTAudiences, GenericLoginHost: cfg.GenericLoginHost, InstanceURL: cfg.InstanceURL,
		OrgID: cfg.OrgID, UserID: cfg.UserID,
	}, s.tokens, cfg.Clock, s.logf)
	s.pubsub = pubsubapi.New(pubsubapi.Config{OrgID: cfg.OrgID, Seed: seed}, pubsubapi.Deps{Store: s.store, Tokens: s.tokens,
		Faults: s.faults, Limits: s.limits, Clock: cfg.Clock, Closed: s.closed, Logf: s.logf, ChannelDefined: s.channelDefinedLocked})
	if cfg.PubSubEncodeAtPublish {
		s.store.SetEncoder(s.pubsub.Encode)
	}
	s.cometd = cometd.New(cometd.Config{Hold: cfg.Hold, ReconnectWindow: cfg.ReconnectWindow, MaxBatch: cfg.MaxBatch,
		MaxResponseBytes: cfg.MaxResponseBytes, MaxClients: cfg.MaxClients, MaxRequestBytes: cfg.MaxRequestBytes,
		AllowMissingCookies: cfg.AllowMissingCookies, Seed: seed,
	}, cometd.Deps{Store: s.store, Tokens: s.tokens, Faults: s.faults, Limits: s.limits, Clock: cfg.Clock, Closed: s.closed,
		Logf: s.logf, ChannelDefined: s.channelDefinedLocked})
	s.control = control.New(s.controlOps())
	if err := s.openOrg(seed); err != nil {
		s.logf("%v; starting without the custom objects", err)
		s.cfg.CustomObjects = nil
		_ = s.openOrg(seed) // the standard objects alone always build
	}
	s.rest = rest.New(s.tokens, s.data, cfg.OrgID, cfg.UserID, s.restOps())
	for _, p := range cfg.Preload {
		s.defineChannel(p.Channel)
		if p.Count == 0 {
			continue // defines the channel only
		}
		s.preload(p)
	}
	for _, g := range cfg.Generate {
		s.defineChannel(g.Channel)
	}
	for _, g := range cfg.Generate {
		channel := g.Channel
		generate.Start(generate.Deps{Clock: s.clock, Closed: s.closed, WG: &s.wg, Logf: s.logf}, channel, g.Rate,
			func(n int) error { _, _, err := s.produce(channel, n); return err })
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
			sfhttp.WriteJSONError(w, http.StatusInternalServerError, "internal error")
		}
	}()
	p := r.URL.Path
	switch {
	case p == "/services/oauth2/token":
		s.login.ServeToken(w, r)
	case p == "/services/oauth2/userinfo":
		s.login.ServeUserInfo(w, r)
	case strings.HasPrefix(p, "/services/Soap/"):
		s.login.ServeSOAP(w, r)
	case p == "/cometd" || strings.HasPrefix(p, "/cometd/"):
		s.cometd.ServeHTTP(w, r)
	case strings.HasPrefix(p, "/emulator/"):
		s.control.ServeHTTP(w, r)
	case p == "/services/data" || strings.HasPrefix(p, "/services/data/"):
		s.rest.ServeHTTP(w, r)
	default:
		sfhttp.WriteJSONError(w, http.StatusNotFound, "not found: "+p)
	}
}
