package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// snapshotBinaries copies bin/benthos and bin/sfemu into dir/bin and points
// the harness there, so that every run of a soak uses the same binaries even
// when someone rebuilds bin/ meanwhile (a rebuild can leave a half-written
// file for a moment, and a restart then would fail to start).
func snapshotBinaries(dir string) error {
	binDir := filepath.Join(dir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", binDir, err)
	}
	for _, name := range []string{harness.BenthosBinary, harness.EmulatorBinary} {
		src, err := harness.Binary(name)
		if err != nil {
			return err
		}
		if err := copyFile(src, filepath.Join(binDir, name)); err != nil {
			return fmt.Errorf("copying %s: %w", name, err)
		}
	}
	return os.Setenv(harness.BinEnv, binDir)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
