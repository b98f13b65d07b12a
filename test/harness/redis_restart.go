package harness

import (
	"context"
	"fmt"
	"os/exec"
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
// address reconnect to. It waits until the server serves its data.
func StartRedisAt(ctx context.Context, dir, addr string) (*Redis, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrRedisNotInstalled
	}
	return startRedisServer(ctx, path, dir, addr, fmt.Sprintf("redis-restart-%d", redisRestarts.Add(1)))
}
