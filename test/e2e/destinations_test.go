package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// destination is a server the pipeline writes Salesforce events into.
//
// Every message reaching the output is one harness.Record as JSON (the
// pipeline runs harness.RecordMapping: {"channel": ..., "replay_id": ...}),
// with the event's salesforce_* metadata still attached. A destination stores
// that body as it is (a Kafka record value, a JetStream message, a row's
// columns, an object's lines) and records reads it back.
type destination interface {
	// output is the `output:` section writing each message (the record mapping of harness.RecordMapping
	// or the raw event plus metadata, your choice, documented) into the destination.
	output(t *testing.T) map[string]any
	// records reads back, with the destination's own client, every event written so far.
	records(t *testing.T) []harness.Record
	// stop and start take the server down and bring it back on the same address with its data.
	stop(t *testing.T)
	start(t *testing.T)
}

// The destination scenario: two channels, a backlog and live rounds, a kill
// -9 while the backlog drains, then a second phase of live rounds during which
// the destination goes down and comes back.
const (
	destKey             = "dest"
	destBacklog         = 1500 // per channel, before the first start
	destLivePerRound    = 10   // per channel and round, while the first run runs
	destLiveRounds      = 10
	destKillAfter       = 1200 // events sent to bin/benthos when it is killed
	destCheckpointLimit = 100
	destMaxBatch        = 50
	destRoundInterval   = 50 * time.Millisecond

	// Phase two: events keep coming for about four seconds; the destination
	// goes down once some of them are in, and stays down for outageFor.
	destOutagePerRound = 5
	destOutageRounds   = 40
	destOutageInterval = 100 * time.Millisecond
	destOutageAfter    = 30 // phase-two records in the destination before the stop
	destOutageFor      = 2 * time.Second

	destPoll = 250 * time.Millisecond
)

var destChannels = map[string]int{
	"/event/Dest__e":        1,
	"/data/DestChangeEvent": 3,
}

// runDestination runs, for one destination: events from bin/sfemu through bin/benthos into it; kill -9 of
// bin/benthos mid-stream; restart; every retained replay id present (harness.Check against the ledger), duplicates
// only from the in-flight window; and an outage (stop, wait, start) in the middle of a run that loses nothing.
//
// Order is not checked: outputs write batches concurrently (max_in_flight)
// and retry nacked ones later, and a destination read back as a whole does
// not tell runs apart. Duplicates are checked by replay id, exactly: after
// the kill, the events the killed run wrote after the checkpoint the cache
// held at the kill are written once more, and no other event is.
func runDestination(t *testing.T, newDest func(t *testing.T, e *env) destination) {
	e := newEnv(t, harness.EmulatorConfig{MaxBatch: destMaxBatch})
	dest := newDest(t, e)
	store := checkpointStore{resources: e.fileCache(), read: e.fileCacheValue}
	ledger := harness.NewLedger()
	channels := make([]string, 0, len(destChannels))
	for ch, gap := range destChannels {
		channels = append(channels, ch)
		ids, err := e.emu.PublishIDs(e.ctx, ch, destBacklog, gap)
		require.NoError(t, err)
		ledger.Add(ch, ids...)
	}
	conf := recordPipeline(e.input(inputOpts{
		channels: channels, preset: "earliest", key: destKey, checkpointLimit: destCheckpointLimit,
	}), dest.output(t), nil)

	// Phase one: kill -9 while the backlog drains and live rounds arrive.
	run1 := e.startBenthos("run1", conf, store.resources)
	live := make(chan error, 1)
	go func() {
		live <- e.emu.PublishRounds(e.ctx, ledger, harness.Rounds{
			Channels: channels, Gaps: destChannels,
			PerRound: destLivePerRound, Rounds: destLiveRounds, Interval: destRoundInterval,
		})
	}()
	// The emulator's count of events sent is cheap to poll, so the kill
	// lands while batches are being written and checkpoints stored.
	e.stateWait(fmt.Sprintf("%d events sent before the kill", destKillAfter), func(st harness.State) bool {
		sent := int64(0)
		for _, c := range st.Clients {
			sent += c.EventsSent
		}
		return sent >= destKillAfter
	})
	require.NoError(t, run1.Kill())
	atKill := map[string]int64{}
	for _, ch := range channels {
		if id, ok := store.position(t, destKey, ch); ok {
			atKill[ch] = id
		}
	}
	first := settledRecords(t, e, dest)
	require.NoError(t, <-live)
	phase1 := ledger.Published()
	require.False(t, harness.Check(phase1, first).Complete(), "the kill must land mid-stream; the first run already had everything")

	run2 := e.startBenthos("run2", conf, store.resources)
	waitDestination(t, e, dest, "every phase-one event after the restart", func(recs []harness.Record) bool {
		return harness.Check(phase1, recs).Complete()
	}, run2)

	// Phase two: the destination goes down while events flow, and comes back.
	base := len(settledRecords(t, e, dest))
	outage := make(chan error, 1)
	go func() {
		outage <- e.emu.PublishRounds(e.ctx, ledger, harness.Rounds{
			Channels: channels, Gaps: destChannels,
			PerRound: destOutagePerRound, Rounds: destOutageRounds, Interval: destOutageInterval,
		})
	}()
	waitDestination(t, e, dest, fmt.Sprintf("%d phase-two records before the outage", destOutageAfter),
		func(recs []harness.Record) bool { return len(recs) >= base+destOutageAfter }, run2)
	dest.stop(t)
	publishedAtStop := ledger.Published().Total()
	time.Sleep(destOutageFor) // the outage itself: events keep arriving, writes fail
	dest.start(t)
	require.NoError(t, <-outage)
	want := ledger.Published()
	require.Less(t, publishedAtStop, want.Total(), "the outage must land while events are still published")

	waitDestination(t, e, dest, "every event after the outage", func(recs []harness.Record) bool {
		return harness.Check(want, recs).Complete()
	}, run2)
	e.stop(run2)
	all := settledRecords(t, e, dest)
	report := harness.Check(want, all)
	t.Logf("killed at %d records (checkpoints %v); %d records in the end; %d errors logged by the second run (the outage); %s",
		len(first), atKill, len(all), len(logLines(run2.Output(), "error")), report)

	assert.Empty(t, report.Missing, "every replay id is in the destination")
	assert.Empty(t, report.Unexpected, "only published replay ids are in the destination")
	checkKillDuplicates(t, phase1, atKill, first, all)
}

