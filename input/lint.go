package input

// lintRule is the spec-level Bloblang lint of the whole input config. `this` is
// the config after environment variable substitution, with defaults filled in
// for fields that have one (the auth fields have none, so that an absent one
// shows); fields are still read with .or(default) to be safe. Each message
// names the field and says how to fix it. The same checks run again in Go when
// the input is built (config.go), for configs that were never linted.
//
// Enum fields also get Benthos' own "not a valid option" lint; the messages
// here add the field name and the valid values.
//
// A rule that fails to evaluate reports nothing at all, so every expression
// here must hold for values of any type: a comparison only runs after a type
// check (Bloblang's || does not short-circuit errors away).
const lintRule = `
let auth = if this.auth.type() == "object" { this.auth } else { {} }
let grant = $auth.grant_type.or("client_credentials").string()
# A grant field is unset when absent. An empty value is not reported here:
# lint sees configs after environment variable substitution, so
# "client_secret: ${SF_CLIENT_SECRET}" reads as empty when the variable is
# not set where lint runs (Benthos reports the missing variable itself), and
# the input rejects an empty value, naming the field, when it starts.
let unset = ["client_id", "client_secret", "username", "password", "private_key_file", "private_key", "refresh_token"].fold({}, acc -> acc.tally.merge({
  (acc.value): !$auth.exists(acc.value) || $auth.get(acc.value) == null
}))

let grant_fields = match $grant {
  "client_credentials" => ["client_id", "client_secret"],
  "jwt_bearer" => ["client_id", "username"],
  "refresh_token" => ["client_id", "refresh_token"],
  "password" => ["client_id", "client_secret", "username", "password"],
  _ => [],
}
let grant_errs = if ["client_credentials", "jwt_bearer", "refresh_token", "password"].contains($grant) {
  $grant_fields.filter(f -> $unset.get(f)).map_each(f -> "auth.%s is required for auth.grant_type %s: set it, e.g. auth.%s: ${SF_%s}".format(f, $grant, f, f.uppercase()))
} else {
  ["auth.grant_type %q is not a supported grant: use one of client_credentials, jwt_bearer, refresh_token, password".format($grant)]
}
let key_file_set = !$unset.get("private_key_file")
let key_set = !$unset.get("private_key")
let key_errs = if $grant != "jwt_bearer" { [] } else if !$key_file_set && !$key_set {
  ["auth.private_key_file or auth.private_key is required for auth.grant_type jwt_bearer: set one to the RSA key whose certificate is uploaded to the connected app"]
} else if $key_file_set && $key_set {
  ["auth.private_key_file and auth.private_key are both set: keep only one"]
} else { [] }

let org = this.org_url.or("").string().trim()
let org_errs = if !this.exists("org_url") {
  ["org_url is required: set the org's My Domain URL, e.g. https://acme.my.salesforce.com"]
} else if $org == "" { [] } else if !$org.re_match("^https?://[^/?#\\s]+") {
  ["org_url %q must be an http(s) URL, e.g. https://acme.my.salesforce.com".format($org)]
} else if $org.contains("/services/") {
  ["org_url %q must be the base URL without a path like /services/oauth2/token, e.g. https://acme.my.salesforce.com".format($org)]
} else { [] }

let api_str = this.api_version.or("64.0").string()
let api_errs = if !$api_str.re_match("^[0-9]+\\.0$") {
  ["api_version %q is not a Salesforce API version: write it like \"64.0\"".format($api_str)]
} else if $api_str.number() < 37 {
  ["api_version %s is below 37.0, which has no durable replay: use \"64.0\" or later".format($api_str)]
} else { [] }

let channels = this.channels.or([])
let channel_list = if $channels.type() == "array" { $channels.map_each(c -> c.string().trim()) } else { [] }
let channel_errs = if $channel_list.length() == 0 {
  ["channels must list at least one channel, e.g. [/event/Order__e]"]
} else {
  $channel_list.filter(c -> !c.re_match("^/(topic|u|event|data)/[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*(\\?.*)?$")).map_each(c -> "channels: %q is not a channel: a channel starts with /topic/, /u/, /event/ or /data/ followed by a name, e.g. /event/Order__e or /topic/Invoices?Status__c=Open".format(c)).merge(
    $channel_list.filter(c -> c.contains("?") && !c.re_match("^/topic/[^?]+\\?[^=&]+=[^&]*(&[^=&]+=[^&]*)*$")).map_each(c -> "channels: %q has a filter, which only PushTopic channels accept, written /topic/Name?Field=Value".format(c))
  )
}
let bases = $channel_list.map_each(c -> c.split("?").index(0))
let dup_errs = $bases.filter(b -> $bases.filter(x -> x == b).length() > 1).unique().map_each(b -> "channels: %s is listed more than once (filters not counted): subscribe to each channel once per input".format(b))

let initial = this.initial_replay_ids.or({})
let initial_errs = if $initial.type() != "object" { [] } else {
  $initial.keys().filter(k -> !$bases.contains(k.split("?").index(0))).map_each(k -> "initial_replay_ids: %q is not in channels: list it in channels or remove the entry".format(k)).merge(
    $initial.values().filter(v -> if v.type() != "number" { true } else { v < -2 }).map_each(v -> "initial_replay_ids: %v is not a replay id: use an event's replay id, -1 (latest) or -2 (earliest)".format(v))
  )
}

let preset = this.replay_preset.or("latest").string()
let preset_errs = if ["latest", "earliest"].contains($preset) { [] } else {
  ["replay_preset %q is not supported: use latest or earliest".format($preset)]
}
let on_invalid = this.on_invalid_replay_id.or("earliest").string()
let on_invalid_errs = if ["earliest", "latest", "fail"].contains($on_invalid) { [] } else {
  ["on_invalid_replay_id %q is not supported: use earliest, latest or fail".format($on_invalid)]
}

let cache_errs = if !this.exists("checkpoint_cache") {
  ["checkpoint_cache is required: name a cache resource (file or redis) that keeps acknowledged replay ids"]
} else { [] }
let key_prefix = this.checkpoint_cache_key.or("salesforce_streaming").string().trim()
let key_prefix_errs = if $key_prefix == "" {
  ["checkpoint_cache_key must not be empty: use a name unique to this input, e.g. orders"]
} else if !$key_prefix.re_match("^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$") {
  ["checkpoint_cache_key %q is not a safe key prefix: use 1 to 100 letters, digits, _ . : or -, starting with a letter or digit, e.g. orders (it becomes part of cache keys, and of file names in a file cache)".format($key_prefix)]
} else { [] }
let limit = this.checkpoint_limit.or(1024)
let limit_errs = if $limit.type() != "number" {
  ["checkpoint_limit %v must be a whole number of at least 1, e.g. 1024".format($limit)]
} else if $limit < 1 {
  ["checkpoint_limit %v must be at least 1, e.g. 1024".format($limit)]
} else { [] }
let buffered = this.max_buffered_events.or(10000)
let buffered_errs = if $buffered.type() != "number" {
  ["max_buffered_events %v must be a whole number of at least 1, e.g. 10000".format($buffered)]
} else if $buffered < 1 {
  ["max_buffered_events %v must be at least 1, e.g. 10000".format($buffered)]
} else { [] }

let boff = if this.backoff.type() == "object" { this.backoff } else { {} }
let boff_defaults = {"initial_interval": "1s", "max_interval": "60s", "long_interval": "2m"}
let boff_ns = $boff_defaults.keys().fold({}, acc -> acc.tally.merge({
  (acc.value): $boff.get(acc.value).or($boff_defaults.get(acc.value)).string().parse_duration().catch(0)
}))
# Floors, as config.go's backoffFloors: jitter halves a wait at most, so a
# long_interval of 2s keeps refused logins within Salesforce's 3,600 logins
# per user per hour.
let boff_floors = {"initial_interval": 100000000, "max_interval": 100000000, "long_interval": 2000000000}
let boff_floor_text = {"initial_interval": "100ms", "max_interval": "100ms", "long_interval": "2s"}
let boff_errs = $boff_defaults.keys().sort().filter(f -> $boff_ns.get(f) <= 0).map_each(f -> "backoff.%s must be a positive duration, e.g. %s".format(f, $boff_defaults.get(f))).merge(
  $boff_defaults.keys().sort().filter(f -> $boff_ns.get(f) > 0 && $boff_ns.get(f) < $boff_floors.get(f)).map_each(f -> "backoff.%s %s is below its floor of %s: faster retries hammer Salesforce (refused logins count toward its login rate limit and the user's lockout), e.g. %s".format(f, $boff.get(f).or($boff_defaults.get(f)).string(), $boff_floor_text.get(f), $boff_defaults.get(f)))
).merge(
  if $boff_ns.initial_interval > 0 && $boff_ns.max_interval > 0 && $boff_ns.max_interval < $boff_ns.initial_interval {
    ["backoff.max_interval must not be below backoff.initial_interval"]
  } else { [] }
)

let errs = [$org_errs, $api_errs, $grant_errs, $key_errs, $channel_errs, $dup_errs, $initial_errs, $preset_errs, $on_invalid_errs, $cache_errs, $key_prefix_errs, $limit_errs, $buffered_errs, $boff_errs].flatten()
root = if $errs.length() > 0 { $errs }
`
