package input

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// agreementBase is a valid config in the layout the agreement table edits:
// one field a line, the auth fields under auth.
const agreementBase = `org_url: https://acme.my.salesforce.com
auth:
  grant_type: client_credentials
  client_id: cid
  client_secret: csecret
channels: [ /event/Order__e, "/topic/Invoices?Status__c=Open", /u/notifications/Alerts ]
checkpoint_cache: replay_ids
`

// badConfigs is the one table of configs that `benthos lint` and the
// constructor must both refuse, naming the same field. Each case makes one
// mistake in agreementBase.
var badConfigs = []struct {
	name, field string
	edit        func(string) string
}{
	{"org_url missing", "org_url", drop("org_url:")},
	{"org_url without scheme", "org_url", set("org_url:", "org_url: acme.my.salesforce.com")},
	{"org_url ftp", "org_url", set("org_url:", "org_url: ftp://acme.my.salesforce.com")},
	{"org_url token path", "org_url", set("org_url:", "org_url: https://acme.my.salesforce.com/services/oauth2/token")},
	{"org_url user and password", "org_url", set("org_url:", "org_url: https://user:pw@acme.my.salesforce.com")},
	{"org_url user only", "org_url", set("org_url:", "org_url: https://user@acme.my.salesforce.com")},
	{"org_url query", "org_url", set("org_url:", `org_url: "https://acme.my.salesforce.com?x=1"`)},
	{"org_url fragment", "org_url", set("org_url:", `org_url: "https://acme.my.salesforce.com#top"`)},
	{"org_url port not a number", "org_url", set("org_url:", "org_url: https://acme.my.salesforce.com:port")},
	{"api_version below 37", "api_version", add(`api_version: "36.0"`)},
	{"api_version without minor", "api_version", add(`api_version: "64"`)},
	{"api_version with letters", "api_version", add(`api_version: v64.0`)},
	{"unknown grant", "auth.grant_type", set("  grant_type:", "  grant_type: magic")},
	{"client_credentials without secret", "auth.client_secret", drop("  client_secret:")},
	{"client_credentials without client id", "auth.client_id", drop("  client_id:")},
	{"password without password", "auth.password", set("  grant_type:", "  grant_type: password\n  username: u")},
	{"password without username", "auth.username", set("  grant_type:", "  grant_type: password\n  password: p")},
	{"refresh_token without token", "auth.refresh_token", set("  grant_type:", "  grant_type: refresh_token")},
	{"jwt_bearer without username", "auth.username", set("  grant_type:", "  grant_type: jwt_bearer\n  private_key: k")},
	{"jwt_bearer without key", "auth.private_key_file", set("  grant_type:", "  grant_type: jwt_bearer\n  username: u")},
	{"jwt_bearer with both keys", "auth.private_key_file", set("  grant_type:", "  grant_type: jwt_bearer\n  username: u\n  private_key: k\n  private_key_file: /k.pem")},
	{"jwt_bearer with a directory as key file", "auth.private_key_file", set("  grant_type:", "  grant_type: jwt_bearer\n  username: u\n  private_key_file: /")},
	{"no channels", "channels", set("channels:", "channels: []")},
	{"unknown channel kind", "channels", set("channels:", "channels: [ /foo/Bar ]")},
	{"channel without name", "channels", set("channels:", "channels: [ /event/ ]")},
	{"channel without leading slash", "channels", set("channels:", "channels: [ event/Order__e ]")},
	{"channel with wildcard", "channels", set("channels:", "channels: [ /event/** ]")},
	{"filter on a platform event", "channels", set("channels:", `channels: [ "/event/Order__e?Status__c=Open" ]`)},
	{"malformed topic filter", "channels", set("channels:", `channels: [ "/topic/Invoices?Status__c" ]`)},
	{"channel listed twice", "channels", set("channels:", `channels: [ "/topic/A?X__c=1", "/topic/A?X__c=2" ]`)},
	{"channel key above a file name", "channels", add("checkpoint_cache_key: " + strings.Repeat("k", 100) + "\nchannels: [ /u/" + strings.Repeat("a", 60) + "/" + strings.Repeat("b", 60) + "/" + strings.Repeat("c", 20) + " ]")},
	{"initial replay id of an unknown channel", "initial_replay_ids", add("initial_replay_ids: { /event/Other__e: 5 }")},
	{"initial replay id below -2", "initial_replay_ids", add("initial_replay_ids: { /event/Order__e: -3 }")},
	{"unknown replay preset", "replay_preset", add("replay_preset: all")},
	{"unknown invalid replay policy", "on_invalid_replay_id", add("on_invalid_replay_id: ignore")},
	{"no checkpoint cache", "checkpoint_cache", drop("checkpoint_cache:")},
	{"empty checkpoint key", "checkpoint_cache_key", add(`checkpoint_cache_key: ""`)},
	{"checkpoint key leaving the directory", "checkpoint_cache_key", add(`checkpoint_cache_key: "../x"`)},
	{"checkpoint key with a slash", "checkpoint_cache_key", add(`checkpoint_cache_key: "a/b"`)},
	{"checkpoint key starting with a dot", "checkpoint_cache_key", add(`checkpoint_cache_key: ".orders"`)},
	{"checkpoint key with a space", "checkpoint_cache_key", add(`checkpoint_cache_key: "my orders"`)},
	{"checkpoint key above 100 bytes", "checkpoint_cache_key", add("checkpoint_cache_key: " + strings.Repeat("k", 101))},
	{"checkpoint limit zero", "checkpoint_limit", add("checkpoint_limit: 0")},
	{"max buffered negative", "max_buffered_events", add("max_buffered_events: -1")},
	{"proxy without a host", "proxy_url", add(`proxy_url: "user:secretpw@proxy"`)},
	{"tls root cas without a certificate", "tls.root_cas", add("tls: { enabled: true, root_cas: not-a-pem }")},
	{"initial interval below its floor", "backoff.initial_interval", add("backoff: { initial_interval: 99ms, max_interval: 1s }")},
	{"max interval below its floor", "backoff.max_interval", add("backoff: { initial_interval: 100ms, max_interval: 99ms }")},
	{"long interval below its floor", "backoff.long_interval", add("backoff: { long_interval: 1999ms }")},
	{"initial interval not a duration", "backoff.initial_interval", add("backoff: { initial_interval: soon }")},
	{"long interval negative", "backoff.long_interval", add("backoff: { long_interval: -1s }")},
	{"max interval zero", "backoff.max_interval", add("backoff: { max_interval: 0s }")},
	{"max interval below initial", "backoff.max_interval", add("backoff: { initial_interval: 10s, max_interval: 1s }")},
	{"limits interval negative", "limits_interval", add("limits_interval: -1m")},
	{"limits interval below its floor", "limits_interval", add("limits_interval: 500ms")},
	{"limits interval not a duration", "limits_interval", add("limits_interval: hourly")},
	{"unknown snapshot mode", "snapshot.mode", add("snapshot: { mode: sometimes, objects: { Account: [] } }\nchannels: [ /data/AccountChangeEvent ]")},
	{"unknown snapshot method", "snapshot.method", add("snapshot: { mode: initial, method: soap, objects: { Account: [] } }\nchannels: [ /data/AccountChangeEvent ]")},
	{"snapshot without objects", "snapshot.objects", add("snapshot: { mode: initial }\nchannels: [ /data/AccountChangeEvent ]")},
	{"snapshot objects not a map", "snapshot.objects", add("snapshot: { mode: initial, objects: [ Account ] }\nchannels: [ /data/AccountChangeEvent ]")},
	{"snapshot object name with a space", "snapshot.objects", add(`snapshot: { mode: initial, objects: { "Acc ount": [] } }` + "\nchannels: [ /data/AccountChangeEvent ]")},
	{"snapshot field with SOQL in it", "snapshot.objects.Account", add(`snapshot: { mode: initial, objects: { Account: [ "Name FROM User --" ] } }` + "\nchannels: [ /data/AccountChangeEvent ]")},
	{"snapshot field listed twice", "snapshot.objects.Account", add("snapshot: { mode: initial, objects: { Account: [ Name, name ] } }\nchannels: [ /data/AccountChangeEvent ]")},
	{"snapshot fields not a list", "snapshot.objects.Account", add("snapshot: { mode: initial, objects: { Account: Name } }\nchannels: [ /data/AccountChangeEvent ]")},
	{"snapshot without a change data capture channel", "snapshot", add("snapshot: { mode: initial, objects: { Account: [] } }")},
	{"unknown gap events", "gap_events", add("gap_events: drop\nchannels: [ /data/AccountChangeEvent ]")},
	{"gap fetch without a change data capture channel", "gap_events", add("gap_events: fetch")},
	{"resync without snapshot objects", "on_invalid_replay_id", add("on_invalid_replay_id: resync\nchannels: [ /data/AccountChangeEvent ]")},
	{"unknown api", "api", add("api: grpc")},
	{"unknown body", "body", add("body: sobject")},
	{"body data under pubsub", "body", add("api: pubsub\nchannels: [ /event/Order__e ]\nbody: data")},
	{"pubsub with a PushTopic", "channels", add("api: pubsub\nchannels: [ /event/Order__e, /topic/Invoices ]")},
	{"pubsub with a generic channel", "channels", add("api: pubsub\nchannels: [ /data/AccountChangeEvent, /u/notifications/Alerts ]")},
	{"pubsub endpoint with a scheme", "pubsub_endpoint", add("pubsub_endpoint: https://api.pubsub.salesforce.com:7443")},
	{"pubsub endpoint without a port", "pubsub_endpoint", add("pubsub_endpoint: api.pubsub.salesforce.com")},
	{"pubsub initial replay id a number", "initial_replay_ids", add("api: pubsub\nchannels: [ /event/Order__e ]\ninitial_replay_ids: { /event/Order__e: 5 }")},
	{"pubsub initial replay id not base64", "initial_replay_ids", add("api: pubsub\nchannels: [ /event/Order__e ]\ninitial_replay_ids: { /event/Order__e: \"not base64!\" }")},
	{"streaming initial replay id as text", "initial_replay_ids", add(`initial_replay_ids: { /event/Order__e: "AAAAAAAAAAU=" }`)},
	// Configs `benthos lint` used to pass that then failed at start.
	{"org_url empty", "org_url", set("org_url:", `org_url: ""`)},
	{"org_url white space", "org_url", set("org_url:", `org_url: "  "`)},
	{"org_url bad escape", "org_url", set("org_url:", `org_url: "https://acme%zz.my.salesforce.com"`)},
	{"org_url space in the host", "org_url", set("org_url:", `org_url: "https://acme .my.salesforce.com"`)},
	{"client id of white space", "auth.client_id", set("  client_id:", `  client_id: "  "`)},
	{"jwt_bearer key not PEM", "auth.private_key", set("  grant_type:", "  grant_type: jwt_bearer\n  username: u\n  private_key: notapem")},
	{"initial replay id 1.5", "initial_replay_ids", add("initial_replay_ids: { /event/Order__e: 1.5 }")},
	{"checkpoint cache empty", "checkpoint_cache", set("checkpoint_cache:", `checkpoint_cache: ""`)},
	{"checkpoint limit abc", "checkpoint_limit", add(`checkpoint_limit: 'abc'`)},
	{"checkpoint limit as text", "checkpoint_limit", add(`checkpoint_limit: "10"`)},
	{"checkpoint limit 1.5", "checkpoint_limit", add(`checkpoint_limit: 1.5`)},
	{"checkpoint limit above int", "checkpoint_limit", add(`checkpoint_limit: 99999999999999999999`)},
	{"max buffered abc", "max_buffered_events", add(`max_buffered_events: abc`)},
	{"max buffered 1.5", "max_buffered_events", add(`max_buffered_events: 1.5`)},
	{"max buffered above int", "max_buffered_events", add(`max_buffered_events: 99999999999999999999`)},
	{"proxy unparsable", "proxy_url", add(`proxy_url: "http://user:secretpw@[::1"`)},
	{"proxy bad escape", "proxy_url", add(`proxy_url: "http://user:secretpw@pro%zzxy:3128"`)},
	{"proxy with a space", "proxy_url", add(`proxy_url: "http://pro xy:3128"`)},
	{"tls client cert not PEM", "tls", add("tls: { enabled: true, client_certs: [ { cert: notapem, key: notapem } ] }")},
	{"tls client cert without key", "tls", add("tls: { enabled: true, client_certs: [ { cert: notapem } ] }")},
	{"tls root_cas_file a directory", "tls", add("tls: { enabled: true, root_cas_file: / }")},
}

