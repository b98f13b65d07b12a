package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// server is a real database for the output to write to.
type server struct {
	driver      driver
	dsn         string
	createTable string
	suffix      string // makes a second delivery of a row a no-op
	stop, start func(t *testing.T)
}

const testTimeout = 2 * time.Minute

func startPostgres(t *testing.T, ctx context.Context) server {
	pg, err := harness.StartPostgres(ctx, t.TempDir())
	if errors.Is(err, harness.ErrPostgresNotInstalled) {
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(pg.LogTail(30))
		}
		assert.NoError(t, pg.Close())
	})
	return server{
		driver: driverPostgres,
		dsn:    pg.DSN,
		createTable: `CREATE TABLE IF NOT EXISTS events (
			channel text NOT NULL, replay_id bigint NOT NULL, payload jsonb,
			PRIMARY KEY (channel, replay_id))`,
		suffix: "ON CONFLICT (channel, replay_id) DO NOTHING",
		stop:   func(t *testing.T) { require.NoError(t, pg.Stop(ctx)) },
		start:  func(t *testing.T) { require.NoError(t, pg.Start(ctx)) },
	}
}

func startMariaDB(t *testing.T, ctx context.Context) server {
	m, err := harness.StartMariaDB(ctx, t.TempDir())
	if errors.Is(err, harness.ErrMariaDBNotInstalled) {
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(m.Tail(30))
		}
		assert.NoError(t, m.Close())
	})
	db, err := dbsql.Open("mysql", m.DSN)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "CREATE DATABASE salesforce")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	return server{
		driver: driverMySQL,
		dsn:    m.DSN + "salesforce",
		createTable: `CREATE TABLE IF NOT EXISTS events (
			channel varchar(255) NOT NULL, replay_id bigint NOT NULL, payload json,
			PRIMARY KEY (channel, replay_id))`,
		suffix: "ON DUPLICATE KEY UPDATE replay_id = replay_id",
		stop:   func(t *testing.T) { require.NoError(t, m.Stop(harness.DefaultStopTimeout)) },
		start:  func(t *testing.T) { require.NoError(t, m.Start(ctx)) },
	}
}

func TestOutput(t *testing.T) {
	servers := []struct {
		name  string
		start func(t *testing.T, ctx context.Context) server
	}{
		{name: "postgres", start: startPostgres},
		{name: "mariadb", start: startMariaDB},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			if testing.Short() {
				t.Skip("starts a database server; skipped in -short mode")
			}
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			srv := s.start(t, ctx)
			t.Run("a batch commits all its rows, once", func(t *testing.T) { testCommit(t, ctx, srv) })
			t.Run("a failing row rolls the whole batch back", func(t *testing.T) { testRollback(t, ctx, srv) })
			t.Run("an outage fails writes until the server is back", func(t *testing.T) { testOutage(t, ctx, srv) })
			t.Run("errors do not show the password", func(t *testing.T) { testPasswordNotShown(t, ctx, srv) })
			t.Run("init_files, options and Connect's driver names", func(t *testing.T) { testConnectFields(t, ctx, srv) })
			if srv.driver == driverPostgres {
				t.Run("a COMMIT that fails fails the batch", func(t *testing.T) { testCommitFails(t, ctx, srv) })
			}
		})
	}
}

// newTestOutput builds and connects an output writing {channel, replay_id,
// payload} rows into the table events.
func newTestOutput(t *testing.T, ctx context.Context, srv server, channel string) *output {
	t.Helper()
	conf := fmt.Sprintf(`
driver: %s
dsn: %q
table: events
columns: [channel, replay_id, payload]
args_mapping: root = [ this.channel, this.replay_id, this.payload ]
suffix: %q
init_statement: %q
`, srv.driver, srv.dsn, srv.suffix, srv.createTable)
	parsed, err := spec().ParseYAML(conf, nil)
	require.NoError(t, err)
	out, err := newOutput(parsed)
	require.NoError(t, err)
	require.NoError(t, out.Connect(ctx))
	t.Cleanup(func() { assert.NoError(t, out.Close(context.Background())) })
	return out
}

