package pubsub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// DefaultEndpoint is Salesforce's Pub/Sub API endpoint (port 7443; 443 works too).
const DefaultEndpoint = "api.pubsub.salesforce.com:7443"

// MaxNumRequested is Salesforce's maximum num_requested, across all outstanding FetchRequests of a stream.
const MaxNumRequested = 100

// DefaultMaxResponseBytes bounds one FetchResponse (Config.MaxResponseBytes), above gRPC's default of 4 MB:
// Salesforce caps an event at 1 MB, so a response of 16 events of the largest size fits, and a response of the
// usual few-KB events holds the full 100 requested. A larger response is refused before it is read (gRPC checks
// the length prefix), so a hostile or broken server cannot make the process allocate it. After a refusal the
// subscription asks for at most SmallWindow events at a time, which a server respecting the 1 MB cap can always
// send within the bound (smallWindow).
const DefaultMaxResponseBytes = 16 << 20

// maxEventBytes is Salesforce's documented maximum size of one event.
const maxEventBytes = 1 << 20

// DefaultHealthyAfter is how long a stream must stay open, having handed on a batch, before its failure no
// longer continues the previous failure streak (Config.HealthyAfter). A stream that fails sooner, however many
// answers it gave, keeps the backoff growing: a server that answers and then fails cannot make the client
// resubscribe in a loop.
const DefaultHealthyAfter = 10 * time.Second

// DefaultKeepaliveQuiet is how long a stream must have delivered no event before a keepalive's latest_replay_id
// is taken as a position (Config.KeepaliveQuiet). Salesforce sends a keepalive only when it has nothing to
// deliver, after up to 270 s of quiet; a keepalive right behind a delivery is not trusted to vouch for events the
// client has not seen.
const DefaultKeepaliveQuiet = 5 * time.Second

// DefaultStreamIdleTimeout is how long a subscription waits for any FetchResponse before it treats the stream as
// dead and resubscribes: Salesforce sends a keepalive within 270 s, so silence beyond that and a margin means a
// half-open connection.
const DefaultStreamIdleTimeout = 330 * time.Second

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	Auth     stream.TokenSource // required
	Endpoint string             // host:port, default DefaultEndpoint
	// Plaintext dials without TLS, for an emulator on loopback. Otherwise TLS, with TLS as its configuration
	// when set (for example RootCAs trusting an emulator's certificate).
	Plaintext bool
	TLS       *tls.Config
	// DialOptions are added to the client's own (credentials).
	DialOptions []grpc.DialOption

	// Backoff: the CometD client's waits (stream.BackoffConfig.WithDefaults fills zero fields with the same
	// defaults). A failure streak ends only after a stream stayed healthy for HealthyAfter.
	Backoff stream.BackoffConfig
	Logger  stream.Logger // optional
	// Redactor removes secrets and tokens from every server text the client puts in an error, a log or an event
	// field (status messages, trailers, event and schema ids). Optional: a nil one gets a fresh Redactor; the
	// client adds every token it uses. Pass the token source's (sfauth.Source.Redactor) so configured secrets are
	// known too.
	Redactor *redact.Redactor
	// Observer, optional, is told of resubscriptions (with the CometD client's reasons), token refreshes and
	// replay-id fallbacks, as the CometD client tells its own. Events is called by a Source for the events of
	// each batch it hands on (a bare Subscription does not call it).
	Observer stream.Observer
	// StreamIdleTimeout: see DefaultStreamIdleTimeout.
	StreamIdleTimeout time.Duration
	// MaxResponseBytes: see DefaultMaxResponseBytes.
	MaxResponseBytes int
	// HealthyAfter: see DefaultHealthyAfter.
	HealthyAfter time.Duration
	// KeepaliveQuiet: see DefaultKeepaliveQuiet.
	KeepaliveQuiet time.Duration
}

// Client holds one gRPC connection to the Pub/Sub API, the current access token and the schema cache.
// Its methods are safe for concurrent use.
type Client struct {
	cfg  Config
	red  *redact.Redactor
	log  stream.Logger
	obs  stream.Observer
	conn *grpc.ClientConn
	api  eventbusv1.PubSubClient

	mu      sync.Mutex
	token   sfauth.Token
	hasTok  bool
	schemas map[string]*avro.RecordSchema // by schema id: an id names one schema forever

	closed    chan struct{}
	closeOnce sync.Once
}

