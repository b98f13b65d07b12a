package sql

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// driver is a database the output writes to: the value of the `driver` field.
type driver string

const (
	driverPostgres driver = "postgres"
	driverMySQL    driver = "mysql"
)

// drivers lists the supported values of `driver`, in the order docs show them.
var drivers = []driver{driverPostgres, driverMySQL}

// driverAliases are Connect's other names for a driver we have: Connect's
// `pgx` is the pgx driver, which is what our `postgres` uses.
var driverAliases = map[string]driver{"pgx": driverPostgres}

// otherDrivers are the rest of Connect's drivers: valid there, a lint error
// here, whose reason is notBundled.
var otherDrivers = []string{"clickhouse", "mssql", "sqlite", "oracle", "snowflake", "trino", "gocosmos", "spanner", "databricks"}

const notBundled = "its database driver is not built into this distribution"

func parseDriver(s string) (driver, error) {
	for _, d := range drivers {
		if string(d) == s {
			return d, nil
		}
	}
	if d, ok := driverAliases[s]; ok {
		return d, nil
	}
	for _, o := range otherDrivers {
		if o == s {
			return "", fmt.Errorf("field %s: %q is not supported: %s; use one of %s", fieldDriver, s, notBundled, driverList())
		}
	}
	return "", fmt.Errorf("field %s: %q is not supported, use one of %s", fieldDriver, s, driverList())
}

func driverList() string {
	names := make([]string, 0, len(drivers)+len(driverAliases))
	for _, d := range drivers {
		names = append(names, string(d))
	}
	for a := range driverAliases {
		names = append(names, a)
	}
	return strings.Join(names, ", ")
}

// sqlDriverName is the name under which the driver's database/sql package
// registers itself.
func (d driver) sqlDriverName() string {
	if d == driverPostgres {
		return "pgx"
	}
	return "mysql"
}

// placeholder returns the bind parameter for the n-th argument (from 1):
// PostgreSQL numbers them, MySQL does not.
func (d driver) placeholder(n int) string {
	if d == driverPostgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// insertStatement builds the statement run once per message:
// [prefix] INSERT [options] INTO table (c1, c2) VALUES (p1, p2) [suffix]. Table and
// column names go in as written, so users quote them where their database
// needs it.
func insertStatement(d driver, prefix string, options []string, table string, columns []string, suffix string) string {
	var b strings.Builder
	if prefix != "" {
		b.WriteString(prefix)
		b.WriteByte(' ')
	}
	b.WriteString("INSERT ")
	for _, o := range options {
		b.WriteString(o)
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "INTO %s (%s) VALUES (", table, strings.Join(columns, ", "))
	for i := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.placeholder(i + 1))
	}
	b.WriteByte(')')
	if suffix != "" {
		b.WriteByte(' ')
		b.WriteString(suffix)
	}
	return b.String()
}

// rowArgs turns the result of args_mapping into the arguments of one insert:
// it must be an array with one value per column. Numbers parsed from JSON
// become int64 or float64, objects and arrays their JSON text (for json,
// jsonb and text columns); other values go to the driver as they are.
func rowArgs(v any, columns int) ([]any, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must return an array, got %T", fieldArgsMapping, v)
	}
	if len(arr) != columns {
		return nil, fmt.Errorf("%s returned %d values for %d columns", fieldArgsMapping, len(arr), columns)
	}
	args := make([]any, len(arr))
	for i, a := range arr {
		arg, err := driverValue(a)
		if err != nil {
			return nil, fmt.Errorf("%s value %d: %w", fieldArgsMapping, i, err)
		}
		args[i] = arg
	}
	return args, nil
}

func driverValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, []byte, bool, int64, float64, time.Time:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint64:
		return x, nil
	case float32:
		return float64(x), nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		if f, err := x.Float64(); err == nil {
			return f, nil
		}
		return x.String(), nil
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("encoding %T as JSON: %w", x, err)
		}
		return string(b), nil
	}
	return nil, fmt.Errorf("unsupported type %T", v)
}