// startOnlyConfigs are bad configs only the constructor can refuse (lint.go
// says why): each names its field at start, and lint passes it.
var startOnlyConfigs = []struct {
	name, field, why string
	edit             func(string) string
}{
	{"unknown checkpoint cache label", "checkpoint_cache", "a component's lint rule does not see the resources",
		set("checkpoint_cache:", "checkpoint_cache: nope")},
	{"missing root_cas_file", "tls", "lint rules cannot read files",
		add("tls: { enabled: true, root_cas_file: /nonexistent/ca.pem }")},
	{"missing client cert files", "tls", "lint rules cannot read files",
		add("tls: { enabled: true, client_certs: [ { cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem } ] }")},
	{"missing private_key_file", "auth.private_key_file", "lint rules cannot read files",
		set("  grant_type:", "  grant_type: jwt_bearer\n  username: u\n  private_key_file: /nonexistent/k.pem")},
	{"empty client secret", "auth.client_secret", "lint reads an unset environment variable as empty",
		set("  client_secret:", `  client_secret: ""`)},
	{"tls enabled not a bool", "tls", "Benthos skips the lint rule of a config with a wrong type in its bool fields",
		add("tls: { enabled: maybe }")},
	{"auto_replay_nacks not a bool", "auto_replay_nacks", "Benthos skips the lint rule of a config with a wrong type in its bool fields",
		add("auto_replay_nacks: maybe")},
}