// New builds a Client; the connection is made on the first call.
func New(cfg Config) (*Client, error) {
	if cfg.Auth == nil {
		return nil, errors.New("pubsub: Auth is required")
	}
	cfg = cfg.withDefaults()
	creds := insecure.NewCredentials()
	if !cfg.Plaintext {
		tc := cfg.TLS
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		creds = credentials.NewTLS(tc)
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.MaxResponseBytes), grpc.ForceCodecV2(newClientCodec()))},
		transportOptions()...)
	opts = append(opts, cfg.DialOptions...)
	conn, err := grpc.NewClient(cfg.Endpoint, opts...)
	if err != nil {
		return nil, fmt.Errorf("pubsub: connecting to %s: %w", cfg.Endpoint, err)
	}
	log := cfg.Logger
	if log == nil {
		log = stream.NopLogger{}
	}
	obs := cfg.Observer
	if obs == nil {
		obs = stream.NopObserver{}
	}
	return &Client{cfg: cfg, red: cfg.Redactor, log: log, obs: obs, conn: conn, api: eventbusv1.NewPubSubClient(conn),
		schemas: map[string]*avro.RecordSchema{}, closed: make(chan struct{})}, nil
}

// transportOptions size the HTTP/2 connection for FetchResponses of up to 100 events (about 45 KB of change
// events each): flow-control windows of 1 MB for the stream and the connection, so that the client acknowledges
// received data every 256 KB (a quarter of the window) instead of every 16 KB of the 64 KB default, and without
// the bandwidth-estimating pings that a default (dynamic) window sends; and a read buffer that takes a whole
// response in one read. A larger response (up to MaxResponseBytes) still arrives, in window-sized steps.
func transportOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithInitialWindowSize(1 << 20), grpc.WithInitialConnWindowSize(1 << 20),
		grpc.WithReadBufferSize(128 << 10)}
}

// withDefaults fills zero fields with their defaults; the backoff's are the CometD client's.
func (cfg Config) withDefaults() Config {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	if cfg.StreamIdleTimeout <= 0 {
		cfg.StreamIdleTimeout = DefaultStreamIdleTimeout
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.HealthyAfter <= 0 {
		cfg.HealthyAfter = DefaultHealthyAfter
	}
	if cfg.KeepaliveQuiet <= 0 {
		cfg.KeepaliveQuiet = DefaultKeepaliveQuiet
	}
	cfg.Backoff = cfg.Backoff.WithDefaults()
	if cfg.Redactor == nil {
		cfg.Redactor = redact.New()
	}
	return cfg
}

// Close closes the connection; open subscriptions end with ErrClosed. It is idempotent.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.conn.Close()
	})
	return err
}

