package input

import (
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// lintInput lints a salesforce_streaming input block (fields indented by
// four spaces under `salesforce_streaming:`) and returns the lint messages.
func lintInput(t *testing.T, fields string) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("salesforce_streaming:\n")
	for _, line := range strings.Split(strings.Trim(fields, "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	lints, err := service.NewEnvironment().NewComponentConfigLinter().SetSkipEnvVarCheck(true).LintInputYAML([]byte(b.String()))
	require.NoError(t, err)
	msgs := make([]string, len(lints))
	for k, l := range lints {
		msgs[k] = l.What
	}
	return msgs
}

func TestLintValid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"minimal client credentials", validYAML},
		{"unquoted api version", validYAML + "api_version: 64.0\n"},
		{"quoted api version 37", validYAML + `api_version: "37.0"` + "\n"},
		{"every option", validYAML + `
replay_preset: earliest
initial_replay_ids: { "/topic/Invoices?Status__c=Open": 12, /u/Alerts: -2 }
on_invalid_replay_id: fail
checkpoint_cache_key: orders
checkpoint_limit: 1
max_buffered_events: 1
auto_replay_nacks: false
proxy_url: http://proxy:3128
tls: { enabled: true }
backoff: { initial_interval: 1s, max_interval: 1m, long_interval: 5m }
`},
		{"jwt with key file", `
org_url: https://login.salesforce.com
auth: { grant_type: jwt_bearer, client_id: cid, username: u, private_key_file: ./server.key }
channels: [ /data/ChangeEvents, /data/Order__ChangeEvent, /event/LoginEventStream, /u/notifications/X ]
checkpoint_cache: c
`},
		{"jwt with inline key", `
org_url: https://login.salesforce.com
auth: { grant_type: jwt_bearer, client_id: cid, username: u, private_key: "${SF_KEY:-----BEGIN PRIVATE KEY-----}" }
channels: [ /event/Order__e ]
checkpoint_cache: c
`},
		{"refresh token", `
org_url: http://127.0.0.1:7357
auth: { grant_type: refresh_token, client_id: cid, refresh_token: rt }
channels: [ "/topic/A?X__c=1&Y__c=2" ]
checkpoint_cache: c
`},
		{"secrets from unset environment variables", `
org_url: https://acme.my.salesforce.com
auth: { grant_type: password, client_id: "${SSI_TEST_UNSET_1}", client_secret: "${SSI_TEST_UNSET_2}", username: u, password: "${SSI_TEST_UNSET_3}" }
channels: [ /event/Order__e ]
checkpoint_cache: c
`},
		{"pubsub", `
org_url: https://acme.my.salesforce.com
api: pubsub
pubsub_endpoint: 127.0.0.1:7443
auth: { grant_type: client_credentials, client_id: cid, client_secret: cs }
channels: [ /event/Order__e, /data/ChangeEvents ]
initial_replay_ids: { /event/Order__e: "AAAAAAAAJ/Y=", /data/ChangeEvents: -2 }
checkpoint_cache: c
`},
		{"password with env defaults", `
org_url: ${SF_ORG_URL:http://127.0.0.1:7357}
auth:
  grant_type: password
  client_id: ${SF_CLIENT_ID:sfemu-client-id}
  client_secret: ${SF_CLIENT_SECRET:sfemu-client-secret}
  username: ${SF_USERNAME:sfemu@example.com}
  password: ${SF_PASSWORD:sfemu-password}
channels: [ /event/Order__e ]
checkpoint_cache: c
`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			assert.Empty(t, lintInput(t, test.yaml))
		})
	}
}