// checkKillDuplicates asserts that phase-one events were written twice only
// from the killed run's in-flight window, and exactly so: the restart resumes
// after the checkpoint the cache held at the kill, so every event the killed
// run had written after that checkpoint is written once more, and no other
// phase-one event is written more than once.
func checkKillDuplicates(t *testing.T, phase1 harness.Published, atKill map[string]int64, first, all []harness.Record) {
	t.Helper()
	firstCount := map[harness.Record]int{}
	for _, r := range first {
		firstCount[r]++
	}
	count := map[harness.Record]int{}
	for _, r := range all {
		count[r]++
	}
	window := 0
	for ch, ids := range phase1 {
		cp, stored := atKill[ch]
		for _, id := range ids {
			r := harness.Record{Channel: ch, ReplayID: id}
			want := max(firstCount[r], 1)
			if firstCount[r] > 0 && (!stored || id > cp) {
				want++ // in the in-flight window: the restart writes it again
				window++
			}
			assert.Equal(t, want, count[r], "%v: written %d times by the killed run, checkpoint at the kill %d (stored %v)",
				r, firstCount[r], cp, stored)
		}
	}
	t.Logf("in-flight window at the kill: %d events", window)
}

// waitDestination polls the destination until done accepts its records and
// returns them. It gives up when a watched bin/benthos is stuck (exited, or
// failing to connect to the emulator) or after deliverWait.
func waitDestination(t *testing.T, e *env, dest destination, what string, done func([]harness.Record) bool, watch ...*harness.Process) []harness.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, deliverWait)
	defer cancel()
	ticker := time.NewTicker(destPoll)
	defer ticker.Stop()
	for {
		recs := dest.records(t)
		if done(recs) {
			return recs
		}
		if why := stuck(watch); why != "" {
			require.FailNow(t, "waiting for "+what, "%s (%d records so far)", why, len(recs))
		}
		select {
		case <-ctx.Done():
			require.FailNow(t, "waiting for "+what, "%v (%d records so far)", ctx.Err(), len(recs))
		case <-ticker.C:
		}
	}
}

// settledRecords reads the destination until two reads a poll apart agree:
// after a kill, writes already on their way may still land.
func settledRecords(t *testing.T, e *env, dest destination) []harness.Record {
	t.Helper()
	prev := dest.records(t)
	for range 40 { // bounded: 40 polls, 10 s
		select {
		case <-e.ctx.Done():
			require.FailNow(t, "reading the destination", "%v", e.ctx.Err())
		case <-time.After(destPoll):
		}
		recs := dest.records(t)
		if len(recs) == len(prev) {
			return recs
		}
		prev = recs
	}
	require.FailNow(t, "reading the destination", "still growing after 40 polls (%d records)", len(prev))
	return nil
}
