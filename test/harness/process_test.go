package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessOutputAndStop(t *testing.T) {
	p, err := StartProcess(ProcessConfig{Name: "sh", Path: "/bin/sh", Dir: t.TempDir(),
		Args: []string{"-c", `trap 'echo bye; exit 0' INT; echo ready; echo oops >&2; while :; do sleep 0.05; done`}})
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	line, err := p.WaitOutput(ctx, func(l string) bool { return l == "ready" })
	require.NoError(t, err)
	assert.Equal(t, "ready", line)
	_, err = p.WaitOutput(ctx, func(l string) bool { return l == "oops" })
	require.NoError(t, err, "stderr is captured too")

	require.NoError(t, p.Stop(5*time.Second))
	assert.True(t, p.Exited())
	assert.Contains(t, p.Stdout(), "bye", "SIGINT lets the process finish")
	assert.NoError(t, p.Close(), "Close after Stop is a no-op")
	assert.Contains(t, p.Tail(5), "oops")
}

func TestProcessKillAndStuckStop(t *testing.T) {
	p, err := StartProcess(ProcessConfig{Name: "stubborn", Path: "/bin/sh", Dir: t.TempDir(),
		Args: []string{"-c", `trap '' INT; echo up; while :; do sleep 0.05; done`}})
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = p.WaitOutput(ctx, func(l string) bool { return l == "up" })
	require.NoError(t, err)
	err = p.Stop(300 * time.Millisecond)
	require.Error(t, err, "a process ignoring SIGINT is killed and reported")
	assert.Contains(t, err.Error(), "killed")
	assert.True(t, p.Exited())
}

func TestWaitOutputEndsWithTheProcess(t *testing.T) {
	p, err := StartProcess(ProcessConfig{Name: "short", Path: "/bin/sh", Dir: t.TempDir(), Args: []string{"-c", "echo hello; exit 3"}})
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = p.WaitOutput(ctx, func(l string) bool { return l == "never" })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited")
}

func TestBinaryMissingSaysMakeBuild(t *testing.T) {
	t.Setenv(BinEnv, t.TempDir())
	_, err := Binary(BenthosBinary)
	require.ErrorIs(t, err, ErrBinaryMissing)
	assert.True(t, strings.Contains(err.Error(), "make build"), err.Error())
}

// A process that burns CPU for a while reports that CPU after it exits, and nothing before.
func TestProcessExitUsage(t *testing.T) {
	p, err := StartProcess(ProcessConfig{Name: "busy", Path: "/bin/sh", Dir: t.TempDir(),
		Args: []string{"-c", `i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done`}})
	require.NoError(t, err)
	defer p.Close()
	if !p.Exited() {
		_, ok := p.ExitUsage()
		assert.False(t, ok, "no usage while the process runs")
	}
	require.NoError(t, p.Wait(60*time.Second))
	ps, ok := p.ExitUsage()
	require.True(t, ok)
	assert.Greater(t, ps.CPU, 10*time.Millisecond, "the loop's CPU time")
	assert.Greater(t, ps.PeakRSS, int64(100<<10), "a shell's peak RSS")
}
