package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// ConnectExampleSections returns the configuration of component name as each
// of the configs written from Redpanda Connect's documentation
// (test/e2e/testdata/connect, files named *.rejected.yaml excluded) holds
// it: YAML text by file name. The components' own tests build their
// component from each, so that what lints also starts.
func ConnectExampleSections(name string) (map[string]string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(root, "test", "e2e", "testdata", "connect", "*.yaml"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, ".rejected.yaml") {
			continue
		}
		text, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sections, err := ComponentSections(string(text), name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		for i, s := range sections {
			out[fmt.Sprintf("%s#%d", filepath.Base(f), i)] = s
		}
	}
	return out, nil
}

// ComponentSections returns the configuration of every component called
// name in a config text: under output, metrics or in cache_resources, or at
// the top level (how Benthos renders a component's config on its own).
func ComponentSections(text, name string) ([]string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, err
	}
	var found []any
	if v, ok := doc[name]; ok {
		found = append(found, v)
	}
	for _, key := range []string{"output", "metrics"} {
		if m, ok := doc[key].(map[string]any); ok {
			if v, ok := m[name]; ok {
				found = append(found, v)
			}
		}
	}
	if list, ok := doc["cache_resources"].([]any); ok {
		for _, item := range list {
			if m, ok := item.(map[string]any); ok {
				if v, ok := m[name]; ok {
					found = append(found, v)
				}
			}
		}
	}
	out := make([]string, 0, len(found))
	for _, v := range found {
		b, err := yaml.Marshal(v)
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

// CheckConnectExamplesBuild builds component name from each config written
// from Redpanda Connect's documentation, with its spec and its constructor
// (build, given the subtest), so that what bin/benthos lints also starts:
// one subtest per file.
func CheckConnectExamplesBuild(t *testing.T, name string, spec *service.ConfigSpec, build func(*testing.T, *service.ParsedConfig) error) {
	t.Helper()
	sections, err := ConnectExampleSections(name)
	require.NoError(t, err)
	require.NotEmpty(t, sections, "examples of %s", name)
	for file, section := range sections {
		t.Run(file, func(t *testing.T) {
			parsed, err := spec.ParseYAML(section, nil)
			require.NoError(t, err)
			assert.NoError(t, build(t, parsed), section)
		})
	}
}
