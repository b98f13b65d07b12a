package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The resume scenario: 10,000 events over one channel of every kind, the
// pipeline killed with SIGKILL while events flow, then restarted.
const (
	resumeKey           = "resume"
	resumeBacklog       = 1500 // per channel, published before the first start
	resumeLivePerRound  = 25   // per channel and round, published while running
	resumeRounds        = 40   // 1500 + 25*40 = 2500 per channel, 10,000 in all
	resumeRoundInterval = 40 * time.Millisecond
	// The kill lands while the 6,000-event backlog drains: the pipeline is
	// busy, with batches in flight and checkpoints being written, not idle
	// between live rounds.
	resumeKillAfter       = 2500
	resumeCheckpointLimit = 200
	resumeMaxBatch        = 50 // events per connect answer, below checkpoint_limit
)

// resumeChannels are one channel of each kind, each with its own replay id
// step so that ids are not contiguous, as on Salesforce.
var resumeChannels = map[string]int{
	"/event/Resume__e":        1,
	"/data/ResumeChangeEvent": 2,
	"/topic/ResumeInvoices":   3,
	"/u/ResumeAlerts":         5,
}

// checkpointStore is where a scenario's replay ids live: the cache resources
// handed to bin/benthos and a way to read a stored id.
type checkpointStore struct {
	resources string
	read      func(cacheKey string) (string, bool) // a raw key of the replay-id cache
}

// position is the replay id a channel's restart resumes after, from its
// stored position as the input reads it back: the later valid position of
// its key and the key's shadow copy.
func (s checkpointStore) position(t *testing.T, prefix, channel string) (int64, bool) {
	t.Helper()
	pos, ok := readCheckpoint(t, s.read, prefix, channel)
	return resumesAfter(pos), ok
}

// TestResumeAfterKill is acceptance criterion (a): every replay id is
// delivered, per channel in order within each run, and the only duplicates
// are the in-flight window of the killed run: exactly its events after the
// replay id the cache held at the kill (unacknowledged ones, at most
// checkpoint_limit, and acknowledged ones not yet written).
func TestResumeAfterKill(t *testing.T) {
	e := newEnv(t, harness.EmulatorConfig{MaxBatch: resumeMaxBatch})
	runResume(t, e, checkpointStore{resources: e.fileCache(), read: e.fileCacheValue})
}

// TestResumeAfterKillRedis is acceptance criterion (d): the same scenario
// with replay ids in a real redis-server (the resources/replay_ids_redis.yaml
// pattern).
func TestResumeAfterKillRedis(t *testing.T) {
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	redisDir := t.TempDir()
	redis, err := harness.StartRedis(ctx, redisDir)
	if errors.Is(err, harness.ErrRedisNotInstalled) {
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis at %s:\n%s", redis.Addr, redis.Proc.Tail(20))
		}
		_ = redis.Close()
	})

	e := newEnv(t, harness.EmulatorConfig{MaxBatch: resumeMaxBatch})
	resources := toYAML(t, map[string]any{
		"cache_resources": []any{map[string]any{"label": "replay_ids", "redis": map[string]any{"url": redis.URL}}},
	})
	runResume(t, e, checkpointStore{resources: resources, read: func(cacheKey string) (string, bool) {
		v, ok, err := redis.Get(e.ctx, cacheKey)
		require.NoError(t, err)
		return v, ok
	}})
}

