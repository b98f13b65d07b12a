package harness

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"
)

// redisRestarts numbers the processes StartRedisAt starts, so that each keeps
// its own log files.
var redisRestarts atomic.Int64

// ShutdownSave stops redis-server the way a Redis with persistence goes down
// for maintenance: SHUTDOWN SAVE writes its keys to the dump in its data
// directory, which StartRedisAt loads. It waits up to timeout for the exit.
func (r *Redis) ShutdownSave(ctx context.Context, timeout time.Duration) error {
	if r.Proc.Exited() {
		return fmt.Errorf("shutting redis %s down: it is not running (%v)", r.Addr, r.Proc.ExitErr())
	}
	// A successful SHUTDOWN closes the connection without a reply, so an error
	// reading the reply is expected; only an error reply means it refused.
	if _, err := r.Do(ctx, "SHUTDOWN", "SAVE"); err != nil && !r.exitsWithin(timeout) {
		return fmt.Errorf("shutting redis %s down: %w\n%s", r.Addr, err, r.Proc.Tail(10))
	}
	if !r.exitsWithin(timeout) {
		return fmt.Errorf("shutting redis %s down: still running %v after SHUTDOWN SAVE\n%s", r.Addr, timeout, r.Proc.Tail(10))
	}
	return nil
}

func (r *Redis) exitsWithin(timeout time.Duration) bool {
	select {
	case <-r.Proc.Done():
		return true
	case <-time.After(timeout):
		return false
	}
}

// StartRedisAt starts redis-server on addr with its data directory under dir
// (as StartRedis does), loading the dump a ShutdownSave left there: the second
// half of a restart on the same address, which clients configured with that
// address reconnect to. It waits until the server answers PING.
func StartRedisAt(ctx context.Context, dir, addr string) (*Redis, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrRedisNotInstalled
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("starting redis-server at %q: %w", addr, err)
	}
	proc, err := StartProcess(ProcessConfig{
		Name: fmt.Sprintf("redis-at-%s-%d", port, redisRestarts.Add(1)),
		Path: path,
		Args: []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", filepath.Join(dir, "redis-data")},
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
		// PING answers while the dump is still loading (-LOADING), so wait for
		// a command that needs the data.
		reply, err := r.Do(readyCtx, "DBSIZE")
		if err == nil && reply != "" {
			return r, nil
		}
		if proc.Exited() {
			return nil, fmt.Errorf("starting redis-server at %s: it exited (%v)\n%s", addr, proc.ExitErr(), proc.Tail(10))
		}
		select {
		case <-readyCtx.Done():
			proc.Close()
			return nil, fmt.Errorf("starting redis-server at %s: not ready: %w (last error %v)\n%s", addr, readyCtx.Err(), err, proc.Tail(10))
		case <-ticker.C:
		}
	}
}
