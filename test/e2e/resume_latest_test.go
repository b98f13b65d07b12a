package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The kill-from-latest scenario: small connect answers and a small
// checkpoint limit, so that checkpoints are written many times a second and
// a kill -9 lands among the writes; every restart starts from `latest`, so a
// checkpoint that a kill destroyed, or one the restart ignored, shows as
// loss, not as duplicates.
const (
	latestKey       = "latest"
	latestKills     = 3
	latestKillAfter = 500 // records of the current run before its kill
	latestPerRound  = 40  // per channel and round
	latestRounds    = 50  // 2,000 events per channel
	// Publishing lasts about 20 s, so that it spans the three kills: each
	// restart first waits for the killed run's lease to expire (ttl 3 s).
	latestRoundInterval   = 400 * time.Millisecond
	latestMaxBatch        = 10
	latestCheckpointLimit = 50
)

var latestChannels = map[string]int{"/event/KillLatest__e": 1, "/data/KillLatestChangeEvent": 2}

// TestResumeAfterKillsFromLatest: three kill -9 while the backlog drains
// and checkpoints are written, each restart with replay_preset latest, the
// replay ids in the file cache and in redis-server. No event is lost (a
// restart resumed from the stored replay id, never from `latest`), each
// restart delivers nothing at or before the replay id stored at its kill,
// the duplicates are at most the killed runs' in-flight windows (their
// records after the stored replay id), and a graceful stop leaves the last
// event as the checkpoint.
func TestResumeAfterKillsFromLatest(t *testing.T) {
	t.Run("file cache", func(t *testing.T) {
		e := newEnv(t, harness.EmulatorConfig{MaxBatch: latestMaxBatch})
		runKillsFromLatest(t, e, checkpointStore{resources: e.fileCache(), read: e.fileCacheValue})
	})
	t.Run("redis", func(t *testing.T) {
		requireBinaries(t)
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		redis, err := harness.StartRedis(ctx, t.TempDir())
		if errors.Is(err, harness.ErrRedisNotInstalled) {
			t.Skip(err.Error())
		}
		require.NoError(t, err)
		t.Cleanup(func() { _ = redis.Close() })
		e := newEnv(t, harness.EmulatorConfig{MaxBatch: latestMaxBatch})
		resources := toYAML(t, map[string]any{
			"cache_resources": []any{map[string]any{"label": "replay_ids", "redis": map[string]any{"url": redis.URL}}},
		})
		runKillsFromLatest(t, e, checkpointStore{resources: resources, read: func(cacheKey string) (string, bool) {
			v, ok, err := redis.Get(e.ctx, cacheKey)
			require.NoError(t, err)
			return v, ok
		}})
	})
}

func runKillsFromLatest(t *testing.T, e *env, store checkpointStore) {
	channels := make([]string, 0, len(latestChannels))
	for ch := range latestChannels {
		channels = append(channels, ch)
	}
	pipeline := func(out string) map[string]any {
		return recordPipeline(e.input(inputOpts{
			channels: channels, preset: "latest", key: latestKey, checkpointLimit: latestCheckpointLimit,
		}), fileOutput(out), nil)
	}
	start := func(run int) (*harness.Process, string) {
		path := e.path(fmt.Sprintf("run%d.jsonl", run))
		return e.startBenthos(fmt.Sprintf("run%d", run), pipeline(path), store.resources), path
	}

	proc, path := start(1)
	_, err := e.emu.WaitSubscribed(e.ctx, channels...)
	require.NoError(t, err, "run 1 subscribes (from latest: what is published from now on is due)")
	ledger := harness.NewLedger()
	published := make(chan error, 1)
	go func() {
		published <- e.emu.PublishRounds(e.ctx, ledger, harness.Rounds{
			Channels: channels, Gaps: latestChannels,
			PerRound: latestPerRound, Rounds: latestRounds, Interval: latestRoundInterval,
		})
	}()

	var killed [][]harness.Record // the records of each killed run
	var atKill []map[string]int64 // the stored replay ids at each kill
	for run := 1; run <= latestKills; run++ {
		ctx, cancel := context.WithTimeout(e.ctx, deliverWait)
		_, err := harness.WaitRecords(ctx, path, func(recs []harness.Record) bool {
			if len(recs) < latestKillAfter {
				return false
			}
			for _, ch := range channels {
				if _, ok := store.position(t, latestKey, ch); !ok {
					return false // from latest, a channel without a checkpoint legitimately skips
				}
			}
			return true
		})
		cancel()
		require.NoError(t, err, "run %d never reached %d records with a checkpoint per channel", run, latestKillAfter)
		require.NoError(t, proc.Kill())
		stored := map[string]int64{}
		for _, ch := range channels {
			id, ok := store.position(t, latestKey, ch)
			require.True(t, ok, "%s: a checkpoint survives the kill of run %d", ch, run)
			stored[ch] = id
		}
		recs, err := harness.ReadRecords(path)
		require.NoError(t, err)
		killed, atKill = append(killed, recs), append(atKill, stored)
		proc, path = start(run + 1)
	}
	require.NoError(t, <-published)
	want := ledger.Published()
	require.False(t, harness.Check(want, killed...).Complete(), "the kills must land mid-stream")

	waitComplete(e.ctx, t, want, killed, path, proc)
	e.stop(proc)
	final, err := harness.ReadRecords(path)
	require.NoError(t, err)
	runs := append(killed, final)
	report := harness.Check(want, runs...)
	t.Logf("%d kills; %s", latestKills, report)

	assertNoLoss(t, report)
	assert.Empty(t, report.Order, "per channel in replay order within each run")
	assert.Empty(t, report.DuplicatesWithinRun, "no redelivery inside a run")
	for _, ch := range channels {
		window := 0
		for k, recs := range killed {
			for _, r := range recs {
				if r.Channel == ch && r.ReplayID > atKill[k][ch] {
					window++
				}
			}
			for _, r := range runs[k+1] {
				if r.Channel == ch {
					assert.Greater(t, r.ReplayID, atKill[k][ch], "%s: run %d resumes after the replay id stored at the kill", ch, k+2)
					break
				}
			}
		}
		assert.LessOrEqual(t, report.Duplicates[ch], window, "%s: duplicates are at most the killed runs' in-flight windows", ch)
		last, _ := ledger.Last(ch)
		pos, ok := readCheckpoint(t, store.read, latestKey, ch)
		stored := string(checkpointfmt.CometD.Format(pos))
		if assert.True(t, ok, "%s: a checkpoint is stored", ch) {
			assert.Equal(t, idText(last), stored, "%s: after a graceful stop the checkpoint is the last event", ch)
		}
	}
}
