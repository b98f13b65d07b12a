package input

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
)

// TestUnsafeCheckpointKeyRefused: a checkpoint_cache_key that could leave a
// file cache's directory or break its keys is refused by lint and by the
// constructor, each naming the field.
func TestUnsafeCheckpointKeyRefused(t *testing.T) {
	for _, key := range []string{
		`../../escape`, `a:b/c`, `/etc/passwd`, `a\u0000b`, `.hidden`, `..`, `a b`, `a\\b`, `-x`,
		strings.Repeat("k", 101),
	} {
		t.Run(key, func(t *testing.T) {
			conf := validYAML + `checkpoint_cache_key: "` + key + `"`
			lints := strings.Join(lintInput(t, conf), "\n")
			assert.Contains(t, lints, "checkpoint_cache_key", "lint names the field")
			assert.Contains(t, lints, "is not a safe key prefix")
			_, err := newTestInput(t, conf)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "checkpoint_cache_key")
			assert.Contains(t, err.Error(), "is not a safe key prefix")
		})
	}
	for _, key := range []string{"orders", "app:orders", "v1.orders-2", "A_b"} {
		conf := validYAML + `checkpoint_cache_key: "` + key + `"`
		assert.Empty(t, lintInput(t, conf), key)
		_, err := newTestInput(t, conf)
		assert.NoError(t, err, key)
	}
}

// TestAcceptedKeysStayInTheCacheDirectory: whatever prefix and channel the
// config accepts, every key it writes is a single local file name.
func TestAcceptedKeysStayInTheCacheDirectory(t *testing.T) {
	alphabet := []rune("abcXYZ019_.:-/\\ \x00%?*~$é")
	rng := rand.New(rand.NewPCG(1, 2))
	channels := []string{"/event/Order__e", "/topic/Invoices?Status__c=Open", "/u/notifications/X", "/data/ChangeEvents"}
	accepted := 0
	for range 20000 {
		runes := make([]rune, 1+rng.IntN(8))
		for k := range runes {
			runes[k] = alphabet[rng.IntN(len(alphabet))]
		}
		prefix := string(runes)
		if len(checkKeyPrefix(prefix, channels, apiStreaming)) > 0 {
			continue
		}
		accepted++
		for _, ch := range channels {
			for _, key := range []string{checkpointfmt.CheckpointKey(prefix, ch), checkpointfmt.CheckpointKey(prefix, ch) + checkpointfmt.ShadowSuffix} {
				assert.True(t, filepath.IsLocal(key), "%q is not a local path", key)
				assert.NotContains(t, key, "/")
				assert.NotContains(t, key, "\x00")
				assert.Equal(t, filepath.Base(key), key)
			}
		}
	}
	require.Positive(t, accepted, "the generator produced accepted prefixes")
}

// TestLongChannelKeyRefused: a key longer than a file name may be is refused.
func TestLongChannelKeyRefused(t *testing.T) {
	conf := strings.Replace(validYAML, "/u/Alerts", "/u/"+strings.Repeat("A", 240), 1)
	_, err := newTestInput(t, conf)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "checkpoint key of")
	assert.Contains(t, err.Error(), "shorten checkpoint_cache_key")
}

// TestBackoffFloors: waits below the floors are refused by lint and by the
// constructor, naming the field.
func TestBackoffFloors(t *testing.T) {
	tests := []struct{ backoff, field string }{
		{"{ initial_interval: 1ms }", "backoff.initial_interval"},
		{"{ initial_interval: 99ms, max_interval: 99ms }", "backoff.initial_interval"},
		{"{ long_interval: 1ns }", "backoff.long_interval"},
		{"{ long_interval: 1999ms }", "backoff.long_interval"},
		{"{ initial_interval: 100ms, max_interval: 10ms }", "backoff.max_interval"},
	}
	for _, test := range tests {
		t.Run(test.backoff, func(t *testing.T) {
			conf := validYAML + "backoff: " + test.backoff
			lints := strings.Join(lintInput(t, conf), "\n")
			assert.Contains(t, lints, test.field)
			_, err := newTestInput(t, conf)
			require.Error(t, err)
			assert.Contains(t, err.Error(), test.field)
		})
	}
	conf := validYAML + "backoff: { initial_interval: 100ms, max_interval: 100ms, long_interval: 2s }"
	assert.Empty(t, lintInput(t, conf), "the floors themselves are accepted")
	_, err := newTestInput(t, conf)
	assert.NoError(t, err)
}

// TestPrivateKeyFileMustBeASmallRegularFile: a directory, a device, a FIFO, a
// huge or empty file is refused with an error naming the field, without
// reading without bound or hanging.
func TestPrivateKeyFileMustBeASmallRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "key.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	huge := filepath.Join(dir, "huge.key")
	f, err := os.Create(huge)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(2<<20)) // sparse: 2 MB without writing them
	require.NoError(t, f.Close())
	empty := filepath.Join(dir, "empty.key")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))

	for _, test := range []struct{ name, path, want string }{
		{"dev zero", "/dev/zero", "is not a regular file"},
		{"fifo", fifo, "is not a regular file"},
		{"directory", dir, "is a directory"},
		{"huge file", huge, "bytes, above the 1048576"},
		{"empty file", empty, "is empty"},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, err := newTestInput(t, strings.Replace(validYAML, "  grant_type: client_credentials\n",
				"  grant_type: jwt_bearer\n  username: u\n  private_key_file: \""+test.path+"\"\n", 1))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "auth.private_key_file")
			assert.Contains(t, err.Error(), test.want)
		})
	}
}
