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

// settleQuiet is how long the output must stay unchanged, with the pipeline
// settled, before a scenario that may lose events stops waiting: long enough
// for a nacked batch's redelivery on a loaded 2-core machine.
const settleQuiet = 3 * time.Second

// waitSettled waits until the records at path hold every id of want, or
// until settled holds and no record arrived for settleQuiet (the pipeline is
// done: whatever is still missing is lost), or until deliverWait passes or
// proc exits. Unlike waitComplete it does not fail when ids are missing: the
// caller reads the records and its assertions count them.
func waitSettled(ctx context.Context, t *testing.T, want harness.Published, path string, proc *harness.Process, settled func([]harness.Record) bool) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, deliverWait)
	defer cancel()
	count, changed := -1, time.Now()
	_, err := harness.WaitRecords(wctx, path, func(recs []harness.Record) bool {
		if harness.Check(want, recs).Complete() || proc.Exited() {
			return true
		}
		if len(recs) != count {
			count, changed = len(recs), time.Now()
			return false
		}
		return settled(recs) && time.Since(changed) >= settleQuiet
	})
	if err != nil {
		t.Logf("the pipeline did not settle: %v", err)
	}
	if proc.Exited() {
		require.Failf(t, "the pipeline exited", "%s exited: %v", proc.Name(), proc.ExitErr())
	}
}

// delivered reports whether recs hold id on channel.
func delivered(recs []harness.Record, channel string, id int64) bool {
	return slices.Contains(recs, harness.Record{Channel: channel, ReplayID: id})
}

// requireRetained checks that the emulator still retains exactly what
// the ledger says was published to channel (as many events, the same first
// and last ids; with ids stepping by 1 that is every id): the retention
// window is the reference a lost event is counted against.
func (e *env) requireRetained(channel string, published []int64) {
	e.t.Helper()
	st, err := e.emu.State(e.ctx)
	require.NoError(e.t, err)
	cs, ok := st.Channels[channel]
	require.True(e.t, ok, "the emulator knows %s", channel)
	require.Equal(e.t, len(published), cs.Retained, "%s: the emulator retains every published event", channel)
	require.Equal(e.t, published[0], cs.FirstReplayID, "%s: first retained id", channel)
	require.Equal(e.t, published[len(published)-1], cs.LastReplayID, "%s: last retained id", channel)
}

// assertNoLoss asserts that the report misses no published id and holds
// nothing else.
func assertNoLoss(t *testing.T, report harness.Report) {
	t.Helper()
	assert.Empty(t, report.Missing, "lost: published, retained by the emulator, never delivered")
	assert.Empty(t, report.Unexpected, "only published ids are delivered")
}

// storedPosition returns the replay id the input resumes channel from with
// the file cache: checkpointfmt reads the key and its shadow copy (a kill may
// cut a write short) and compares epochs (ids of a later epoch may be lower).
func (e *env) storedPosition(prefix, channel string) (int64, bool) {
	e.t.Helper()
	pos, ok := readCheckpoint(e.t, e.fileCacheValue, prefix, channel)
	return resumesAfter(pos), ok
}
