package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// forbiddenModule is Redpanda Connect as a Go module: not open-source licensed
// as a whole, and kept out of this distribution (docs/development.md, "What
// the binary bundles").
const forbiddenModule = "github.com/redpanda-data/connect"

// moduleRoot is the repository root, two levels up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

// goCmd runs the go command in the module root, or skips when there is none.
func goCmd(t *testing.T, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH; this test asks it about the module graph")
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = moduleRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

func TestConnectIsNotInGoModOrGoSum(t *testing.T) {
	for _, name := range []string{"go.mod", "go.sum"} {
		f, err := os.Open(filepath.Join(moduleRoot(t), name))
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			assert.NotContains(t, sc.Text(), forbiddenModule, "%s line %d", name, n)
		}
		require.NoError(t, sc.Err())
		require.NoError(t, f.Close())
	}
}

func TestConnectIsNotNeeded(t *testing.T) {
	out := goCmd(t, "mod", "why", "-m", forbiddenModule+"/v4")
	assert.Contains(t, out, "main module does not need module "+forbiddenModule+"/v4")
}

// No package of the build graph, tests included, comes from Connect, under
// whatever major version.
func TestNoPackageFromConnect(t *testing.T) {
	out := goCmd(t, "list", "-deps", "-test", "./...")
	pkgs := strings.Fields(out)
	require.NotEmpty(t, pkgs)
	assert.Contains(t, pkgs, "github.com/redpanda-data/benthos/v4/public/service", "the listing is the real build graph")
	for _, p := range pkgs {
		assert.False(t, strings.HasPrefix(p, forbiddenModule), "package %s", p)
	}
}
