package input

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"math"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Replay presets as the Streaming API writes them in a subscribe's replay map.
const (
	replayLatest   = int64(stream.Latest)
	replayEarliest = int64(stream.Earliest)
)

// channelKey is a channel without its filter, as checkpoints, metadata and
// initial_replay_ids name it.
func channelKey(channel string) string { return stream.ChannelKey(channel) }

// invalidReplayPolicy is on_invalid_replay_id; input.go maps it to stream's.
type invalidReplayPolicy string

// apiKind is the api field: which Salesforce API, and so which client, the
// input subscribes with.
type apiKind string

// ssiConfig is the input's configuration, parsed and validated once. Auth and
// Backoff are the very structs sfauth and the stream clients take.
type ssiConfig struct {
	// Auth holds org_url and the auth object; PrivateKeyPEM holds the key of
	// private_key_file or private_key, the file read when the input is built.
	// HTTPClient is set by the constructor.
	Auth       sfauth.Config
	APIVersion string

	// API selects the transport. PubSubEndpoint is host:port; PubSubPlaintext
	// is set for a loopback endpoint with tls disabled (pubsubPlaintext).
	API             apiKind
	Body            bodyShape
	PubSubEndpoint  string
	PubSubPlaintext bool

	// Channels as configured (a PushTopic may carry a ?filter).
	Channels []string
	// ReplayPreset is the start of a channel with neither a checkpoint nor an
	// initial replay id: replayLatest or replayEarliest.
	ReplayPreset int64
	// InitialReplayIDs is keyed by channel name without filter. Under
	// api: pubsub, InitialPubSubIDs holds the base64-decoded replay ids and
	// InitialReplayIDs only the presets (-1, -2).
	InitialReplayIDs  map[string]int64
	InitialPubSubIDs  map[string][]byte
	OnInvalidReplayID invalidReplayPolicy

	CheckpointCache string
	CheckpointKey   string
	CheckpointLimit int
	// AutoReplayNacks: a nacked batch is redelivered whole (true) or dropped
	// with its checkpoint moving past it (false).
	AutoReplayNacks bool

	TLS         *tls.Config // nil: Go's defaults
	ProxyURL    *url.URL    // nil: proxy from the environment
	MaxBuffered int

	Backoff stream.BackoffConfig

	// LimitsInterval is how often the org's limits are read; 0: never.
	LimitsInterval time.Duration

	// CDC is the snapshot block and gap_events (cdc_config.go).
	CDC cdcConfig
	// CheckpointGrace and Lease: lease_config.go.
	CheckpointGrace time.Duration
	Lease           leaseConfig
}

// The patterns of field values. lint.go builds its rule from these same
// values. channelRE: a known prefix, a name (generic streaming names may have
// segments, /u/notifications/X), and a filter on PushTopics only.
var (
	channelRE     = regexp.MustCompile(`^/(topic|u|event|data)/[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*(\?.*)?$`)
	topicFilterRE = regexp.MustCompile(`^/topic/[^?]+\?[^=&]+=[^&]*(&[^=&]+=[^&]*)*$`)
	apiVersionRE  = regexp.MustCompile(`^([0-9]+)\.0$`)
	// keyPrefixRE is the checkpoint_cache_key alphabet: no path separator, no
	// leading dot, nothing a cache or a file system reads specially.
	keyPrefixRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$`)
	orgURLPrefixRE = regexp.MustCompile(`^https?://[^/?#\s]+`)
	// orgURLUserRE, orgURLQueryRE and orgURLHostRE: what sfauth.CheckOrgURL
	// refuses and a regular expression can see (so that lint sees it too): a
	// user name or password before the host, a query or fragment, a host
	// with a port that is not a number.
	orgURLUserRE  = regexp.MustCompile(`^https?://[^/?#]*@`)
	orgURLQueryRE = regexp.MustCompile(`[?#]`)
	orgURLHostRE  = regexp.MustCompile(`^https?://(\[[0-9A-Fa-f:.]+\]|[^/?#:\[\]]+)(:[0-9]*)?(/|$)`)
	// proxyURLRE: what url.Parse reads with a scheme and a host.
	proxyURLRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]`)
	// base64RE: standard base64 with padding, as initial_replay_ids takes
	// Pub/Sub replay ids.
	base64RE = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$`)
)

// backoffFloors are the lowest backoff waits the input accepts; lint.go's
// rule is built with the same numbers. Jitter halves a wait at most, so long_interval's
// floor keeps refused logins at one a second or fewer: Salesforce allows
// 3,600 logins per user per hour and refuses more. (Tests of this package
// lower the floors to run fast, while streams may be reading them; nothing
// else changes them.)
var backoffFloors = newDurationFloors(floorInitial, floorLong)

// The production backoff floors: initial_interval and max_interval, long_interval.
const (
	floorInitial = 100 * time.Millisecond
	floorLong    = 2 * time.Second
)

// durationFloors holds the backoff floors.
type durationFloors struct{ initial, long atomic.Int64 }

