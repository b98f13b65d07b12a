package bayeux

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"

	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
)

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	Auth       stream.TokenSource // required: the token and the instance URL of the endpoint
	APIVersion string             // default "64.0"; endpoint = instanceURL + "/cometd/" + APIVersion
	HTTPClient *http.Client       // base client (TLS, proxy); the client adds its own cookie jar and timeouts

	Channels []string // required, e.g. "/topic/X?Status__c=Open"; at most one per replay key
	// ReplayIDs is the start point per channel (keyed by the channel as configured or by its key without
	// ?query): a stored checkpoint, or ReplayLatest / ReplayEarliest. A channel without one starts at ReplayLatest.
	ReplayIDs         map[string]int64
	OnInvalidReplayID stream.InvalidReplayPolicy

	// MaxBufferedEvents bounds the events received but not yet taken by Next (default 10,000). When it is
	// reached the client stops polling and disconnects (so Salesforce does not count it against the org's
	// concurrent clients), waits until Next has taken half, then handshakes and resubscribes from the last
	// queued replay ids. One answer is always queued whole, so the buffer may exceed the bound by one answer.
	MaxBufferedEvents int

	Logger   stream.Logger   // optional
	Observer stream.Observer // optional
	Backoff  stream.BackoffConfig

	// RequestTimeout bounds handshake, subscribe and disconnect requests (default 30 s). A long poll is bounded by
	// the server's advice.timeout plus ConnectTimeoutMargin (default 15 s).
	RequestTimeout       time.Duration
	ConnectTimeoutMargin time.Duration

	// MaxAnswerBytes bounds one server answer (default wire.DefaultMaxAnswerBytes, 64 MiB). A larger answer is not
	// read: the client logs an error, disconnects and resubscribes from the last queued replay ids, like after a
	// dropped connection. Reading and decoding an answer allocates about its size plus up to 1 KB per event.
	MaxAnswerBytes int64

	// Redactor removes secrets and tokens from every server text the client quotes in an error or a log (HTTP
	// error bodies, Bayeux error texts). Optional: the client always adds the tokens Auth hands it, and a nil
	// Redactor gets a fresh one; pass the token source's (sfauth.Source.Redactor) so configured secrets are known.
	Redactor *redact.Redactor
}

const (
	defaultAPIVersion        = "64.0"
	defaultMaxBufferedEvents = 10000
	defaultRequestTimeout    = 30 * time.Second
	defaultConnectMargin     = 15 * time.Second
	// closeDisconnectTimeout bounds the /meta/disconnect sent by Close, so Close returns within a second.
	closeDisconnectTimeout = 500 * time.Millisecond
	// closeLoopWait bounds how long Close waits for the loop once its context is cancelled.
	closeLoopWait = 400 * time.Millisecond
)

// validated checks cfg and fills in its defaults. It returns, per channel key, the configured channel (the name
// events carry) and the replay id the channel starts from.
func (cfg Config) validated() (_ Config, channelOf map[string]string, start map[string]int64, err error) {
	if cfg.Auth == nil {
		return cfg, nil, nil, errors.New("bayeux: Auth is required")
	}
	if len(cfg.Channels) == 0 {
		return cfg, nil, nil, errors.New("bayeux: at least one channel is required")
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = defaultAPIVersion
	}
	if cfg.MaxBufferedEvents <= 0 {
		cfg.MaxBufferedEvents = defaultMaxBufferedEvents
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	if cfg.ConnectTimeoutMargin <= 0 {
		cfg.ConnectTimeoutMargin = defaultConnectMargin
	}
	if cfg.MaxAnswerBytes <= 0 {
		cfg.MaxAnswerBytes = wire.DefaultMaxAnswerBytes
	}
	switch cfg.OnInvalidReplayID {
	case stream.ReplayFallbackEarliest, stream.ReplayFallbackLatest, stream.ReplayFallbackFail:
	default:
		return cfg, nil, nil, fmt.Errorf("bayeux: unknown invalid replay policy %d", cfg.OnInvalidReplayID)
	}
	cfg.Backoff = cfg.Backoff.WithDefaults()
	if cfg.Redactor == nil {
		cfg.Redactor = redact.New()
	}
	if cfg.Logger == nil {
		cfg.Logger = stream.NopLogger{}
	}
	if cfg.Observer == nil {
		cfg.Observer = stream.NopObserver{}
	}
	cfg.Channels = append([]string(nil), cfg.Channels...)

	channelOf = make(map[string]string, len(cfg.Channels))
	start = make(map[string]int64, len(cfg.Channels))
	for _, ch := range cfg.Channels {
		if !strings.HasPrefix(ch, "/") || strings.HasPrefix(ch, "/meta/") {
			return cfg, nil, nil, fmt.Errorf("bayeux: invalid channel %q", ch)
		}
		key := stream.ChannelKey(ch)
		if other, dup := channelOf[key]; dup {
			return cfg, nil, nil, fmt.Errorf("bayeux: channels %q and %q share the replay key %q", other, ch, key)
		}
		channelOf[key] = ch
		id, ok := cfg.ReplayIDs[ch]
		if !ok {
			id, ok = cfg.ReplayIDs[key]
		}
		if !ok {
			id = ReplayLatest
		}
		start[key] = id
	}
	return cfg, channelOf, start, nil
}

// The defaults a zero Config field takes, exported so that the input's configuration spec documents and applies
// the very values the client uses (the backoff's are stream.DefaultBackoff*).
const (
	DefaultAPIVersion        = defaultAPIVersion
	DefaultMaxBufferedEvents = defaultMaxBufferedEvents
)
