package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// streamConfig is a stream of `benthos streams`: input, pipeline and output
// only (service-wide fields live in the root config).
func streamConfig(input, output map[string]any) map[string]any {
	conf := recordPipeline(input, output, nil)
	for _, k := range []string{"http", "logger", "shutdown_timeout"} {
		delete(conf, k)
	}
	return conf
}

// TestStreamsMode is acceptance criterion (g): in `benthos streams` mode a
// stream on one channel is added and later removed through the REST API while
// another stream keeps flowing, with no gap in its replay ids.
func TestStreamsMode(t *testing.T) {
	e := newEnv(t, harness.EmulatorConfig{})
	const chA, chB = "/event/StreamA__e", "/u/StreamB"
	ledger := harness.NewLedger()
	ids, err := e.emu.PublishIDs(e.ctx, chA, 50, 2)
	require.NoError(t, err)
	ledger.Add(chA, ids...)

	addr, err := harness.FreeAddr()
	require.NoError(t, err)
	outA, outB := e.path("a.jsonl"), e.path("b.jsonl")
	streamA := streamConfig(e.input(inputOpts{channels: []string{chA}, preset: "earliest", key: "stream_a"}), fileOutput(outA))
	streamB := streamConfig(e.input(inputOpts{channels: []string{chB}, preset: "earliest", key: "stream_b"}), fileOutput(outB))
	proc, err := harness.StartBenthos(harness.BenthosConfig{
		Dir:  e.dir,
		Name: "streams",
		Observability: toYAML(t, map[string]any{
			"http":   map[string]any{"enabled": true, "address": addr},
			"logger": map[string]any{"level": "info", "format": "logfmt"},
		}),
		Resources: []string{e.fileCache()},
		Streams:   map[string]string{"a": toYAML(t, streamA)},
	})
	require.NoError(t, err)
	e.cleanupProcess(proc)
	api := harness.NewStreamsAPI(addr)
	readyCtx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, api.WaitReady(readyCtx))
	e.stateWait("stream a subscribed", func(st harness.State) bool { return st.Subscribed(chA) })

	// Stream a's channel gets events all along.
	published := make(chan error, 1)
	go func() {
		published <- e.emu.PublishRounds(e.ctx, ledger, harness.Rounds{
			Channels: []string{chA}, Gaps: map[string]int{chA: 2}, PerRound: 5, Rounds: 50, Interval: 100 * time.Millisecond,
		})
	}()
	// waitA waits until stream a delivered the last event published to it so
	// far: it is flowing at this point of the scenario.
	waitA := func(when string) {
		t.Helper()
		last, _ := ledger.Last(chA)
		ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
		defer cancel()
		_, err := harness.WaitRecords(ctx, outA, func(recs []harness.Record) bool {
			return slices.Contains(recs, harness.Record{Channel: chA, ReplayID: last})
		})
		require.NoError(t, err, "stream a delivers replay id %d %s", last, when)
	}

	require.NoError(t, api.Create(e.ctx, "b", toYAML(t, streamB)))
	e.stateWait("stream b subscribed", func(st harness.State) bool { return st.Subscribed(chB) })
	idsB, err := e.emu.PublishIDs(e.ctx, chB, 30, 2)
	require.NoError(t, err)
	recsB, reportB := waitComplete(e.ctx, t, harness.Published{chB: idsB}, nil, outB, proc)
	waitA("while stream b runs")

	require.NoError(t, api.Delete(e.ctx, "b"))
	e.stateWait("stream b's session to end", func(st harness.State) bool { return !st.HasSubscription(chB) })
	waitA("after stream b was removed")

	require.NoError(t, <-published)
	want := harness.Published{chA: ledger.Published()[chA]}
	recsA, reportA := waitComplete(e.ctx, t, want, nil, outA, proc)
	e.stop(proc)
	t.Logf("stream a: %d records, %s; stream b: %d records, %s", len(recsA), reportA, len(recsB), reportB)

	assert.Empty(t, reportA.Missing, "stream a has no gap")
	assert.Empty(t, reportA.Unexpected, "stream a gets only its channel")
	assert.Empty(t, reportA.Order, "stream a in replay order")
	assert.Empty(t, reportA.Duplicates, "stream a was never restarted by the add or remove of stream b")
	assert.Empty(t, reportB.Order, "stream b in replay order")
	stored, ok := e.fileCheckpoint("stream_b", chB)
	assert.True(t, ok, "the removed stream stored its checkpoint")
	assert.Equal(t, idText(idsB[len(idsB)-1]), stored, "removing a stream keeps its position, so adding it back resumes there")
}
