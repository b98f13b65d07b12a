package input

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/spec.golden.json from the spec")

// TestSpecGolden compares the input's spec, as Benthos marshals it (names,
// types, defaults, descriptions, advanced and secret flags, examples, the
// component's docs), with testdata/spec.golden.json. The lint rule is left
// out: its text is generated, and its behaviour is pinned by the lint and
// agreement tests. A deliberate change of the spec is written with
// `go test ./input/ -run TestSpecGolden -update` and reviewed in the diff.
func TestSpecGolden(t *testing.T) {
	var got []byte
	service.NewEnvironment().WalkInputs(func(name string, cv *service.ConfigView) {
		if name != "salesforce_streaming" {
			return
		}
		raw, err := cv.FormatJSON()
		require.NoError(t, err)
		var spec map[string]any
		require.NoError(t, json.Unmarshal(raw, &spec))
		config, ok := spec["config"].(map[string]any)
		require.True(t, ok, "the spec has a config object")
		require.NotEmpty(t, config["linter"], "the spec has a lint rule")
		delete(config, "linter")
		got, err = json.MarshalIndent(spec, "", "  ")
		require.NoError(t, err)
	})
	require.NotEmpty(t, got, "the input is registered")
	got = append(got, '\n')

	path := filepath.Join("testdata", "spec.golden.json")
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	if !bytes.Equal(want, got) {
		require.Equal(t, string(want), string(got), "the spec changed: review it, then run with -update")
	}
}
