package refdoc

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarkdownListsEveryDocumentedField(t *testing.T) {
	md, err := Markdown()
	require.NoError(t, err)
	for _, field := range []string{
		"`org_url`", "`api_version`", "`auth.grant_type`", "`auth.client_secret`", "`auth.private_key_file`",
		"`channels`", "`replay_preset`", "`initial_replay_ids`", "`on_invalid_replay_id`", "`checkpoint_cache`",
		"`checkpoint_cache_key`", "`checkpoint_limit`", "`auto_replay_nacks`", "`tls`", "`proxy_url`",
	} {
		assert.Contains(t, string(md), "| "+field+" |", "the reference must list %s", field)
	}
	assert.Contains(t, string(md), "**Secret**")
}

func TestSplice(t *testing.T) {
	doc := []byte("intro\n" + BeginMarker + "\nold\n" + EndMarker + "\noutro\n")
	out, err := Splice(doc, []byte("new"))
	require.NoError(t, err)
	assert.Equal(t, "intro\n"+BeginMarker+"\n\nnew\n"+EndMarker+"\noutro\n", string(out))

	_, err = Splice([]byte("no markers"), []byte("new"))
	assert.ErrorIs(t, err, ErrNoMarkers)
}

// The published reference must be what the spec says today.
func TestReferenceIsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "..", "..", filepath.FromSlash(Path))
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	md, err := Markdown()
	require.NoError(t, err)
	want, err := Splice(doc, md)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(doc), "%s is stale: run `make docs`", Path)
}
