package input

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// testMetrics is a metrics exporter that keeps every value in memory.
type testMetrics struct {
	mu     sync.Mutex
	values map[string]int64 // "name{label values}" -> counter total or gauge value
}

func metricKey(name string, labels []string) string {
	return name + "{" + strings.Join(labels, ",") + "}"
}

func (m *testMetrics) get(name string, labels ...string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.values[metricKey(name, labels)]
}

func (m *testMetrics) add(key string, v int64, set bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if set {
		m.values[key] = v
	} else {
		m.values[key] += v
	}
}

type testCounter struct {
	m   *testMetrics
	key string
}

func (c testCounter) Incr(n int64)                 { c.m.add(c.key, n, false) }
func (c testCounter) Timing(int64)                 {}
func (c testCounter) Set(v int64)                  { c.m.add(c.key, v, true) }
func (m *testMetrics) Close(context.Context) error { return nil }

func (m *testMetrics) NewCounterCtor(name string, _ ...string) service.MetricsExporterCounterCtor {
	return func(lv ...string) service.MetricsExporterCounter { return testCounter{m, metricKey(name, lv)} }
}

func (m *testMetrics) NewTimerCtor(name string, _ ...string) service.MetricsExporterTimerCtor {
	return func(lv ...string) service.MetricsExporterTimer { return testCounter{m, metricKey(name, lv)} }
}

func (m *testMetrics) NewGaugeCtor(name string, _ ...string) service.MetricsExporterGaugeCtor {
	return func(lv ...string) service.MetricsExporterGauge { return testCounter{m, metricKey(name, lv)} }
}

// testHarness is an input built against real resources: a file cache in a
// temporary directory and in-memory metrics.
type testHarness struct {
	in      *ssiInput
	metrics *testMetrics
	res     *service.Resources
	dir     string
}

func newHarness(t *testing.T, dir, url, fields string) *testHarness {
	t.Helper()
	h := &testHarness{metrics: &testMetrics{values: map[string]int64{}}, dir: dir}
	fastBackoff(t)
	env := service.NewEnvironment()
	require.NoError(t, env.RegisterMetricsExporter("test_memory", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return h.metrics, nil }))

	rb := env.NewResourceBuilder()
	require.NoError(t, rb.SetMetricsYAML("test_memory: {}"))
	require.NoError(t, rb.AddCacheYAML("label: replay_ids\nfile:\n  directory: "+dir))
	res, stop, err := rb.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(context.Background()) })
	h.res = res

	pConf, err := spec().ParseYAML(fmt.Sprintf(`
org_url: %s
auth: { client_id: sfemu-client-id, client_secret: sfemu-client-secret }
checkpoint_cache: replay_ids
backoff: { initial_interval: 10ms, max_interval: 50ms, long_interval: 100ms }
%s`, url, fields), env)
	require.NoError(t, err)
	h.in, err = newInput(pConf, res)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.in.Close(context.Background()) })
	return h
}

// read reads one batch within waitTimeout and returns its replay ids.
func (h *testHarness) read(t *testing.T) ([]int64, service.AckFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	batch, ack, err := h.in.ReadBatch(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, batch)
	ids := make([]int64, len(batch))
	for k, msg := range batch {
		v, ok := msg.MetaGetMut(metaReplayID)
		require.True(t, ok)
		ids[k] = v.(int64)
	}
	return ids, ack
}

// readN reads batches until n events arrived, acking each when ack is true.
func (h *testHarness) readN(t *testing.T, n int, ack bool) []int64 {
	t.Helper()
	var all []int64
	for len(all) < n {
		ids, ackFn := h.read(t)
		all = append(all, ids...)
		if ack {
			require.NoError(t, ackFn(t.Context(), nil))
		}
	}
	return all
}

func (h *testHarness) setCheckpoint(t *testing.T, channel string, id int64) {
	t.Helper()
	require.NoError(t, cacheStore{res: h.res, cache: "replay_ids", prefix: defaultCheckpointKey}.Store(t.Context(), channel, stream.Position{Seq: id}))
}

func publishIDs(t *testing.T, emu *sfemu.Server, channel string, n int) []int64 {
	t.Helper()
	first, last, err := emu.PublishN(channel, n)
	require.NoError(t, err)
	st := emu.State().Channels[channel]
	require.Equal(t, last, st.LastReplayID)
	return []int64{first, last}
}

