package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// BinEnv names the environment variable holding the directory of the built
// binaries; `make test` sets it to the absolute path of bin/.
const BinEnv = "SALESFORCE_STREAMING_BIN"

// modulePath identifies this repository's go.mod when looking for its root.
const modulePath = "github.com/salesforce-streaming/salesforce_streaming"

// Names of the binaries `make build` produces.
const (
	BenthosBinary  = "benthos"
	EmulatorBinary = "sfemu"
)

// ErrBinaryMissing is wrapped by Binary when a binary is not built.
var ErrBinaryMissing = errors.New("binary not built")

// BinDir returns the directory of the built binaries: $SALESFORCE_STREAMING_BIN
// when set, else <repository root>/bin.
func BinDir() (string, error) {
	if dir := os.Getenv(BinEnv); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("resolving %s=%q: %w", BinEnv, dir, err)
		}
		return abs, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("locating the binaries (set %s or run from the repository): %w", BinEnv, err)
	}
	return filepath.Join(root, "bin"), nil
}

// Binary returns the absolute path of a built binary (BenthosBinary,
// EmulatorBinary), or an error wrapping ErrBinaryMissing that says how to
// build it.
func Binary(name string) (string, error) {
	dir, err := BinDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%w: %s does not exist: run `make build` (or set %s to the directory holding %s)", ErrBinaryMissing, path, BinEnv, name)
	case err != nil:
		return "", fmt.Errorf("inspecting %s: %w", path, err)
	case info.IsDir() || info.Mode()&0o111 == 0:
		return "", fmt.Errorf("%w: %s is not an executable file: run `make build`", ErrBinaryMissing, path)
	}
	return path, nil
}

// RepoRoot returns the directory of this repository's go.mod, searched from
// the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("reading the working directory: %w", err)
	}
	for {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

func isModuleRoot(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == modulePath
		}
	}
	return false
}
