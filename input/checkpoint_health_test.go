package input

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// TestStoreHealthLogsOnceAndNamesTheChannel: many failed writes make one
// error line and one recovery line with the count; past the grace period
// unhealthy names the channel and the cache, and overGrace runs once.
func TestStoreHealthLogsOnceAndNamesTheChannel(t *testing.T) {
	logs := &syncBuffer{}
	rb := service.NewEnvironment().NewResourceBuilder()
	rb.SetLogger(traceLogger(logs))
	r2, stop, err := rb.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(t.Context()) })

	var mu sync.Mutex
	now := time.Unix(1000, 0)
	var told int
	h := newStoreHealth("replay_ids", 30*time.Second, []string{"/event/A__e", "/event/B__e"}, r2.Logger(), newMetrics(r2.Metrics()), func() { told++ })
	t.Cleanup(h.close)
	h.mu.Lock()
	h.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h.mu.Unlock()
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	for range 20 {
		h.failed("/event/A__e", errors.New("open replay_ids/x: no such file or directory"))
		advance(time.Second)
	}
	assert.False(t, h.healthy())
	assert.NoError(t, h.unhealthy(), "within the grace period")
	advance(11 * time.Second)
	err = h.unhealthy()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/event/A__e")
	assert.Contains(t, err.Error(), `checkpoint_cache "replay_ids"`)
	h.checkGrace()
	h.checkGrace()
	assert.Equal(t, 1, told, "overGrace once per streak")

	h.ok("/event/A__e")
	assert.True(t, h.healthy())
	assert.NoError(t, h.unhealthy())
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "is failing"), out)
	assert.Equal(t, 1, strings.Count(out, "works again; 20 writes had failed"), out)
}

// TestStoreHealthAge: the age of unstored progress grows until it is
// stored, then reads 0.
func TestStoreHealthAge(t *testing.T) {
	h := newHarness(t, t.TempDir(), "http://127.0.0.1:1", "channels: [ /event/A__e ]\n")
	hl := h.in.health
	now := time.Unix(5000, 0)
	var mu sync.Mutex
	hl.mu.Lock()
	hl.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	hl.mu.Unlock()
	hl.pending("/event/A__e")
	mu.Lock()
	now = now.Add(42 * time.Second)
	mu.Unlock()
	hl.reportAges()
	assert.Equal(t, int64(42), h.metrics.get(metricCheckpointAge, "/event/A__e"))
	hl.settled("/event/A__e")
	hl.reportAges()
	assert.Equal(t, int64(0), h.metrics.get(metricCheckpointAge, "/event/A__e"))
}

// TestFirstBatchWaitsForItsStartToBeStored: a channel subscribed at latest
// with no checkpoint hands out nothing until the position just before its
// first event is stored (a start marker naming it), so a crash while the store fails cannot restart it
// at latest past events already published.
func TestFirstBatchWaitsForItsStartToBeStored(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{MaxBatch: 10})
	publishIDs(t, emu, "/event/A__e", 2) // before the subscription: latest skips them
	dir := t.TempDir()
	h := newHarness(t, dir, url, "channels: [ /event/A__e ]\nreplay_preset: latest\nlease: { enabled: false }\n")
	require.NoError(t, h.in.Connect(t.Context()))

	require.NoError(t, os.RemoveAll(dir)) // the file cache's directory vanishes
	first, last, err := emu.PublishN("/event/A__e", 3)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	batch, _, err := h.in.ReadBatch(ctx)
	assert.Empty(t, batch, "nothing handed out before the start is stored")
	assert.Error(t, err)
	assert.Positive(t, h.metrics.get(metricCheckpointErrors, "/event/A__e"))

	require.NoError(t, os.MkdirAll(dir, 0o755))
	got, ack := h.read(t)
	require.Len(t, got, 3, "the held batch, whole")
	assert.Equal(t, []int64{first, last}, []int64{got[0], got[2]})
	raw, err := os.ReadFile(filepath.Join(dir, checkpointfmt.CheckpointKey(defaultCheckpointKey, "/event/A__e")))
	require.NoError(t, err)
	assert.Equal(t, "start:"+strconv.FormatInt(first, 10), string(raw), "the start marker, stored before the batch was handed out")
	require.NoError(t, ack(t.Context(), nil))
}
