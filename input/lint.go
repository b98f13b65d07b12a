package input

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
)

// lintRule returns the spec-level Bloblang lint of the whole input config,
// built from the same values config.go checks with: sfauth's grants and the
// fields each requires, the patterns of config.go, the floors and the
// defaults. agreement_test.go runs one table of bad configs through both.
//
// `this` is the config after environment variable substitution, with
// defaults filled in for fields that have one (the auth fields have none, so
// that an absent one shows); fields are still read with .or(default) to be
// safe. Each message names the field and says how to fix it. The same checks
// run again in Go when the input is built (config.go), for configs that were
// never linted. Only the constructor can check (agreement_test.go's
// startOnlyConfigs pins what start-up says for each):
//   - an empty value of an auth field: lint sees "${VAR}" as empty where the
//     variable is not set (`benthos lint --skip-env-var-check`), so it
//     reports only absent fields and values of white space only;
//   - that the checkpoint_cache resource exists: a component's lint rule
//     sees the component's config only, not the resources;
//   - files (private_key_file, tls.root_cas_file, client certificate files):
//     lint rules have no file access, and lint may run on another machine;
//     it reports only a path ending in /;
//   - values of the wrong type in Benthos' own typed fields (the bool
//     auto_replay_nacks and tls.enabled): Benthos then skips the whole rule.
//     checkpoint_limit and max_buffered_events are Any fields for this
//     reason, so that the rule sees and reports their type.
//
// Enum fields also get Benthos' own "not a valid option" lint; the messages
// here add the field name and the valid values.
//
// A rule that fails to evaluate reports nothing at all, so every expression
// here must hold for values of any type: a comparison only runs after a type
// check (Bloblang's || does not short-circuit errors away).
func lintRule() string {
	grantFields := map[string][]string{}
	for _, g := range sfauth.Grants() {
		fields, _ := sfauth.RequiredFields(g)
		grantFields[string(g)] = fields
	}
	boffDefaults := map[string]string{
		ssiFieldBackoffInitial: defaultBackoffInitial,
		ssiFieldBackoffMax:     defaultBackoffMax,
		ssiFieldBackoffLong:    defaultBackoffLong,
	}
	floors := map[string]time.Duration{
		ssiFieldBackoffInitial: floorInitial,
		ssiFieldBackoffMax:     floorInitial,
		ssiFieldBackoffLong:    floorLong,
	}
	floorText := map[string]string{}
	for f, d := range floors {
		floorText[f] = durationText(d)
	}
	floorWhy := map[string]string{
		ssiFieldBackoffInitial: floorInitialWhy,
		ssiFieldBackoffMax:     floorInitialWhy,
		ssiFieldBackoffLong:    floorLongWhy,
	}
	return strings.NewReplacer(
		"{{DEFAULT_GRANT}}", blobl(string(grantClientCredentials)),
		"{{GRANT_FIELDS}}", blobl(grantFields),
		"{{GRANTS}}", blobl(grantNameList()),
		"{{GRANT_LIST}}", grantNames(),
		"{{ORG_RE}}", blobl(orgURLPrefixRE.String()),
		"{{ORG_USER_RE}}", blobl(orgURLUserRE.String()),
		"{{ORG_HOST_RE}}", blobl(orgURLHostRE.String()),
		"{{DEFAULT_API}}", blobl(defaultAPIVersion),
		"{{DEFAULT_API_TEXT}}", defaultAPIVersion,
		"{{API_RE}}", blobl(apiVersionRE.String()),
		"{{MIN_API}}", strconv.Itoa(minAPIVersion),
		"{{CHANNEL_RE}}", blobl(channelRE.String()),
		"{{FILTER_RE}}", blobl(topicFilterRE.String()),
		"{{DEFAULT_PRESET}}", blobl(presetLatest),
		"{{DEFAULT_ON_INVALID}}", blobl(onInvalidEarliest),
		"{{DEFAULT_KEY}}", blobl(defaultCheckpointKey),
		"{{KEY_RE}}", blobl(keyPrefixRE.String()),
		"{{DEFAULT_LIMIT}}", strconv.Itoa(defaultCheckpointLimit),
		"{{DEFAULT_BUFFERED}}", strconv.Itoa(defaultMaxBufferedEvents),
		"{{BACKOFF_DEFAULTS}}", blobl(boffDefaults),
		"{{BACKOFF_FLOORS}}", blobl(floors),
		"{{BACKOFF_FLOOR_TEXT}}", blobl(floorText),
		"{{BACKOFF_FLOOR_WHY}}", blobl(floorWhy),
		"{{SHADOW_LEN}}", strconv.Itoa(len(checkpointfmt.ShadowSuffix)),
		"{{MAX_KEY_BYTES}}", strconv.Itoa(maxKeyBytes),
		"{{PROXY_RE}}", blobl(proxyURLRE.String()),
		"{{DEFAULT_ENDPOINT}}", blobl(defaultPubSubEndpoint),
		"{{ENDPOINT_RE}}", blobl(pubsubEndpointRE.String()),
		"{{PUBSUB_SUFFIX_LEN}}", strconv.Itoa(len(checkpointfmt.PubSubKeySuffix)),
		"{{BASE64_RE}}", blobl(base64RE.String()),
		"{{LEASE_RULE}}", leaseLintRule,
		"{{WHOLE_RE}}", blobl(wholeRE.String()),
		"{{DEFAULT_LIMITS}}", blobl(durationText(defaultLimitsInterval)),
		"{{LIMITS_FLOOR}}", strconv.FormatInt(int64(floorLimitsInterval), 10),
		"{{LIMITS_FLOOR_TEXT}}", durationText(floorLimitsInterval),
		"{{LIMITS_FLOOR_WHY}}", floorLimitsWhy,
		"{{CDC_RULE}}", strings.NewReplacer("{{SOBJECT_RE}}", blobl(sobjectNameRE.String()), "{{RESYNC_NEEDS_OBJECTS}}", blobl(resyncNeedsObjects)).Replace(cdcLintRule),
	).Replace(lintRuleTemplate)
}