func newDurationFloors(initial, long time.Duration) *durationFloors {
	f := &durationFloors{}
	f.set(initial, long)
	return f
}

func (f *durationFloors) get() (initial, long time.Duration) {
	return time.Duration(f.initial.Load()), time.Duration(f.long.Load())
}

func (f *durationFloors) set(initial, long time.Duration) {
	f.initial.Store(int64(initial))
	f.long.Store(int64(long))
}

// The floors Go checks: backoffFloors' current values.
func liveFloorInitial() time.Duration { initial, _ := backoffFloors.get(); return initial }
func liveFloorLong() time.Duration    { _, long := backoffFloors.get(); return long }

// Why the floors exist; the floor messages end with it.
const (
	floorLimitsWhy  = "each read is a REST request that counts against DailyApiRequests; use 0 to turn the reads off, or e.g. 5m"
	floorInitialWhy = "faster retries only hammer Salesforce and the network, e.g. 1s"
	floorLongWhy    = "it spaces logins Salesforce refused (and org limits, busy answers), and faster logins hit Salesforce's login rate limit and the user's lockout sooner, e.g. 2m"
)

// maxKeyBytes is the longest checkpoint key (with its shadow suffix): a file
// cache stores each key as one file name, at most 255 bytes on common file
// systems.
const maxKeyBytes = 255

// configFromParsed reads and validates the whole config: the table's checks
// (config_fields.go), then the rules (config_rules.go). Every problem is
// reported at once, each naming its field and the fix, like the lint rule.
// fsys reads private_key_file and tls.root_cas_file.
func configFromParsed(pConf *service.ParsedConfig, fsys fs.FS) (ssiConfig, error) {
	s := &parseState{pConf: pConf, fsys: fsys, failed: map[string]bool{}, seen: map[string]bool{}}
	errs := parseFields(pConf, ssiFields, "", &s.conf, s.failed)
	for _, r := range ssiRules {
		errs = append(errs, r.check(s)...)
	}
	return s.conf, errors.Join(errs...)
}

// orgURLCheck checks org_url: the input's own messages for the common
// mistakes, in the order a user makes them. sfauth's check of what the token
// source accepts runs behind it (the org_url_parse rule).
var orgURLCheck = textCheck{steps: []textStep{
	stepEmpty(msgOrgURLRequired),
	stepBadEscape(msgOrgURLText),
	stepNoMatch(orgURLPrefixRE, msgOrgURLScheme),
	stepContains("/services/", msgOrgURLPath),
	stepMatch(orgURLUserRE, msgOrgURLUser),
	stepMatch(orgURLQueryRE, msgOrgURLQuery),
	stepNoMatch(orgURLHostRE, msgOrgURLHost),
}}

// keyPrefixCheck refuses a checkpoint_cache_key that could leave a file
// cache's directory or break its keys (`../x`, `a/b`, an absolute path, NUL,
// ...).
var keyPrefixCheck = textCheck{steps: []textStep{
	stepEmpty(msgKeyEmpty),
	stepNoMatch(keyPrefixRE, msgKeyUnsafe),
}}

// checkKeyPrefix is what the config accepts as checkpoint_cache_key for
// channels: a safe prefix whose keys fit a file name.
func checkKeyPrefix(prefix string, channels []string, api apiKind) []error {
	if err := keyPrefixCheck.validate(prefix); err != nil {
		return []error{err}
	}
	return keyLengthErrs(prefix, channels, api)
}

func hasPEMCertificate(raw []byte) bool {
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			return false
		}
		if block.Type == "CERTIFICATE" {
			return true
		}
	}
}

// grantNames lists the supported grants for messages: "a, b, c, d".
func grantNames() string { return strings.Join(grantNameList(), ", ") }

// pubsubEndpointRE is pubsub_endpoint: host:port, no scheme. lint.go uses it too.
var pubsubEndpointRE = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):[0-9]{1,5}$`)

// pubsubPlaintext is the one rule for plaintext gRPC: only to a loopback host
// (localhost, 127.0.0.0/8, ::1), and only with tls disabled. Every other
// endpoint gets TLS, so credentials never cross a network unencrypted.
func pubsubPlaintext(endpoint string, tlsEnabled bool) bool {
	if tlsEnabled {
		return false
	}
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pubsubRefusedKind names the channel kinds the Pub/Sub API does not serve,
// or returns "" for one it does.
func pubsubRefusedKind(base string) string {
	switch {
	case strings.HasPrefix(base, "/topic/"):
		return "PushTopic"
	case strings.HasPrefix(base, "/u/"):
		return "generic streaming"
	}
	return ""
}

// mustString reads a string field that has a default; a failure reads as "".
func mustString(pConf *service.ParsedConfig, field string) string {
	v, _ := pConf.FieldString(field)
	return v
}

// intValue reads a whole number as YAML or JSON decoding leaves it.
func intValue(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case float64:
		return int64(n), n == math.Trunc(n) && math.Abs(n) < 1<<62
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}
