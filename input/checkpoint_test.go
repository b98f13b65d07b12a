package input

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// fakeStore records writes. When gate is non-nil every Store waits for a
// value on it (or ctx), so a test can hold the writer inside a write.
type fakeStore struct {
	mu      sync.Mutex
	ids     map[string]int64
	epochs  map[string]int64
	writes  []int64 // every value written, in order, all channels
	perChan map[string][]int64
	failN   int // fail this many Stores first
	gate    chan struct{}
	entered chan struct{} // receives once per Store call, if non-nil
}

func newFakeStore() *fakeStore {
	return &fakeStore{ids: map[string]int64{}, epochs: map[string]int64{}, perChan: map[string][]int64{}}
}

func (s *fakeStore) Load(_ context.Context, channel string) (stream.Position, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.ids[channel]
	return stream.Position{Epoch: s.epochs[channel], Seq: id}, ok, nil
}

func (s *fakeStore) Store(ctx context.Context, channel string, pos stream.Position) error {
	id := pos.Seq
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failN > 0 {
		s.failN--
		return errors.New("cache unavailable")
	}
	s.ids[channel] = id
	s.epochs[channel] = pos.Epoch
	s.writes = append(s.writes, id)
	s.perChan[channel] = append(s.perChan[channel], id)
	return nil
}

func (s *fakeStore) stored(channel string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.ids[channel]
	return id, ok
}

func (s *fakeStore) history(channel string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.perChan[channel]...)
}

func closeCheckpointer(t *testing.T, c *checkpointer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.Close(ctx))
}

func TestCheckpointOutOfOrderAcks(t *testing.T) {
	type batch struct {
		last  int64
		hasID bool
		n     int
	}
	tests := []struct {
		name     string
		batches  []batch
		ackOrder []int
		want     []int64 // acked mark after each ack; -100 = none yet
	}{
		{
			name:     "in order",
			batches:  []batch{{10, true, 2}, {20, true, 3}, {30, true, 1}},
			ackOrder: []int{0, 1, 2},
			want:     []int64{10, 20, 30},
		},
		{
			name:     "reverse order only moves at the end",
			batches:  []batch{{10, true, 2}, {20, true, 3}, {30, true, 1}},
			ackOrder: []int{2, 1, 0},
			want:     []int64{-100, -100, 30},
		},
		{
			name:     "gap fills later",
			batches:  []batch{{5, true, 1}, {9, true, 1}, {15, true, 1}, {22, true, 1}},
			ackOrder: []int{0, 2, 1, 3},
			want:     []int64{5, 5, 15, 22},
		},
		{
			name:     "batch without replay ids keeps the previous position",
			batches:  []batch{{7, true, 1}, {0, false, 2}, {12, true, 1}},
			ackOrder: []int{1, 0, 2},
			want:     []int64{-100, 7, 12},
		},
		{
			name:     "leading batch without replay ids moves nothing",
			batches:  []batch{{0, false, 1}, {4, true, 1}},
			ackOrder: []int{0, 1},
			want:     []int64{-100, 4},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			c := newCheckpointer(newFakeStore(), 100, service.MockResources().Logger(), nil)
			acks := make([]func(), len(test.batches))
			for k, b := range test.batches {
				ack, err := c.Track(t.Context(), "/event/A__e", stream.Position{Seq: b.last}, b.hasID, b.n)
				require.NoError(t, err)
				acks[k] = ack
			}
			for k, idx := range test.ackOrder {
				acks[idx]()
				got, ok := c.Highest("/event/A__e")
				if test.want[k] == -100 {
					assert.False(t, ok, "after ack %d", k)
				} else {
					assert.True(t, ok, "after ack %d", k)
					assert.Equal(t, test.want[k], got, "after ack %d", k)
				}
			}
		})
	}
}

func TestCheckpointChannelsAreIndependent(t *testing.T) {
	c := newCheckpointer(newFakeStore(), 100, service.MockResources().Logger(), nil)
	ackA, err := c.Track(t.Context(), "/event/A__e", stream.Position{Seq: 10}, true, 1)
	require.NoError(t, err)
	ackB, err := c.Track(t.Context(), "/topic/B?X=1", stream.Position{Seq: 99}, true, 1)
	require.NoError(t, err)
	ackB()
	_, ok := c.Highest("/event/A__e")
	assert.False(t, ok)
	got, ok := c.Highest("/topic/B")
	assert.True(t, ok, "a filtered channel is tracked under its name without filter")
	assert.Equal(t, int64(99), got)
	ackA()
	got, _ = c.Highest("/event/A__e")
	assert.Equal(t, int64(10), got)
}

