package input

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 20 * time.Second

// newTestEmulator is sfemu.New for these tests, which subscribe before they
// publish: the emulator defines a channel on its first subscribe (channel
// existence is sfemu's own test).
func newTestEmulator(cfg sfemu.Config) *sfemu.Server {
	cfg.AnyChannel = true
	return sfemu.New(cfg)
}

// startEmulator serves an sfemu with Salesforce's timers (a 110 s hold, so
// a prompt stop proves Close cancels the pending long poll).
func startEmulator(t *testing.T, cfg sfemu.Config) (*sfemu.Server, string) {
	t.Helper()
	emu := newTestEmulator(cfg)
	ts := httptest.NewServer(emu)
	t.Cleanup(func() {
		ts.Close()
		emu.Close()
	})
	return emu, ts.URL
}

// collector records what a stream's output received and acks (or nacks)
// according to nack.
type collector struct {
	mu     sync.Mutex
	ids    []int64 // replay ids of acked messages, in arrival order
	metas  []map[string]any
	bodies [][]byte
	seen   chan struct{} // signalled on every acked batch
	nack   func(firstID int64) bool
	nacked int // batches rejected
}

func newCollector() *collector { return &collector{seen: make(chan struct{}, 1)} }

func (c *collector) consume(_ context.Context, batch service.MessageBatch) error {
	var ids []int64
	var metas []map[string]any
	var bodies [][]byte
	for _, msg := range batch {
		v, ok := msg.MetaGetMut(metaReplayID)
		if !ok {
			return errors.New("message without salesforce_replay_id")
		}
		id, _ := v.(int64)
		ids = append(ids, id)
		meta := map[string]any{}
		_ = msg.MetaWalkMut(func(k string, v any) error {
			meta[k] = v
			return nil
		})
		metas = append(metas, meta)
		body, err := msg.AsBytes()
		if err != nil {
			return err
		}
		bodies = append(bodies, body)
	}
	if c.nack != nil && c.nack(ids[0]) {
		c.mu.Lock()
		c.nacked++
		c.mu.Unlock()
		return errors.New("rejected by the test")
	}
	c.mu.Lock()
	c.ids = append(c.ids, ids...)
	c.metas = append(c.metas, metas...)
	c.bodies = append(c.bodies, bodies...)
	c.mu.Unlock()
	select {
	case c.seen <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

func (c *collector) snapshot() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.ids...)
}

// waitFor waits until the collector holds at least n messages.
func (c *collector) waitFor(t *testing.T, n int) {
	t.Helper()
	waitSignalled(t, c.seen, c.count, n, "messages received")
}

// waitSignalled waits, up to waitTimeout, until count reaches want, checking
// again each time signal fires.
func waitSignalled(t *testing.T, signal <-chan struct{}, count func() int, want int, what string) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for count() < want {
		select {
		case <-signal:
		case <-deadline:
			t.Fatalf("%d of %d %s within %v", count(), want, what, waitTimeout)
		}
	}
}

// runningStream is a started stream and its Run result.
type runningStream struct {
	stream *service.Stream
	done   chan error
}

// startStream builds and runs a stream: a file cache in dir, the input with
// inputFields (appended to the salesforce_streaming block), and c as output.
func startStream(t *testing.T, url, dir, inputFields string, c *collector) *runningStream {
	t.Helper()
	return startStreamWith(t, url, inputFields, c, streamOpts{cacheYAML: fmt.Sprintf(`
label: replay_ids
file:
  directory: %s
`, dir)})
}

// streamOpts varies what startStreamWith builds.
type streamOpts struct {
	env       *service.Environment // nil: the global one
	cacheYAML string               // the replay_ids cache resource
	logger    *slog.Logger         // nil: no logs
	auth      string               // the auth block's fields; empty: the emulator's client credentials
	// fast allows backoff waits below the production floors (see
	// fastBackoff); lint, which checks the floors, is skipped.
	fast bool
}

// fastBackoff lets the input built by this test wait less than
// backoffFloors, so that tests of reconnects and refused logins run in
// milliseconds. The floors themselves are tested in safety_test.go.
func fastBackoff(t *testing.T) {
	t.Helper()
	initial, long := backoffFloors.get()
	backoffFloors.set(time.Millisecond, time.Millisecond)
	t.Cleanup(func() { backoffFloors.set(initial, long) })
}

