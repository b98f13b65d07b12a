package harness

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Emulator defaults (docs/emulator.md): the credentials a bare sfemu accepts.
const (
	EmulatorClientID     = "sfemu-client-id"
	EmulatorClientSecret = "sfemu-client-secret"
	EmulatorUsername     = "sfemu@example.com"
	EmulatorPassword     = "sfemu-password"
	EmulatorRefreshToken = "sfemu-refresh-token"
)

// emulatorReadyPrefix starts the one line sfemu prints on stdout when it
// listens.
const emulatorReadyPrefix = "sfemu listening on "

// DefaultReadyTimeout bounds waiting for a started process to be ready.
const DefaultReadyTimeout = 15 * time.Second

// EmulatorConfig is the command line of one sfemu. Zero fields keep the
// emulator's defaults.
type EmulatorConfig struct {
	Dir             string        // required: working directory and logs
	Name            string        // log file name; default "sfemu"
	Addr            string        // default 127.0.0.1:0 (a free port)
	Hold            time.Duration // -hold (long-poll hold)
	ReconnectWindow time.Duration // -reconnect-window
	MaxBatch        int           // -max-batch (events per connect answer)
	Seed            uint64        // -seed
	Preload         map[string]int
	Generate        map[string]float64
	Verbose         bool // -v: log every request to stderr
	// StrictChannels leaves out -any-channel: a channel nothing defined (preload, generate, publish, records)
	// gets Salesforce's answer. By default a subscribe defines its channel, as the pipeline suites expect when
	// they subscribe before the first publish.
	StrictChannels bool
	Args           []string // further flags, verbatim
	ReadyTimeout   time.Duration
}

func (c EmulatorConfig) args() []string {
	addr := c.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	args := []string{"-addr", addr}
	if c.Hold > 0 {
		args = append(args, "-hold", c.Hold.String())
	}
	if c.ReconnectWindow > 0 {
		args = append(args, "-reconnect-window", c.ReconnectWindow.String())
	}
	if c.MaxBatch > 0 {
		args = append(args, "-max-batch", strconv.Itoa(c.MaxBatch))
	}
	if c.Seed > 0 {
		args = append(args, "-seed", strconv.FormatUint(c.Seed, 10))
	}
	for ch, n := range c.Preload {
		args = append(args, "-preload", fmt.Sprintf("%s=%d", ch, n))
	}
	for ch, rate := range c.Generate {
		args = append(args, "-generate", fmt.Sprintf("%s=%g", ch, rate))
	}
	if c.Verbose {
		args = append(args, "-v")
	}
	if !c.StrictChannels {
		args = append(args, "-any-channel")
	}
	return append(args, c.Args...)
}

// Emulator is a running bin/sfemu.
type Emulator struct {
	*Client          // its control API
	URL     string   // base URL from its ready line, e.g. http://127.0.0.1:41234
	Proc    *Process // the process, for logs
}

// StartEmulator starts bin/sfemu and waits for its ready line.
func StartEmulator(ctx context.Context, cfg EmulatorConfig) (*Emulator, error) {
	path, err := Binary(EmulatorBinary)
	if err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		name = "sfemu"
	}
	proc, err := StartProcess(ProcessConfig{Name: name, Path: path, Args: cfg.args(), Dir: cfg.Dir})
	if err != nil {
		return nil, err
	}
	timeout := cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	readyCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	line, err := proc.WaitOutput(readyCtx, func(l string) bool { return strings.HasPrefix(l, emulatorReadyPrefix) })
	if err != nil {
		proc.Close()
		return nil, fmt.Errorf("starting sfemu %v: %w\n%s", cfg.args(), err, proc.Tail(20))
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, emulatorReadyPrefix))
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		proc.Close()
		return nil, fmt.Errorf("starting sfemu: ready line %q does not end in a URL", line)
	}
	return &Emulator{Client: NewClient(url), URL: url, Proc: proc}, nil
}

// Close stops the emulator (SIGINT, then SIGKILL after the grace period).
// It is idempotent.
func (e *Emulator) Close() error {
	if e.Proc.Exited() {
		return nil
	}
	err := e.Proc.Stop(DefaultStopTimeout)
	e.Proc.Close()
	return err
}
