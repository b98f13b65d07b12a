package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrMariaDBNotInstalled is returned by StartMariaDB when mariadbd or
// mariadb-install-db is missing; tests turn it into a skip with this reason.
var ErrMariaDBNotInstalled = errors.New("MariaDB server programs (mariadbd, mariadb-install-db) not found " +
	"(apt-get install mariadb-server, or .ci/run installs it)")

// mariadbSbin is where Debian installs mariadbd, which is not on a normal
// user's PATH.
const mariadbSbin = "/usr/sbin"

// mariadbStartAttempts bounds retries when the free port was taken between
// finding it and the server binding it.
const mariadbStartAttempts = 3

// MariaDBUser is the account of the throwaway server: root, without a
// password, from 127.0.0.1 (what mariadb-install-db creates).
const MariaDBUser = "root"

// MariaDB is a throwaway mariadbd on a loopback port, run as an unprivileged
// user when the harness runs as root. Its data lives in a private directory
// removed by Close; Stop and Start take it down and bring it back on the same
// address with its data.
type MariaDB struct {
	Addr string // 127.0.0.1:PORT
	// DSN is for github.com/go-sql-driver/mysql: root@tcp(127.0.0.1:PORT)/.
	// Append a database name and parameters as needed.
	DSN string

	mu   sync.Mutex
	proc *Process // the last server started, running or not

	server  string
	as      *account
	root    string // private directory: data, socket, pid file
	logDir  string // the caller's directory, for the server's output
	port    string
	starts  atomic.Int64
	closeMu sync.Once
}

// StartMariaDB initializes a data directory and starts mariadbd on a free
// loopback port, waiting until it greets clients. dir holds its output.
func StartMariaDB(ctx context.Context, dir string) (*MariaDB, error) {
	server, err := lookPathOr("mariadbd", mariadbSbin)
	if err != nil {
		return nil, ErrMariaDBNotInstalled
	}
	installDB, err := lookPathOr("mariadb-install-db", mariadbSbin)
	if err != nil {
		return nil, ErrMariaDBNotInstalled
	}
	as, err := serverAccount()
	if err != nil {
		return nil, err
	}
	root, err := serverDir(as, "harness-mariadb-")
	if err != nil {
		return nil, err
	}
	m := &MariaDB{server: server, as: as, root: root, logDir: dir}
	path, args := as.command(installDB, "--no-defaults", "--datadir="+m.dataDir(),
		"--auth-root-authentication-method=normal", "--skip-test-db")
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		m.Close()
		return nil, fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
	}
	for attempt := 1; attempt <= mariadbStartAttempts; attempt++ {
		var addr string
		if addr, err = FreeAddr(); err != nil {
			break
		}
		_, m.port, _ = net.SplitHostPort(addr)
		m.Addr = addr
		m.DSN = fmt.Sprintf("%s@tcp(%s)/", MariaDBUser, addr)
		if err = m.Start(ctx); err == nil {
			return m, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	m.Close()
	return nil, err
}

// lookPathOr finds a program on PATH or in dir.
func lookPathOr(name, dir string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	path := filepath.Join(dir, name)
	if !isExecutable(path) {
		return "", fmt.Errorf("%s not found", name)
	}
	return path, nil
}

func (m *MariaDB) dataDir() string { return filepath.Join(m.root, "data") }

// Start starts mariadbd (again) on its address and waits until it greets a
// client. Durability is relaxed (the log is flushed once a second): the
// tests stop the server cleanly.
func (m *MariaDB) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc != nil && !m.proc.Exited() {
		return fmt.Errorf("starting mariadb on %s: it is running", m.Addr)
	}
	path, args := m.as.command(m.server,
		"--no-defaults",
		"--datadir="+m.dataDir(),
		"--port="+m.port,
		"--bind-address=127.0.0.1",
		"--socket="+filepath.Join(m.root, "mariadbd.sock"),
		"--pid-file="+filepath.Join(m.root, "mariadbd.pid"),
		"--skip-name-resolve",
		"--skip-log-bin",
		"--innodb-buffer-pool-size=32M",
		"--innodb-flush-log-at-trx-commit=2",
	)
	proc, err := StartProcess(ProcessConfig{
		Name: fmt.Sprintf("mariadbd-%d", m.starts.Add(1)),
		Path: path,
		Args: args,
		Dir:  m.logDir,
	})
	if err != nil {
		return err
	}
	if err := waitGreeting(ctx, m.Addr, proc); err != nil {
		proc.Close()
		return fmt.Errorf("starting mariadb on %s: %w\n%s", m.Addr, err, proc.Tail(10))
	}
	m.proc = proc
	return nil
}

// waitGreeting waits until a server speaking the MySQL protocol on addr
// sends its handshake (protocol version 10), which it does once it accepts
// clients.
func waitGreeting(ctx context.Context, addr string, proc *Process) error {
	readyCtx, cancel := context.WithTimeout(ctx, DefaultReadyTimeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var lastErr error
	for {
		if lastErr = greeting(readyCtx, addr); lastErr == nil {
			return nil
		}
		if proc.Exited() {
			return fmt.Errorf("it exited (%v)", proc.ExitErr())
		}
		select {
		case <-readyCtx.Done():
			return fmt.Errorf("not ready: %w (last error %v)", readyCtx.Err(), lastErr)
		case <-ticker.C:
		}
	}
}

func greeting(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(controlTimeout))
	// A packet: 3 bytes length, 1 byte sequence, then the payload, whose
	// first byte is the protocol version (10) or 0xff for an error.
	head := make([]byte, 5)
	if _, err := io.ReadFull(conn, head); err != nil {
		return fmt.Errorf("reading the handshake: %w", err)
	}
	if head[4] != 10 {
		return fmt.Errorf("handshake starts with %#x, not protocol version 10", head[4])
	}
	return nil
}

// Stop shuts mariadbd down cleanly (SIGTERM; it ignores SIGINT) and waits up
// to timeout for it to exit. Start brings it back with its data.
func (m *MariaDB) Stop(timeout time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil || m.proc.Exited() {
		return fmt.Errorf("stopping mariadb on %s: it is not running", m.Addr)
	}
	proc := m.proc
	if err := syscall.Kill(proc.PID(), syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping mariadb on %s: %w", m.Addr, err)
	}
	if err := proc.Wait(timeout); err != nil {
		proc.Close()
		return fmt.Errorf("stopping mariadb on %s: %w\n%s", m.Addr, err, proc.Tail(10))
	}
	return nil
}

// Tail returns the last n lines of the running (or last) server's output.
func (m *MariaDB) Tail(n int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return "--- mariadbd: never started\n"
	}
	return m.proc.Tail(n)
}

// Close kills the server if it runs and removes its data. It is idempotent.
func (m *MariaDB) Close() error {
	var err error
	m.closeMu.Do(func() {
		m.mu.Lock()
		if m.proc != nil {
			err = m.proc.Close()
		}
		m.mu.Unlock()
		if rmErr := os.RemoveAll(m.root); rmErr != nil && err == nil {
			err = fmt.Errorf("removing the mariadb data: %w", rmErr)
		}
	})
	return err
}
