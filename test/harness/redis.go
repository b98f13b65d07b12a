package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrRedisNotInstalled is returned by StartRedis when no redis-server is on
// PATH; tests turn it into a skip with this reason.
var ErrRedisNotInstalled = errors.New("redis-server not installed (apt-get install redis-server, or .ci/run installs it)")

// redisStartAttempts bounds retries when the free port was taken between
// finding it and redis-server binding it.
const redisStartAttempts = 3

// Redis is a throwaway redis-server on a loopback port, keeping nothing on disk
// beyond its temp dir.
type Redis struct {
	Addr string   // 127.0.0.1:PORT
	URL  string   // redis://127.0.0.1:PORT
	Proc *Process // the process, for logs
}

// StartRedis starts redis-server in dir (which holds its logs) and waits until
// it answers PING.
func StartRedis(ctx context.Context, dir string) (*Redis, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrRedisNotInstalled
	}
	var lastErr error
	for attempt := 1; attempt <= redisStartAttempts; attempt++ {
		r, err := startRedisOnce(ctx, path, dir, attempt)
		if err == nil {
			return r, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startRedisOnce(ctx context.Context, path, dir string, attempt int) (*Redis, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	return startRedisServer(ctx, path, dir, addr, fmt.Sprintf("redis-%d", attempt))
}

// startRedisServer starts redis-server on addr with its data directory under
// dir (loading a dump left there) and waits until it serves its data: PING
// answers while a dump is still loading (-LOADING), DBSIZE does not.
func startRedisServer(ctx context.Context, path, dir, addr, name string) (*Redis, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("starting redis-server at %q: %w", addr, err)
	}
	dataDir := filepath.Join(dir, "redis-data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dataDir, err)
	}
	proc, err := StartProcess(ProcessConfig{
		Name: name,
		Path: path,
		Args: []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dataDir},
		Dir:  dir,
	})
	if err != nil {
		return nil, err
	}
	r := &Redis{Addr: addr, URL: "redis://" + addr, Proc: proc}
	readyCtx, cancel := context.WithTimeout(ctx, DefaultReadyTimeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		reply, err := r.Do(readyCtx, "DBSIZE")
		if err == nil && reply != "" {
			return r, nil
		}
		if proc.Exited() {
			return nil, fmt.Errorf("starting redis-server on %s: it exited (%v)\n%s", addr, proc.ExitErr(), proc.Tail(10))
		}
		select {
		case <-readyCtx.Done():
			proc.Close()
			return nil, fmt.Errorf("starting redis-server on %s: not ready: %w (last error %v)\n%s", addr, readyCtx.Err(), err, proc.Tail(10))
		case <-ticker.C:
		}
	}
}

// Get returns the value of key; ok is false when the key does not exist.
func (r *Redis) Get(ctx context.Context, key string) (value string, ok bool, err error) {
	reply, err := r.Do(ctx, "GET", key)
	if errors.Is(err, errRedisNil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return reply, true, nil
}

// Close shuts redis-server down. It is idempotent.
func (r *Redis) Close() error {
	if r.Proc.Exited() {
		return nil
	}
	err := r.Proc.Stop(DefaultStopTimeout)
	r.Proc.Close()
	return err
}

var errRedisNil = errors.New("redis: nil reply")

// Do sends one command and returns a simple, bulk or integer reply as text
// (array replies are joined with newlines). It speaks just enough RESP for
// PING, GET, SET, DEL and KEYS, to keep the harness free of a client library.
func (r *Redis) Do(ctx context.Context, args ...string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return "", fmt.Errorf("connecting to redis %s: %w", r.Addr, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(controlTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", fmt.Errorf("sending %s to redis: %w", args[0], err)
	}
	reply, err := readRESP(bufio.NewReader(conn))
	if err != nil {
		return "", fmt.Errorf("redis %s: %w", args[0], err)
	}
	return reply, nil
}

func readRESP(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reading the reply: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("error reply: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "", errRedisNil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", fmt.Errorf("reading a bulk reply: %w", err)
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad array length %q", line)
		}
		items := make([]string, 0, max(n, 0))
		for range n {
			item, err := readRESP(br)
			if err != nil && !errors.Is(err, errRedisNil) {
				return "", err
			}
			items = append(items, item)
		}
		return strings.Join(items, "\n"), nil
	}
	return "", fmt.Errorf("unknown reply %q", line)
}
