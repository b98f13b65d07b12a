package input

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// reshapeOutput is the output of the reshaped-batch tests. It reads replay
// ids from the bodies (an archive keeps one message's metadata for many
// events), nacks what nack says, and checks on every call that the stored
// checkpoint is never past an event it has not acknowledged.
type reshapeOutput struct {
	t        *testing.T
	dir      string // the file cache's directory
	key      string // the checkpoint's file name
	nack     func(ids []int64, calls int) bool
	mu       sync.Mutex
	calls    int
	acked    map[int64]int  // replay id -> times acknowledged
	nacks    int            // output batches rejected
	passed   []string       // checkpoint violations seen
	expected map[int64]bool // every published id
	waiters  chan struct{}
}

func newReshapeOutput(t *testing.T, dir, key string, nack func([]int64, int) bool) *reshapeOutput {
	return &reshapeOutput{t: t, dir: dir, key: key, nack: nack, acked: map[int64]int{}, expected: map[int64]bool{},
		waiters: make(chan struct{}, 1)}
}

// publishOneByOne publishes n events and returns their replay ids (the
// emulator leaves gaps between them, like Salesforce).
func publishOneByOne(t *testing.T, emu *sfemu.Server, channel string, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for k := range ids {
		id, _, err := emu.PublishN(channel, 1)
		require.NoError(t, err)
		ids[k] = id
	}
	return ids
}

// bodyIDs returns the replay ids of a message body: one event's data object,
// or a JSON array of them (archive json_array).
func bodyIDs(body []byte) ([]int64, error) {
	type data struct {
		Event struct {
			ReplayID int64 `json:"replayId"`
		} `json:"event"`
	}
	var many []data
	if err := json.Unmarshal(body, &many); err != nil {
		var one data
		if err := json.Unmarshal(body, &one); err != nil {
			return nil, fmt.Errorf("body is neither an event nor an array of events: %w", err)
		}
		many = []data{one}
	}
	ids := make([]int64, len(many))
	for k, d := range many {
		ids[k] = d.Event.ReplayID
	}
	return ids, nil
}

func (o *reshapeOutput) consume(_ context.Context, batch service.MessageBatch) error {
	var ids []int64
	for _, msg := range batch {
		body, err := msg.AsBytes()
		if err != nil {
			return err
		}
		more, err := bodyIDs(body)
		if err != nil {
			return err
		}
		ids = append(ids, more...)
	}
	o.checkCheckpoint()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if o.nack(ids, o.calls) {
		o.nacks++
		return errors.New("rejected by the test")
	}
	for _, id := range ids {
		o.acked[id]++
	}
	select {
	case o.waiters <- struct{}{}:
	default:
	}
	return nil
}

// checkCheckpoint records a violation when the stored checkpoint is past an
// event not acknowledged yet. The file cache truncates before it writes, so
// an unreadable value is skipped (the shadow rule covers it on restarts).
func (o *reshapeOutput) checkCheckpoint() {
	raw, err := os.ReadFile(filepath.Join(o.dir, o.key))
	if err != nil {
		return
	}
	pos, err := checkpointfmt.CometD.Parse(raw)
	if err != nil {
		return
	}
	stored := pos.ID
	if pos.Start {
		stored-- // a start marker: a restart delivers its first event again
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checkpointLocked(stored)
}

func (o *reshapeOutput) checkpointLocked(stored int64) {
	for id := range o.expected {
		if id <= stored && o.acked[id] == 0 {
			o.passed = append(o.passed, fmt.Sprintf("checkpoint %d stored before %d was acknowledged", stored, id))
			return
		}
	}
}

func (o *reshapeOutput) delivered() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.acked)
}

func (o *reshapeOutput) waitAll(t *testing.T, n int) {
	t.Helper()
	waitSignalled(t, o.waiters, o.delivered, n, "events delivered")
}