func TestInputStartPosition(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{MaxBatch: 100, MaxReplayGap: -1}) // contiguous ids
	a := publishIDs(t, emu, "/event/A__e", 10)
	b := publishIDs(t, emu, "/event/B__e", 10)
	c := publishIDs(t, emu, "/event/C__e", 10)

	h := newHarness(t, t.TempDir(), url, fmt.Sprintf(`
channels: [ /event/A__e, /event/B__e, /event/C__e ]
replay_preset: earliest
initial_replay_ids: { /event/A__e: %d, /event/B__e: %d }
`, a[0]+6, b[0]+3))
	h.setCheckpoint(t, "/event/A__e", a[0]+4) // the checkpoint wins over initial_replay_ids
	require.NoError(t, h.in.Connect(t.Context()))

	got := map[int64][]int64{} // first id -> batch
	for len(got) < 3 {
		ids, _ := h.read(t)
		got[ids[0]] = ids
	}
	assert.Len(t, got[a[0]+5], 5, "A starts after its checkpoint")
	assert.Len(t, got[b[0]+4], 6, "B starts after its initial replay id")
	assert.Len(t, got[c[0]], 10, "C starts at the earliest retained event")
}

func TestInputReconnectResumesFromAcked(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{MaxBatch: 5})
	publishIDs(t, emu, "/event/A__e", 15)
	h := newHarness(t, t.TempDir(), url, "channels: [ /event/A__e ]\nreplay_preset: earliest\n")
	require.NoError(t, h.in.Connect(t.Context()))

	first, ack := h.read(t)
	require.NoError(t, ack(t.Context(), nil))
	second, _ := h.read(t) // in flight, never acked
	assert.Equal(t, int64(5), h.metrics.get(metricCheckpointLag, "/event/A__e"))

	// The session dies: the next Connect must start after the last acked
	// event, so the unacknowledged batch comes again and nothing is skipped.
	h.in.mu.Lock()
	client := h.in.client
	h.in.mu.Unlock()
	h.in.dropClient(client, fmt.Errorf("simulated session loss"))
	_, _, err := h.in.ReadBatch(t.Context())
	require.ErrorIs(t, err, service.ErrNotConnected)

	require.NoError(t, h.in.Connect(t.Context()))
	again := h.readN(t, 10, true)
	assert.Equal(t, second, again[:5], "in-flight events are delivered again")
	assert.Greater(t, again[0], first[len(first)-1])
	// Received counts what Salesforce sent, redeliveries included.
	assert.GreaterOrEqual(t, h.metrics.get(metricEventsReceived, "/event/A__e"), int64(15))
}

func TestInputInvalidReplayID(t *testing.T) {
	tests := []struct {
		policy    string
		wantFirst func(ids []int64) int64 // the first replay id delivered after the fallback
	}{
		{policy: "earliest", wantFirst: func(ids []int64) int64 { return ids[1] }},
		{policy: "latest", wantFirst: func(ids []int64) int64 { return ids[2] }},
		{policy: "fail"},
	}
	for _, test := range tests {
		t.Run(test.policy, func(t *testing.T) {
			emu, url := startEmulator(t, sfemu.Config{})
			first, _, err := emu.PublishN("/event/A__e", 10)
			require.NoError(t, err)
			purged := first + 2
			_, err = emu.Purge("/event/A__e", &purged)
			require.NoError(t, err)
			retainedFrom := emu.State().Channels["/event/A__e"].FirstReplayID

			h := newHarness(t, t.TempDir(), url, "channels: [ /event/A__e ]\non_invalid_replay_id: "+test.policy+"\n")
			h.setCheckpoint(t, "/event/A__e", first) // purged: Salesforce rejects it

			if test.policy == "fail" {
				for attempt := 1; attempt <= 2; attempt++ {
					err := h.in.Connect(t.Context())
					require.Error(t, err)
					assert.Contains(t, err.Error(), "connecting to Salesforce")
					assert.Contains(t, err.Error(), "/event/A__e")
					assert.Equal(t, int64(attempt), h.metrics.get(metricReplayFallbacks, "/event/A__e"), "counted every time")
					var boff *service.ErrBackOff
					require.ErrorAs(t, err, &boff)
					assert.Equal(t, 100*time.Millisecond, boff.Wait, "waits long_interval")
				}
				_, _, err := h.in.ReadBatch(t.Context())
				assert.ErrorIs(t, err, service.ErrNotConnected, "nothing is consumed")
				return
			}

			require.NoError(t, h.in.Connect(t.Context()))
			assert.Equal(t, int64(1), h.metrics.get(metricReplayFallbacks, "/event/A__e"))
			newIDs := publishIDs(t, emu, "/event/A__e", 1)
			ids, _ := h.read(t)
			assert.Equal(t, test.wantFirst([]int64{first, retainedFrom, newIDs[0]}), ids[0])
		})
	}
}