// TestStartOnlyConfigs pins what start-up says for each config lint cannot
// refuse, and that lint indeed passes it: a lint that learns to catch one
// moves it to badConfigs.
func TestStartOnlyConfigs(t *testing.T) {
	for _, test := range startOnlyConfigs {
		t.Run(test.name, func(t *testing.T) {
			conf := test.edit(agreementBase)
			assert.Empty(t, lintInput(t, conf), "lint passes it (%s)", test.why)
			_, err := newTestInput(t, conf)
			require.Error(t, err, "the constructor refuses it")
			assert.True(t, anyNames(strings.Split(err.Error(), "\n"), test.field), "the constructor names %s: %v", test.field, err)
		})
	}
}

// TestLintAndConstructorAgree runs badConfigs through the environment's
// config linter (what `benthos lint` runs) and through the constructor: both
// refuse each config and name its field.
func TestLintAndConstructorAgree(t *testing.T) {
	require.GreaterOrEqual(t, len(badConfigs), 30)
	require.NotContains(t, lintRule(), "{{", "every placeholder of the rule is filled from Go")
	require.Empty(t, lintInput(t, agreementBase), "the base config is valid")
	_, err := newTestInput(t, agreementBase)
	require.NoError(t, err, "the base config is valid")

	for _, test := range badConfigs {
		t.Run(test.name, func(t *testing.T) {
			conf := test.edit(agreementBase)
			require.NotEqual(t, agreementBase, conf, "the case changes the config")

			lints := lintInput(t, conf)
			assert.True(t, anyNames(lints, test.field), "lint names %s: %q", test.field, lints)

			_, err := newTestInput(t, conf)
			require.Error(t, err, "the constructor refuses it")
			assert.True(t, anyNames(strings.Split(err.Error(), "\n"), test.field), "the constructor names %s: %v", test.field, err)
			assert.NotContains(t, err.Error()+strings.Join(lints, "\n"), "secretpw")
		})
	}
}