// blobl writes v as a Bloblang literal: JSON strings, numbers, arrays and
// objects are Bloblang literals too.
func blobl(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep & and < readable in patterns
	if err := enc.Encode(v); err != nil {
		panic(err) // only called with strings, numbers and their maps and slices
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// orgURLUserRE and orgURLHostRE give lint what sfauth.CheckOrgURL refuses
// and a regular expression can see: a user name or password before the host,
// and a host with a port that is not a number.
var (
	orgURLUserRE = regexp.MustCompile(`^https?://[^/?#]*@`)
	// proxyURLRE: what url.Parse reads with a scheme and a host.
	proxyURLRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]`)
	// base64RE: standard base64 with padding, as initial_replay_ids takes
	// Pub/Sub replay ids.
	base64RE = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$`)
	// wholeRE: a whole number's text that fits Go's int (18 digits do).
	wholeRE      = regexp.MustCompile(`^-?[0-9]{1,18}$`)
	orgURLHostRE = regexp.MustCompile(`^https?://(\[[0-9A-Fa-f:.]+\]|[^/?#:\[\]]+)(:[0-9]*)?(/|$)`)
)

// lintRuleTemplate is the rule with {{NAME}} placeholders for Go's values.
const lintRuleTemplate = `
let auth = if this.auth.type() == "object" { this.auth } else { {} }
let grant = $auth.grant_type.or({{DEFAULT_GRANT}}).string()
# A grant field is unset when absent. An empty value is not reported here:
# lint sees configs after environment variable substitution, so
# "client_secret: ${SF_CLIENT_SECRET}" reads as empty when the variable is
# not set where lint runs (Benthos reports the missing variable itself), and
# the input rejects an empty value, naming the field, when it starts.
let unset = ["client_id", "client_secret", "username", "password", "private_key_file", "private_key", "refresh_token"].fold({}, acc -> acc.tally.merge({
  (acc.value): !$auth.exists(acc.value) || $auth.get(acc.value) == null
}))

# A value of white space only is no environment variable left unset: report
# it (the input trims values and finds them empty).
let blank = $unset.keys().filter(f -> !$unset.get(f) && $auth.get(f).type() == "string").filter(f -> $auth.get(f).length() > 0 && $auth.get(f).trim() == "")
let unset = $unset.keys().fold({}, acc -> acc.tally.merge({ (acc.value): $unset.get(acc.value) || $blank.contains(acc.value) }))
let grant_fields = {{GRANT_FIELDS}}.get($grant).or([])
let grant_errs = if {{GRANTS}}.contains($grant) {
  $grant_fields.filter(f -> $unset.get(f)).map_each(f -> "auth.%s is required for auth.grant_type %s: set it, e.g. auth.%s: ${SF_%s}".format(f, $grant, f, f.uppercase()))
} else {
  ["auth.grant_type %q is not a supported grant: use one of {{GRANT_LIST}}".format($grant)]
}
let key_file_set = !$unset.get("private_key_file")
let key_set = !$unset.get("private_key")
let key_errs = if $grant != "jwt_bearer" { [] } else if !$key_file_set && !$key_set {
  ["auth.private_key_file or auth.private_key is required for auth.grant_type jwt_bearer: set one to the RSA key whose certificate is uploaded to the connected app"]
} else if $key_file_set && $key_set {
  ["auth.private_key_file and auth.private_key are both set: keep only one"]
} else if $key_file_set && $auth.private_key_file.string().trim().has_suffix("/") {
  ["auth.private_key_file %q is a directory: point it to the PEM key file".format($auth.private_key_file.string().trim())]
} else if $key_set && $auth.private_key.string().trim() != "" && !$auth.private_key.string().contains("-----BEGIN") {
  ["auth.private_key holds no PEM key: paste the key including its -----BEGIN PRIVATE KEY----- (or RSA PRIVATE KEY) line"]
} else { [] }

let org = this.org_url.or("").string().trim()
let org_errs = if !this.exists("org_url") {
  ["org_url is required: set the org's My Domain URL, e.g. https://acme.my.salesforce.com"]
} else if $org == "" {
  ["org_url is required: set the org's My Domain URL, e.g. https://acme.my.salesforce.com (lint reads an environment variable that is not set where it runs as empty)"]
} else if $org.re_match("\\s") || $org.re_replace_all("%[0-9A-Fa-f]{2}", "").contains("%") {
  ["org_url is not a valid URL: it holds white space or a % not followed by two hex digits; write it like https://acme.my.salesforce.com"]
} else if !$org.re_match({{ORG_RE}}) {
  ["org_url %q must be an http(s) URL, e.g. https://acme.my.salesforce.com".format($org)]
} else if $org.contains("/services/") {
  ["org_url %q must be the base URL without a path like /services/oauth2/token, e.g. https://acme.my.salesforce.com".format($org)]
} else if $org.re_match({{ORG_USER_RE}}) {
  ["org_url must not contain a user name or password"]
} else if $org.contains("?") || $org.contains("#") {
  ["org_url must not contain a query or fragment"]
} else if !$org.re_match({{ORG_HOST_RE}}) {
  ["org_url is not a valid URL: write it like https://acme.my.salesforce.com or http://127.0.0.1:7357"]
} else { [] }

let api_str = this.api_version.or({{DEFAULT_API}}).string()
let api_errs = if !$api_str.re_match({{API_RE}}) {
  ["api_version %q is not a Salesforce API version: write it like \"64.0\"".format($api_str)]
} else if $api_str.number() < {{MIN_API}} {
  ["api_version %s is below {{MIN_API}}.0, which has no durable replay: use \"{{DEFAULT_API_TEXT}}\" or later".format($api_str)]
} else { [] }

let channels = this.channels.or([])
let channel_list = if $channels.type() == "array" { $channels.map_each(c -> c.string().trim()) } else { [] }
let channel_errs = if $channel_list.length() == 0 {
  ["channels must list at least one channel, e.g. [/event/Order__e]"]
} else {
  $channel_list.filter(c -> !c.re_match({{CHANNEL_RE}})).map_each(c -> "channels: %q is not a channel: a channel starts with /topic/, /u/, /event/ or /data/ followed by a name, e.g. /event/Order__e or /topic/Invoices?Status__c=Open".format(c)).merge(
    $channel_list.filter(c -> c.contains("?") && !c.re_match({{FILTER_RE}})).map_each(c -> "channels: %q has a filter, which only PushTopic channels accept, written /topic/Name?Field=Value".format(c))
  )
}
let bases = $channel_list.map_each(c -> c.split("?").index(0))
let dup_errs = $bases.filter(b -> $bases.filter(x -> x == b).length() > 1).unique().map_each(b -> "channels: %s is listed more than once (filters not counted): subscribe to each channel once per input".format(b))

let api = this.api.or("streaming").string()
let api_kind_errs = if ["streaming", "pubsub"].contains($api) { [] } else {
  ["api %q is not supported: use streaming or pubsub".format($api)]
}
let body = this.body.or(if $api == "pubsub" { "payload" } else { "data" }).string()
let body_errs = if !["data", "payload"].contains($body) {
  ["body %q is not supported: use data or payload".format($body)]
} else if $body == "data" && $api == "pubsub" {
  ["body: data is the CometD message's data object, which api: pubsub does not have: use body: payload (the default under api: pubsub)"]
} else { [] }
let pubsub_channel_errs = if $api != "pubsub" { [] } else {
  $bases.filter(b -> b.has_prefix("/topic/") || b.has_prefix("/u/")).map_each(b -> "channels: %s is a %s channel, which api: pubsub cannot subscribe to (the Pub/Sub API serves /event/ and /data/ channels only): use api: streaming for it".format(b, if b.has_prefix("/topic/") { "PushTopic" } else { "generic streaming" }))
}
let endpoint = this.pubsub_endpoint.or({{DEFAULT_ENDPOINT}}).string().trim()
let endpoint_errs = if $endpoint.re_match({{ENDPOINT_RE}}) { [] } else {
  ["pubsub_endpoint %q is not host:port: write it like %s (no scheme)".format($endpoint, {{DEFAULT_ENDPOINT}})]
}

let initial = this.initial_replay_ids.or({})
let initial_errs = if $initial.type() != "object" {
  ["initial_replay_ids must be an object of {channel: replay id}, e.g. {/event/Order__e: 10230}"]
} else {
  $initial.keys().filter(k -> !$bases.contains(k.split("?").index(0))).map_each(k -> "initial_replay_ids: %q is not in channels: list it in channels or remove the entry".format(k)).merge(
    if $api == "pubsub" {
      $initial.values().filter(v -> if v.type() == "number" { v != -1 && v != -2 } else if v.type() == "string" { !v.trim().re_match({{BASE64_RE}}) } else { true }).map_each(v -> "initial_replay_ids: %v is not a Pub/Sub replay id: under api: pubsub use the base64 text of an event's salesforce_replay_id, -1 (latest) or -2 (earliest)".format(v))
    } else {
      $initial.values().filter(v -> if v.type() != "number" { true } else if !v.string().re_match({{WHOLE_RE}}) { true } else { v < -2 }).map_each(v -> "initial_replay_ids: %v is not a replay id: use an event's replay id, -1 (latest) or -2 (earliest)".format(v))
    }
  )
}

let preset = this.replay_preset.or({{DEFAULT_PRESET}}).string()
let preset_errs = if ["latest", "earliest"].contains($preset) { [] } else {
  ["replay_preset %q is not supported: use latest or earliest".format($preset)]
}
let on_invalid = this.on_invalid_replay_id.or({{DEFAULT_ON_INVALID}}).string()
let on_invalid_errs = if ["earliest", "latest", "fail", "resync"].contains($on_invalid) { [] } else {
  ["on_invalid_replay_id %q is not supported: use earliest, latest, fail or resync".format($on_invalid)]
}

let cache_errs = if !this.exists("checkpoint_cache") || this.checkpoint_cache.or("").string().trim() == "" {
  ["checkpoint_cache is required: name a cache resource (file or redis) that keeps acknowledged replay ids"]
} else { [] }
let key_prefix = this.checkpoint_cache_key.or({{DEFAULT_KEY}}).string().trim()
let key_prefix_errs = if $key_prefix == "" {
  ["checkpoint_cache_key must not be empty: use a name unique to this input, e.g. orders"]
} else if !$key_prefix.re_match({{KEY_RE}}) {
  ["checkpoint_cache_key %q is not a safe key prefix: use 1 to 100 letters, digits, _ . : or -, starting with a letter or digit, e.g. orders (it becomes part of cache keys, and of file names in a file cache)".format($key_prefix)]
} else { [] }
# A channel's checkpoint key is prefix:channel with each / escaped as %2F
# (three bytes), plus the shadow suffix; a file cache makes it a file name.
let key_len_errs = if $key_prefix_errs.length() > 0 { [] } else {
  $channel_list.filter(c -> c.re_match({{CHANNEL_RE}})).map_each(c -> c.split("?").index(0)).unique().map_each(b -> {
    "base": b,
    "n": $key_prefix.length() + 1 + b.length() + 2 * (b.split("/").length() - 1) + {{SHADOW_LEN}} + if $api == "pubsub" { {{PUBSUB_SUFFIX_LEN}} } else { 0 },
  }).filter(k -> k.n > {{MAX_KEY_BYTES}}).map_each(k -> "channels: %s makes a checkpoint key of %d bytes with checkpoint_cache_key %q, above the %d a file name may have: shorten checkpoint_cache_key".format(k.base, k.n, $key_prefix, {{MAX_KEY_BYTES}}))
}

# The proxy URL may embed credentials: name the field, never the value.
let proxy = this.proxy_url.or("").string().trim()
let proxy_errs = if $proxy != "" && (!$proxy.re_match({{PROXY_RE}}) || $proxy.re_match("\\s") || $proxy.re_replace_all("%[0-9A-Fa-f]{2}", "").contains("%") || ($proxy.contains("[") && !$proxy.re_match("^[^\\[]*://([^/?#@]*@)?\\[[0-9A-Fa-f:.]+\\]"))) {
  ["proxy_url is not a valid URL: write it like http://proxy.internal:3128"]
} else { [] }

let tls = if this.tls.type() == "object" { this.tls } else { {} }
let root_cas = $tls.root_cas.or("").string().trim()
let tls_on = $tls.enabled.or(false) == true
let tls_errs = if $tls_on && $root_cas != "" && !$root_cas.contains("-----BEGIN CERTIFICATE-----") {
  ["tls.root_cas holds no PEM certificate: paste the CA certificate including its -----BEGIN CERTIFICATE----- line, or use tls.root_cas_file"]
} else { [] }
let root_cas_file = $tls.root_cas_file.or("").string().trim()
let tls_file_errs = if $tls_on && $root_cas_file.has_suffix("/") {
  ["tls.root_cas_file %q is a directory: point it to the PEM file of the CA certificates".format($root_cas_file)]
} else { [] }
let client_certs = if $tls_on && $tls.client_certs.type() == "array" { $tls.client_certs.filter(c -> c.type() == "object") } else { [] }
let client_cert_errs = $client_certs.map_each(c -> {
  "cert": c.cert.or("").string().trim(), "key": c.key.or("").string().trim(),
  "cert_file": c.cert_file.or("").string().trim(), "key_file": c.key_file.or("").string().trim(),
}).map_each(c -> if c.cert != "" && c.key == "" {
  "tls.client_certs: a cert needs its key"
} else if c.cert_file != "" && c.key_file == "" {
  "tls.client_certs: a cert_file needs its key_file"
} else if c.cert != "" && !c.cert.contains("-----BEGIN") {
  "tls.client_certs: cert holds no PEM certificate: paste it including its -----BEGIN CERTIFICATE----- line"
} else if c.key != "" && !c.key.contains("-----BEGIN") {
  "tls.client_certs: key holds no PEM key: paste it including its -----BEGIN line"
} else { null }).filter(e -> e != null)

# A whole number Go's int takes, written as a number (not as text): the
# numbers' text, so that no comparison runs on a value of another type.
let limit_raw = this.checkpoint_limit.or({{DEFAULT_LIMIT}})
let limit = if $limit_raw.type() == "number" { $limit_raw.string() } else { "not a number" }
let limit_errs = if !$limit.re_match({{WHOLE_RE}}) {
  ["checkpoint_limit %v must be a whole number of at least 1, e.g. {{DEFAULT_LIMIT}}".format($limit_raw)]
} else if $limit.number() < 1 {
  ["checkpoint_limit %v must be at least 1, e.g. {{DEFAULT_LIMIT}}".format($limit)]
} else { [] }
let buffered_raw = this.max_buffered_events.or({{DEFAULT_BUFFERED}})
let buffered = if $buffered_raw.type() == "number" { $buffered_raw.string() } else { "not a number" }
let buffered_errs = if !$buffered.re_match({{WHOLE_RE}}) {
  ["max_buffered_events %v must be a whole number of at least 1, e.g. {{DEFAULT_BUFFERED}}".format($buffered_raw)]
} else if $buffered.number() < 1 {
  ["max_buffered_events %v must be at least 1, e.g. {{DEFAULT_BUFFERED}}".format($buffered)]
} else { [] }

let boff = if this.backoff.type() == "object" { this.backoff } else { {} }
let boff_defaults = {{BACKOFF_DEFAULTS}}
let boff_ns = $boff_defaults.keys().fold({}, acc -> acc.tally.merge({
  (acc.value): $boff.get(acc.value).or($boff_defaults.get(acc.value)).string().parse_duration().catch(0)
}))
# The floors of config.go (floorInitial, floorLong) and why they exist.
let boff_floors = {{BACKOFF_FLOORS}}
let boff_floor_text = {{BACKOFF_FLOOR_TEXT}}
let boff_floor_why = {{BACKOFF_FLOOR_WHY}}
let boff_errs = $boff_defaults.keys().sort().filter(f -> $boff_ns.get(f) <= 0).map_each(f -> "backoff.%s must be a positive duration, e.g. %s".format(f, $boff_defaults.get(f))).merge(
  $boff_defaults.keys().sort().filter(f -> $boff_ns.get(f) > 0 && $boff_ns.get(f) < $boff_floors.get(f)).map_each(f -> "backoff.%s %s is below its floor of %s: %s".format(f, $boff.get(f).or($boff_defaults.get(f)).string(), $boff_floor_text.get(f), $boff_floor_why.get(f)))
).merge(
  if $boff_ns.initial_interval > 0 && $boff_ns.max_interval > 0 && $boff_ns.max_interval < $boff_ns.initial_interval {
    ["backoff.max_interval must not be below backoff.initial_interval"]
  } else { [] }
)

{{CDC_RULE}}
{{LEASE_RULE}}
# limits_interval: 0 (off) or at least its floor (limits.go).
let limits_str = this.limits_interval.or({{DEFAULT_LIMITS}}).string()
let limits_ns = $limits_str.parse_duration().catch(-1)
let limits_errs = if $limits_ns < 0 {
  ["limits_interval %q must be a duration of 0 (off) or at least {{LIMITS_FLOOR_TEXT}}, e.g. %s".format($limits_str, {{DEFAULT_LIMITS}})]
} else if $limits_ns > 0 && $limits_ns < {{LIMITS_FLOOR}} {
  ["limits_interval %s is below its floor of {{LIMITS_FLOOR_TEXT}}: {{LIMITS_FLOOR_WHY}}".format($limits_str)]
} else { [] }

let errs = [$org_errs, $api_errs, $grant_errs, $key_errs, $channel_errs, $api_kind_errs, $body_errs, $pubsub_channel_errs, $dup_errs, $endpoint_errs, $initial_errs, $preset_errs, $on_invalid_errs, $cache_errs, $key_prefix_errs, $key_len_errs, $proxy_errs, $tls_errs, $tls_file_errs, $client_cert_errs, $limit_errs, $buffered_errs, $boff_errs, $limits_errs, $snapshot_errs, $grace_errs, $lease_errs].flatten()
root = if $errs.length() > 0 { $errs }
`
