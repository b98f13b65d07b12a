package input

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// recordingCache is an in-memory cache that records the order of its writes.
type recordingCache struct {
	mu     sync.Mutex
	values map[string][]byte
	sets   []string
}

func (c *recordingCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.values[key]
	if !ok {
		return nil, service.ErrKeyNotFound
	}
	return v, nil
}

func (c *recordingCache) Set(_ context.Context, key string, value []byte, _ *time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.values[key] = append([]byte(nil), value...)
	c.sets = append(c.sets, key)
	return nil
}

func (c *recordingCache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	return c.Set(ctx, key, value, ttl)
}

func (c *recordingCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.values, key)
	return nil
}

func (c *recordingCache) Close(context.Context) error { return nil }

// TestStoreWritesTheShadowFirst: every checkpoint write goes to the shadow
// key before the key, so a crash mid-write always leaves one intact copy no
// older than the last full write.
func TestStoreWritesTheShadowFirst(t *testing.T) {
	cache := &recordingCache{values: map[string][]byte{}}
	env := service.NewEnvironment()
	require.NoError(t, env.RegisterCache("recording_test", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Cache, error) { return cache, nil }))
	rb := env.NewResourceBuilder()
	require.NoError(t, rb.AddCacheYAML("label: replay_ids\nrecording_test: {}\n"))
	res, stop, err := rb.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(context.Background()) })

	store := cacheStore{res: res, cache: "replay_ids", prefix: "p"}
	require.NoError(t, store.Store(t.Context(), "/u/A", stream.Position{Seq: 5}))
	require.NoError(t, store.Store(t.Context(), "/u/A", stream.Position{Epoch: 1, Seq: 2}))
	key := store.key("/u/A")
	assert.Equal(t, []string{key + checkpointfmt.ShadowSuffix, key, key + checkpointfmt.ShadowSuffix, key}, cache.sets)
}

// TestHeldBatchIsDeliveredNext: a batch taken from the client while
// checkpoint_limit is reached, whose wait was cut short, is not lost: the
// next ReadBatch returns it, right after the batch before it.
func TestHeldBatchIsDeliveredNext(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{MaxBatch: 5, MaxReplayGap: -1}) // contiguous ids
	ids := publishIDs(t, emu, "/event/A__e", 15)
	h := newHarness(t, t.TempDir(), url, `
channels: [ /event/A__e ]
replay_preset: earliest
checkpoint_limit: 5
`)
	require.NoError(t, h.in.Connect(t.Context()))
	first, ack := h.read(t)
	require.Equal(t, ids[0], first[0])

	// The limit is reached: the next batch leaves the client, then its
	// tracking waits until the context ends.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, _, err := h.in.ReadBatch(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, ack(t.Context(), nil))
	next, ack2 := h.read(t)
	assert.Equal(t, first[len(first)-1]+1, next[0], "the held batch comes next, nothing skipped")
	require.NoError(t, ack2(t.Context(), nil))
}

// TestNackedBatchWaitsForACleanAck: the checkpoint of a nacked batch resolves
// only when a redelivery is acknowledged without error; a redelivery carries
// the same events with their metadata.
func TestNackedBatchWaitsForACleanAck(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{MaxBatch: 5, MaxReplayGap: -1})
	ids := publishIDs(t, emu, "/event/A__e", 5)
	h := newHarness(t, t.TempDir(), url, "channels: [ /event/A__e ]\nreplay_preset: earliest\n")
	require.NoError(t, h.in.Connect(t.Context()))

	got, ack := h.read(t)
	require.NoError(t, ack(t.Context(), assert.AnError))
	// A start marker naming the first event was stored before the batch
	// was handed out; the nack must not move it.
	start, ok, err := h.in.cp.Resume(t.Context(), "/event/A__e")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, stream.Position{Seq: got[0], Start: true}, start, "a nack does not move the checkpoint")
	again, ack := h.read(t)
	assert.Equal(t, got, again, "the whole batch is redelivered")
	require.NoError(t, ack(t.Context(), assert.AnError))
	again, ack = h.read(t)
	assert.Equal(t, got, again)
	require.NoError(t, ack(t.Context(), nil))
	highest, ok := h.in.cp.Highest("/event/A__e")
	require.True(t, ok)
	assert.Equal(t, ids[1], highest)
}

// TestNackQueuedBeforeTheWaitInterruptsIt: a nack that lands after ReadBatch
// found no redelivery but before it started waiting for new data must still
// end that wait at once; on an idle channel it would otherwise wait for an
// event that may never come, with the nacked batch stuck behind it.
func TestNackQueuedBeforeTheWaitInterruptsIt(t *testing.T) {
	var r redeliveries
	ctx, release := r.interruptible(t.Context())
	select {
	case <-ctx.Done():
		t.Fatal("nothing queued: the wait goes on")
	default:
	}
	release()

	r.push(&delivery{}, time.Hour) // queued before the next wait starts, due or not
	ctx, release = r.interruptible(t.Context())
	defer release()
	select {
	case <-ctx.Done():
	default:
		t.Fatal("a redelivery queued before the wait started did not interrupt it")
	}
}