// batch returns one message per replay id of channel; a negative id makes a
// message whose channel is null, which the table refuses.
func batch(channel string, ids ...int) service.MessageBatch {
	var b service.MessageBatch
	for _, id := range ids {
		ch := fmt.Sprintf("%q", channel)
		if id < 0 {
			ch = "null"
		}
		b = append(b, service.NewMessage(fmt.Appendf(nil, `{"channel":%s,"replay_id":%d,"payload":{"Name":"Acme %d"}}`, ch, id, id)))
	}
	return b
}

// replayIDs reads back the ids stored for channel, in order, with the
// database's own client.
func replayIDs(t *testing.T, ctx context.Context, srv server, channel string) []int {
	t.Helper()
	db, err := dbsql.Open(srv.driver.sqlDriverName(), srv.dsn)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT replay_id FROM events WHERE channel = %s ORDER BY replay_id", srv.driver.placeholder(1)), channel)
	require.NoError(t, err)
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	return ids
}

func testCommit(t *testing.T, ctx context.Context, srv server) {
	out := newTestOutput(t, ctx, srv, "/event/Commit__e")
	require.NoError(t, out.WriteBatch(ctx, batch("/event/Commit__e", 1, 2, 3)))
	// A redelivery (at-least-once) of a batch overlapping the first.
	require.NoError(t, out.WriteBatch(ctx, batch("/event/Commit__e", 3, 4, 2)))
	assert.Equal(t, []int{1, 2, 3, 4}, replayIDs(t, ctx, srv, "/event/Commit__e"))

	db, err := dbsql.Open(srv.driver.sqlDriverName(), srv.dsn)
	require.NoError(t, err)
	defer db.Close()
	var payload string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT payload FROM events WHERE replay_id = 4").Scan(&payload))
	assert.JSONEq(t, `{"Name":"Acme 4"}`, payload)
}

func testRollback(t *testing.T, ctx context.Context, srv server) {
	out := newTestOutput(t, ctx, srv, "/event/Rollback__e")
	err := out.WriteBatch(ctx, batch("/event/Rollback__e", 10, 11, -1, 12))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "row 3 of 4")
	assert.Empty(t, replayIDs(t, ctx, srv, "/event/Rollback__e"), "rows before the failing one were rolled back")

	require.NoError(t, out.WriteBatch(ctx, batch("/event/Rollback__e", 10, 11, 12)))
	assert.Equal(t, []int{10, 11, 12}, replayIDs(t, ctx, srv, "/event/Rollback__e"))
}

func testOutage(t *testing.T, ctx context.Context, srv server) {
	out := newTestOutput(t, ctx, srv, "/event/Outage__e")
	require.NoError(t, out.WriteBatch(ctx, batch("/event/Outage__e", 1)))

	srv.stop(t)
	writeCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err := out.WriteBatch(writeCtx, batch("/event/Outage__e", 2))
	cancel()
	require.Error(t, err, "a write while the server is down must fail (and nack)")

	srv.start(t)
	// The pool reconnects by itself; the first attempts may still meet a
	// connection the server closed. Bounded retries, as Benthos retries.
	var lastErr error
	for attempt := 0; attempt < 50; attempt++ {
		if lastErr = out.WriteBatch(ctx, batch("/event/Outage__e", 2, 3)); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, lastErr)
	assert.Equal(t, []int{1, 2, 3}, replayIDs(t, ctx, srv, "/event/Outage__e"))
}

func testPasswordNotShown(t *testing.T, ctx context.Context, srv server) {
	const password = "hunter2-never-shown"
	closed, err := harness.FreeAddr()
	require.NoError(t, err)
	dsn := map[driver]string{
		driverPostgres: "postgres://app:" + password + "@" + closed + "/crm?sslmode=disable&connect_timeout=5",
		driverMySQL:    "app:" + password + "@tcp(" + closed + ")/crm?timeout=5s",
	}[srv.driver]
	conf := fmt.Sprintf("driver: %s\ndsn: %q\ntable: events\ncolumns: [a]\nargs_mapping: root = [ this.a ]\n", srv.driver, dsn)
	parsed, err := spec().ParseYAML(conf, nil)
	require.NoError(t, err)
	out, err := newOutput(parsed)
	require.NoError(t, err)
	defer out.Close(ctx)
	err = out.Connect(ctx)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), password)
	assert.NotContains(t, err.Error(), dsn)
}

