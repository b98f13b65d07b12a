package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// PostgresBinDirEnv names an environment variable holding the directory of
// PostgreSQL's server programs (initdb, pg_ctl), for systems where they are
// neither on PATH nor where Debian puts them.
const PostgresBinDirEnv = "POSTGRES_BIN_DIR"

// debianPostgresGlob matches Debian's server program directories, one per
// major version; the postgresql package does not put them on PATH.
const debianPostgresGlob = "/usr/lib/postgresql/*/bin"

// ErrPostgresNotInstalled is returned by StartPostgres when initdb and pg_ctl
// are not found; tests turn it into a skip with this reason.
var ErrPostgresNotInstalled = errors.New("PostgreSQL server programs (initdb, pg_ctl) not found on PATH, in " +
	debianPostgresGlob + " or in $" + PostgresBinDirEnv + " (apt-get install postgresql, or .ci/run installs it)")

// postgresStartAttempts bounds retries when the free port was taken between
// finding it and the server binding it.
const postgresStartAttempts = 3

// PostgresUser is the superuser of the throwaway cluster; it needs no
// password (trust authentication on loopback).
const PostgresUser = "postgres"

// Postgres is a throwaway PostgreSQL cluster on a loopback port, created with
// initdb and run with pg_ctl as an unprivileged user when the harness runs as
// root. Its data lives in a private directory removed by Close; Stop and
// Start take it down and bring it back on the same address with its data.
type Postgres struct {
	Addr string // 127.0.0.1:PORT
	DSN  string // postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable

	binDir  string
	as      *account
	root    string // private directory: data, socket, server log
	data    string
	logPath string
	keepDir string // where Close copies the server log
	port    string

	closeOnce sync.Once
}

// StartPostgres creates a cluster and starts it on a free loopback port,
// waiting until it accepts connections. dir receives the server log when the
// cluster is closed.
func StartPostgres(ctx context.Context, dir string) (*Postgres, error) {
	binDir, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	as, err := serverAccount()
	if err != nil {
		return nil, err
	}
	root, err := serverDir(as, "harness-postgres-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{
		binDir:  binDir,
		as:      as,
		root:    root,
		data:    filepath.Join(root, "data"),
		logPath: filepath.Join(root, "postgres.log"),
		keepDir: dir,
	}
	if err := p.run(ctx, "initdb", "-D", p.data, "-U", PostgresUser, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		p.Close()
		return nil, err
	}
	for attempt := 1; attempt <= postgresStartAttempts; attempt++ {
		var addr string
		if addr, err = FreeAddr(); err != nil {
			break
		}
		_, p.port, _ = net.SplitHostPort(addr)
		p.Addr = addr
		p.DSN = fmt.Sprintf("postgres://%s@%s/postgres?sslmode=disable", PostgresUser, addr)
		if err = p.Start(ctx); err == nil {
			return p, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	p.Close()
	return nil, err
}

// postgresBinDir finds the directory of initdb and pg_ctl: $POSTGRES_BIN_DIR,
// else PATH, else Debian's directory of the newest installed major version.
func postgresBinDir() (string, error) {
	if dir := os.Getenv(PostgresBinDirEnv); dir != "" {
		if !isExecutable(filepath.Join(dir, "pg_ctl")) {
			return "", fmt.Errorf("%w: %s=%s holds no pg_ctl", ErrPostgresNotInstalled, PostgresBinDirEnv, dir)
		}
		return dir, nil
	}
	if path, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(path), nil
	}
	dirs, _ := filepath.Glob(debianPostgresGlob)
	dirs = slices.DeleteFunc(dirs, func(d string) bool { return !isExecutable(filepath.Join(d, "pg_ctl")) })
	if len(dirs) == 0 {
		return "", ErrPostgresNotInstalled
	}
	slices.SortFunc(dirs, func(a, b string) int { return majorVersion(a) - majorVersion(b) })
	return dirs[len(dirs)-1], nil
}

// majorVersion reads 15 out of /usr/lib/postgresql/15/bin (0 if it is not a
// number, which sorts it first).
func majorVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// run runs one of PostgreSQL's programs as the cluster's account.
func (p *Postgres) run(ctx context.Context, program string, args ...string) error {
	path, argv := p.as.command(filepath.Join(p.binDir, program), args...)
	cmd := exec.CommandContext(ctx, path, argv...)
	cmd.Dir = p.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s%s", program, strings.Join(args, " "), err, out, p.LogTail(10))
	}
	return nil
}

// Start starts the server (again) on its address and waits until it accepts
// connections. fsync is off: the tests stop the server cleanly, and a crash
// of the machine loses the throwaway cluster anyway.
func (p *Postgres) Start(ctx context.Context) error {
	opts := strings.Join([]string{
		"-p " + p.port,
		"-c listen_addresses=127.0.0.1",
		"-c unix_socket_directories=" + p.root,
		"-c fsync=off",
		"-c full_page_writes=off",
		"-c synchronous_commit=off",
	}, " ")
	timeout := strconv.Itoa(int(DefaultReadyTimeout.Seconds()))
	if err := p.run(ctx, "pg_ctl", "start", "-w", "-t", timeout, "-D", p.data, "-l", p.logPath, "-o", opts); err != nil {
		return fmt.Errorf("starting postgres on %s: %w", p.Addr, err)
	}
	return nil
}

// Stop shuts the server down the way an operator does for maintenance (fast
// mode: sessions are ended, transactions in progress roll back) and waits
// for it to be gone. Start brings it back with its data.
func (p *Postgres) Stop(ctx context.Context) error {
	timeout := strconv.Itoa(int(DefaultStopTimeout.Seconds()))
	if err := p.run(ctx, "pg_ctl", "stop", "-w", "-t", timeout, "-m", "fast", "-D", p.data); err != nil {
		return fmt.Errorf("stopping postgres on %s: %w", p.Addr, err)
	}
	return nil
}

// LogTail returns the last n lines of the server log.
func (p *Postgres) LogTail(n int) string {
	return fmt.Sprintf("--- postgres log (%s), last %d lines:\n%s", p.logPath, n, lastLines(readFileString(p.logPath), n))
}

// Close stops the server if it runs (immediate mode: a throwaway cluster
// needs no clean shutdown), copies its log to the directory given at start
// and removes its data. It is idempotent.
func (p *Postgres) Close() error {
	var err error
	p.closeOnce.Do(func() {
		if _, statErr := os.Stat(filepath.Join(p.data, "postmaster.pid")); statErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), DefaultStopTimeout+killWait)
			defer cancel()
			err = p.run(ctx, "pg_ctl", "stop", "-w", "-m", "immediate", "-D", p.data)
		}
		keepLog(p.logPath, p.keepDir, "postgres.log")
		if rmErr := os.RemoveAll(p.root); rmErr != nil && err == nil {
			err = fmt.Errorf("removing the postgres cluster: %w", rmErr)
		}
	})
	return err
}