func runResume(t *testing.T, e *env, store checkpointStore) {
	ledger := harness.NewLedger()
	channels := make([]string, 0, len(resumeChannels))
	for ch, gap := range resumeChannels {
		channels = append(channels, ch)
		ids, err := e.emu.PublishIDs(e.ctx, ch, resumeBacklog, gap)
		require.NoError(t, err)
		ledger.Add(ch, ids...)
	}
	pipeline := func(out string) map[string]any {
		return recordPipeline(e.input(inputOpts{
			channels:        channels,
			preset:          "earliest",
			key:             resumeKey,
			checkpointLimit: resumeCheckpointLimit,
		}), fileOutput(out), nil)
	}

	run1Path, run2Path := e.path("run1.jsonl"), e.path("run2.jsonl")
	run1 := e.startBenthos("run1", pipeline(run1Path), store.resources)

	// Publish the rest while the pipeline runs, so that the kill lands in a
	// live stream, not after a drained backlog.
	published := make(chan error, 1)
	go func() {
		published <- e.emu.PublishRounds(e.ctx, ledger, harness.Rounds{
			Channels: channels, Gaps: resumeChannels,
			PerRound: resumeLivePerRound, Rounds: resumeRounds, Interval: resumeRoundInterval,
		})
	}()

	killCtx, cancel := context.WithTimeout(e.ctx, deliverWait)
	_, err := harness.WaitRecords(killCtx, run1Path, func(recs []harness.Record) bool { return len(recs) >= resumeKillAfter })
	cancel()
	require.NoError(t, err, "the first run never reached %d records", resumeKillAfter)
	require.NoError(t, run1.Kill())
	first, err := harness.ReadRecords(run1Path)
	require.NoError(t, err)
	atKill := map[string]int64{} // where each channel's restart must resume
	for _, ch := range channels {
		if id, ok := store.position(t, resumeKey, ch); ok {
			atKill[ch] = id
		}
	}

	run2 := e.startBenthos("run2", pipeline(run2Path), store.resources)
	require.NoError(t, <-published)
	want := ledger.Published()
	require.Equal(t, len(resumeChannels)*(resumeBacklog+resumeLivePerRound*resumeRounds), want.Total())
	firstReport := harness.Check(want, first)
	require.False(t, firstReport.Complete(), "the kill must land mid-stream; the first run already had everything: %s", firstReport)

	waitComplete(e.ctx, t, want, [][]harness.Record{first}, run2Path, run2)
	e.stop(run2)
	second, err := harness.ReadRecords(run2Path) // with what arrived until the stop
	require.NoError(t, err)
	report := harness.Check(want, first, second)
	t.Logf("killed after %d records; %s", len(first), report)

	assert.Empty(t, report.Missing, "every replay id is delivered")
	assert.Empty(t, report.Unexpected, "only published replay ids are delivered")
	assert.Empty(t, report.Order, "per channel in replay order within each run")
	assert.Empty(t, report.DuplicatesWithinRun, "no redelivery inside a run")
	// The restart resumes exactly after what the cache held at the kill: it
	// redelivers precisely the first run's events after that replay id (the
	// in-flight window: unacknowledged, or acknowledged but not yet written),
	// and nothing at or before it.
	for _, ch := range channels {
		cp, stored := atKill[ch]
		inFlight := 0
		for _, r := range first {
			if r.Channel == ch && (!stored || r.ReplayID > cp) {
				inFlight++
			}
		}
		assert.Equal(t, inFlight, report.Duplicates[ch],
			"%s: duplicates are exactly the first run's events after the checkpoint stored at the kill (%d, stored %v)", ch, cp, stored)
		for _, r := range second {
			if r.Channel == ch && stored {
				assert.Greater(t, r.ReplayID, cp, "%s: the restart delivered an event at or before its stored checkpoint", ch)
				break
			}
		}
	}
	assert.NotEmpty(t, atKill, "at least one channel had a checkpoint stored before the kill (%d records in): the writer keeps up", len(first))
	for _, ch := range channels {
		last, _ := ledger.Last(ch)
		pos, ok := readCheckpoint(t, store.read, resumeKey, ch)
		stored := string(checkpointfmt.CometD.Format(pos))
		if assert.True(t, ok, "%s: a checkpoint is stored", ch) {
			assert.Equal(t, idText(last), stored, "%s: after a graceful stop the checkpoint is the last delivered replay id", ch)
		}
	}
}
