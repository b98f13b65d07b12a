package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// StartRedisCluster starts one cluster-enabled redis-server that owns all
// 16384 hash slots: the smallest Redis Cluster, enough for a client in
// cluster mode (CLUSTER SLOTS, MOVED handling) to be exercised for real.
func StartRedisCluster(ctx context.Context, dir string) (*Redis, error) {
	return startRedisRole(ctx, dir, "redis-cluster", func(port, dataDir string) ([]string, error) {
		return []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dataDir,
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dataDir, "nodes.conf")}, nil
	}, func(r *Redis) bool {
		if _, err := r.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil && !strings.Contains(err.Error(), "already busy") {
			return false
		}
		info, err := r.Do(ctx, "CLUSTER", "INFO")
		return err == nil && strings.Contains(info, "cluster_state:ok")
	})
}

// StartRedisSentinel starts a redis-server in sentinel mode watching the
// primary at masterAddr under the group name master, and waits until the
// sentinel knows the primary's address.
func StartRedisSentinel(ctx context.Context, dir, master, masterAddr string) (*Redis, error) {
	host, mport, err := net.SplitHostPort(masterAddr)
	if err != nil {
		return nil, fmt.Errorf("starting a sentinel for %q: %w", masterAddr, err)
	}
	return startRedisRole(ctx, dir, "redis-sentinel", func(port, dataDir string) ([]string, error) {
		// A sentinel rewrites its config file, so it gets one of its own.
		conf := filepath.Join(dataDir, "sentinel.conf")
		body := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s %s 1\n", port, dataDir, master, host, mport)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return nil, err
		}
		return []string{conf, "--sentinel"}, nil
	}, func(r *Redis) bool {
		reply, err := r.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", master)
		return err == nil && strings.Contains(reply, mport)
	})
}

// startRedisRole starts redis-server with the arguments args returns for a
// free port, and waits until ready says so.
func startRedisRole(ctx context.Context, dir, name string, args func(port, dataDir string) ([]string, error), ready func(*Redis) bool) (*Redis, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrRedisNotInstalled
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, name+"-data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dataDir, err)
	}
	argv, err := args(port, dataDir)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	proc, err := StartProcess(ProcessConfig{Name: name, Path: path, Args: argv, Dir: dir})
	if err != nil {
		return nil, err
	}
	r := &Redis{Addr: addr, URL: "redis://" + addr, Proc: proc}
	readyCtx, cancel := context.WithTimeout(ctx, DefaultReadyTimeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for !ready(r) {
		if proc.Exited() {
			return nil, fmt.Errorf("starting %s on %s: it exited (%v)\n%s", name, addr, proc.ExitErr(), proc.Tail(10))
		}
		select {
		case <-readyCtx.Done():
			proc.Close()
			return nil, fmt.Errorf("starting %s on %s: not ready: %w\n%s", name, addr, readyCtx.Err(), proc.Tail(10))
		case <-ticker.C:
		}
	}
	return r, nil
}
