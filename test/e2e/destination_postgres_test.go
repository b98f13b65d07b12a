package e2e

import (
	"context"
	dbsql "database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	// The database/sql drivers the sql destinations read back with.
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestDestinationPostgres runs the destination scenario against a throwaway
// PostgreSQL cluster (initdb and pg_ctl, as an unprivileged user when the
// tests run as root) on a loopback port.
func TestDestinationPostgres(t *testing.T) {
	runDestination(t, func(t *testing.T, e *env) destination {
		pg, err := harness.StartPostgres(e.ctx, e.dir)
		if errors.Is(err, harness.ErrPostgresNotInstalled) {
			t.Skip(err)
		}
		require.NoError(t, err)
		t.Cleanup(func() {
			if t.Failed() {
				t.Log(pg.LogTail(logTailLines))
			}
			_ = pg.Close()
		})
		// The cluster trusts loopback clients and never asks for this
		// password; bin/benthos holds it all the same, and must not log it.
		dsn := strings.Replace(pg.DSN, harness.PostgresUser+"@", harness.PostgresUser+":"+destPassword+"@", 1)
		require.Contains(t, dsn, destPassword)
		t.Cleanup(func() { assertNotLogged(t, e, destPassword) })
		return &sqlDest{
			driver: "postgres", readDriver: "pgx", dsn: dsn,
			createTable: "CREATE TABLE IF NOT EXISTS salesforce_events (channel text NOT NULL, replay_id bigint NOT NULL)",
			stopServer:  func() error { return pg.Stop(e.ctx) },
			startServer: func() error { return pg.Start(e.ctx) },
		}
	})
}

// destPassword is a password in the DSN of bin/benthos that must not appear
// in its logs, even while the database is down and every write fails.
const destPassword = "e2e-dsn-password-7f3a"

// assertNotLogged checks every log file in the scenario's dir for secret.
func assertNotLogged(t *testing.T, e *env, secret string) {
	t.Helper()
	logs, err := filepath.Glob(e.path("*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, logs)
	for _, path := range logs {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.NotContains(t, string(b), secret, "%s shows a secret", filepath.Base(path))
	}
}

// sqlDest is a table of sql_insert rows, one per message: channel and
// replay_id of the Record line. The table has no key, so that a duplicate
// delivery shows as a second row, which the scenario bounds.
type sqlDest struct {
	driver      string // sql_insert's driver field
	readDriver  string // database/sql driver name of the test's own client
	dsn         string
	createTable string
	stopServer  func() error
	startServer func() error
}

func (d *sqlDest) output(t *testing.T) map[string]any {
	return map[string]any{"sql_insert": map[string]any{
		"driver":         d.driver,
		"dsn":            d.dsn,
		"table":          "salesforce_events",
		"columns":        []string{"channel", "replay_id"},
		"args_mapping":   "root = [ this.channel, this.replay_id ]",
		"init_statement": d.createTable,
		"batching":       map[string]any{"count": 20, "period": "100ms"},
	}}
}

func (d *sqlDest) records(t *testing.T) []harness.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := dbsql.Open(d.readDriver, d.dsn)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT channel, replay_id FROM salesforce_events")
	if err != nil && isMissingTable(err) {
		return nil // bin/benthos has not connected yet: init_statement creates it
	}
	require.NoError(t, err)
	defer rows.Close()
	var recs []harness.Record
	for rows.Next() {
		var r harness.Record
		require.NoError(t, rows.Scan(&r.Channel, &r.ReplayID))
		recs = append(recs, r)
	}
	require.NoError(t, rows.Err())
	return recs
}

// isMissingTable tells the error of a table that does not exist yet
// (PostgreSQL SQLSTATE 42P01, MySQL error 1146).
func isMissingTable(err error) bool { return harness.IsMissingTable(err) }

func (d *sqlDest) stop(t *testing.T)  { require.NoError(t, d.stopServer()) }
func (d *sqlDest) start(t *testing.T) { require.NoError(t, d.startServer()) }