// TenantID is the org id in a token answer's identity URL (https://login.salesforce.com/id/<org id>/<user id>),
// which the tenantid header carries.
func TenantID(tok sfauth.Token) (string, error) {
	u, err := url.Parse(tok.ID)
	if err != nil || tok.ID == "" {
		return "", errors.New("the token answer has no identity URL (id) to read the org id from")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 3 || parts[len(parts)-3] != "id" || parts[len(parts)-2] == "" {
		return "", fmt.Errorf("the identity URL path %q is not /id/<org id>/<user id>", u.Path)
	}
	return parts[len(parts)-2], nil
}

// currentToken returns the cached token, fetching one the first time.
func (c *Client) currentToken(ctx context.Context) (sfauth.Token, error) {
	c.mu.Lock()
	tok, ok := c.token, c.hasTok
	c.mu.Unlock()
	if ok {
		return tok, nil
	}
	tok, err := c.cfg.Auth.Token(ctx)
	if err != nil {
		return sfauth.Token{}, &stream.AuthError{Err: err}
	}
	c.setToken(tok)
	return tok, nil
}

// refresh replaces a token Salesforce refused, once per refused token: when the client already holds another
// one (another subscription or call refreshed it), that one is returned without a new token request.
func (c *Client) refresh(ctx context.Context, stale sfauth.Token) (sfauth.Token, error) {
	c.mu.Lock()
	cur, ok := c.token, c.hasTok
	c.mu.Unlock()
	if ok && cur.AccessToken != stale.AccessToken {
		return cur, nil
	}
	c.obs.TokenRefresh()
	tok, err := c.cfg.Auth.Refresh(ctx, stale)
	if err != nil {
		return sfauth.Token{}, &stream.AuthError{Err: err}
	}
	c.setToken(tok)
	return tok, nil
}

func (c *Client) setToken(tok sfauth.Token) {
	c.red.AddToken(tok.AccessToken)
	c.mu.Lock()
	c.token, c.hasTok = tok, true
	c.mu.Unlock()
}

// withAuth adds the three headers every call carries.
func withAuth(ctx context.Context, tok sfauth.Token) (context.Context, error) {
	tenant, err := TenantID(tok)
	if err != nil {
		return nil, &stream.AuthError{Err: err}
	}
	return metadata.AppendToOutgoingContext(ctx, "accesstoken", tok.AccessToken, "instanceurl", tok.InstanceURL,
		"tenantid", tenant), nil
}

// unary runs a call with the current token and, when retryAuth is set, once more with a refreshed one if
// Salesforce refuses it. Inside a stream retryAuth is off: the refused call fails the stream, and the
// subscription's retry policy refreshes the token once and backs off.
func (c *Client) unary(ctx context.Context, retryAuth bool, call func(ctx context.Context, opts ...grpc.CallOption) error) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	tok, err := c.currentToken(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		actx, err := withAuth(ctx, tok)
		if err != nil {
			return err
		}
		var trailer metadata.MD
		err = c.statusError(call(actx, grpc.Trailer(&trailer)), trailer)
		if err == nil {
			return nil
		}
		kind, wrapped := classify(err, "", nil)
		if kind != kindAuth || attempt > 0 || !retryAuth {
			return wrapped
		}
		if tok, err = c.refresh(ctx, tok); err != nil {
			return err
		}
	}
}

// GetTopic describes a topic: whether the user may subscribe and publish, and its current schema id.
func (c *Client) GetTopic(ctx context.Context, topic string) (*eventbusv1.TopicInfo, error) {
	var info *eventbusv1.TopicInfo
	err := c.unary(ctx, true, func(ctx context.Context, opts ...grpc.CallOption) error {
		var err error
		info, err = c.api.GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: topic}, opts...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("getting topic %s: %w", topic, err)
	}
	return info, nil
}

// Schema returns the Avro schema with this id, from the cache or GetSchema. Events carry the id of the schema
// they were written with, which may be older than the topic's current one, and a multi-entity channel mixes
// several schemas, so the cache is keyed by schema id, never by topic.
func (c *Client) Schema(ctx context.Context, id string) (*avro.RecordSchema, error) {
	return c.schema(ctx, id, true)
}

// schema is Schema; retryAuth as for unary. Errors name the id redacted: it is server text.
func (c *Client) schema(ctx context.Context, id string, retryAuth bool) (*avro.RecordSchema, error) {
	c.mu.Lock()
	s, ok := c.schemas[id]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	var info *eventbusv1.SchemaInfo
	err := c.unary(ctx, retryAuth, func(ctx context.Context, opts ...grpc.CallOption) error {
		var err error
		info, err = c.api.GetSchema(ctx, &eventbusv1.SchemaRequest{SchemaId: id}, opts...)
		return err
	})
	shown := c.red.QuoteString(id)
	if err != nil {
		return nil, fmt.Errorf("getting schema %s: %w", shown, err)
	}
	parsed, err := avro.ParseWithCache(info.GetSchemaJson(), "", &avro.SchemaCache{})
	if err != nil { // the parser's text may quote the schema, which is server text
		return nil, fmt.Errorf("parsing schema %s: %s", shown, c.red.QuoteString(err.Error()))
	}
	rs, ok := parsed.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("schema %s is a %s, not a record", shown, parsed.Type())
	}
	c.mu.Lock()
	c.schemas[id] = rs
	c.mu.Unlock()
	return rs, nil
}
