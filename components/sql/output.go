// Package sql registers the `sql_insert` output: one row per message into a
// PostgreSQL or MySQL table over database/sql, with github.com/jackc/pgx/v5
// and github.com/go-sql-driver/mysql as drivers. Each batch is one
// transaction, and a batch is acknowledged only once it committed.
//
// Its name, fields and defaults match Redpanda Connect's sql_insert output
// for what it implements, so a pipeline moves between our binary and a
// Connect build unchanged.
package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"

	// The drivers behind `driver: mysql` and `driver: postgres`.
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/salesforce-streaming/salesforce_streaming/components/internal/outputconf"
)

const (
	fieldDriver          = "driver"
	fieldDSN             = "dsn"
	fieldTable           = "table"
	fieldColumns         = "columns"
	fieldArgsMapping     = "args_mapping"
	fieldPrefix          = "prefix"
	fieldSuffix          = "suffix"
	fieldOptions         = "options"
	fieldInitStatement   = "init_statement"
	fieldInitFiles       = "init_files"
	fieldConnMaxIdleTime = "conn_max_idle_time"
	fieldConnMaxLifeTime = "conn_max_life_time"
	fieldConnMaxIdle     = "conn_max_idle"
	fieldConnMaxOpen     = "conn_max_open"
)

// defaultConnMaxIdle is database/sql's own default, which Connect documents.
const defaultConnMaxIdle = 2

func init() {
	outputconf.RegisterBatchOutput("sql_insert", spec(), newOutput)
}

// settings is the parsed configuration of one output.
type settings struct {
	driver         driver
	dsn            string
	statement      string
	columns        int
	argsMapping    *bloblang.Executor
	initStatements []initStatement // init_files' contents, then init_statement
	pool           poolSettings
}

// output writes batches with one transaction each.
type output struct {
	settings
	redact redactor

	mu          sync.Mutex
	db          *dbsql.DB // nil until Connect, and after Close
	initialized bool      // init_files and init_statement ran on this output's database
}

func newOutput(conf *service.ParsedConfig) (*output, error) {
	s, err := parseSettings(conf)
	if err != nil {
		return nil, err
	}
	return &output{settings: s, redact: newRedactor(s.driver, s.dsn)}, nil
}

func parseSettings(conf *service.ParsedConfig) (settings, error) {
	var s settings
	name, err := conf.FieldString(fieldDriver)
	if err != nil {
		return s, err
	}
	if s.driver, err = parseDriver(name); err != nil {
		return s, err
	}
	if s.dsn, err = conf.FieldString(fieldDSN); err != nil {
		return s, err
	}
	table, err := conf.FieldString(fieldTable)
	if err != nil {
		return s, err
	}
	columns, err := conf.FieldStringList(fieldColumns)
	if err != nil {
		return s, err
	}
	if len(columns) == 0 {
		return s, fmt.Errorf("field %s: at least one column is required", fieldColumns)
	}
	s.columns = len(columns)
	if s.argsMapping, err = conf.FieldBloblang(fieldArgsMapping); err != nil {
		return s, err
	}
	var prefix, suffix string
	if conf.Contains(fieldPrefix) {
		if prefix, err = conf.FieldString(fieldPrefix); err != nil {
			return s, err
		}
	}
	if conf.Contains(fieldSuffix) {
		if suffix, err = conf.FieldString(fieldSuffix); err != nil {
			return s, err
		}
	}
	var options []string
	if conf.Contains(fieldOptions) {
		if options, err = conf.FieldStringList(fieldOptions); err != nil {
			return s, err
		}
	}
	s.statement = insertStatement(s.driver, prefix, options, table, columns, suffix)
	if s.initStatements, err = initStatements(conf); err != nil {
		return s, err
	}
	if s.pool, err = parsePool(conf); err != nil {
		return s, err
	}
	return s, nil
}

// Connect opens the connection pool, checks that the database answers and
// runs init_statement the first time it does. Later reconnects of the pool
// are database/sql's own.
func (o *output) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		db, err := dbsql.Open(o.driver.sqlDriverName(), o.dsn)
		if err != nil {
			return o.redact.scrub(fmt.Errorf("opening the %s connection pool: %w", o.driver, err))
		}
		o.pool.apply(db)
		o.db = db
	}
	if err := o.db.PingContext(ctx); err != nil {
		return o.redact.scrub(fmt.Errorf("connecting to %s: %w", o.driver, err))
	}
	if !o.initialized {
		for _, st := range o.initStatements {
			if _, err := o.db.ExecContext(ctx, st.text); err != nil {
				return o.redact.scrub(fmt.Errorf("running %s: %w", st.from, err))
			}
		}
	}
	o.initialized = true
	return nil
}

// WriteBatch inserts one row per message in one transaction: the batch is
// acknowledged once it committed, and nacked whole (rolled back) otherwise.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.Lock()
	db := o.db
	o.mu.Unlock()
	if db == nil {
		return service.ErrNotConnected
	}
	rows, err := o.rows(batch)
	if err != nil {
		return err
	}
	return o.redact.scrub(o.insert(ctx, db, rows))
}

// rows runs args_mapping on every message before the transaction starts, so
// that a message it cannot map costs no round trip.
func (o *output) rows(batch service.MessageBatch) ([][]any, error) {
	exec := batch.BloblangExecutor(o.argsMapping)
	rows := make([][]any, len(batch))
	for i := range batch {
		res, err := exec.Query(i)
		if err != nil {
			return nil, fmt.Errorf("message %d of %d: %s: %w", i+1, len(batch), fieldArgsMapping, err)
		}
		if res == nil {
			return nil, fmt.Errorf("message %d of %d: %s deleted the root", i+1, len(batch), fieldArgsMapping)
		}
		v, err := res.AsStructured()
		if err != nil {
			return nil, fmt.Errorf("message %d of %d: %s: %w", i+1, len(batch), fieldArgsMapping, err)
		}
		if rows[i], err = rowArgs(v, o.columns); err != nil {
			return nil, fmt.Errorf("message %d of %d: %w", i+1, len(batch), err)
		}
	}
	return rows, nil
}

func (o *output) insert(ctx context.Context, db *dbsql.DB, rows [][]any) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("starting a transaction on %s: %w", o.driver, err)
	}
	defer func() {
		if err != nil {
			// The first error says why; a failed rollback of a broken
			// connection adds nothing, and the server discards the
			// transaction with the connection anyway.
			_ = tx.Rollback()
		}
	}()
	stmt, err := tx.PrepareContext(ctx, o.statement)
	if err != nil {
		return fmt.Errorf("preparing the insert: %w", err)
	}
	defer stmt.Close()
	for i, args := range rows {
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("inserting row %d of %d: %w", i+1, len(rows), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing %d rows: %w", len(rows), err)
	}
	return nil
}

// Close closes the connection pool. It is idempotent.
func (o *output) Close(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return nil
	}
	err := o.db.Close()
	o.db = nil
	if err != nil {
		return o.redact.scrub(fmt.Errorf("closing the %s connection pool: %w", o.driver, err))
	}
	return nil
}
