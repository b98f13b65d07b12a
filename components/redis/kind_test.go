package redis

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// skipWithoutRedis turns a missing redis-server into a skip naming it.
func skipWithoutRedis(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, harness.ErrRedisNotInstalled) {
		t.Skip(err.Error())
	}
	require.NoError(t, err)
}

// exercise sets, reads, adds and deletes a few keys (spread over hash slots).
func exercise(t *testing.T, c *cache) {
	t.Helper()
	ctx := testContext(t)
	for i := range 5 {
		key := fmt.Sprintf("/event/Order_%d__e", i)
		require.NoError(t, c.Set(ctx, key, []byte(fmt.Sprint(i)), nil))
		got, err := c.Get(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(i), string(got))
		assert.ErrorIs(t, c.Add(ctx, key, []byte("x"), nil), service.ErrKeyAlreadyExists)
		require.NoError(t, c.Delete(ctx, key))
		_, err = c.Get(ctx, key)
		assert.ErrorIs(t, err, service.ErrKeyNotFound)
	}
}

// kind: cluster against a real (one-node, all slots) Redis Cluster.
func TestKindCluster(t *testing.T) {
	ctx := testContext(t)
	r, err := harness.StartRedisCluster(ctx, t.TempDir())
	skipWithoutRedis(t, err)
	t.Cleanup(func() { _ = r.Close() })
	c := newTestCache(t, map[string]any{"url": r.URL, "kind": "cluster", "prefix": "sf:"})
	_, isCluster := c.client.(*goredis.ClusterClient)
	require.True(t, isCluster, "kind: cluster builds a cluster client (slot routing, MOVED handling)")
	exercise(t, c)
	require.NoError(t, c.Set(ctx, "k", []byte("v"), nil))
	v, ok, err := r.Get(ctx, "sf:k")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "v", v)
}

// kind: failover finds the primary through a real sentinel.
func TestKindFailover(t *testing.T) {
	ctx := testContext(t)
	primary := startRedis(t)
	s, err := harness.StartRedisSentinel(ctx, t.TempDir(), "sfmaster", primary.Addr)
	skipWithoutRedis(t, err)
	t.Cleanup(func() { _ = s.Close() })
	c := newTestCache(t, map[string]any{"url": s.URL, "kind": "failover", "master": "sfmaster"})
	exercise(t, c)
	require.NoError(t, c.Set(ctx, "k", []byte("via sentinel"), nil))
	v, ok, err := primary.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "via sentinel", v)
}

// retries: a Set issued while the server is down succeeds once it is back
// at the same address within the retry budget.
func TestRetriesCoverARestart(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)
	r, err := harness.StartRedis(ctx, dir)
	skipWithoutRedis(t, err)
	c := newTestCache(t, map[string]any{"url": r.URL, "retries": map[string]any{"initial_interval": "100ms", "max_interval": "200ms", "max_elapsed_time": "30s"}})
	require.NoError(t, c.Set(ctx, "k", []byte("1"), nil))
	require.NoError(t, r.Close())

	done := make(chan error, 1)
	go func() { done <- c.Set(ctx, "k", []byte("2"), nil) }()
	time.Sleep(300 * time.Millisecond) // a few failed attempts first
	r2, err := harness.StartRedisAt(ctx, dir, r.Addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r2.Close() })
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(45 * time.Second):
		require.FailNow(t, "Set did not return after the server came back")
	}
	v, _, err := r2.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "2", v)
}

func TestKindConfigErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"failover needs master", "url: redis://a:1\nkind: failover\n", "field master: required"},
		{"master only with failover", "url: redis://a:1\nmaster: m\n", "field master: only used"},
		{"unknown kind", "url: redis://a:1\nkind: ring\n", "ring"},
		{"several URLs need cluster or failover", "url: redis://a:1,redis://b:1\n", "field url"},
		{"a cluster has database 0 only", "url: redis://a:1/3\nkind: cluster\n", "database 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := service.NewEmptyEnvironment()
			require.NoError(t, env.RegisterCache("redis", spec(), func(*service.ParsedConfig, *service.Resources) (service.Cache, error) {
				return nil, errors.New("unused")
			}))
			err := env.NewStreamBuilder().AddCacheYAML("label: c\nredis:\n  " + indentYAML(tt.yaml))
			if err == nil {
				parsed, perr := spec().ParseYAML(tt.yaml, nil)
				require.NoError(t, perr)
				_, err = newCache(parsed)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// indentYAML indents every line but the first by two spaces.
func indentYAML(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

// Connect's documented config block writes default_ttl as "": no expiry.
func TestEmptyDefaultTTL(t *testing.T) {
	parsed, err := spec().ParseYAML("url: redis://127.0.0.1:1\ndefault_ttl: \"\"\n", nil)
	require.NoError(t, err)
	c, err := newCache(parsed)
	if err == nil {
		t.Cleanup(func() { _ = c.Close(t.Context()) })
	}
	require.NoError(t, err)
	assert.Zero(t, c.defaultTTL)
}
