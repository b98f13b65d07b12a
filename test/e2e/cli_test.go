package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// runBenthos runs a one-shot bin/benthos command in dir.
func runBenthos(t *testing.T, dir string, env []string, args ...string) harness.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	res, err := harness.RunBenthos(ctx, dir, env, args...)
	require.NoError(t, err)
	return res
}

var (
	hasTests      = regexp.MustCompile(`(?m)^tests:`)
	hasProcessors = regexp.MustCompile(`(?m)^pipeline:\s*\n(\s+#.*\n)*\s+processors:`)
)

// TestShippedConfigs is acceptance criterion (e): every pipeline in config/
// lints against the file replay-id store, and its inline unit tests pass.
// A pipeline with processors must carry tests: its processors are the part
// of a shipped config that lint alone cannot check.
func TestShippedConfigs(t *testing.T) {
	requireBinaries(t)
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	configs, err := filepath.Glob(filepath.Join(root, "config", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, configs, "config/ holds pipelines")
	resources := filepath.Join("resources", "replay_ids_file.yaml")
	for _, path := range configs {
		rel, err := filepath.Rel(root, path)
		require.NoError(t, err)
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			lint := runBenthos(t, root, nil, "lint", "-r", resources, rel)
			assert.Equal(t, 0, lint.ExitCode, "lint: %s", lint)
			assert.Empty(t, strings.TrimSpace(lint.Output()), "lint reports nothing")

			text, err := os.ReadFile(path)
			require.NoError(t, err)
			if !hasTests.Match(text) {
				assert.False(t, hasProcessors.Match(text), "%s has pipeline processors but no inline `tests:`", rel)
				return
			}
			res := runBenthos(t, root, nil, "test", "-r", resources, rel)
			assert.Equal(t, 0, res.ExitCode, "unit tests: %s", res)
			assert.Contains(t, res.Output(), "succeeded", "unit tests: %s", res)
		})
	}
}

// lintBase is a valid config; the lint cases break one field each.
func lintBase() map[string]any {
	return map[string]any{
		"input": map[string]any{"salesforce_streaming": map[string]any{
			"org_url":     "https://acme.my.salesforce.com",
			"api_version": "64.0",
			"auth": map[string]any{
				"grant_type":    "client_credentials",
				"client_id":     harness.EmulatorClientID,
				"client_secret": harness.EmulatorClientSecret,
			},
			"channels":         []string{"/event/Order__e"},
			"checkpoint_cache": "replay_ids",
		}},
		"output": map[string]any{"drop": map[string]any{}},
	}
}

// TestLintNamesFieldAndFix: a config error is caught by `benthos lint` with a
// message that names the field and says how to fix it.
func TestLintNamesFieldAndFix(t *testing.T) {
	requireBinaries(t)
	tests := []struct {
		name   string
		mutate func(in map[string]any)
		want   []string // every one appears in the lint output; none: lints clean
	}{
		{"valid", func(map[string]any) {}, nil},
		{"api_version below 37.0", func(in map[string]any) { in["api_version"] = "30.0" }, []string{"api_version", "30.0", `"64.0"`}},
		{"channel without its kind prefix", func(in map[string]any) { in["channels"] = []string{"Order__e"} },
			[]string{"channels", `"Order__e"`, "/event/Order__e"}},
		{"grant without its secret", func(in map[string]any) { delete(in["auth"].(map[string]any), "client_secret") },
			[]string{"auth.client_secret", "client_credentials"}},
		{"unknown invalid-replay policy", func(in map[string]any) { in["on_invalid_replay_id"] = "oldest" },
			[]string{"on_invalid_replay_id", "oldest", "earliest"}},
		{"filter on a platform event", func(in map[string]any) { in["channels"] = []string{"/event/Order__e?Status__c=Open"} },
			[]string{"channels", "/event/Order__e?Status__c=Open", "/topic/"}},
		// Cases of input/agreement_test.go's table through the real binary.
		{"org_url with a user name and password", func(in map[string]any) { in["org_url"] = "https://user:pw@acme.my.salesforce.com" },
			[]string{"org_url must not contain a user name or password"}},
		{"long_interval below its floor", func(in map[string]any) { in["backoff"] = map[string]any{"long_interval": "1s"} },
			[]string{"backoff.long_interval", "floor of 2s"}},
		{"checkpoint_cache_key leaving the directory", func(in map[string]any) { in["checkpoint_cache_key"] = "../x" },
			[]string{"checkpoint_cache_key", "not a safe key prefix"}},
	}
	resources := `{"cache_resources": [{"label": "replay_ids", "memory": {}}]}`
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			conf := lintBase()
			test.mutate(conf["input"].(map[string]any)["salesforce_streaming"].(map[string]any))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "resources.yaml"), []byte(resources), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.yaml"), []byte(toYAML(t, conf)), 0o600))
			res := runBenthos(t, dir, nil, "lint", "-r", "resources.yaml", "pipeline.yaml")
			if test.want == nil {
				assert.Equal(t, 0, res.ExitCode, "%s", res)
				return
			}
			assert.NotEqual(t, 0, res.ExitCode, "lint fails: %s", res)
			for _, w := range test.want {
				assert.Contains(t, res.Output(), w, "the lint message names the field and the fix")
			}
			t.Logf("lint says: %s", strings.TrimSpace(res.Output()))
		})
	}
}

