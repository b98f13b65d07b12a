package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// ErrNATSNotInstalled is returned by StartNATS when no nats-server is on
// PATH; tests turn it into a skip with this reason.
var ErrNATSNotInstalled = errors.New("nats-server not installed (apt-get install nats-server, or .ci/run installs it)")

// natsStartAttempts bounds retries when the free port was taken between
// finding it and nats-server binding it.
const natsStartAttempts = 3

// natsReadyLine is what nats-server logs once it accepts clients, JetStream
// included.
const natsReadyLine = "Server is ready"

// natsStarts numbers the processes started, so that each keeps its own log
// files.
var natsStarts atomic.Int64

// NATS is a throwaway nats-server with JetStream on a loopback port, keeping
// its JetStream store under its temp dir, so that a restart on the same
// address (StartNATSAt) finds its streams and messages again.
type NATS struct {
	Addr     string   // 127.0.0.1:PORT
	URL      string   // nats://127.0.0.1:PORT
	StoreDir string   // the JetStream store (-sd)
	Proc     *Process // the process, for logs
	dir      string
	args     []string
}

// StartNATS starts nats-server with JetStream in dir (which holds its logs
// and store) on a free loopback port, with args added to its command line
// (e.g. "--user", "u", "--pass", "p", or "-c", configFile), and waits until
// it is ready.
func StartNATS(ctx context.Context, dir string, args ...string) (*NATS, error) {
	var lastErr error
	for range natsStartAttempts {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		n, err := StartNATSAt(ctx, dir, addr, args...)
		if err == nil || errors.Is(err, ErrNATSNotInstalled) {
			return n, err
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// StartNATSAt starts nats-server on addr with its store under dir (as
// StartNATS does), loading what a previous server left there: the second half
// of a restart, which clients configured with that address reconnect to.
func StartNATSAt(ctx context.Context, dir, addr string, args ...string) (*NATS, error) {
	path, err := exec.LookPath("nats-server")
	if err != nil {
		return nil, ErrNATSNotInstalled
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("starting nats-server at %q: %w", addr, err)
	}
	store := filepath.Join(dir, "nats-store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", store, err)
	}
	proc, err := StartProcess(ProcessConfig{
		Name: fmt.Sprintf("nats-%d", natsStarts.Add(1)),
		Path: path,
		Args: append([]string{"-a", host, "-p", port, "-js", "-sd", store}, args...),
		Dir:  dir,
	})
	if err != nil {
		return nil, err
	}
	readyCtx, cancel := context.WithTimeout(ctx, DefaultReadyTimeout)
	defer cancel()
	if _, err := proc.WaitOutput(readyCtx, func(line string) bool { return strings.Contains(line, natsReadyLine) }); err != nil {
		tail := proc.Tail(10)
		proc.Close()
		return nil, fmt.Errorf("starting nats-server on %s: %w\n%s", addr, err, tail)
	}
	return &NATS{Addr: addr, URL: "nats://" + addr, StoreDir: store, Proc: proc, dir: dir, args: args}, nil
}

// Restart stops the server gracefully (JetStream flushes its store) and
// starts a new one on the same address, store and arguments.
func (n *NATS) Restart(ctx context.Context) (*NATS, error) {
	if err := n.Close(); err != nil {
		return nil, fmt.Errorf("stopping nats-server %s: %w", n.Addr, err)
	}
	return StartNATSAt(ctx, n.dir, n.Addr, n.args...)
}

// Close stops nats-server gracefully (SIGINT, then SIGKILL after the grace
// period). It is idempotent.
func (n *NATS) Close() error {
	if n.Proc.Exited() {
		return nil
	}
	err := n.Proc.Stop(DefaultStopTimeout)
	n.Proc.Close()
	return err
}
