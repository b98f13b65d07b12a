package input

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// outageCache is an in-memory cache resource that can be made unreachable:
// while down every call fails, as a cache behind a broken network does. One
// instance outlives the streams built on it, like a real cache server.
type outageCache struct {
	mu     sync.Mutex
	values map[string][]byte
	down   bool
	failed int // calls refused while down
}

var errCacheDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (c *outageCache) setDown(down bool) {
	c.mu.Lock()
	c.down = down
	c.mu.Unlock()
}

func (c *outageCache) refusedLocked() bool {
	if c.down {
		c.failed++
	}
	return c.down
}

func (c *outageCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refusedLocked() {
		return nil, errCacheDown
	}
	v, ok := c.values[key]
	if !ok {
		return nil, service.ErrKeyNotFound
	}
	return append([]byte(nil), v...), nil
}

func (c *outageCache) Set(_ context.Context, key string, value []byte, _ *time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refusedLocked() {
		return errCacheDown
	}
	c.values[key] = append([]byte(nil), value...)
	return nil
}

func (c *outageCache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	return c.Set(ctx, key, value, ttl)
}

func (c *outageCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refusedLocked() {
		return errCacheDown
	}
	delete(c.values, key)
	return nil
}

func (c *outageCache) Close(context.Context) error { return nil }

// stored is the channel's checkpoint as the input wrote it (-1: none).
func (c *outageCache) stored(channel string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.values[cacheStore{prefix: defaultCheckpointKey}.key(channel)]
	if !ok {
		return -1
	}
	id, _ := strconv.ParseInt(string(v), 10, 64)
	return id
}

// TestCacheOutage makes the checkpoint cache unreachable at start and again
// while events flow. At start the input waits (it cannot know where to
// resume) and says why; mid-stream events keep flowing while checkpoint
// writes fail and are retried; once the cache is back the checkpoint catches
// up to the last acknowledged event, and a restart loses nothing.
func TestCacheOutage(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{})
	cache := &outageCache{values: map[string][]byte{}}
	env := service.GlobalEnvironment().Clone()
	require.NoError(t, env.RegisterCache("outage_test", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Cache, error) { return cache, nil }))
	logs := &syncBuffer{}
	opts := streamOpts{env: env, cacheYAML: "label: replay_ids\noutage_test: {}\n", logger: traceLogger(logs), fast: true}
	const fields = `
  channels: [ /event/A__e ]
  replay_preset: earliest
  backoff: { initial_interval: 10ms, max_interval: 50ms, long_interval: 100ms }
`
	publish := func(n int) int64 {
		t.Helper()
		_, last, err := emu.PublishN("/event/A__e", n)
		require.NoError(t, err)
		return last
	}

	// Down at start: nothing is consumed until the start position is known.
	cache.setDown(true)
	publish(3)
	c := newCollector()
	rs := startStreamWith(t, url, fields, c, opts)
	require.Eventually(t, func() bool {
		cache.mu.Lock()
		defer cache.mu.Unlock()
		return cache.failed >= 3
	}, waitTimeout, 10*time.Millisecond, "the input retries the cache")
	assert.Zero(t, c.count(), "no event before the checkpoint could be read")
	assert.Contains(t, logs.String(), `Storing checkpoints in checkpoint_cache \"replay_ids\" is failing`)
	assert.Contains(t, logs.String(), "connection refused")
	assert.Zero(t, emu.State().Counters["handshakes"], "no session while the start position is unknown")

	cache.setDown(false)
	c.waitFor(t, 3)
	last := c.snapshot()[2]
	require.Eventually(t, func() bool { return cache.stored("/event/A__e") == last }, waitTimeout, 10*time.Millisecond)

	// Down mid-stream: events keep flowing, checkpoint writes fail and are retried.
	cache.setDown(true)
	last = publish(5)
	c.waitFor(t, 8)
	assert.Equal(t, last, c.snapshot()[7])
	require.Eventually(t, func() bool { return strings.Count(logs.String(), "is failing") == 2 },
		waitTimeout, 10*time.Millisecond, "the failed write is logged, once per outage")
	assert.Less(t, cache.stored("/event/A__e"), last, "nothing could be written meanwhile")

	cache.setDown(false)
	require.Eventually(t, func() bool { return cache.stored("/event/A__e") == last }, waitTimeout, 20*time.Millisecond,
		"the checkpoint catches up once the cache is back")
	rs.stop(t)

	// A restart resumes right after the last acknowledged event.
	next := publish(2)
	c2 := newCollector()
	rs2 := startStreamWith(t, url, fields, c2, opts)
	c2.waitFor(t, 2)
	ids := c2.snapshot()
	assert.Equal(t, next, ids[1])
	assert.Greater(t, ids[0], last, "no event delivered twice after a clean stop")
	rs2.stop(t)
	assert.Equal(t, next, cache.stored("/event/A__e"))
}
