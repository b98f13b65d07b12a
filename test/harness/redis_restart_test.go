package harness

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedisRestartKeepsKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	first, err := StartRedis(ctx, dir)
	if errors.Is(err, ErrRedisNotInstalled) {
		t.Skip(err)
	}
	require.NoError(t, err)
	defer first.Close()
	_, err = first.Do(ctx, "SET", "chaos:/event/X__e", "1234")
	require.NoError(t, err)

	require.NoError(t, first.ShutdownSave(ctx, 10*time.Second))
	assert.True(t, first.Proc.Exited())
	_, err = first.Do(ctx, "PING")
	assert.Error(t, err, "the server is down between ShutdownSave and StartRedisAt")

	second, err := StartRedisAt(ctx, dir, first.Addr)
	require.NoError(t, err)
	defer second.Close()
	assert.Equal(t, first.Addr, second.Addr)
	value, ok, err := second.Get(ctx, "chaos:/event/X__e")
	require.NoError(t, err)
	assert.True(t, ok, "the key survives the restart")
	assert.Equal(t, "1234", value)
}
