package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// BenthosConfig is one run of bin/benthos. Configs are YAML texts; they are
// written into Dir as <Name>.pipeline.yaml, <Name>.resources-N.yaml and so
// on, so a failed run can be rerun by hand from the same files.
type BenthosConfig struct {
	Dir       string   // required: working directory, config files and logs
	Name      string   // file name prefix; default "benthos"
	Pipeline  string   // -c config (ignored in streams mode)
	Resources []string // one -r file each
	Env       []string // KEY=VALUE added to the environment
	Args      []string // further flags after the subcommand flags

	// Streams mode (`benthos streams`) when Streams is not nil: each entry is
	// a stream config whose id is the map key; Observability is the -o root
	// config (http, logger, metrics).
	Streams       map[string]string
	Observability string
}

// StartBenthos writes the config files and starts bin/benthos on them:
// `benthos -r R... -c P` or `benthos streams -r R... -o O S...`. Readiness is
// the caller's business (the emulator's state, the output, the HTTP API).
func StartBenthos(cfg BenthosConfig) (*Process, error) {
	path, err := Binary(BenthosBinary)
	if err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, errors.New("starting benthos: BenthosConfig.Dir is required")
	}
	if strings.Contains(cfg.Dir, ",") {
		// Benthos reads -r and -c values as comma-separated lists.
		return nil, fmt.Errorf("starting benthos: config directory %q holds a comma, which benthos takes as a path separator", cfg.Dir)
	}
	name := cfg.Name
	if name == "" {
		name = "benthos"
	}
	write := func(suffix, text string) (string, error) {
		file := filepath.Join(cfg.Dir, name+"."+suffix+".yaml")
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			return "", fmt.Errorf("writing %s: %w", file, err)
		}
		return file, nil
	}
	var args []string
	if cfg.Streams != nil {
		args = append(args, "streams")
	}
	for i, r := range cfg.Resources {
		file, err := write(fmt.Sprintf("resources-%d", i+1), r)
		if err != nil {
			return nil, err
		}
		args = append(args, "-r", file)
	}
	if cfg.Streams != nil {
		if cfg.Observability != "" {
			file, err := write("observability", cfg.Observability)
			if err != nil {
				return nil, err
			}
			args = append(args, "-o", file)
		}
		args = append(args, cfg.Args...)
		ids := make([]string, 0, len(cfg.Streams))
		for id := range cfg.Streams {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		// Benthos names a stream after its file name without extension, so
		// stream files get a directory of their own.
		streamDir := filepath.Join(cfg.Dir, name+".streams")
		if err := os.MkdirAll(streamDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", streamDir, err)
		}
		for _, id := range ids {
			file := filepath.Join(streamDir, id+".yaml")
			if err := os.WriteFile(file, []byte(cfg.Streams[id]), 0o600); err != nil {
				return nil, fmt.Errorf("writing stream %s: %w", id, err)
			}
			args = append(args, file)
		}
	} else {
		file, err := write("pipeline", cfg.Pipeline)
		if err != nil {
			return nil, err
		}
		args = append(args, "-c", file)
		args = append(args, cfg.Args...)
	}
	return StartProcess(ProcessConfig{Name: name, Path: path, Args: args, Dir: cfg.Dir, Env: cfg.Env})
}

// Result is the outcome of a command run to completion.
type Result struct {
	Args     []string
	Stdout   string
	Stderr   string
	ExitCode int // -1 when it did not exit normally
}

// Output returns stdout followed by stderr.
func (r Result) Output() string { return r.Stdout + r.Stderr }

// String describes the run for failure messages.
func (r Result) String() string {
	return fmt.Sprintf("benthos %q exited %d\n--- stdout:\n%s--- stderr:\n%s", r.Args, r.ExitCode, r.Stdout, r.Stderr)
}

// RunBenthos runs a one-shot bin/benthos command (lint, test, echo, list, ...)
// in dir and returns its output and exit code. A non-zero exit is a Result,
// not an error; errors are failures to run it at all or ctx ending.
func RunBenthos(ctx context.Context, dir string, env []string, args ...string) (Result, error) {
	path, err := Binary(BenthosBinary)
	if err != nil {
		return Result{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = killWait
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	res := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: -1}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("running benthos %q: %w", args, ctx.Err())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, fmt.Errorf("running benthos %q: %w", args, err)
	}
	return res, nil
}
