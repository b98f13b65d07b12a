package input

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testKeyPEM returns a fresh PEM RSA key for jwt_bearer configs.
func testKeyPEM(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// validYAML is a complete, valid config; cases replace parts of it.
const validYAML = `
org_url: https://acme.my.salesforce.com
auth:
  grant_type: client_credentials
  client_id: cid
  client_secret: csecret
channels: [ /event/Order__e, /data/AccountChangeEvent, "/topic/Invoices?Status__c=Open", /u/Alerts ]
checkpoint_cache: replay_ids
`

// newTestInput parses yamlStr and builds the input against mock resources
// holding a cache named replay_ids.
func newTestInput(t *testing.T, yamlStr string) (*ssiInput, error) {
	t.Helper()
	pConf, err := parseSpec().ParseYAML(yamlStr, nil)
	if err != nil {
		return nil, err
	}
	return newInput(pConf, service.MockResources(service.MockResourcesOptAddCache("replay_ids")))
}

func TestConfigValid(t *testing.T) {
	in, err := newTestInput(t, validYAML)
	require.NoError(t, err)
	c := in.conf

	assert.Equal(t, "https://acme.my.salesforce.com", c.Auth.OrgURL)
	assert.Equal(t, "64.0", c.APIVersion)
	assert.Equal(t, grantClientCredentials, c.Auth.GrantType)
	assert.Equal(t, "cid", c.Auth.ClientID)
	assert.Equal(t, "csecret", c.Auth.ClientSecret)
	assert.Equal(t, []string{"/event/Order__e", "/data/AccountChangeEvent", "/topic/Invoices?Status__c=Open", "/u/Alerts"}, c.Channels)
	assert.Equal(t, replayLatest, c.ReplayPreset)
	assert.Empty(t, c.InitialReplayIDs)
	assert.Equal(t, invalidReplayPolicy(onInvalidEarliest), c.OnInvalidReplayID)
	assert.Equal(t, "replay_ids", c.CheckpointCache)
	assert.Equal(t, "salesforce_streaming", c.CheckpointKey)
	assert.Equal(t, 1024, c.CheckpointLimit)
	assert.Equal(t, 10000, c.MaxBuffered)
	assert.Nil(t, c.TLS)
	assert.Nil(t, c.ProxyURL)
	assert.Equal(t, time.Second, c.Backoff.Initial)
	assert.Equal(t, time.Minute, c.Backoff.Max)
	assert.Equal(t, 2*time.Minute, c.Backoff.Long)
}

func TestConfigFields(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "server.key")
	key := testKeyPEM(t)
	require.NoError(t, os.WriteFile(keyFile, key, 0o600))

	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c ssiConfig)
	}{
		{
			name: "presets, policy, limits, proxy, tls",
			yaml: validYAML + `
api_version: "37.0"
replay_preset: earliest
on_invalid_replay_id: fail
checkpoint_cache_key: orders
checkpoint_limit: 10
max_buffered_events: 5
proxy_url: http://proxy.internal:3128
tls: { enabled: true, skip_cert_verify: true }
backoff: { initial_interval: 100ms, max_interval: 1s, long_interval: 3s }
`,
			check: func(t *testing.T, c ssiConfig) {
				assert.Equal(t, "37.0", c.APIVersion)
				assert.Equal(t, replayEarliest, c.ReplayPreset)
				assert.Equal(t, invalidReplayPolicy(onInvalidFail), c.OnInvalidReplayID)
				assert.Equal(t, "orders", c.CheckpointKey)
				assert.Equal(t, 10, c.CheckpointLimit)
				assert.Equal(t, 5, c.MaxBuffered)
				require.NotNil(t, c.ProxyURL)
				assert.Equal(t, "proxy.internal:3128", c.ProxyURL.Host)
				require.NotNil(t, c.TLS)
				assert.True(t, c.TLS.InsecureSkipVerify)
				assert.Equal(t, 100*time.Millisecond, c.Backoff.Initial)
				assert.Equal(t, time.Second, c.Backoff.Max)
				assert.Equal(t, 3*time.Second, c.Backoff.Long)
			},
		},
		{
			name: "unquoted api version",
			yaml: validYAML + "api_version: 64.0\n",
			check: func(t *testing.T, c ssiConfig) {
				assert.Equal(t, "64.0", c.APIVersion)
			},
		},
		{
			name: "initial replay ids keyed by channel without filter",
			yaml: validYAML + `
initial_replay_ids: { /event/Order__e: 42, "/topic/Invoices?Status__c=Open": 7, /u/Alerts: -2 }
`,
			check: func(t *testing.T, c ssiConfig) {
				assert.Equal(t, map[string]int64{"/event/Order__e": 42, "/topic/Invoices": 7, "/u/Alerts": -2}, c.InitialReplayIDs)
			},
		},
		{
			name: "jwt bearer with key file",
			yaml: `
org_url: https://login.salesforce.com/
auth: { grant_type: jwt_bearer, client_id: cid, username: u@example.com, private_key_file: "` + keyFile + `" }
channels: [ /event/Order__e ]
checkpoint_cache: replay_ids
`,
			check: func(t *testing.T, c ssiConfig) {
				assert.Equal(t, "https://login.salesforce.com", c.Auth.OrgURL)
				assert.Equal(t, key, c.Auth.PrivateKeyPEM)
			},
		},
		{
			name: "jwt bearer with inline key in one line",
			yaml: `
org_url: https://login.salesforce.com
auth: { grant_type: jwt_bearer, client_id: cid, username: u@example.com, private_key: "` + strings.ReplaceAll(string(key), "\n", `\\n`) + `" }
channels: [ /event/Order__e ]
checkpoint_cache: replay_ids
`,
			check: func(t *testing.T, c ssiConfig) {
				assert.Equal(t, key, c.Auth.PrivateKeyPEM)
			},
		},
		{
			name: "password grant",
			yaml: `
org_url: https://test.salesforce.com
auth: { grant_type: password, client_id: cid, client_secret: cs, username: u, password: pwtoken }
channels: [ /u/notifications/Alerts ]
checkpoint_cache: replay_ids
`,
			check: func(t *testing.T, c ssiConfig) {
				assert.Equal(t, "pwtoken", c.Auth.Password)
				assert.Equal(t, []string{"/u/notifications/Alerts"}, c.Channels)
			},
		},
		{
			name: "refresh token grant without client secret",
			yaml: `
org_url: https://acme.my.salesforce.com
auth: { grant_type: refresh_token, client_id: cid, refresh_token: rt }
channels: [ /data/ChangeEvents ]
checkpoint_cache: replay_ids
`,
			check: func(t *testing.T, c ssiConfig) {
				assert.Equal(t, "rt", c.Auth.RefreshToken)
			},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			in, err := newTestInput(t, test.yaml)
			require.NoError(t, err)
			test.check(t, in.conf)
		})
	}
}

