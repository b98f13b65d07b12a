package sql

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The configs written from Connect's documentation (which the end-to-end
// suite lints with bin/benthos) also build: lint and start-up agree. They
// run where the example's init_files pattern (./init/*.sql) finds a file.
func TestConnectExamplesBuild(t *testing.T) {
	sections, err := harness.ConnectExampleSections("sql_insert")
	require.NoError(t, err)
	require.NotEmpty(t, sections)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "init"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "init", "01.sql"), []byte("SELECT 1"), 0o600))
	t.Chdir(dir)
	for file, section := range sections {
		t.Run(file, func(t *testing.T) {
			parsed, err := spec().ParseYAML(section, nil)
			require.NoError(t, err)
			_, err = newOutput(parsed)
			assert.NoError(t, err, section)
		})
	}
}
