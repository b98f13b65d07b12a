package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	// The cache and metrics of ours, whose skeletons are rendered in this
	// process (bin/benthos create makes outputs only).
	_ "github.com/salesforce-streaming/salesforce_streaming/components/prometheus"
	_ "github.com/salesforce-streaming/salesforce_streaming/components/redis"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// Our components: the outputs, cache and metrics that components/ adds to
// Benthos' own. TestOurComponentsAreListed checks bin/benthos has them all.
var (
	ourOutputs = []string{"kafka_franz", "redpanda", "sql_insert", "aws_s3", "nats_jetstream"}
	ourCaches  = []string{"redis"}
	ourMetrics = []string{"prometheus"}
)

func TestOurComponentsAreListed(t *testing.T) {
	requireBinaries(t)
	res := runBenthos(t, t.TempDir(), nil, "list", "--format", "json", "outputs", "caches", "metrics")
	require.Equal(t, 0, res.ExitCode, "%s", res)
	var listed map[string][]string
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &listed), res.Stdout)
	assert.Subset(t, listed["outputs"], ourOutputs)
	assert.Subset(t, listed["caches"], ourCaches)
	assert.Subset(t, listed["metrics"], ourMetrics)
}

// lintFile runs bin/benthos lint on path and returns the result.
func lintFile(t *testing.T, path string) harness.Result {
	t.Helper()
	return runBenthos(t, filepath.Dir(path), nil, "lint", filepath.Base(path))
}

// TestCreateSkeletonsLint: `bin/benthos create stdin//X` for each output of
// ours writes a config that bin/benthos lints clean as generated; so do the
// skeletons of our cache and metrics (every field at its default, placeholders
// as Benthos' docs render them, since create makes no caches or metrics).
func TestCreateSkeletonsLint(t *testing.T) {
	requireBinaries(t)
	dir := t.TempDir()
	for _, name := range ourOutputs {
		for _, small := range []bool{false, true} {
			args := []string{"create", "stdin//" + name}
			file := name + ".yaml"
			if small { // --small: common fields only
				args = []string{"create", "-s", "stdin//" + name}
				file = name + ".small.yaml"
			}
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				t.Parallel()
				res := runBenthos(t, dir, nil, args...)
				require.Equal(t, 0, res.ExitCode, "%s", res)
				require.Contains(t, res.Stdout, "\n  "+name+":\n", "the skeleton holds the output")
				path := filepath.Join(dir, file)
				require.NoError(t, os.WriteFile(path, []byte(res.Stdout), 0o600))
				lint := lintFile(t, path)
				assert.Equal(t, 0, lint.ExitCode, "lint of the skeleton:\n%s\n%s", lint, res.Stdout)
				assert.Empty(t, strings.TrimSpace(lint.Output()))
			})
		}
	}
	env := service.GlobalEnvironment()
	skeletons := map[string]string{}
	for _, name := range ourCaches {
		view, ok := env.GetCacheConfig(name)
		require.True(t, ok, name)
		data, err := view.TemplateData()
		require.NoError(t, err)
		skeletons["cache "+name] = "cache_resources:\n  - label: skeleton\n" + indentLines(data.AdvancedConfigYAML, "    ")
	}
	for _, name := range ourMetrics {
		view, ok := env.GetMetricsConfig(name)
		require.True(t, ok, name)
		data, err := view.TemplateData()
		require.NoError(t, err)
		skeletons["metrics "+name] = data.AdvancedConfigYAML // nested under metrics: already
	}
	for what, text := range skeletons {
		t.Run(what, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(what, " ", "_")+".yaml")
			require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
			lint := lintFile(t, path)
			assert.Equal(t, 0, lint.ExitCode, "lint of the skeleton:\n%s\n%s", lint, text)
			assert.Empty(t, strings.TrimSpace(lint.Output()))
		})
	}
}

func indentLines(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestConnectDocExamplesLint: configs written from Redpanda Connect's own
// documentation of each of our components (testdata/connect, each file says
// which page and what was filled in) lint clean with bin/benthos. A file
// named *.rejected.yaml is a Connect example that cannot apply here; its
// lint must fail naming what does not apply.
func TestConnectDocExamplesLint(t *testing.T) {
	requireBinaries(t)
	files, err := filepath.Glob(filepath.Join("testdata", "connect", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	covered := map[string]bool{}
	for _, path := range files {
		abs, err := filepath.Abs(path)
		require.NoError(t, err)
		text, err := os.ReadFile(abs)
		require.NoError(t, err)
		for _, n := range append(append(append([]string{}, ourOutputs...), ourCaches...), ourMetrics...) {
			if strings.Contains(string(text), "\n  "+n+":") || strings.Contains(string(text), "\n    "+n+":") {
				covered[n] = true
			}
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			lint := lintFile(t, abs)
			if strings.HasSuffix(path, ".rejected.yaml") {
				assert.NotEqual(t, 0, lint.ExitCode, "%s", lint)
				assert.Contains(t, lint.Output(), "field redpanda not recognised")
				return
			}
			assert.Equal(t, 0, lint.ExitCode, "%s", lint)
			assert.Empty(t, strings.TrimSpace(lint.Output()))
		})
	}
	for _, n := range append(append(append([]string{}, ourOutputs...), ourCaches...), ourMetrics...) {
		assert.True(t, covered[n], "testdata/connect has an example for %s", n)
	}
}
