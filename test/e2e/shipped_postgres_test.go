package e2e

import (
	"context"
	dbsql "database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// runCDCToPostgres: config/cdc_to_postgres.yaml with the jwt-bearer grant
// (a key the emulator generated) against a throwaway PostgreSQL: every change
// event becomes one row of salesforce_changes with its header fields, and
// running the pipeline a second time from the earliest retained event (the
// store emptied) adds no row (the conflict clause absorbs redelivery).
func runCDCToPostgres(t *testing.T, s *shippedRun) {
	e := s.e
	pg := startPostgres(t, e)

	ledger := harness.NewLedger()
	entities := map[string]string{"/data/AccountChangeEvent": "Account", "/data/ContactChangeEvent": "Contact"}
	for ch := range entities {
		ids, err := e.emu.PublishIDs(e.ctx, ch, 60, 1)
		require.NoError(t, err)
		ledger.Add(ch, ids...)
	}
	want := ledger.Published()

	run := func(name string) *harness.Process {
		return s.start(name, "SF_PRIVATE_KEY_FILE="+s.keyFile, "POSTGRES_DSN="+pg.DSN)
	}
	rows := func(t *testing.T) []harness.Record {
		return changeRows(t, e, pg.DSN, entities)
	}
	proc := run("shipped-postgres")
	waitDestination(t, e, recordsFunc(rows), "every change event in a row", func(got []harness.Record) bool {
		return harness.Check(want, got).Complete()
	}, proc)
	e.stop(proc)
	first := rows(t)
	report := harness.Check(want, first)
	// Rows are read in heap order, which batches in flight side by side
	// interleave: the table keeps each event's replay id, not its arrival order.
	assert.Empty(t, report.Missing, "every event has its row: %s", report)
	assert.Empty(t, report.Unexpected, "only published events have rows: %s", report)
	assert.Empty(t, report.Duplicates, "one row per event: %s", report)

	// A second run from the earliest retained event redelivers every event:
	// the rows stay as they were.
	s.clearStore()
	proc = run("shipped-postgres-again")
	e.stateWait("both channels subscribed again", func(st harness.State) bool {
		for ch := range entities {
			if !st.Subscribed(ch) {
				return false
			}
		}
		return true
	})
	s.waitCheckpoints("cdc_to_postgres", want)
	e.stop(proc)
	again := rows(t)
	assert.ElementsMatch(t, first, again, "redelivered events add no rows")
}

// changeRows reads salesforce_changes with pgx and checks each row's header
// columns against its channel's entity.
func changeRows(t *testing.T, e *env, dsn string, entities map[string]string) []harness.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	db, err := dbsql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	res, err := db.QueryContext(ctx, `SELECT channel, replay_id, entity, change_type, record_ids, commit_timestamp, fields FROM salesforce_changes`)
	if err != nil && isMissingTable(err) {
		return nil
	}
	require.NoError(t, err)
	defer res.Close()
	var recs []harness.Record
	for res.Next() {
		var (
			r                  harness.Record
			entity, changeType string
			recordIDs, fields  []byte
			commitTimestamp    time.Time
		)
		require.NoError(t, res.Scan(&r.Channel, &r.ReplayID, &entity, &changeType, &recordIDs, &commitTimestamp, &fields))
		assert.Equal(t, entities[r.Channel], entity, "entity of %v", r)
		assert.NotEmpty(t, changeType, "change_type of %v", r)
		var ids []string
		require.NoError(t, json.Unmarshal(recordIDs, &ids), "record_ids of %v: %s", r, recordIDs)
		assert.NotEmpty(t, ids, "record_ids of %v", r)
		assert.False(t, commitTimestamp.IsZero(), "commit_timestamp of %v", r)
		var f map[string]any
		require.NoError(t, json.Unmarshal(fields, &f), "fields of %v: %s", r, fields)
		assert.NotContains(t, f, "ChangeEventHeader", "fields of %v", r)
		recs = append(recs, r)
	}
	require.NoError(t, res.Err())
	return recs
}
