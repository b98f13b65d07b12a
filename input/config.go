package input

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Replay presets as the Streaming API writes them in a subscribe's replay map.
const (
	replayLatest   = int64(stream.Latest)
	replayEarliest = int64(stream.Earliest)
)

// invalidReplayPolicy is on_invalid_replay_id; input.go maps it to bayeux's.
type invalidReplayPolicy string

// apiKind is the api field: which Salesforce API, and so which client, the
// input subscribes with.
type apiKind string

// ssiConfig is the input's configuration, parsed and validated once. Auth and
// Backoff are the very structs sfauth and bayeux take.
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

const (
	floorInitialWhy = "faster retries only hammer Salesforce and the network, e.g. 1s"
	floorLongWhy    = "it spaces logins Salesforce refused (and org limits, busy answers), and faster logins hit Salesforce's login rate limit and the user's lockout sooner, e.g. 2m"
)

// maxKeyBytes is the longest checkpoint key (with its shadow suffix): a file
// cache stores each key as one file name, at most 255 bytes on common file
// systems.
const maxKeyBytes = 255

// configFromParsed reads and validates the whole config. Every problem is
// reported at once, each naming its field and the fix, like the lint rule.
// fsys reads private_key_file.
func configFromParsed(pConf *service.ParsedConfig, fsys fs.FS) (conf ssiConfig, err error) {
	var errs []error
	str := func(path ...string) string {
		v, ferr := pConf.FieldString(path...)
		if ferr != nil {
			errs = append(errs, ferr)
		}
		return strings.TrimSpace(v)
	}

	conf.Auth.OrgURL = strings.TrimRight(str(ssiFieldOrgURL), "/")
	errs = append(errs, checkOrgURL(conf.Auth.OrgURL)...)

	conf.APIVersion = str(ssiFieldAPIVersion)
	if m := apiVersionRE.FindStringSubmatch(conf.APIVersion); m == nil {
		errs = append(errs, fmt.Errorf("api_version %q is not a Salesforce API version: write it like \"64.0\"", conf.APIVersion))
	} else if major, _ := strconv.Atoi(m[1]); major < minAPIVersion {
		errs = append(errs, fmt.Errorf("api_version %s is below 37.0, which has no durable replay: use \"64.0\" or later", conf.APIVersion))
	}

	switch api := apiKind(str(ssiFieldAPI)); api {
	case apiStreaming, apiPubSub:
		conf.API = api
	default:
		errs = append(errs, fmt.Errorf("api %q is not supported: use streaming or pubsub", api))
	}
	if conf.Body, err = parseBody(pConf, conf.API); err != nil {
		errs = append(errs, err)
	}

	errs = append(errs, parseAuth(pConf, fsys, &conf.Auth)...)
	errs = append(errs, parseChannels(pConf, &conf)...)

	switch preset := str(ssiFieldReplayPreset); preset {
	case presetLatest:
		conf.ReplayPreset = replayLatest
	case presetEarliest:
		conf.ReplayPreset = replayEarliest
	default:
		errs = append(errs, fmt.Errorf("replay_preset %q is not supported: use latest or earliest", preset))
	}

	switch p := invalidReplayPolicy(str(ssiFieldOnInvalidReplayID)); p {
	case onInvalidEarliest, onInvalidLatest, onInvalidFail, onInvalidResync:
		conf.OnInvalidReplayID = p
	default:
		errs = append(errs, fmt.Errorf("on_invalid_replay_id %q is not supported: use earliest, latest, fail or resync", p))
	}

	if conf.CheckpointCache = str(ssiFieldCheckpointCache); conf.CheckpointCache == "" {
		errs = append(errs, errors.New("checkpoint_cache is required: name a cache resource (file or redis) that keeps acknowledged replay ids"))
	}
	conf.CheckpointKey = str(ssiFieldCheckpointKey)
	errs = append(errs, checkKeyPrefix(conf.CheckpointKey, conf.Channels, conf.API)...)
	if conf.AutoReplayNacks, err = pConf.FieldBool(service.AutoRetryNacksToggleFieldName); err != nil {
		errs = append(errs, err)
	}
	conf.CheckpointLimit = positiveInt(pConf, ssiFieldCheckpointLimit, defaultCheckpointLimit, &errs)
	conf.MaxBuffered = positiveInt(pConf, ssiFieldMaxBuffered, defaultMaxBufferedEvents, &errs)
	errs = append(errs, parseCheckpointHealth(pConf, &conf)...)

	tlsConf, tlsEnabled, terr := pConf.FieldTLSToggled(ssiFieldTLS)
	if terr != nil {
		errs = append(errs, fmt.Errorf("tls: %w", terr))
	} else if tlsEnabled {
		conf.TLS = tlsConf
		errs = append(errs, checkRootCAs(pConf.Namespace(ssiFieldTLS), fsys)...)
	}

	conf.PubSubEndpoint = str(ssiFieldPubSubEndpoint)
	if !pubsubEndpointRE.MatchString(conf.PubSubEndpoint) {
		errs = append(errs, fmt.Errorf("pubsub_endpoint %q is not host:port: write it like %s (no scheme)", conf.PubSubEndpoint, defaultPubSubEndpoint))
	} else {
		conf.PubSubPlaintext = pubsubPlaintext(conf.PubSubEndpoint, conf.TLS != nil)
	}

	if proxy := str(ssiFieldProxyURL); proxy != "" {
		u, perr := url.Parse(proxy)
		if perr != nil || u.Scheme == "" || u.Host == "" {
			// The URL may embed proxy credentials: name the field, not the value.
			errs = append(errs, errors.New("proxy_url is not a valid URL: write it like http://proxy.internal:3128"))
		} else {
			conf.ProxyURL = u
		}
	}

	boff := pConf.Namespace(ssiFieldBackoff)
	minInitial, minLong := backoffFloors.get()
	durationsOK := true
	for _, d := range []struct {
		name, example string
		dst           *time.Duration
		floor         time.Duration
		why           string
	}{
		{ssiFieldBackoffInitial, defaultBackoffInitial, &conf.Backoff.Initial, minInitial, floorInitialWhy},
		{ssiFieldBackoffMax, defaultBackoffMax, &conf.Backoff.Max, minInitial, floorInitialWhy},
		{ssiFieldBackoffLong, defaultBackoffLong, &conf.Backoff.Long, minLong, floorLongWhy},
	} {
		v, derr := boff.FieldDuration(d.name)
		if derr != nil || v <= 0 {
			durationsOK = false
			errs = append(errs, fmt.Errorf("backoff.%s must be a positive duration, e.g. %s", d.name, d.example))
			continue
		}
		if v < d.floor {
			durationsOK = false
			errs = append(errs, fmt.Errorf("backoff.%s %v is below its floor of %v: %s", d.name, v, d.floor, d.why))
			continue
		}
		*d.dst = v
	}
	if durationsOK && conf.Backoff.Max < conf.Backoff.Initial {
		errs = append(errs, errors.New("backoff.max_interval must not be below backoff.initial_interval"))
	}

	if conf.LimitsInterval, err = parseLimitsInterval(pConf); err != nil {
		errs = append(errs, err)
	}
	var cdcErrs []error
	conf.CDC, cdcErrs = parseCDC(pConf, slices.ContainsFunc(conf.Channels, isDataChannel))
	if conf.OnInvalidReplayID == onInvalidResync && len(conf.CDC.Objects) == 0 && len(cdcErrs) == 0 {
		cdcErrs = append(cdcErrs, errors.New(resyncNeedsObjects))
	}
	errs = append(errs, cdcErrs...)

	return conf, errors.Join(errs...)
}