// anyNames reports whether one of msgs names field: the field as a whole
// word, not as part of a longer name (auth.client_id is not
// auth.client_id_x, checkpoint_cache is not checkpoint_cache_key).
func anyNames(msgs []string, field string) bool {
	re := regexp.MustCompile(`(^|[^A-Za-z0-9_.])` + regexp.QuoteMeta(field) + `($|[^A-Za-z0-9_])`)
	for _, m := range msgs {
		if re.MatchString(m) {
			return true
		}
	}
	return false
}

// set replaces the line starting with prefix.
func set(prefix, line string) func(string) string {
	return func(conf string) string { return replaceLine(conf, prefix, line) }
}

// drop removes the line starting with prefix.
func drop(prefix string) func(string) string {
	return func(conf string) string {
		var kept []string
		for _, l := range strings.Split(conf, "\n") {
			if !strings.HasPrefix(l, prefix) {
				kept = append(kept, l)
			}
		}
		return strings.Join(kept, "\n")
	}
}

// add appends lines; a top-level field given twice takes the last value.
func add(lines string) func(string) string {
	return func(conf string) string {
		for _, l := range strings.Split(lines, "\n") {
			key, _, _ := strings.Cut(l, ":")
			conf = drop(key + ":")(conf)
		}
		return conf + lines + "\n"
	}
}
