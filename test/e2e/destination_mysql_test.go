package e2e

import (
	dbsql "database/sql"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestDestinationMySQL runs the destination scenario against a throwaway
// MariaDB server (mariadbd on its own data directory, as an unprivileged
// user when the tests run as root) on a loopback port, through sql_insert's
// mysql driver.
func TestDestinationMySQL(t *testing.T) {
	runDestination(t, func(t *testing.T, e *env) destination {
		m, err := harness.StartMariaDB(e.ctx, e.dir)
		if errors.Is(err, harness.ErrMariaDBNotInstalled) {
			t.Skip(err)
		}
		require.NoError(t, err)
		t.Cleanup(func() {
			if t.Failed() {
				t.Log(m.Tail(logTailLines))
			}
			_ = m.Close()
		})
		db, err := dbsql.Open("mysql", m.DSN)
		require.NoError(t, err)
		_, err = db.ExecContext(e.ctx, "CREATE DATABASE salesforce")
		require.NoError(t, err)
		require.NoError(t, db.Close())
		return &sqlDest{
			driver: "mysql", readDriver: "mysql", dsn: m.DSN + "salesforce",
			createTable: "CREATE TABLE IF NOT EXISTS salesforce_events (channel varchar(255) NOT NULL, replay_id bigint NOT NULL)",
			stopServer:  func() error { return m.Stop(harness.DefaultStopTimeout) },
			startServer: func() error { return m.Start(e.ctx) },
		}
	})
}