func startStreamWith(t *testing.T, url, inputFields string, c *collector, o streamOpts) *runningStream {
	t.Helper()
	env := o.env
	if env == nil {
		env = service.GlobalEnvironment()
	}
	b := env.NewStreamBuilder()
	if o.fast {
		fastBackoff(t)
		b.DisableLinting()
	}
	if o.logger != nil {
		b.SetLogger(o.logger)
	} else {
		require.NoError(t, b.SetLoggerYAML("level: none"))
	}
	require.NoError(t, b.AddCacheYAML(o.cacheYAML))
	auth := o.auth
	if auth == "" {
		auth = "{ grant_type: client_credentials, client_id: sfemu-client-id, client_secret: sfemu-client-secret }"
	}
	require.NoError(t, b.AddInputYAML(fmt.Sprintf(`
salesforce_streaming:
  org_url: %s
  auth: %s
  checkpoint_cache: replay_ids
%s`, url, auth, inputFields)))
	require.NoError(t, b.AddBatchConsumerFunc(c.consume))
	stream, err := b.Build()
	require.NoError(t, err)

	rs := &runningStream{stream: stream, done: make(chan error, 1)}
	go func() { rs.done <- stream.Run(context.Background()) }()
	// A failing test must not leave a long poll open: the emulator's Close
	// (an earlier cleanup, so it runs later) would wait for it.
	t.Cleanup(func() { _ = stream.StopWithin(waitTimeout) })
	return rs
}

// stop stops the stream and checks it stops promptly even with a long poll pending.
func (rs *runningStream) stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	require.NoError(t, rs.stream.StopWithin(waitTimeout))
	assert.Less(t, time.Since(start), 10*time.Second, "stopping must not wait for the 110 s long poll")
	select {
	case err := <-rs.done:
		assert.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after StopWithin")
	}
}

// storedID reads a channel's checkpoint from the file cache directory.
func storedID(t *testing.T, dir, key string) int64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, key))
	require.NoError(t, err)
	id, err := strconv.ParseInt(string(raw), 10, 64)
	require.NoError(t, err)
	return id
}

// TestStreamResumesFromAcked consumes a backlog, stops, publishes more and
// restarts: the second run starts right after the last acked event, with no
// loss and no duplicate, on every channel.
func TestStreamResumesFromAcked(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{MaxBatch: 7})
	channels := []string{"/event/Order__e", "/data/AccountChangeEvent", "/topic/Invoices", "/u/Alerts"}
	firstRun := map[string][2]int64{}
	for _, ch := range channels {
		first, last, err := publish(emu, ch, 30)
		require.NoError(t, err)
		firstRun[ch] = [2]int64{first, last}
	}
	dir := t.TempDir()
	fields := `  channels: [ /event/Order__e, /data/AccountChangeEvent, "/topic/Invoices?Status__c=Open", /u/Alerts ]
  replay_preset: earliest
`
	c1 := newCollector()
	rs := startStream(t, url, dir, fields, c1)
	c1.waitFor(t, 30*len(channels))
	rs.stop(t)

	assert.Len(t, c1.snapshot(), 30*len(channels), "no duplicates in one clean run")
	for _, ch := range channels {
		assert.Equal(t, firstRun[ch][1], storedID(t, dir, "salesforce_streaming:"+url2key(ch)), ch)
	}

	secondRun := map[string][2]int64{}
	for _, ch := range channels {
		first, last, err := publish(emu, ch, 12)
		require.NoError(t, err)
		secondRun[ch] = [2]int64{first, last}
	}
	c2 := newCollector()
	rs = startStream(t, url, dir, fields, c2)
	c2.waitFor(t, 12*len(channels))
	rs.stop(t)

	c2.mu.Lock()
	defer c2.mu.Unlock()
	require.Len(t, c2.ids, 12*len(channels), "the second run gets exactly the new events")
	perChannel := map[string][]int64{}
	for k, id := range c2.ids {
		ch := c2.metas[k][metaChannel].(string)
		perChannel[ch] = append(perChannel[ch], id)
	}
	for _, ch := range channels {
		ids := perChannel[ch]
		require.Len(t, ids, 12, ch)
		assert.Equal(t, secondRun[ch][0], ids[0], "%s resumes right after its checkpoint", ch)
		assert.Equal(t, secondRun[ch][1], ids[len(ids)-1], ch)
		for k := 1; k < len(ids); k++ {
			assert.Greater(t, ids[k], ids[k-1], "%s in replay order", ch)
		}
		assert.Equal(t, secondRun[ch][1], storedID(t, dir, "salesforce_streaming:"+url2key(ch)), ch)
	}
}

// publish publishes n events; PushTopic records match the test's filter
// Status__c=Open, which the emulator applies like Salesforce.
func publish(emu *sfemu.Server, channel string, n int) (first, last int64, err error) {
	if channel != "/topic/Invoices" {
		return emu.PublishN(channel, n)
	}
	payloads := make([]json.RawMessage, n)
	for k := range payloads {
		payloads[k] = json.RawMessage(fmt.Sprintf(`{"Name":"INV-%04d","Status__c":"Open"}`, k))
	}
	return emu.Publish(channel, payloads...)
}

