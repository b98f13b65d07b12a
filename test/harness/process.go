package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds of process control. Stop escalates to SIGKILL after its grace
// period; a killed process is reaped within killWait or reported stuck.
const (
	DefaultStopTimeout = 10 * time.Second
	killWait           = 5 * time.Second
	pollInterval       = 50 * time.Millisecond
)

// ProcessConfig describes a process to start.
type ProcessConfig struct {
	Name string   // short name for log files and errors, e.g. "benthos-run1"
	Path string   // executable
	Args []string // arguments
	Dir  string   // working directory; also where <Name>.stdout.log and <Name>.stderr.log go
	Env  []string // added to the inherited environment (KEY=VALUE)
}

// Process is a started child process whose stdout and stderr go to files.
// Its methods are safe for concurrent use.
type Process struct {
	name       string
	cmd        *exec.Cmd
	stdoutPath string
	stderrPath string

	done    chan struct{} // closed once the process was reaped
	waitErr error         // set before done is closed

	closeOnce sync.Once
}

// StartProcess starts a process with stdout and stderr captured to files in
// cfg.Dir. The process lives until Stop, Kill or Close, not bound to a context.
func StartProcess(cfg ProcessConfig) (*Process, error) {
	if cfg.Name == "" {
		cfg.Name = filepath.Base(cfg.Path)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("starting %s: ProcessConfig.Dir is required (logs go there)", cfg.Name)
	}
	p := &Process{
		name:       cfg.Name,
		stdoutPath: filepath.Join(cfg.Dir, cfg.Name+".stdout.log"),
		stderrPath: filepath.Join(cfg.Dir, cfg.Name+".stderr.log"),
		done:       make(chan struct{}),
	}
	stdout, err := os.Create(p.stdoutPath)
	if err != nil {
		return nil, fmt.Errorf("starting %s: creating its stdout log: %w", cfg.Name, err)
	}
	defer stdout.Close() // the child holds its own descriptor
	stderr, err := os.Create(p.stderrPath)
	if err != nil {
		return nil, fmt.Errorf("starting %s: creating its stderr log: %w", cfg.Name, err)
	}
	defer stderr.Close()

	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Dir = cfg.Dir
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	// Its own process group: a Ctrl-C meant for a soak program or `go test`
	// does not reach the children before Close sends them what it means to.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", cfg.Name, cfg.Path, err)
	}
	p.cmd = cmd
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Name returns the name given at start.
func (p *Process) Name() string { return p.name }

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// StdoutPath and StderrPath return the files holding the process' output.
func (p *Process) StdoutPath() string { return p.stdoutPath }
func (p *Process) StderrPath() string { return p.stderrPath }

// Done is closed once the process has exited and was reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitErr returns the error of the exit (nil for status 0); only meaningful
// once Exited.
func (p *Process) ExitErr() error {
	<-p.done
	return p.waitErr
}

// Wait waits up to timeout for the process to exit on its own and returns its
// exit error.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("waiting for %s (pid %d) to exit: still running after %v", p.name, p.PID(), timeout)
	}
}

// ExitUsage returns the CPU time (user + system) and peak RSS of a process that has exited, from the kernel's
// account at reaping (/proc holds nothing of it by then); ok is false while it runs.
func (p *Process) ExitUsage() (ps ProcStat, ok bool) {
	if !p.Exited() {
		return ProcStat{}, false
	}
	ru, isRusage := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !isRusage {
		return ProcStat{}, false
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return ProcStat{CPU: cpu, PeakRSS: ru.Maxrss * 1024}, true // Linux counts ru_maxrss in kilobytes
}

// Kill sends SIGKILL (a crash: nothing is flushed) and waits for the process
// to be reaped.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("killing %s (pid %d): not reaped %v after SIGKILL", p.name, p.PID(), killWait)
	}
}

// Stop sends SIGINT (a graceful stop) and waits up to timeout for the exit,
// then kills. It returns an error when the process had to be killed or exited
// with a failure status.
func (p *Process) Stop(timeout time.Duration) error {
	if p.Exited() {
		return p.exitError()
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("interrupting %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return p.exitError()
	case <-time.After(timeout):
	}
	if err := p.Kill(); err != nil {
		return err
	}
	return fmt.Errorf("stopping %s: no exit within %v of SIGINT, killed", p.name, timeout)
}

func (p *Process) exitError() error {
	<-p.done
	if p.waitErr != nil {
		return fmt.Errorf("%s exited: %w", p.name, p.waitErr)
	}
	return nil
}

// Close kills the process if it still runs. It is idempotent and safe to
// defer next to an explicit Stop.
func (p *Process) Close() error {
	var err error
	p.closeOnce.Do(func() { err = p.Kill() })
	return err
}

// Stdout and Stderr return what the process wrote so far.
func (p *Process) Stdout() string { return readFileString(p.stdoutPath) }
func (p *Process) Stderr() string { return readFileString(p.stderrPath) }

// Output returns stdout followed by stderr: Benthos logs to either,
// depending on its logger config.
func (p *Process) Output() string { return p.Stdout() + p.Stderr() }

// Tail returns the last n lines of stdout and of stderr, labelled, for
// failure reports.
func (p *Process) Tail(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s stdout (%s), last %d lines:\n%s", p.name, p.stdoutPath, n, lastLines(p.Stdout(), n))
	fmt.Fprintf(&b, "--- %s stderr (%s), last %d lines:\n%s", p.name, p.stderrPath, n, lastLines(p.Stderr(), n))
	return b.String()
}

// WaitOutput waits until the process' stdout or stderr has a line for which
// match is true and returns that line. It fails when ctx ends or the process
// exits without such a line.
func (p *Process) WaitOutput(ctx context.Context, match func(line string) bool) (string, error) {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		exited := p.Exited() // read before the logs: a line written before exit is seen
		for _, line := range strings.Split(p.Output(), "\n") {
			if match(line) {
				return line, nil
			}
		}
		if exited {
			return "", fmt.Errorf("waiting for output of %s: it exited (%v) without the expected line", p.name, p.waitErr)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for output of %s: %w", p.name, ctx.Err())
		case <-ticker.C:
		}
	}
}

func readFileString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := bytes.Split([]byte(s), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n"))) + "\n"
}
