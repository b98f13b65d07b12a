package security

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The HTTP API (and in streams mode its CRUD) listens on loopback unless the
// config says otherwise: Benthos' own default is every interface.
func TestHTTPAddressDefaultsToLoopback(t *testing.T) {
	requireBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(conf, []byte("input: { stdin: {} }\noutput: { drop: {} }\n"), 0o600))
	res, err := harness.RunBenthos(context.Background(), dir, nil, "-c", conf, "echo")
	require.NoError(t, err)
	require.Zero(t, res.ExitCode, res.String())
	assert.Contains(t, res.Stdout, "address: 127.0.0.1:4195")
	assert.NotContains(t, res.Stdout, "0.0.0.0")
}