func url2key(channel string) string {
	return cacheStore{}.key(channel)[1:] // drop the ":" of an empty prefix
}

// TestStreamNackedEventsAreNotCheckpointed rejects every batch after the
// first ones: the checkpoint stays at the last event before the first
// rejected batch, and a restart redelivers from there.
func TestStreamNackedEventsAreNotCheckpointed(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{MaxBatch: 5})
	_, _, err := emu.PublishN("/event/Order__e", 25)
	require.NoError(t, err)
	dir := t.TempDir()
	fields := `  channels: [ /event/Order__e ]
  replay_preset: earliest
`
	// Learn the replay ids with a throwaway cache first.
	probe := newCollector()
	rs := startStream(t, url, t.TempDir(), fields, probe)
	probe.waitFor(t, 25)
	rs.stop(t)
	all := probe.snapshot()
	require.Len(t, all, 25)

	// Accept the first two batches (10 events), reject everything after.
	c1 := newCollector()
	c1.nack = func(firstID int64) bool { return firstID > all[9] }
	rs = startStream(t, url, dir, fields, c1)
	c1.waitFor(t, 10)
	// The rejected batch is redelivered again and again meanwhile: once it was
	// rejected a few times, the checkpoint (written in the background after
	// the accepted batches) must still be at the last accepted event.
	nacked := func() int {
		c1.mu.Lock()
		defer c1.mu.Unlock()
		return c1.nacked
	}
	require.Eventually(t, func() bool { return nacked() >= 3 }, waitTimeout, 10*time.Millisecond, "a rejected batch is redelivered")
	// The writer runs in the background: the checkpoint reaches the last
	// accepted event (never an id past it), then stays there while the
	// batch after it is rejected again and again.
	key := filepath.Join(dir, "salesforce_streaming:%2Fevent%2FOrder__e")
	require.Eventually(t, func() bool {
		raw, err := os.ReadFile(key)
		return err == nil && string(raw) == strconv.FormatInt(all[9], 10)
	}, waitTimeout, 10*time.Millisecond, "the checkpoint reaches the last accepted event, %d", all[9])
	more := nacked() + 3
	require.Eventually(t, func() bool { return nacked() >= more }, waitTimeout, 10*time.Millisecond, "the rejected batch keeps coming back")
	assert.Equal(t, all[9], storedID(t, dir, "salesforce_streaming:%2Fevent%2FOrder__e"), "while the batch keeps failing")
	rs.stop(t)
	assert.Equal(t, 10, c1.count(), "rejected batches are never counted as delivered")
	assert.Equal(t, all[9], storedID(t, dir, "salesforce_streaming:%2Fevent%2FOrder__e"), "after the stop's final flush")

	c2 := newCollector()
	rs = startStream(t, url, dir, fields, c2)
	c2.waitFor(t, 15)
	rs.stop(t)
	assert.Equal(t, all[10:], c2.snapshot(), "the restart delivers exactly what was not acknowledged")
}

// TestStreamMetadataAndBody checks messages of every channel kind against the
// events the emulator published.
func TestStreamMetadataAndBody(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{})
	_, _, err := emu.Publish("/event/Low_Ink__e", []byte(`{"Printer_Model__c":"XZO-5","Ink_Percentage__c":0.2}`))
	require.NoError(t, err)
	_, _, err = emu.PublishN("/data/ChangeEvents", 1)
	require.NoError(t, err)

	c := newCollector()
	rs := startStream(t, url, t.TempDir(), `  channels: [ /event/Low_Ink__e, /data/ChangeEvents ]
  replay_preset: earliest
`, c)
	c.waitFor(t, 2)
	rs.stop(t)

	c.mu.Lock()
	defer c.mu.Unlock()
	for k, meta := range c.metas {
		assert.Contains(t, string(c.bodies[k]), `"replayId":`, "the body is the data object")
		assert.NotEmpty(t, meta[metaCreatedDate])
		_, err := time.Parse(time.RFC3339, meta[metaCreatedDate].(string))
		assert.NoError(t, err, "salesforce_created_date is RFC 3339")
		assert.NotEmpty(t, meta[metaSchema])
		switch meta[metaChannel] {
		case "/event/Low_Ink__e":
			assert.Contains(t, string(c.bodies[k]), `"Printer_Model__c":"XZO-5"`)
			assert.NotContains(t, meta, metaChangeType)
		case "/data/ChangeEvents":
			assert.NotEmpty(t, meta[metaChangeType])
			assert.NotEmpty(t, meta[metaEntityName])
			assert.NotEmpty(t, meta[metaRecordIDs])
			assert.NotEmpty(t, meta[metaCommitTimestamp])
			assert.NotEmpty(t, meta[metaTransactionKey])
		default:
			t.Errorf("unexpected channel %v", meta[metaChannel])
		}
	}
}
