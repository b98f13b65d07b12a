package redis

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

const testTimeout = 60 * time.Second

// startRedis starts a throwaway redis-server on loopback, or skips naming
// what to install.
func startRedis(t *testing.T) *harness.Redis {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r, err := harness.StartRedis(ctx, t.TempDir())
	if errors.Is(err, harness.ErrRedisNotInstalled) {
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// newTestCache builds the cache from a config given as a map (marshalled to
// YAML), closed at cleanup.
func newTestCache(t *testing.T, conf map[string]any) *cache {
	t.Helper()
	b, err := yaml.Marshal(conf)
	require.NoError(t, err)
	parsed, err := spec().ParseYAML(string(b), nil)
	require.NoError(t, err)
	c, err := newCache(parsed)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestGetSetAddDelete(t *testing.T) {
	r := startRedis(t)
	ctx := testContext(t)
	c := newTestCache(t, map[string]any{"url": r.URL})

	_, err := c.Get(ctx, "k")
	require.ErrorIs(t, err, service.ErrKeyNotFound, "a missing key")

	steps := []struct {
		name    string
		do      func() error
		wantErr error
		want    string // value of k after the step; "" means absent
	}{
		{name: "set", do: func() error { return c.Set(ctx, "k", []byte("1"), nil) }, want: "1"},
		{name: "set overwrites", do: func() error { return c.Set(ctx, "k", []byte("2"), nil) }, want: "2"},
		{name: "add on an existing key", do: func() error { return c.Add(ctx, "k", []byte("3"), nil) }, wantErr: service.ErrKeyAlreadyExists, want: "2"},
		{name: "delete", do: func() error { return c.Delete(ctx, "k") }, want: ""},
		{name: "delete of a missing key", do: func() error { return c.Delete(ctx, "k") }, want: ""},
		{name: "add on a missing key", do: func() error { return c.Add(ctx, "k", []byte("4"), nil) }, want: "4"},
	}
	for _, s := range steps {
		err := s.do()
		if s.wantErr != nil {
			require.ErrorIs(t, err, s.wantErr, s.name)
		} else {
			require.NoError(t, err, s.name)
		}
		got, err := c.Get(ctx, "k")
		if s.want == "" {
			assert.ErrorIs(t, err, service.ErrKeyNotFound, s.name)
			continue
		}
		require.NoError(t, err, s.name)
		assert.Equal(t, s.want, string(got), s.name)
		// What the server holds, read with another client.
		raw, ok, err := r.Get(ctx, "k")
		require.NoError(t, err)
		assert.True(t, ok, s.name)
		assert.Equal(t, s.want, raw, s.name)
	}
}

func TestPrefix(t *testing.T) {
	r := startRedis(t)
	ctx := testContext(t)
	c := newTestCache(t, map[string]any{"url": r.URL, "prefix": "sf:"})

	require.NoError(t, c.Set(ctx, "/event/A__e", []byte("42"), nil))
	raw, ok, err := r.Get(ctx, "sf:/event/A__e")
	require.NoError(t, err)
	require.True(t, ok, "stored under the prefix")
	assert.Equal(t, "42", raw)
	_, ok, err = r.Get(ctx, "/event/A__e")
	require.NoError(t, err)
	assert.False(t, ok, "nothing without the prefix")

	// A key written by someone else without the prefix is not ours.
	_, err = r.Do(ctx, "SET", "other", "x")
	require.NoError(t, err)
	_, err = c.Get(ctx, "other")
	assert.ErrorIs(t, err, service.ErrKeyNotFound)

	require.NoError(t, c.Add(ctx, "added", []byte("a"), nil))
	_, ok, err = r.Get(ctx, "sf:added")
	require.NoError(t, err)
	assert.True(t, ok, "Add uses the prefix")
	require.NoError(t, c.Delete(ctx, "/event/A__e"))
	_, ok, err = r.Get(ctx, "sf:/event/A__e")
	require.NoError(t, err)
	assert.False(t, ok, "Delete uses the prefix")
}

// pttl returns the remaining time to live of key in milliseconds as the server
// reports it: -1 means no expiry.
func pttl(t *testing.T, r *harness.Redis, key string) int64 {
	t.Helper()
	reply, err := r.Do(testContext(t), "PTTL", key)
	require.NoError(t, err)
	n, err := strconv.ParseInt(reply, 10, 64)
	require.NoError(t, err)
	return n
}

func TestTTL(t *testing.T) {
	r := startRedis(t)
	ctx := testContext(t)
	explicit := 10 * time.Minute
	tests := []struct {
		name       string
		defaultTTL string // empty: field absent
		ttl        *time.Duration
		wantMax    time.Duration // 0: no expiry
	}{
		{name: "no default: never expires"},
		{name: "default_ttl applies", defaultTTL: "1h", wantMax: time.Hour},
		{name: "an explicit ttl wins over default_ttl", defaultTTL: "1h", ttl: &explicit, wantMax: explicit},
		{name: "an explicit ttl without default_ttl", ttl: &explicit, wantMax: explicit},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := map[string]any{"url": r.URL}
			if tt.defaultTTL != "" {
				conf["default_ttl"] = tt.defaultTTL
			}
			c := newTestCache(t, conf)
			for _, op := range []string{"set", "add"} {
				key := op + strconv.Itoa(i)
				if op == "set" {
					require.NoError(t, c.Set(ctx, key, []byte("v"), tt.ttl))
				} else {
					require.NoError(t, c.Add(ctx, key, []byte("v"), tt.ttl))
				}
				got := pttl(t, r, key)
				if tt.wantMax == 0 {
					assert.Equal(t, int64(-1), got, "%s: no expiry", op)
					continue
				}
				// Positive and at most the TTL: no assertion on elapsed time.
				assert.Greater(t, got, int64(0), op)
				assert.LessOrEqual(t, got, tt.wantMax.Milliseconds(), op)
				assert.Greater(t, got, (tt.wantMax / 2).Milliseconds(), "%s: the TTL asked for, not another", op)
			}
		})
	}
}

// A server that does not answer is an error, never "no such key": the input
// would otherwise start from its initial replay id instead of its checkpoint.
func TestServerDownIsAnError(t *testing.T) {
	r := startRedis(t)
	ctx := testContext(t)
	// A short retry budget: each call below gives up after it.
	c := newTestCache(t, map[string]any{"url": r.URL, "retries": map[string]any{"max_elapsed_time": "200ms"}})
	require.NoError(t, c.Set(ctx, "k", []byte("1"), nil))
	require.NoError(t, r.Close())

	_, err := c.Get(ctx, "k")
	require.Error(t, err)
	assert.NotErrorIs(t, err, service.ErrKeyNotFound)
	assert.Error(t, c.Set(ctx, "k", []byte("2"), nil))
	err = c.Add(ctx, "n", []byte("2"), nil)
	require.Error(t, err)
	assert.NotErrorIs(t, err, service.ErrKeyAlreadyExists)
	assert.Error(t, c.Delete(ctx, "k"))
}

func TestCloseIsIdempotent(t *testing.T) {
	r := startRedis(t)
	c := newTestCache(t, map[string]any{"url": r.URL})
	require.NoError(t, c.Close(context.Background()))
	assert.NoError(t, c.Close(context.Background()))
}

func TestInvalidURLErrorHidesPassword(t *testing.T) {
	for _, u := range []string{"redis://u:hunter2@bad host:6379", "http://u:hunter2@host:6379", "redis://u:hunter2%zz@host"} {
		parsed, err := spec().ParseYAML("url: '"+u+"'", nil)
		require.NoError(t, err)
		_, err = newCache(parsed)
		require.Error(t, err, u)
		assert.Contains(t, err.Error(), "url", u)
		assert.NotContains(t, err.Error(), "hunter2", u)
	}
}

// resources/replay_ids_redis.yaml, as shipped, gives a working cache named
// replay_ids at $REDIS_URL.
func TestShippedResourceFile(t *testing.T) {
	r := startRedis(t)
	ctx := testContext(t)
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "resources", "replay_ids_redis.yaml"))
	require.NoError(t, err)

	rb := service.NewResourceBuilder()
	rb.SetEnvVarLookupFunc(func(_ context.Context, name string) (string, bool) {
		if name == "REDIS_URL" {
			return r.URL, true
		}
		return "", false
	})
	require.NoError(t, rb.AddYAML(string(b)))
	res, closeRes, err := rb.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = closeRes(context.Background()) })

	var accessErr error
	require.NoError(t, res.AccessCache(ctx, "replay_ids", func(c service.Cache) {
		accessErr = c.Set(ctx, "/data/AccountChangeEvent", []byte("1234"), nil)
	}))
	require.NoError(t, accessErr)
	raw, ok, err := r.Get(ctx, "/data/AccountChangeEvent")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "1234", raw)
}
