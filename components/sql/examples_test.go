package sql

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The configs written from Connect's documentation (which the end-to-end
// suite lints with bin/benthos) also build: lint and start-up agree. They
// run where the example's init_files pattern (./init/*.sql) finds a file.
func TestConnectExamplesBuild(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "init"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "init", "01.sql"), []byte("SELECT 1"), 0o600))
	harness.CheckConnectExamplesBuild(t, "sql_insert", spec(), func(t *testing.T, p *service.ParsedConfig) error {
		t.Chdir(dir)
		_, err := newOutput(p)
		return err
	})
}