// checkOrgURL checks org_url: the input's own messages for the common
// mistakes, then sfauth's check of what the token source accepts (no user
// name or password, query or fragment; a valid host and port).
func checkOrgURL(orgURL string) []error {
	switch {
	case orgURL == "":
		return []error{errors.New("org_url is required: set the org's My Domain URL, e.g. https://acme.my.salesforce.com")}
	case !orgURLPrefixRE.MatchString(orgURL):
		return []error{fmt.Errorf("org_url %q must be an http(s) URL, e.g. https://acme.my.salesforce.com", orgURL)}
	case strings.Contains(orgURL, "/services/"):
		return []error{fmt.Errorf("org_url %q must be the base URL without a path like /services/oauth2/token", orgURL)}
	}
	if _, err := sfauth.CheckOrgURL(orgURL); err != nil {
		return []error{err}
	}
	return nil
}

// checkKeyPrefix refuses a checkpoint_cache_key that could leave a file
// cache's directory or break its keys (`../x`, `a/b`, an absolute path, NUL,
// ...), and channels whose keys would exceed a file name's 255 bytes. lint.go
// checks the prefix with the same rule.
func checkKeyPrefix(prefix string, channels []string, api apiKind) (errs []error) {
	switch {
	case prefix == "":
		return []error{errors.New("checkpoint_cache_key must not be empty: use a name unique to this input, e.g. orders")}
	case !keyPrefixRE.MatchString(prefix):
		return []error{fmt.Errorf("checkpoint_cache_key %q is not a safe key prefix: use 1 to 100 letters, digits, _ . : or -, "+
			"starting with a letter or digit, e.g. orders (it becomes part of cache keys, and of file names in a file cache)", prefix)}
	}
	for _, ch := range channels {
		key := checkpointfmt.CheckpointKey(prefix, ch)
		if api == apiPubSub {
			key = checkpointfmt.PubSub.Key(prefix, ch)
		}
		if n := len(key + checkpointfmt.ShadowSuffix); n > maxKeyBytes {
			errs = append(errs, fmt.Errorf("channels: %s makes a checkpoint key of %d bytes with checkpoint_cache_key %q, above the %d a file name may have: shorten checkpoint_cache_key",
				stream.ChannelKey(ch), n, prefix, maxKeyBytes))
		}
	}
	return errs
}

