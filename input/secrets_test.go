package input

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type fieldDoc struct {
	Name     string     `json:"name"`
	IsSecret bool       `json:"is_secret"`
	Children []fieldDoc `json:"children"`
}

// TestSecretFieldsAreMarked checks which fields the spec marks Secret(), the
// mark that makes Benthos scrub them from `benthos echo` and config dumps.
func TestSecretFieldsAreMarked(t *testing.T) {
	var raw []byte
	service.NewEnvironment().WalkInputs(func(name string, cv *service.ConfigView) {
		if name == "salesforce_streaming" {
			var err error
			raw, err = cv.FormatJSON()
			require.NoError(t, err)
		}
	})
	require.NotNil(t, raw, "salesforce_streaming is registered")

	var comp struct {
		Config fieldDoc `json:"config"`
	}
	require.NoError(t, json.Unmarshal(raw, &comp))

	secrets := map[string]bool{}
	var walk func(prefix string, fs []fieldDoc)
	walk = func(prefix string, fs []fieldDoc) {
		for _, f := range fs {
			if f.IsSecret {
				secrets[prefix+f.Name] = true
			}
			walk(prefix+f.Name+".", f.Children)
		}
	}
	walk("", comp.Config.Children)
	assert.Equal(t, map[string]bool{
		"auth.client_secret": true,
		"auth.password":      true,
		"auth.private_key":   true,
		"auth.refresh_token": true,
		// It may hold the proxy's credentials.
		"proxy_url": true,
		// The standard TLS object's own secrets.
		"tls.client_certs.key":      true,
		"tls.client_certs.password": true,
		"tls.root_cas":              true,
	}, secrets)
}

// TestSecretsScrubbedFromEcho marshals a config the way `benthos echo` does
// and checks that no secret value survives while env var references do.
func TestSecretsScrubbedFromEcho(t *testing.T) {
	conf := `
input:
  salesforce_streaming:
    org_url: https://acme.my.salesforce.com
    auth:
      grant_type: password
      client_id: cid-visible
      client_secret: s3cret-client
      username: user@example.com
      password: s3cret-password
      private_key: s3cret-key
      refresh_token: ${SF_REFRESH_TOKEN}
    channels: [ /event/Order__e ]
    checkpoint_cache: replay_ids
output:
  drop: {}
`
	var v any
	require.NoError(t, yaml.Unmarshal([]byte(conf), &v))
	out, err := service.NewEnvironment().FullConfigSchema("", "").
		NewStreamConfigMarshaller().SetScrubSecrets(true).AnyToYAML(v)
	require.NoError(t, err)

	for _, secret := range []string{"s3cret-client", "s3cret-password", "s3cret-key"} {
		assert.NotContains(t, out, secret)
	}
	assert.Contains(t, out, "cid-visible")
	assert.Contains(t, out, "${SF_REFRESH_TOKEN}", "env var references are kept")
	assert.Equal(t, 3, strings.Count(out, "!!!SECRET_SCRUBBED!!!"))
}

// TestSecretsNotInErrors builds inputs with broken configs that carry secrets
// and checks no error repeats them.
func TestSecretsNotInErrors(t *testing.T) {
	for _, yamlStr := range []string{
		`
org_url: https://acme.my.salesforce.com
auth: { grant_type: jwt_bearer, client_id: cid, username: u, private_key: "s3cret-not-a-pem" }
channels: [ /event/Order__e ]
checkpoint_cache: replay_ids
`,
		`
org_url: https://acme.my.salesforce.com
auth: { grant_type: password, client_id: cid, client_secret: s3cret-client, password: s3cret-password }
channels: [ /event/Order__e ]
checkpoint_cache: replay_ids
proxy_url: "http//s3cret-proxy-pw@proxy"
`,
	} {
		_, err := newTestInput(t, yamlStr)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cret")
	}
}