func TestLintErrors(t *testing.T) {
	withAuth := func(auth string) string {
		return "org_url: https://acme.my.salesforce.com\nauth: " + auth + "\nchannels: [ /event/Order__e ]\ncheckpoint_cache: c\n"
	}
	withChannels := func(channels string) string {
		return "org_url: https://acme.my.salesforce.com\nauth: { client_id: cid, client_secret: cs }\nchannels: " + channels + "\ncheckpoint_cache: c\n"
	}

	tests := []struct {
		name string
		yaml string
		want []string // each must be a substring of some lint
	}{
		{"client credentials without secret", withAuth(`{ client_id: cid }`),
			[]string{"auth.client_secret is required for auth.grant_type client_credentials: set it, e.g. auth.client_secret: ${SF_CLIENT_SECRET}"}},
		{"password grant without fields", withAuth(`{ grant_type: password }`),
			[]string{"auth.client_id is required for auth.grant_type password", "auth.client_secret is required", "auth.username is required", "auth.password is required"}},
		{"refresh token grant without token", withAuth(`{ grant_type: refresh_token, client_id: x }`),
			[]string{"auth.refresh_token is required for auth.grant_type refresh_token"}},
		{"jwt without username and key", withAuth(`{ grant_type: jwt_bearer, client_id: x }`),
			[]string{"auth.username is required for auth.grant_type jwt_bearer", "auth.private_key_file or auth.private_key is required"}},
		{"jwt with both keys", withAuth(`{ grant_type: jwt_bearer, client_id: x, username: u, private_key: k, private_key_file: f }`),
			[]string{"auth.private_key_file and auth.private_key are both set: keep only one"}},
		{"unknown grant", withAuth(`{ grant_type: oauth, client_id: x }`),
			[]string{`auth.grant_type "oauth" is not a supported grant: use one of client_credentials, jwt_bearer, refresh_token, password`}},
		{"lease ttl below 2s", validYAML + "lease: { ttl: 1500ms }\n",
			[]string{"lease.ttl 1500ms is below its floor of 2s"}},
		{"grace period zero", validYAML + "checkpoint_grace_period: 0s\n",
			[]string{"checkpoint_grace_period must be a positive duration, e.g. 30s"}},
		{"api version below 37", validYAML + `api_version: "36.0"`,
			[]string{"api_version 36.0 is below 37.0, which has no durable replay"}},
		{"unquoted api version below 37", validYAML + `api_version: 30.0`,
			[]string{"api_version 30.0 is below 37.0"}},
		{"api version malformed", validYAML + `api_version: "64"`,
			[]string{`api_version "64" is not a Salesforce API version: write it like "64.0"`}},
		{"api version with letters", validYAML + `api_version: v64.0`,
			[]string{`api_version "v64.0" is not a Salesforce API version`}},
		{"org url missing", strings.Replace(validYAML, "org_url: https://acme.my.salesforce.com", "", 1),
			[]string{"org_url"}},
		{"org url without scheme", strings.Replace(validYAML, "https://acme.my.salesforce.com", "acme.my.salesforce.com", 1),
			[]string{`org_url "acme.my.salesforce.com" must be an http(s) URL`}},
		{"org url with token path", strings.Replace(validYAML, "https://acme.my.salesforce.com", "https://acme.my.salesforce.com/services/oauth2/token", 1),
			[]string{"must be the base URL without a path like /services/oauth2/token"}},
		{"empty channels", withChannels(`[]`),
			[]string{"channels must list at least one channel, e.g. [/event/Order__e]"}},
		{"unknown channel prefix", withChannels(`[ /events/Order__e ]`),
			[]string{`channels: "/events/Order__e" is not a channel: a channel starts with /topic/, /u/, /event/ or /data/ followed by a name`}},
		{"channel without name", withChannels(`[ /topic/ ]`),
			[]string{`channels: "/topic/" is not a channel`}},
		{"channel with wildcard", withChannels(`[ /event/** ]`),
			[]string{`channels: "/event/**" is not a channel`}},
		{"filter on a non topic", withChannels(`[ "/data/ChangeEvents?x=1" ]`),
			[]string{"has a filter, which only PushTopic channels accept"}},
		{"duplicate channel", withChannels(`[ /event/A__e, /event/A__e ]`),
			[]string{"channels: /event/A__e is listed more than once"}},
		{"initial replay id for unknown channel", validYAML + `initial_replay_ids: { /event/B__e: 3 }`,
			[]string{`initial_replay_ids: "/event/B__e" is not in channels`}},
		{"initial replay id below -2", validYAML + `initial_replay_ids: { /event/Order__e: -5 }`,
			[]string{"initial_replay_ids: -5 is not a replay id"}},
		{"unknown preset", validYAML + `replay_preset: all`,
			[]string{`replay_preset "all" is not supported: use latest or earliest`}},
		{"unknown invalid replay policy", validYAML + `on_invalid_replay_id: skip`,
			[]string{`on_invalid_replay_id "skip" is not supported: use earliest, latest, fail or resync`}},
		{"missing cache", strings.Replace(validYAML, "checkpoint_cache: replay_ids", "", 1),
			[]string{"checkpoint_cache is required"}},
		{"empty cache key", validYAML + `checkpoint_cache_key: ""`,
			[]string{"checkpoint_cache_key must not be empty"}},
		{"checkpoint limit zero", validYAML + `checkpoint_limit: 0`,
			[]string{"checkpoint_limit 0 must be at least 1"}},
		{"max buffered zero", validYAML + `max_buffered_events: 0`,
			[]string{"max_buffered_events 0 must be at least 1"}},
		// Values of the wrong type in int fields never reach the rule (Benthos skips it); the input's
		// constructor names such a field (TestConfigErrors). The rule itself tolerates any type.
		{"auth not an object", "org_url: https://acme.my.salesforce.com\nauth: nope\nchannels: [ /event/Order__e ]\ncheckpoint_cache: c\n",
			[]string{"auth.client_id is required", "auth.client_secret is required"}},
		{"backoff not a duration", validYAML + `backoff: { initial_interval: soon }`,
			[]string{"backoff.initial_interval must be a positive duration, e.g. 1s"}},
		{"backoff negative", validYAML + `backoff: { long_interval: -1s }`,
			[]string{"backoff.long_interval must be a positive duration, e.g. 2m"}},
		{"backoff zero", validYAML + `backoff: { max_interval: 0s }`,
			[]string{"backoff.max_interval must be a positive duration, e.g. 60s"}},
		{"backoff max below initial", validYAML + `backoff: { initial_interval: 10s, max_interval: 1s }`,
			[]string{"backoff.max_interval must not be below backoff.initial_interval"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			lints := lintInput(t, test.yaml)
			require.NotEmpty(t, lints)
			joined := strings.Join(lints, "\n")
			for _, want := range test.want {
				assert.Contains(t, joined, want)
			}
		})
	}
}

