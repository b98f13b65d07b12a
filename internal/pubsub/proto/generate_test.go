package eventbusv1

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGeneratedCodeUpToDate regenerates the code into a temporary directory and compares it with the committed
// files, so a change to the .proto cannot be committed without its code. It needs protoc (Debian package
// protobuf-compiler) and builds the pinned plugins, so it skips without protoc and in -short mode.
func TestGeneratedCodeUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: regenerating needs protoc and builds the protoc plugins")
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc is not installed (Debian: apt-get install -y protobuf-compiler)")
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "gen.sh", out)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "gen.sh: %s", b)
	for _, f := range []string{"pubsub_api.pb.go", "pubsub_api_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(out, f))
		require.NoError(t, err)
		got, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "%s is stale: run go generate ./internal/pubsub/proto/", f)
	}
}
