package sfauth

import (
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blockingFS reports name as a small regular file, then never answers Open:
// a hung mount, or a file swapped for a FIFO after the check.
type blockingFS struct {
	fstest.MapFS
	release chan struct{}
}

func (b blockingFS) Open(name string) (fs.File, error) {
	<-b.release
	return b.MapFS.Open(name)
}

func (b blockingFS) Stat(name string) (fs.FileInfo, error) { return fs.Stat(b.MapFS, name) }

func TestReadKeyFile(t *testing.T) {
	fsys := fstest.MapFS{
		"key.pem": {Data: []byte("-----BEGIN RSA PRIVATE KEY-----\n...")},
		"big.pem": {Data: make([]byte, MaxKeyFileBytes+1)},
		"dir":     {Mode: fs.ModeDir},
		"pipe":    {Mode: fs.ModeNamedPipe},
	}
	raw, err := ReadKeyFile(fsys, "key.pem", "auth.private_key_file")
	require.NoError(t, err)
	assert.Equal(t, fsys["key.pem"].Data, raw)

	for name, want := range map[string]string{
		"big.pem": "above the 1048576",
		"dir":     "is a directory",
		"pipe":    "is not a regular file",
		"missing": "reading auth.private_key_file",
	} {
		_, err := ReadKeyFile(fsys, name, "auth.private_key_file")
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "auth.private_key_file", name)
		assert.Contains(t, err.Error(), want, name)
	}

	t.Run("a read that never answers times out", func(t *testing.T) {
		blocked := blockingFS{MapFS: fsys, release: make(chan struct{})}
		defer close(blocked.release) // lets the abandoned reader end
		_, err := readKeyFile(blocked, "key.pem", "auth.private_key_file", 50*time.Millisecond)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "auth.private_key_file")
		assert.Contains(t, err.Error(), "no answer within")
	})
}