// checkRootCAs rejects a tls.root_cas or tls.root_cas_file without any PEM
// certificate. Benthos ignores such content and keeps an empty pool, which
// then rejects every server with an x509 error that does not say why.
func checkRootCAs(ns *service.ParsedConfig, fsys fs.FS) (errs []error) {
	if inline, _ := ns.FieldString("root_cas"); strings.TrimSpace(inline) != "" && !hasPEMCertificate([]byte(inline)) {
		errs = append(errs, errors.New("tls.root_cas holds no PEM certificate: paste the CA certificate including its -----BEGIN CERTIFICATE----- line, or use tls.root_cas_file"))
	}
	if path, _ := ns.FieldString("root_cas_file"); strings.TrimSpace(path) != "" {
		if raw, err := fs.ReadFile(fsys, path); err == nil && !hasPEMCertificate(raw) {
			errs = append(errs, fmt.Errorf("tls.root_cas_file %q holds no PEM certificate: point it to the CA certificate in PEM form", path))
		}
	}
	return errs
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

// positiveInt reads an int field that must be at least 1; example (its default) is quoted in the error.
func positiveInt(pConf *service.ParsedConfig, field string, example int, errs *[]error) int {
	if raw, err := pConf.FieldAny(field); err == nil {
		if f, ok := raw.(float64); ok && f != math.Trunc(f) {
			*errs = append(*errs, fmt.Errorf("%s %v must be a whole number of at least 1, e.g. %d", field, f, example))
			return 0
		}
	}
	v, err := pConf.FieldInt(field)
	if err != nil {
		*errs = append(*errs, err)
		return 0
	}
	if v < 1 {
		*errs = append(*errs, fmt.Errorf("%s %d must be at least 1, e.g. %d", field, v, example))
	}
	return v
}

// parseAuth reads the auth object and checks that the grant has its fields
// (sfauth.RequiredFields). Error messages never include a field's value: most
// of them are secrets.
func parseAuth(pConf *service.ParsedConfig, fsys fs.FS, a *sfauth.Config) (errs []error) {
	ns := pConf.Namespace(ssiFieldAuth)
	grant, err := ns.FieldString(ssiFieldGrantType)
	if err != nil {
		errs = append(errs, err)
	}
	a.GrantType = sfauth.GrantType(strings.TrimSpace(grant))
	values := map[string]*string{
		ssiFieldClientID:     &a.ClientID,
		ssiFieldClientSecret: &a.ClientSecret,
		ssiFieldUsername:     &a.Username,
		ssiFieldPassword:     &a.Password,
		ssiFieldRefreshToken: &a.RefreshToken,
		ssiFieldAudience:     &a.Audience,
	}
	// Every field but grant_type is optional (which ones a grant needs is
	// checked below), so that lint can tell an absent field from one set
	// through an environment variable that is empty where lint runs.
	optional := func(name string) string {
		if !ns.Contains(name) {
			return ""
		}
		v, err := ns.FieldString(name)
		if err != nil {
			errs = append(errs, err)
		}
		return strings.TrimSpace(v)
	}
	for name, dst := range values {
		*dst = optional(name)
	}
	keyFile, keyInline := optional(ssiFieldPrivateKeyFile), optional(ssiFieldPrivateKey)

	required, known := sfauth.RequiredFields(a.GrantType)
	if !known {
		return append(errs, fmt.Errorf("auth.grant_type %q is not a supported grant: use one of %s", a.GrantType, grantNames()))
	}
	for _, name := range required {
		if *values[name] == "" {
			errs = append(errs, fmt.Errorf("auth.%s is required for auth.grant_type %s: set it, e.g. auth.%s: ${SF_%s}",
				name, a.GrantType, name, strings.ToUpper(name)))
		}
	}
	if a.GrantType != grantJWTBearer {
		return errs
	}
	switch {
	case keyFile == "" && keyInline == "":
		errs = append(errs, errors.New("auth.private_key_file or auth.private_key is required for auth.grant_type jwt_bearer: set one to the RSA key whose certificate is uploaded to the connected app"))
	case keyFile != "" && keyInline != "":
		errs = append(errs, errors.New("auth.private_key_file and auth.private_key are both set: keep only one"))
	case keyFile != "":
		pem, rerr := sfauth.ReadKeyFile(fsys, keyFile, "auth."+ssiFieldPrivateKeyFile)
		if rerr != nil {
			errs = append(errs, rerr)
		}
		a.PrivateKeyPEM = pem
	default:
		// Environment variables cannot hold newlines in a YAML config, so a
		// key pasted with literal \n sequences is accepted too.
		a.PrivateKeyPEM = []byte(strings.ReplaceAll(keyInline, `\n`, "\n"))
	}
	return errs
}

// grantNames lists the supported grants for messages: "a, b, c, d".
func grantNames() string { return strings.Join(grantNameList(), ", ") }

// parseChannels reads channels and initial_replay_ids.
func parseChannels(pConf *service.ParsedConfig, conf *ssiConfig) (errs []error) {
	channels, err := pConf.FieldStringList(ssiFieldChannels)
	if err != nil {
		return append(errs, err)
	}
	if len(channels) == 0 {
		errs = append(errs, errors.New("channels must list at least one channel, e.g. [/event/Order__e]"))
	}
	seen := map[string]bool{}
	for _, ch := range channels {
		ch = strings.TrimSpace(ch)
		switch {
		case !channelRE.MatchString(ch):
			errs = append(errs, fmt.Errorf("channels: %q is not a channel: a channel starts with /topic/, /u/, /event/ or /data/ followed by a name, e.g. /event/Order__e or /topic/Invoices?Status__c=Open", ch))
			continue
		case strings.Contains(ch, "?") && !topicFilterRE.MatchString(ch):
			errs = append(errs, fmt.Errorf("channels: %q has a filter, which only PushTopic channels accept, written /topic/Name?Field=Value", ch))
			continue
		}
		base := stream.ChannelKey(ch)
		if kind := pubsubRefusedKind(base); kind != "" && apiKind(strings.TrimSpace(mustString(pConf, ssiFieldAPI))) == apiPubSub {
			errs = append(errs, fmt.Errorf("channels: %s is a %s channel, which api: pubsub cannot subscribe to (the Pub/Sub API serves /event/ and /data/ channels only): use api: streaming for it", base, kind))
			seen[base] = true
			continue
		}
		if seen[base] {
			errs = append(errs, fmt.Errorf("channels: %s is listed more than once (filters not counted): subscribe to each channel once per input", base))
			continue
		}
		seen[base] = true
		conf.Channels = append(conf.Channels, ch)
	}

	raw, err := pConf.FieldAny(ssiFieldInitialReplayIDs)
	if err != nil {
		return append(errs, err)
	}
	initial, ok := raw.(map[string]any)
	if !ok && raw != nil {
		return append(errs, fmt.Errorf("initial_replay_ids must be an object of {channel: replay id}, e.g. {/event/Order__e: 10230}"))
	}
	pubsubAPI := apiKind(strings.TrimSpace(mustString(pConf, ssiFieldAPI))) == apiPubSub
	conf.InitialReplayIDs = make(map[string]int64, len(initial))
	conf.InitialPubSubIDs = make(map[string][]byte, len(initial))
	for ch, v := range initial {
		base := stream.ChannelKey(strings.TrimSpace(ch))
		if !seen[base] {
			errs = append(errs, fmt.Errorf("initial_replay_ids: %q is not in channels: list it in channels or remove the entry", ch))
			continue
		}
		id, isInt := intValue(v)
		switch {
		case isInt && (id == replayLatest || id == replayEarliest):
			conf.InitialReplayIDs[base] = id
		case pubsubAPI:
			text, isText := v.(string)
			decoded, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
			if !isText || derr != nil || len(decoded) == 0 {
				errs = append(errs, fmt.Errorf("initial_replay_ids: %v is not a Pub/Sub replay id: under api: pubsub use the base64 text of an event's salesforce_replay_id, -1 (latest) or -2 (earliest)", v))
				continue
			}
			conf.InitialPubSubIDs[base] = decoded
		case !isInt || id < replayEarliest:
			errs = append(errs, fmt.Errorf("initial_replay_ids: %v is not a replay id: use an event's replay id, -1 (latest) or -2 (earliest)", v))
		default:
			conf.InitialReplayIDs[base] = id
		}
	}
	return errs
}

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