// replaceLine replaces the line of yamlStr that starts with prefix.
func replaceLine(yamlStr, prefix, line string) string {
	lines := strings.Split(yamlStr, "\n")
	for k, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[k] = line
		}
	}
	return strings.Join(lines, "\n")
}

func TestConfigErrors(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o600))
	withAuth := func(auth string) string {
		return `
org_url: https://acme.my.salesforce.com
auth: ` + auth + `
channels: [ /event/Order__e ]
checkpoint_cache: replay_ids
`
	}
	withChannels := func(channels string) string {
		return `
org_url: https://acme.my.salesforce.com
auth: { client_id: cid, client_secret: cs }
channels: ` + channels + `
checkpoint_cache: replay_ids
`
	}

	tests := []struct {
		name        string
		yaml        string
		errContains []string
	}{
		{
			name:        "unknown cache resource",
			yaml:        strings.Replace(validYAML, "checkpoint_cache: replay_ids", "checkpoint_cache: nope", 1),
			errContains: []string{`checkpoint_cache: there is no cache resource named "nope"`, "cache_resources"},
		},
		{
			name:        "empty cache name",
			yaml:        strings.Replace(validYAML, "checkpoint_cache: replay_ids", `checkpoint_cache: ""`, 1),
			errContains: []string{"checkpoint_cache is required"},
		},
		{
			name:        "client credentials without secret",
			yaml:        withAuth(`{ grant_type: client_credentials, client_id: cid }`),
			errContains: []string{"auth.client_secret is required for auth.grant_type client_credentials"},
		},
		{
			name:        "password grant without anything",
			yaml:        withAuth(`{ grant_type: password }`),
			errContains: []string{"auth.client_id is required", "auth.client_secret is required", "auth.username is required", "auth.password is required for auth.grant_type password"},
		},
		{
			name:        "refresh grant without token",
			yaml:        withAuth(`{ grant_type: refresh_token, client_id: cid }`),
			errContains: []string{"auth.refresh_token is required for auth.grant_type refresh_token"},
		},
		{
			name:        "jwt without key",
			yaml:        withAuth(`{ grant_type: jwt_bearer, client_id: cid, username: u }`),
			errContains: []string{"auth.private_key_file or auth.private_key is required for auth.grant_type jwt_bearer"},
		},
		{
			name:        "jwt with both keys",
			yaml:        withAuth(`{ grant_type: jwt_bearer, client_id: cid, username: u, private_key_file: /x, private_key: y }`),
			errContains: []string{"auth.private_key_file and auth.private_key are both set"},
		},
		{
			name:        "jwt with missing key file",
			yaml:        withAuth(`{ grant_type: jwt_bearer, client_id: cid, username: u, private_key_file: /does/not/exist.key }`),
			errContains: []string{"reading auth.private_key_file"},
		},
		{
			name:        "jwt with a key that is not PEM",
			yaml:        withAuth(`{ grant_type: jwt_bearer, client_id: cid, username: u, private_key: not-a-key }`),
			errContains: []string{"auth.private_key"},
		},
		{
			name:        "unknown grant",
			yaml:        withAuth(`{ grant_type: magic, client_id: cid }`),
			errContains: []string{`auth.grant_type "magic" is not a supported grant`},
		},
		{
			name:        "api version too old",
			yaml:        validYAML + `api_version: "36.0"`,
			errContains: []string{"api_version 36.0 is below 37.0"},
		},
		{
			name:        "api version malformed",
			yaml:        validYAML + `api_version: "v64"`,
			errContains: []string{`api_version "v64" is not a Salesforce API version: write it like "64.0"`},
		},
		{
			name:        "org url missing",
			yaml:        strings.Replace(validYAML, "org_url: https://acme.my.salesforce.com", "", 1),
			errContains: []string{"org_url"},
		},
		{
			name:        "org url with token path",
			yaml:        strings.Replace(validYAML, "org_url: https://acme.my.salesforce.com", "org_url: https://acme.my.salesforce.com/services/oauth2/token", 1),
			errContains: []string{"must be the base URL"},
		},
		{
			name:        "org url not http",
			yaml:        strings.Replace(validYAML, "org_url: https://acme.my.salesforce.com", "org_url: acme.my.salesforce.com", 1),
			errContains: []string{"must be an http(s) URL"},
		},
		{
			name:        "no channels",
			yaml:        withChannels(`[]`),
			errContains: []string{"channels must list at least one channel"},
		},
		{
			name:        "unknown channel kind",
			yaml:        withChannels(`[ /foo/Bar ]`),
			errContains: []string{`channels: "/foo/Bar" is not a channel`},
		},
		{
			name:        "channel without name",
			yaml:        withChannels(`[ /event/ ]`),
			errContains: []string{`channels: "/event/" is not a channel`},
		},
		{
			name:        "channel without leading slash",
			yaml:        withChannels(`[ event/Order__e ]`),
			errContains: []string{`channels: "event/Order__e" is not a channel`},
		},
		{
			name:        "filter on a platform event",
			yaml:        withChannels(`[ "/event/Order__e?Status__c=Open" ]`),
			errContains: []string{"has a filter, which only PushTopic channels accept"},
		},
		{
			name:        "malformed topic filter",
			yaml:        withChannels(`[ "/topic/Invoices?Status__c" ]`),
			errContains: []string{"has a filter"},
		},
		{
			name:        "duplicate channel",
			yaml:        withChannels(`[ "/topic/Invoices?Status__c=Open", "/topic/Invoices?Status__c=Closed" ]`),
			errContains: []string{"/topic/Invoices is listed more than once"},
		},
		{
			name:        "initial replay id of an unknown channel",
			yaml:        validYAML + `initial_replay_ids: { /event/Other__e: 5 }`,
			errContains: []string{`initial_replay_ids: "/event/Other__e" is not in channels`},
		},
		{
			name:        "initial replay id below -2",
			yaml:        validYAML + `initial_replay_ids: { /event/Order__e: -3 }`,
			errContains: []string{"initial_replay_ids: -3 is not a replay id"},
		},
		{
			name:        "unknown preset",
			yaml:        validYAML + `replay_preset: all`,
			errContains: []string{`replay_preset "all" is not supported: use latest or earliest`},
		},
		{
			name:        "unknown invalid replay policy",
			yaml:        validYAML + `on_invalid_replay_id: ignore`,
			errContains: []string{`on_invalid_replay_id "ignore" is not supported: use earliest, latest, fail or resync`},
		},
		{
			name:        "checkpoint limit zero",
			yaml:        validYAML + `checkpoint_limit: 0`,
			errContains: []string{"checkpoint_limit 0 must be at least 1"},
		},
		{
			name:        "max buffered negative",
			yaml:        validYAML + `max_buffered_events: -1`,
			errContains: []string{"max_buffered_events -1 must be at least 1"},
		},
		{
			name:        "empty checkpoint key",
			yaml:        validYAML + `checkpoint_cache_key: ""`,
			errContains: []string{"checkpoint_cache_key must not be empty"},
		},
		{
			name:        "bad proxy url does not echo it",
			yaml:        validYAML + `proxy_url: "user:secretpw@proxy"`,
			errContains: []string{"proxy_url is not a valid URL"},
		},
		{
			name:        "backoff max below initial",
			yaml:        validYAML + `backoff: { initial_interval: 10s, max_interval: 1s }`,
			errContains: []string{"backoff.max_interval must not be below backoff.initial_interval"},
		},
		// Wrong types and values of every field: the error names the field.
		{name: "org url not a string", yaml: replaceLine(validYAML, "org_url:", "org_url: { host: acme }"), errContains: []string{"org_url"}},
		{name: "api version not a string", yaml: validYAML + "api_version: [ 64 ]", errContains: []string{"api_version"}},
		{name: "grant type not a string", yaml: replaceLine(validYAML, "  grant_type:", "  grant_type: [ password ]"), errContains: []string{"grant_type"}},
		{name: "client id not a string", yaml: replaceLine(validYAML, "  client_id:", "  client_id: { a: 1 }"), errContains: []string{"client_id"}},
		{name: "audience not a string", yaml: replaceLine(validYAML, "  client_id:", "  client_id: cid\n  audience: [ x ]"), errContains: []string{"audience"}},
		{name: "channels not a list", yaml: replaceLine(validYAML, "channels:", "channels: /event/Order__e"), errContains: []string{"channels"}},
		{name: "initial replay ids not a map", yaml: validYAML + "initial_replay_ids: [ 1 ]", errContains: []string{"initial_replay_ids"}},
		{name: "initial replay id not a number", yaml: validYAML + "initial_replay_ids: { /event/Order__e: abc }", errContains: []string{"initial_replay_ids"}},
		{name: "replay preset not a string", yaml: validYAML + "replay_preset: [ latest ]", errContains: []string{"replay_preset"}},
		{name: "invalid replay policy not a string", yaml: validYAML + "on_invalid_replay_id: [ fail ]", errContains: []string{"on_invalid_replay_id"}},
		{name: "checkpoint cache not a string", yaml: replaceLine(validYAML, "checkpoint_cache:", "checkpoint_cache: [ replay_ids ]"), errContains: []string{"checkpoint_cache"}},
		{name: "checkpoint key not a string", yaml: validYAML + "checkpoint_cache_key: { a: 1 }", errContains: []string{"checkpoint_cache_key"}},
		{name: "checkpoint limit not a number", yaml: validYAML + "checkpoint_limit: abc", errContains: []string{"checkpoint_limit"}},
		{name: "max buffered not a number", yaml: validYAML + "max_buffered_events: [ 1 ]", errContains: []string{"max_buffered_events"}},
		{name: "auto replay nacks not a bool", yaml: validYAML + "auto_replay_nacks: maybe", errContains: []string{"auto_replay_nacks"}},
		{name: "proxy url not a string", yaml: validYAML + "proxy_url: [ http://proxy:3128 ]", errContains: []string{"proxy_url"}},
		{name: "tls enabled not a bool", yaml: validYAML + "tls: { enabled: yes_please }", errContains: []string{"tls", "enabled"}},
		{name: "tls root cas without a certificate", yaml: validYAML + "tls: { enabled: true, root_cas: not-a-pem }", errContains: []string{"tls.root_cas holds no PEM certificate"}},
		{name: "tls root cas file missing", yaml: validYAML + "tls: { enabled: true, root_cas_file: /does/not/exist.pem }", errContains: []string{"tls", "/does/not/exist.pem"}},
		{name: "tls root cas file not PEM", yaml: validYAML + "tls: { enabled: true, root_cas_file: " + notPEM + " }", errContains: []string{"tls.root_cas_file", "holds no PEM certificate"}},
		{name: "tls client key not PEM", yaml: validYAML + "tls: { enabled: true, client_certs: [ { cert: x, key: y } ] }", errContains: []string{"tls"}},
		{name: "backoff not a duration", yaml: validYAML + "backoff: { initial_interval: soon }", errContains: []string{"backoff.initial_interval must be a positive duration"}},
		{name: "backoff negative", yaml: validYAML + "backoff: { long_interval: -1s }", errContains: []string{"backoff.long_interval must be a positive duration"}},
		{name: "backoff zero", yaml: validYAML + "backoff: { max_interval: 0s }", errContains: []string{"backoff.max_interval must be a positive duration"}},
		{
			name:        "several problems at once",
			yaml:        withAuth(`{ grant_type: password, client_id: cid, client_secret: cs, username: u }`) + `api_version: "30.0"`,
			errContains: []string{"auth.password is required", "api_version 30.0 is below 37.0"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, err := newTestInput(t, test.yaml)
			require.Error(t, err)
			for _, want := range test.errContains {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, err.Error(), "secretpw")
		})
	}
}