// TestEchoHidesSecrets is the first half of acceptance criterion (f):
// `benthos echo` shows the config without any secret, written inline or
// through an environment variable.
func TestEchoHidesSecrets(t *testing.T) {
	requireBinaries(t)
	t.Parallel()
	dir := t.TempDir()
	secrets := map[string]string{
		"client_secret": "e2e-secret-client-3f9a",
		"password":      "e2e-secret-password-71c2",
		"refresh_token": "e2e-secret-refresh-token-a0d4",
		"private_key":   "-----BEGIN RSA PRIVATE KEY-----\ne2e-secret-private-key-5be8\n-----END RSA PRIVATE KEY-----\n",
	}
	const envSecret = "e2e-secret-from-env-c6e1"
	conf := lintBase()
	auth := conf["input"].(map[string]any)["salesforce_streaming"].(map[string]any)["auth"].(map[string]any)
	auth["grant_type"] = "password"
	auth["username"] = "integration@acme.example"
	for k, v := range secrets {
		auth[k] = v
	}
	auth["refresh_token"] = "${E2E_SF_REFRESH_TOKEN}" // resolved by echo before printing
	require.NoError(t, os.WriteFile(filepath.Join(dir, "resources.yaml"), []byte(`{"cache_resources": [{"label": "replay_ids", "memory": {}}]}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pipeline.yaml"), []byte(toYAML(t, conf)), 0o600))

	res := runBenthos(t, dir, []string{"E2E_SF_REFRESH_TOKEN=" + envSecret}, "-r", "resources.yaml", "-c", "pipeline.yaml", "echo")
	require.Equal(t, 0, res.ExitCode, "%s", res)
	out := res.Output()
	assert.Contains(t, out, "salesforce_streaming", "echo shows the input")
	assert.Contains(t, out, "integration@acme.example", "echo shows what is not secret")
	for field, secret := range secrets {
		for _, part := range strings.Split(secret, "\n") {
			if strings.Contains(part, "e2e-secret") {
				assert.NotContains(t, out, part, "echo shows no %s", field)
			}
		}
	}
	assert.NotContains(t, out, envSecret, "echo shows no secret taken from the environment")
}

// TestListInputs is the second half of acceptance criterion (f): the
// distribution lists the input.
func TestListInputs(t *testing.T) {
	requireBinaries(t)
	t.Parallel()
	res := runBenthos(t, t.TempDir(), nil, "list", "inputs")
	require.Equal(t, 0, res.ExitCode, "%s", res)
	assert.Regexp(t, `(?m)^\s*-\s*salesforce_streaming\s*$`, res.Stdout)
}