// testConnectFields: init_files (a glob, run in order before init_statement)
// creates the table; with MySQL, `options: [IGNORE]` turns a duplicate key
// into a no-op without a suffix; with PostgreSQL, Connect's `pgx` driver name
// works as `postgres`.
func testConnectFields(t *testing.T, ctx context.Context, srv server) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "01_table.sql"), []byte(strings.Replace(srv.createTable, "events", "init_events", 1)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "02_note.sql"), []byte("CREATE TABLE IF NOT EXISTS init_note (n int)"), 0o600))
	driverName, options, suffix := string(srv.driver), "[]", srv.suffix
	if srv.driver == driverPostgres {
		driverName = "pgx"
	} else {
		options, suffix = "[ IGNORE ]", ""
	}
	conf := fmt.Sprintf(`
driver: %s
dsn: %q
table: init_events
columns: [channel, replay_id, payload]
args_mapping: root = [ this.channel, this.replay_id, this.payload ]
options: %s
suffix: %q
init_files: [ %q ]
init_statement: INSERT INTO init_note (n) VALUES (1)
`, driverName, srv.dsn, options, suffix, filepath.Join(dir, "*.sql"))
	parsed, err := spec().ParseYAML(conf, nil)
	require.NoError(t, err)
	out, err := newOutput(parsed)
	require.NoError(t, err)
	require.NoError(t, out.Connect(ctx))
	t.Cleanup(func() { assert.NoError(t, out.Close(context.Background())) })
	require.NoError(t, out.WriteBatch(ctx, batch("/event/Init__e", 1, 2)))
	require.NoError(t, out.WriteBatch(ctx, batch("/event/Init__e", 2, 3)))

	db, err := dbsql.Open(srv.driver.sqlDriverName(), srv.dsn)
	require.NoError(t, err)
	defer db.Close()
	var rows, notes int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM init_events").Scan(&rows))
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM init_note").Scan(&notes))
	assert.Equal(t, 3, rows)
	assert.Equal(t, 1, notes, "init_statement ran once, after init_files created its table")
}

// testCommitFails: every INSERT of the batch succeeds and the COMMIT fails (a
// deferred constraint, checked only at COMMIT, as PostgreSQL does). The
// batch must fail, or it would be acknowledged with nothing stored.
func testCommitFails(t *testing.T, ctx context.Context, srv server) {
	conf := fmt.Sprintf(`
driver: %s
dsn: %q
table: deferred_events
columns: [channel, replay_id, payload]
args_mapping: root = [ this.channel, this.replay_id, this.payload ]
init_statement: |
  CREATE TABLE IF NOT EXISTS deferred_events (channel text NOT NULL, replay_id bigint NOT NULL, payload jsonb,
    CONSTRAINT one_row_per_replay_id UNIQUE (replay_id) DEFERRABLE INITIALLY DEFERRED)
`, srv.driver, srv.dsn)
	parsed, err := spec().ParseYAML(conf, nil)
	require.NoError(t, err)
	out, err := newOutput(parsed)
	require.NoError(t, err)
	require.NoError(t, out.Connect(ctx))
	defer func() { assert.NoError(t, out.Close(context.Background())) }()

	err = out.WriteBatch(ctx, batch("/event/Deferred__e", 7, 8, 7))
	require.Error(t, err, "the COMMIT failed: the batch is not written")
	assert.Contains(t, err.Error(), "committing 3 rows")
	assert.Contains(t, err.Error(), "one_row_per_replay_id", "the cause is the constraint checked at COMMIT")

	db, err := dbsql.Open(srv.driver.sqlDriverName(), srv.dsn)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM deferred_events").Scan(&n))
	assert.Zero(t, n, "nothing of the batch is stored")
	require.NoError(t, out.WriteBatch(ctx, batch("/event/Deferred__e", 7, 8)), "a valid batch commits")
}
