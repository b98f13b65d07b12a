package sql

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInsertStatement(t *testing.T) {
	tests := []struct {
		name           string
		driver         driver
		prefix, suffix string
		options        []string
		want           string
	}{
		{name: "postgres numbers its placeholders", driver: driverPostgres,
			want: "INSERT INTO events (channel, replay_id, payload) VALUES ($1, $2, $3)"},
		{name: "mysql uses question marks", driver: driverMySQL,
			want: "INSERT INTO events (channel, replay_id, payload) VALUES (?, ?, ?)"},
		{name: "prefix and suffix", driver: driverPostgres, prefix: "WITH x AS (SELECT 1)", suffix: "ON CONFLICT DO NOTHING",
			want: "WITH x AS (SELECT 1) INSERT INTO events (channel, replay_id, payload) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"},
		{name: "options go between INSERT and INTO", driver: driverMySQL, options: []string{"LOW_PRIORITY", "IGNORE"},
			want: "INSERT LOW_PRIORITY IGNORE INTO events (channel, replay_id, payload) VALUES (?, ?, ?)"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := insertStatement(test.driver, test.prefix, test.options, "events", []string{"channel", "replay_id", "payload"}, test.suffix)
			assert.Equal(t, test.want, got)
		})
	}
}

func TestRowArgs(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    []any
		wantErr string
	}{
		{name: "values pass through", in: []any{"a", int64(1), 1.5, true, nil, []byte("x")},
			want: []any{"a", int64(1), 1.5, true, nil, []byte("x")}},
		{name: "JSON numbers become int64 or float64", in: []any{json.Number("6421"), json.Number("1.25"), "", "", "", ""},
			want: []any{int64(6421), 1.25, "", "", "", ""}},
		{name: "objects and arrays become JSON text", in: []any{map[string]any{"a": 1}, []any{"x"}, "", "", "", ""},
			want: []any{`{"a":1}`, `["x"]`, "", "", "", ""}},
		{name: "not an array", in: map[string]any{"a": 1}, wantErr: "must return an array"},
		{name: "wrong length", in: []any{"a"}, wantErr: "returned 1 values for 6 columns"},
		{name: "unsupported value", in: []any{struct{}{}, "", "", "", "", ""}, wantErr: "unsupported type"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := rowArgs(test.in, 6)
			if test.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), test.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, test.want, got)
		})
	}
}

func TestRedactor(t *testing.T) {
	tests := []struct {
		name     string
		driver   driver
		dsn      string
		password string
	}{
		{name: "postgres URL", driver: driverPostgres, dsn: "postgres://app:pa%40ss-word@db:5432/crm", password: "pa@ss-word"},
		{name: "postgres keywords", driver: driverPostgres, dsn: "host=db user=app password=kw-secret dbname=crm", password: "kw-secret"},
		{name: "mysql", driver: driverMySQL, dsn: "app:my-secret@tcp(db:3306)/crm", password: "my-secret"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			r := newRedactor(test.driver, test.dsn)
			for _, leak := range []string{test.dsn, test.password, "at " + test.password + "."} {
				err := r.scrub(errors.New("connecting with " + leak + " failed"))
				assert.NotContains(t, err.Error(), test.password)
				assert.Contains(t, err.Error(), redactedText)
			}
			clean := errors.New("connection refused")
			assert.Same(t, clean, r.scrub(clean), "an error without secrets is returned as it is")
		})
	}
}

func TestDriverLint(t *testing.T) {
	tests := []struct {
		driver   string
		wantLint bool
	}{
		{driver: "postgres"},
		{driver: "mysql"},
		{driver: "pgx"},
		{driver: "sqlite", wantLint: true},
		{driver: "clickhouse", wantLint: true},
	}
	for _, test := range tests {
		t.Run(test.driver, func(t *testing.T) {
			conf := `
sql_insert:
  driver: ` + test.driver + `
  dsn: x
  table: events
  columns: [a]
  args_mapping: root = [ this.a ]
`
			lints, err := service.GlobalEnvironment().NewComponentConfigLinter().LintOutputYAML([]byte(conf))
			require.NoError(t, err)
			if !test.wantLint {
				assert.Empty(t, lints)
				return
			}
			require.Len(t, lints, 1)
			assert.Contains(t, lints[0].What, "field driver")
			assert.Contains(t, lints[0].What, test.driver)
			assert.Contains(t, lints[0].What, notBundled, "the error says why")
		})
	}
}

func TestUnknownFieldIsALintError(t *testing.T) {
	conf := `
sql_insert:
  driver: postgres
  dsn: x
  table: events
  columns: [a]
  args_mapping: root = [ this.a ]
  placeholder_style: dollar
`
	lints, err := service.GlobalEnvironment().NewComponentConfigLinter().LintOutputYAML([]byte(conf))
	require.NoError(t, err)
	require.Len(t, lints, 1)
	assert.Contains(t, lints[0].What, "placeholder_style")
}