// TestLintAgreesWithConfig checks that configs lint rejects are rejected by
// the constructor too, for configs that were never linted.
func TestLintAgreesWithConfig(t *testing.T) {
	for _, yamlStr := range []string{
		validYAML + `api_version: "36.0"`,
		strings.Replace(validYAML, "client_secret: csecret", "", 1),
		strings.Replace(validYAML, "/u/Alerts", "/x/Alerts", 1),
		validYAML + `initial_replay_ids: { /event/B__e: 3 }`,
		validYAML + "lease: { ttl: 1s }\n",
		validYAML + "checkpoint_grace_period: 0s\n",
	} {
		require.NotEmpty(t, lintInput(t, yamlStr), yamlStr)
		_, err := newTestInput(t, yamlStr)
		assert.Error(t, err, yamlStr)
	}
}

// TestSpecExamplesLint lints the input block of every documented example and
// checks each example declares the cache it names.
func TestSpecExamplesLint(t *testing.T) {
	env := service.NewEnvironment()
	var examples []service.TemplatDataPluginExample
	env.WalkInputs(func(name string, cv *service.ConfigView) {
		if name != "salesforce_streaming" {
			return
		}
		data, err := cv.TemplateData()
		require.NoError(t, err)
		examples = data.Examples
	})
	require.Len(t, examples, 3)

	linter := env.NewComponentConfigLinter().SetSkipEnvVarCheck(true)
	for _, ex := range examples {
		t.Run(ex.Title, func(t *testing.T) {
			var conf struct {
				Input          map[string]any   `yaml:"input"`
				CacheResources []map[string]any `yaml:"cache_resources"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(ex.Config), &conf))
			inputYAML, err := yaml.Marshal(conf.Input)
			require.NoError(t, err)

			lints, err := linter.LintInputYAML(inputYAML)
			require.NoError(t, err)
			assert.Empty(t, lints)

			require.Len(t, conf.CacheResources, 1)
			ssi := conf.Input["salesforce_streaming"].(map[string]any)
			assert.Equal(t, ssi["checkpoint_cache"], conf.CacheResources[0]["label"])
		})
	}
}

func TestSpecDocsSections(t *testing.T) {
	var data service.TemplateDataPlugin
	service.NewEnvironment().WalkInputs(func(name string, cv *service.ConfigView) {
		if name == "salesforce_streaming" {
			var err error
			data, err = cv.TemplateData()
			require.NoError(t, err)
		}
	})
	assert.NotEmpty(t, data.Summary)
	for _, section := range []string{"== Authentication", "== Delivery guarantees", "== Metadata", "== Scaling", "== Metrics"} {
		assert.Contains(t, data.Description, section)
	}
	for _, grant := range []string{"client_credentials", "jwt_bearer", "refresh_token", "password"} {
		assert.Contains(t, data.Description, "`"+grant+"`")
	}
	for _, key := range []string{metaChannel, metaReplayID, metaCreatedDate, metaEventType, metaEventUUID, metaSchema,
		metaChangeType, metaEntityName, metaRecordIDs, metaCommitTimestamp, metaTransactionKey, metaCommitUser} {
		assert.Contains(t, data.Description, "`"+key+"`")
	}
	for _, metric := range []string{metricEventsReceived, metricReconnects, metricTokenRefreshes, metricReplayFallbacks, metricCheckpointLag} {
		assert.Contains(t, data.Description, "`"+metric+"`")
	}
}

// TestLintRuleToleratesWrongTypes runs the rule on configs with values of
// the wrong type: a rule that fails to evaluate reports nothing at all, so
// one such value would hide every other problem.
func TestLintRuleToleratesWrongTypes(t *testing.T) {
	exe, err := bloblang.Parse(lintRule())
	require.NoError(t, err)
	base := func() map[string]any {
		return map[string]any{
			"org_url": "https://acme.my.salesforce.com", "api_version": "30.0", "channels": []any{"/event/A__e"},
			"checkpoint_cache": "c", "auth": map[string]any{"client_id": "x", "client_secret": "y"},
		}
	}
	tests := []struct {
		field string
		value any
		want  string
	}{
		{"checkpoint_limit", "abc", "checkpoint_limit abc must be a whole number of at least 1"},
		{"max_buffered_events", []any{1}, "max_buffered_events [1] must be a whole number of at least 1"},
		{"initial_replay_ids", map[string]any{"/event/A__e": "abc"}, "initial_replay_ids: abc is not a replay id"},
		{"auth", "nope", "auth.client_id is required"},
		{"backoff", map[string]any{"initial_interval": 5}, "backoff.initial_interval must be a positive duration"},
		{"backoff", "fast", ""},
		{"channels", "/event/A__e", "channels must list at least one channel"},
		{"org_url", map[string]any{"a": 1}, "must be an http(s) URL"},
	}
	for _, test := range tests {
		t.Run(test.field, func(t *testing.T) {
			conf := base()
			conf[test.field] = test.value
			out, err := exe.Query(conf)
			require.NoError(t, err)
			lints, ok := out.([]any)
			require.True(t, ok, "lints: %v", out)
			var joined []string
			for _, l := range lints {
				joined = append(joined, l.(string))
			}
			assert.Contains(t, strings.Join(joined, "\n"), "api_version 30.0 is below 37.0", "other problems are still reported")
			assert.Contains(t, strings.Join(joined, "\n"), test.want)
		})
	}
}
