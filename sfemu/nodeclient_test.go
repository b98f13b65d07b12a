package sfemu_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// requireNodeClient returns the node binary for a Node.js client test whose packages are pinned in
// dir/package.json. It fails under CI and skips elsewhere, naming the reason, when node or the pinned versions
// are missing.
func requireNodeClient(t *testing.T, dir, installHint string, modules ...string) string {
	t.Helper()
	problem := ""
	node, err := exec.LookPath("node")
	if err != nil {
		problem = "node (Node.js 20+) is not on PATH"
	} else {
		problem = checkNodeModules(dir, modules...)
	}
	if problem == "" {
		return node
	}
	msg := problem + "; " + installHint
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// checkNodeModules reports ("" when fine) whether node_modules holds the versions package.json pins, so that a
// stale local install is not mistaken for the pinned client.
func checkNodeModules(dir string, modules ...string) string {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return fmt.Sprintf("reading package.json: %v", err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return fmt.Sprintf("decoding package.json: %v", err)
	}
	for _, name := range modules {
		want := pkg.Dependencies[name]
		if want == "" {
			return "package.json does not pin " + name
		}
		var installed struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil {
			return fmt.Sprintf("%s/node_modules/%s is missing", dir, name)
		}
		if err := json.Unmarshal(b, &installed); err != nil || installed.Version != want {
			return fmt.Sprintf("%s/node_modules/%s is version %q, package.json pins %q", dir, name, installed.Version, want)
		}
	}
	return ""
}
