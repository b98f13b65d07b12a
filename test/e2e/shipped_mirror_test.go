package e2e

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/orgapi"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The mirror's scenario, as the acceptance has it.
const (
	mirrorAccounts = 20_000
	mirrorContacts = 5_000
	// mirrorKillAt: rows in sf_account when the first run is killed, mid-snapshot.
	mirrorKillAt = 2_000
	// mirrorConverge bounds each wait for the tables to equal the org.
	mirrorConverge = 120 * time.Second
)

// mirrorEmulator starts the emulator with the scenario's records, and over
// Pub/Sub on a free loopback port.
func mirrorEmulator(pubsub bool) func(t *testing.T) ([]string, []string) {
	return func(t *testing.T) ([]string, []string) {
		args := []string{"-records", fmt.Sprintf("Account=%d", mirrorAccounts), "-records", fmt.Sprintf("Contact=%d", mirrorContacts)}
		if !pubsub {
			return args, nil
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := lis.Addr().String()
		require.NoError(t, lis.Close())
		return append(args, "-pubsub-addr", addr), []string{"SF_API=pubsub", "SF_PUBSUB_ENDPOINT=" + addr}
	}
}

// runCDCMirror: config/cdc_mirror_postgres.yaml keeps sf_account and
// sf_contact equal to the org through a kill -9 mid-snapshot, 1,000 changes,
// gap and overflow events, a kill -9 mid-stream, and downtime past retention
// while records keep changing.
func runCDCMirror(t *testing.T, s *shippedRun) {
	e := s.e
	pg := startPostgres(t, e)
	org := mirrorOrgClient(t, e)
	run := func(name string) *harness.Process { return s.start(name, "POSTGRES_DSN="+pg.DSN) }
	db, err := dbsql.Open("pgx", pg.DSN)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	// 1. Killed in the middle of the snapshot, then restarted: it resumes.
	p1 := run("mirror-snapshot")
	waitMirror(t, e, "rows of the first snapshot pages", func() bool { return tableRows(t, e, db, "sf_account") >= mirrorKillAt }, p1)
	require.NoError(t, p1.Kill())
	state, found := mirrorSnapshotState(t, s)
	require.True(t, found, "the snapshot's progress is stored")
	require.False(t, state.Complete, "the kill landed in the middle of the snapshot")
	done := state.Objects[0].Done
	t.Logf("killed mid-snapshot: %+v", state.Objects)

	p2 := run("mirror-stream")
	waitMirror(t, e, "the snapshot to complete", func() bool {
		st, ok := mirrorSnapshotState(t, s)
		return ok && st.Complete
	}, p2)
	st, _ := mirrorSnapshotState(t, s)
	assert.Equal(t, int64(1), st.Generation, "the restart resumed the first snapshot")
	assert.GreaterOrEqual(t, st.Objects[0].Done, done)

	// 2. 1,000 changes, then gap events and an overflow.
	mutate(t, e, "Account", 700, "")
	mutate(t, e, "Contact", 300, "")
	mutate(t, e, "Account", 100, "gap")
	mutate(t, e, "Contact", 50, "gap")
	mutate(t, e, "Account", 300, "overflow")
	waitMirror(t, e, "the tables to equal the org after the changes", func() bool { return mirrorDiff(t, e, db, org) == "" }, p2)

	// 3. Killed mid-stream, with changes on their way.
	mutate(t, e, "Account", 200, "")
	require.NoError(t, p2.Kill())

	// 4. Down past retention while records keep changing (deletes included).
	mutate(t, e, "Account", 400, "")
	mutate(t, e, "Contact", 200, "")
	for _, ch := range []string{"/data/AccountChangeEvent", "/data/ContactChangeEvent"} {
		_, err := e.emu.Purge(e.ctx, ch, nil)
		require.NoError(t, err)
	}
	require.NotEmpty(t, mirrorDiff(t, e, db, org), "the tables are behind the org")
	p3 := run("mirror-resync")
	waitMirror(t, e, "the tables to equal the org after the resync", func() bool { return mirrorDiff(t, e, db, org) == "" }, p3)
	st, _ = mirrorSnapshotState(t, s)
	assert.Equal(t, "resync", st.Reason)
	assert.Greater(t, st.Generation, int64(1))

	// The stream goes on after the resync.
	mutate(t, e, "Contact", 100, "")
	waitMirror(t, e, "the tables to equal the org after the resync's stream", func() bool { return mirrorDiff(t, e, db, org) == "" }, p3)
	e.stop(p3)
	assert.Empty(t, mirrorDiff(t, e, db, org))
}

func mutate(t *testing.T, e *env, object string, n int, events string) {
	t.Helper()
	_, err := e.emu.Mutate(e.ctx, object, n, events)
	require.NoError(t, err)
}

// waitMirror polls cond until it holds, failing when a process exits or
// mirrorConverge passes.
func waitMirror(t *testing.T, e *env, what string, cond func() bool, watch ...*harness.Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, mirrorConverge)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if why := stuck(watch); why != "" {
			require.FailNow(t, "waiting for "+what, why)
		}
		select {
		case <-ctx.Done():
			require.FailNow(t, "waiting for "+what, "%v", ctx.Err())
		case <-tick.C:
		}
	}
}

// mirrorSnapshotState reads the snapshot progress the mirror stored.
func mirrorSnapshotState(t *testing.T, s *shippedRun) (checkpointfmt.SnapshotState, bool) {
	get := func(ctx context.Context, key string) ([]byte, bool, error) {
		v, ok, err := s.redis.Get(ctx, key)
		return []byte(v), ok, err
	}
	st, ok, err := checkpointfmt.ReadSnapshot(s.e.ctx, get, "cdc_mirror_postgres")
	require.NoError(t, err)
	return st, ok
}

func tableRows(t *testing.T, e *env, db *dbsql.DB, table string) int {
	var n int
	err := db.QueryRowContext(e.ctx, "SELECT count(*) FROM "+table).Scan(&n)
	if err != nil && isMissingTable(err) {
		return 0
	}
	require.NoError(t, err)
	return n
}

// mirrorOrgClient reads the emulator's records through its REST API.
func mirrorOrgClient(t *testing.T, e *env) *orgapi.Client {
	org, err := harness.EmulatorOrgClient(e.emu.URL)
	require.NoError(t, err)
	return org
}

// mirrorDiff answers the first difference between the tables and the org's
// live records, field for field, "" when they are equal.
func mirrorDiff(t *testing.T, e *env, db *dbsql.DB, org *orgapi.Client) string {
	t.Helper()
	diff, err := harness.MirrorDiff(e.ctx, db, org, harness.ShippedMirrorTables)
	require.NoError(t, err)
	return diff
}