func TestCheckpointLimitBlocksTrack(t *testing.T) {
	var lagMu sync.Mutex
	lag := map[string]int64{}
	c := newCheckpointer(newFakeStore(), 3, service.MockResources().Logger(), func(ch string, n int64) {
		lagMu.Lock()
		lag[ch] = n
		lagMu.Unlock()
	})
	ack1, err := c.Track(t.Context(), "/event/A__e", stream.Position{Seq: 1}, true, 2)
	require.NoError(t, err)
	_, err = c.Track(t.Context(), "/event/A__e", stream.Position{Seq: 2}, true, 1)
	require.NoError(t, err)
	lagMu.Lock()
	assert.Equal(t, int64(3), lag["/event/A__e"])
	lagMu.Unlock()

	// Full: the next Track waits until ctx ends...
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Track(ctx, "/event/A__e", stream.Position{Seq: 3}, true, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// ...or until an ack frees room; another channel is not affected.
	_, err = c.Track(t.Context(), "/event/B__e", stream.Position{Seq: 1}, true, 3)
	require.NoError(t, err)
	tracked := make(chan error, 1)
	go func() {
		_, err := c.Track(t.Context(), "/event/A__e", stream.Position{Seq: 3}, true, 1)
		tracked <- err
	}()
	ack1()
	select {
	case err := <-tracked:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Track did not resume after an ack freed room")
	}
	lagMu.Lock()
	assert.Equal(t, int64(2), lag["/event/A__e"])
	lagMu.Unlock()
}

// TestCheckpointConcurrentAcksMonotonic acks many batches from many
// goroutines in random order and checks that the writes of the cache only go
// up and end at the last replay id.
func TestCheckpointConcurrentAcksMonotonic(t *testing.T) {
	store := newFakeStore()
	c := newCheckpointer(store, 100000, service.MockResources().Logger(), nil)

	const batches = 2000
	channels := []string{"/event/A__e", "/data/ChangeEvents"}
	var acks []func()
	for k := 1; k <= batches; k++ {
		for _, ch := range channels {
			ack, err := c.Track(t.Context(), ch, stream.Position{Seq: int64(k * 3)}, true, 1) // replay ids with gaps
			require.NoError(t, err)
			acks = append(acks, ack)
		}
	}
	rand.Shuffle(len(acks), func(a, b int) { acks[a], acks[b] = acks[b], acks[a] })

	var wg sync.WaitGroup
	work := make(chan func())
	for range 8 {
		wg.Go(func() {
			for ack := range work {
				ack()
			}
		})
	}
	for _, ack := range acks {
		work <- ack
	}
	close(work)
	wg.Wait()
	closeCheckpointer(t, c)

	for _, ch := range channels {
		got, ok := store.stored(ch)
		require.True(t, ok, ch)
		assert.Equal(t, int64(batches*3), got, ch)
		h := store.history(ch)
		for k := 1; k < len(h); k++ {
			require.Greater(t, h[k], h[k-1], "%s: writes went backwards: %v", ch, h)
		}
	}
}

// TestCheckpointWritesCoalesce holds the writer inside one cache write while
// many acks land, and checks they turn into one further write of the newest
// value rather than one write each.
func TestCheckpointWritesCoalesce(t *testing.T) {
	store := newFakeStore()
	store.gate = make(chan struct{})
	store.entered = make(chan struct{}, 1)
	c := newCheckpointer(store, 10000, service.MockResources().Logger(), nil)

	ack, err := c.Track(t.Context(), "/event/A__e", stream.Position{Seq: 1}, true, 1)
	require.NoError(t, err)
	ack()
	select {
	case <-store.entered: // the writer is now blocked writing 1
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not start a write")
	}

	start := time.Now()
	for k := int64(2); k <= 1000; k++ {
		ack, err := c.Track(t.Context(), "/event/A__e", stream.Position{Seq: k}, true, 1)
		require.NoError(t, err)
		ack()
	}
	assert.Less(t, time.Since(start), 2*time.Second, "acks must not wait for the cache")

	close(store.gate) // let every write through from now on
	closeCheckpointer(t, c)

	assert.Equal(t, []int64{1, 1000}, store.history("/event/A__e"))
}

func TestCheckpointRetriesFailedWrites(t *testing.T) {
	store := newFakeStore()
	store.failN = 1
	c := newCheckpointer(store, 10, service.MockResources().Logger(), nil)
	ack, err := c.Track(t.Context(), "/event/A__e", stream.Position{Seq: 42}, true, 1)
	require.NoError(t, err)
	ack()

	require.Eventually(t, func() bool {
		id, ok := store.stored("/event/A__e")
		return ok && id == 42
	}, 5*time.Second, 10*time.Millisecond, "a failed write is retried")
	closeCheckpointer(t, c)
}

func TestCheckpointCloseFlushesAndIsBounded(t *testing.T) {
	t.Run("flushes the last acked ids", func(t *testing.T) {
		store := newFakeStore()
		store.gate = make(chan struct{})
		c := newCheckpointer(store, 10, service.MockResources().Logger(), nil)
		ack, err := c.Track(t.Context(), "/event/A__e", stream.Position{Seq: 7}, true, 1)
		require.NoError(t, err)
		ack()
		close(store.gate)
		closeCheckpointer(t, c)
		id, ok := store.stored("/event/A__e")
		assert.True(t, ok)
		assert.Equal(t, int64(7), id)
		closeCheckpointer(t, c) // idempotent
	})
	t.Run("a hung cache does not hang Close", func(t *testing.T) {
		store := newFakeStore()
		store.gate = make(chan struct{}) // never opened
		c := newCheckpointer(store, 10, service.MockResources().Logger(), nil)
		ack, err := c.Track(t.Context(), "/event/A__e", stream.Position{Seq: 7}, true, 1)
		require.NoError(t, err)
		ack()
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = c.Close(ctx)
		assert.Error(t, err)
		assert.Less(t, time.Since(start), 2*time.Second)
	})
	t.Run("never started", func(t *testing.T) {
		c := newCheckpointer(newFakeStore(), 10, service.MockResources().Logger(), nil)
		closeCheckpointer(t, c)
	})
}

func TestCacheStore(t *testing.T) {
	dir := t.TempDir()
	builder := service.NewResourceBuilder()
	require.NoError(t, builder.AddCacheYAML(`
label: replay_ids
file:
  directory: `+dir+`
`))
	require.NoError(t, builder.AddCacheYAML(`
label: mem
memory: {}
`))
	res, stop, err := builder.Build()
	require.NoError(t, err)
	defer func() { _ = stop(context.Background()) }()

	tests := []struct {
		name    string
		cache   string
		channel string
		raw     string // written directly under the key first, "" = nothing
		shadow  string // written directly under the shadow key first, "" = nothing
		wantID  int64
		wantOK  bool
		wantErr string
	}{
		{name: "missing key in file cache", cache: "replay_ids", channel: "/event/Missing__e"},
		{name: "missing key in memory cache", cache: "mem", channel: "/event/Missing__e"},
		{name: "stored id", cache: "replay_ids", channel: "/event/Order__e", raw: "12345", wantID: 12345, wantOK: true},
		{name: "stored id with newline", cache: "replay_ids", channel: "/data/ChangeEvents", raw: "77\n", wantID: 77, wantOK: true},
		{name: "corrupt value", cache: "replay_ids", channel: "/u/Alerts", raw: "not-a-number",
			wantErr: `checkpoint "salesforce_streaming:%2Fu%2FAlerts" in checkpoint_cache "replay_ids" holds "not-a-number", which is not a replay id`},
		{name: "empty value", cache: "replay_ids", channel: "/u/Empty", raw: " ",
			wantErr: "which is not a replay id: fix or delete that key"},
		{name: "key torn by a crash, shadow holds the newer id", cache: "replay_ids", channel: "/u/Torn", raw: " ", shadow: "501",
			wantID: 501, wantOK: true},
		{name: "key cut short, shadow holds the newer id", cache: "replay_ids", channel: "/u/Short", raw: "12", shadow: "1234",
			wantID: 1234, wantOK: true},
		{name: "shadow torn by a crash, key holds the last full write", cache: "replay_ids", channel: "/u/ShadowTorn", raw: "400", shadow: " ",
			wantID: 400, wantOK: true},
		{name: "crash during the first write: only the shadow exists", cache: "replay_ids", channel: "/u/First", shadow: "9",
			wantID: 9, wantOK: true},
		{name: "crash during the first write of the shadow: no position stored yet", cache: "replay_ids", channel: "/u/FirstTorn", shadow: " "},
		{name: "both torn", cache: "replay_ids", channel: "/u/BothTorn", raw: "x", shadow: " ",
			wantErr: "which is not a replay id: fix or delete that key"},
		// -1 is "latest" to Salesforce: resuming after it skips every retained event.
		{name: "stored -1", cache: "replay_ids", channel: "/event/Minus__e", raw: "-1",
			wantErr: `checkpoint "salesforce_streaming:%2Fevent%2FMinus__e" in checkpoint_cache "replay_ids" holds "-1", which is not a replay id (replay id -1 names no event`},
		{name: "stored 0 in both copies", cache: "replay_ids", channel: "/event/Zero__e", raw: "0", shadow: "0",
			wantErr: `holds "0", which is not a replay id (replay id 0 names no event`},
		{name: "stored -2 in the shadow only", cache: "replay_ids", channel: "/event/MinusShadow__e", shadow: "-2",
			wantErr: `checkpoint "salesforce_streaming:%2Fevent%2FMinusShadow__e.shadow" in checkpoint_cache "replay_ids" holds "-2"`},
		{name: "stored -1, the shadow holds a valid id: the shadow is used", cache: "replay_ids", channel: "/event/MinusValidShadow__e", raw: "-1", shadow: "88",
			wantID: 88, wantOK: true},
		{name: "a huge stored value is shown bounded", cache: "replay_ids", channel: "/event/Huge__e", raw: strings.Repeat("9x", 400_000),
			wantErr: `"9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x... (800000 bytes)", which is not a replay id: fix`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			store := cacheStore{res: res, cache: test.cache, prefix: "salesforce_streaming"}
			if test.raw != "" {
				require.NoError(t, res.AccessCache(t.Context(), test.cache, func(c service.Cache) {
					require.NoError(t, c.Set(t.Context(), store.key(test.channel), []byte(test.raw), nil))
				}))
			}
			if test.shadow != "" {
				require.NoError(t, res.AccessCache(t.Context(), test.cache, func(c service.Cache) {
					require.NoError(t, c.Set(t.Context(), store.key(test.channel)+checkpointfmt.ShadowSuffix, []byte(test.shadow), nil))
				}))
			}
			pos, ok, err := store.Load(t.Context(), test.channel)
			id := pos.Seq
			if test.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), test.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, test.wantOK, ok)
			assert.Equal(t, test.wantID, id)
		})
	}

	t.Run("round trip through a flat file per channel", func(t *testing.T) {
		store := cacheStore{res: res, cache: "replay_ids", prefix: "orders"}
		require.NoError(t, store.Store(t.Context(), "/topic/Invoices?Status__c=Open", stream.Position{Seq: 981}))
		pos, ok, err := store.Load(t.Context(), "/topic/Invoices")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, stream.Position{Seq: 981}, pos)

		raw, err := os.ReadFile(filepath.Join(dir, "orders:%2Ftopic%2FInvoices"))
		require.NoError(t, err, "the key is one file name: slashes are escaped")
		assert.Equal(t, "981", string(raw))
		raw, err = os.ReadFile(filepath.Join(dir, "orders:%2Ftopic%2FInvoices.shadow"))
		require.NoError(t, err, "every write also goes to the shadow key")
		assert.Equal(t, "981", string(raw))
	})
	t.Run("Pub/Sub round trip under its own key", func(t *testing.T) {
		store := cacheStore{res: res, cache: "replay_ids", prefix: "orders", codec: checkpointfmt.PubSub}
		require.NoError(t, store.Store(t.Context(), "/event/Order__e", stream.Position{Epoch: 2, Seq: 17, Opaque: "\x00\x01\xff"}))
		pos, ok, err := store.Load(t.Context(), "/event/Order__e")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, stream.Position{Epoch: 2, Opaque: "\x00\x01\xff"}, pos, "the tracking number is not stored")
		for _, key := range []string{"orders:%2Fevent%2FOrder__e@pubsub", "orders:%2Fevent%2FOrder__e@pubsub.shadow"} {
			raw, err := os.ReadFile(filepath.Join(dir, key))
			require.NoError(t, err)
			assert.Equal(t, "AAH/@2", string(raw))
		}
		_, ok, err = cacheStore{res: res, cache: "replay_ids", prefix: "orders"}.Load(t.Context(), "/event/Order__e")
		require.NoError(t, err)
		assert.False(t, ok, "a CometD input does not see the Pub/Sub checkpoint")
	})
	t.Run("Pub/Sub: an empty stored replay id is refused, naming the key", func(t *testing.T) {
		store := cacheStore{res: res, cache: "replay_ids", prefix: "empty", codec: checkpointfmt.PubSub}
		for _, key := range checkpointfmt.WriteOrder(store.key("/event/Order__e")) {
			require.NoError(t, res.AccessCache(t.Context(), "replay_ids", func(c service.Cache) {
				require.NoError(t, c.Set(t.Context(), key, []byte("@0"), nil))
			}))
		}
		_, _, err := store.Load(t.Context(), "/event/Order__e")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `checkpoint "empty:%2Fevent%2FOrder__e@pubsub" in checkpoint_cache "replay_ids" holds "@0", which is not a Pub/Sub replay id (the replay id is empty`)
	})
	t.Run("unknown cache", func(t *testing.T) {
		_, _, err := cacheStore{res: res, cache: "nope", prefix: "x"}.Load(t.Context(), "/u/A")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `accessing checkpoint_cache "nope"`)
	})
}