func TestInputAuthFailure(t *testing.T) {
	_, url := startEmulator(t, sfemu.Config{ClientSecret: "another-secret"})
	h := newHarness(t, t.TempDir(), url, "channels: [ /event/A__e ]\n")
	err := h.in.Connect(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connecting to Salesforce")
	assert.Contains(t, err.Error(), "invalid_client")
	assert.NotContains(t, err.Error(), "sfemu-client-secret")
	var boff *service.ErrBackOff
	require.ErrorAs(t, err, &boff)
	assert.Equal(t, 100*time.Millisecond, boff.Wait, "rejected credentials wait long_interval")
	_, _, err = h.in.ReadBatch(t.Context())
	assert.ErrorIs(t, err, service.ErrNotConnected)
}

func TestInputConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there any more
	h := newHarness(t, t.TempDir(), url, "channels: [ /event/A__e ]\n")
	for attempt := 1; attempt <= 3; attempt++ {
		err := h.in.Connect(t.Context())
		require.Error(t, err)
		var boff *service.ErrBackOff
		require.ErrorAs(t, err, &boff)
		assert.LessOrEqual(t, boff.Wait, 50*time.Millisecond, "a transient failure backs off within max_interval")
	}
}

func TestInputRecoversFromFaults(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{MaxBatch: 10})
	h := newHarness(t, t.TempDir(), url, "channels: [ /event/A__e ]\nreplay_preset: earliest\n")
	require.NoError(t, h.in.Connect(t.Context()))
	publishIDs(t, emu, "/event/A__e", 10)
	got := h.readN(t, 10, true)

	for _, fault := range []sfemu.FaultRequest{
		{Fault: sfemu.FaultUnknownClient},
		{Fault: sfemu.FaultRevokeTokens},
		{Fault: sfemu.FaultServerDisconnect},
		{Fault: sfemu.FaultDropConnection},
	} {
		require.NoError(t, emu.InjectFault(fault))
		publishIDs(t, emu, "/event/A__e", 10)
		got = append(got, h.readN(t, 10, true)...)
	}

	require.Len(t, got, 50, "no loss, no duplicate")
	for k := 1; k < len(got); k++ {
		require.Greater(t, got[k], got[k-1])
	}
	assert.Positive(t, h.metrics.get(metricTokenRefreshes))
	assert.Positive(t, h.metrics.get(metricReconnects, "unknown_client"))
}

func TestInputCloseIsBoundedAndIdempotent(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{}) // 110 s long poll
	dir := t.TempDir()
	h := newHarness(t, dir, url, "channels: [ /event/A__e ]\nreplay_preset: earliest\n")
	require.NoError(t, h.in.Connect(t.Context()))
	ids := publishIDs(t, emu, "/event/A__e", 3)
	got := h.readN(t, 3, true)
	require.Equal(t, ids[1], got[2])

	require.Eventually(t, func() bool {
		for _, c := range emu.State().Clients {
			if c.ConnectPending {
				return true
			}
		}
		return false
	}, waitTimeout, 10*time.Millisecond, "a long poll is pending")

	start := time.Now()
	require.NoError(t, h.in.Close(context.Background()))
	assert.Less(t, time.Since(start), 3*time.Second)
	require.NoError(t, h.in.Close(context.Background()))

	assert.Equal(t, ids[1], storedID(t, dir, "salesforce_streaming:%2Fevent%2FA__e"), "Close flushed the checkpoint")
	assert.Empty(t, emu.State().Clients, "Close sent /meta/disconnect")
	assert.ErrorIs(t, h.in.Connect(t.Context()), service.ErrEndOfInput)
	_, _, err := h.in.ReadBatch(t.Context())
	assert.ErrorIs(t, err, service.ErrNotConnected)
}

// TestInputSlowPipelineBackpressure leaves events unread until the client's
// buffer (max_buffered_events) fills and it disconnects, then reads on: every
// event arrives once, in order.
func TestInputSlowPipelineBackpressure(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{MaxBatch: 5})
	h := newHarness(t, t.TempDir(), url, "channels: [ /event/A__e ]\nreplay_preset: earliest\nmax_buffered_events: 10\n")
	ids := publishIDs(t, emu, "/event/A__e", 60)
	require.NoError(t, h.in.Connect(t.Context()))

	require.Eventually(t, func() bool { return h.metrics.get(metricReconnects, "backpressure") > 0 },
		waitTimeout, 10*time.Millisecond, "a full buffer disconnects the client")
	got := h.readN(t, 60, true)
	require.Len(t, got, 60)
	assert.Equal(t, ids[0], got[0])
	assert.Equal(t, ids[1], got[59])
	for k := 1; k < len(got); k++ {
		require.Greater(t, got[k], got[k-1])
	}
}