// TestReshapedBatchesLoseNothing runs processors that split, archive or
// regroup the input's batches in front of an output that rejects some of
// what it gets. Every nack redelivers the whole input batch, so nothing is
// lost, duplicates are bounded by the nacked input batches, and the stored
// checkpoint is never past an event the output has not acknowledged.
func TestReshapedBatchesLoseNothing(t *testing.T) {
	const events, perBatch = 200, 20
	// nackFirstTime rejects an output batch the first time it holds an id
	// that pick selects.
	nackFirstTime := func(pick func(int64) bool) func([]int64, int) bool {
		tried := map[int64]bool{}
		return func(ids []int64, _ int) bool {
			reject := false
			for _, id := range ids {
				if pick(id) && !tried[id] {
					tried[id], reject = true, true
				}
			}
			return reject
		}
	}
	every := func(int64) bool { return true }
	tests := []struct {
		name       string
		processors []string
		nack       func([]int64, int) bool
	}{
		{"split size 1, every message rejected once", []string{"split: { size: 1 }"}, nackFirstTime(every)},
		{"split size 1, one message in 20 rejected once", []string{"split: { size: 1 }"}, nackFirstTime(func(id int64) bool { return id%20 == 7 })},
		{"split size 10, every part rejected once", []string{"split: { size: 10 }"}, nackFirstTime(every)},
		{"archive, then rejected once", []string{"archive: { format: json_array }"}, nackFirstTime(every)},
		{"group_by_value, one group rejected once", []string{`group_by_value: { value: '${! meta("salesforce_replay_id").number() % 2 }' }`},
			nackFirstTime(func(id int64) bool { return id%2 == 1 })},
		{"split size 1, rejected three times in a row", []string{"split: { size: 1 }"}, func() func([]int64, int) bool {
			tries := map[int64]int{}
			return func(ids []int64, _ int) bool {
				if ids[0]%50 != 3 {
					return false
				}
				tries[ids[0]]++
				return tries[ids[0]] <= 3
			}
		}()},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			emu, url := startEmulator(t, sfemu.Config{MaxBatch: perBatch})
			ids := publishOneByOne(t, emu, "/event/Order__e", events)
			last := ids[len(ids)-1]
			dir := t.TempDir()
			out := newReshapeOutput(t, dir, "salesforce_streaming:%2Fevent%2FOrder__e", test.nack)
			for _, id := range ids {
				out.expected[id] = true
			}
			rs := startReshapeStream(t, url, dir, test.processors, "", out)
			out.waitAll(t, events)
			rs.stop(t)

			out.mu.Lock()
			defer out.mu.Unlock()
			assert.Empty(t, out.passed, "the checkpoint never passes an undelivered event")
			total := 0
			for _, id := range ids {
				assert.Positive(t, out.acked[id], "event %d delivered", id)
				total += out.acked[id]
			}
			require.Positive(t, out.nacks, "the output rejected something")
			assert.LessOrEqual(t, total-events, out.nacks*perBatch, "duplicates are bounded by the nacked input batches")
			assert.Equal(t, last, storedID(t, dir, out.key), "the checkpoint ends at the last event")
		})
	}
}

// TestNackDropsWithoutAutoReplay: with auto_replay_nacks false a rejected
// batch is dropped (Benthos' documented opt-in) and the checkpoint moves past
// it, so a restart does not bring it back.
func TestNackDropsWithoutAutoReplay(t *testing.T) {
	emu, url := startEmulator(t, sfemu.Config{MaxBatch: 10})
	ids := publishOneByOne(t, emu, "/event/Order__e", 50)
	last := ids[len(ids)-1]
	dir := t.TempDir()
	rejected := func(id int64) bool { return id >= ids[20] && id <= ids[29] } // the third input batch
	out := newReshapeOutput(t, dir, "salesforce_streaming:%2Fevent%2FOrder__e", func(ids []int64, _ int) bool {
		return rejected(ids[0])
	})
	rs := startReshapeStream(t, url, dir, nil, "  auto_replay_nacks: false\n", out)
	out.waitAll(t, 40)
	require.Eventually(t, func() bool {
		raw, err := os.ReadFile(filepath.Join(dir, out.key))
		return err == nil && strings.TrimSpace(string(raw)) == strconv.FormatInt(last, 10)
	}, waitTimeout, 10*time.Millisecond, "the checkpoint moves past the dropped batch")
	rs.stop(t)

	out.mu.Lock()
	assert.Equal(t, 1, out.nacks, "a dropped batch is not retried")
	for _, id := range ids {
		if rejected(id) {
			assert.Zero(t, out.acked[id], "event %d was dropped", id)
		} else {
			assert.Equal(t, 1, out.acked[id], "event %d delivered once", id)
		}
	}
	out.mu.Unlock()

	// A restart starts after the last event: the dropped batch stays dropped.
	next := publishOneByOne(t, emu, "/event/Order__e", 1)[0]
	again := newReshapeOutput(t, dir, out.key, func([]int64, int) bool { return false })
	rs = startReshapeStream(t, url, dir, nil, "", again)
	again.waitAll(t, 1)
	rs.stop(t)
	again.mu.Lock()
	defer again.mu.Unlock()
	assert.Equal(t, map[int64]int{next: 1}, again.acked)
}

// startReshapeStream runs the input from earliest with a file cache in dir,
// the processors, and out as the output.
func startReshapeStream(t *testing.T, url, dir string, processors []string, extra string, out *reshapeOutput) *runningStream {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: none"))
	require.NoError(t, b.AddCacheYAML("label: replay_ids\nfile:\n  directory: "+dir))
	require.NoError(t, b.AddInputYAML(fmt.Sprintf(`
salesforce_streaming:
  org_url: %s
  auth: { grant_type: client_credentials, client_id: sfemu-client-id, client_secret: sfemu-client-secret }
  checkpoint_cache: replay_ids
  channels: [ /event/Order__e ]
  replay_preset: earliest
  backoff: { initial_interval: 100ms, max_interval: 1s, long_interval: 2s }
%s`, url, extra)))
	for _, p := range processors {
		require.NoError(t, b.AddProcessorYAML(p))
	}
	require.NoError(t, b.AddBatchConsumerFunc(out.consume))
	stream, err := b.Build()
	require.NoError(t, err)
	rs := &runningStream{stream: stream, done: make(chan error, 1)}
	go func() { rs.done <- stream.Run(context.Background()) }()
	t.Cleanup(func() { _ = stream.StopWithin(waitTimeout) })
	return rs
}
