package sql

import (
	"fmt"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/components/internal/outputconf"
)

func spec() *service.ConfigSpec {
	var quoted, others []string
	for _, d := range drivers {
		quoted = append(quoted, fmt.Sprintf("%q", d))
	}
	for a := range driverAliases {
		quoted = append(quoted, fmt.Sprintf("%q", a))
	}
	for _, o := range otherDrivers {
		others = append(others, fmt.Sprintf("%q", o))
	}
	driverLint := fmt.Sprintf(`root = if [%s].contains(this) { "field %s: %%q is not supported: %s; use one of %s".format(this) } else if ![%s].contains(this) { "field %s: %%q is not supported, use one of %s".format(this) }`,
		strings.Join(others, ", "), fieldDriver, notBundled, driverList(), strings.Join(quoted, ", "), fieldDriver, driverList())
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Inserts a row into an SQL database (PostgreSQL or MySQL) for each message.").
		Description("Each batch is written in one transaction, one `INSERT` per message: the batch is acknowledged "+
			"once the transaction committed, and rolled back and retried whole when any row fails. With a "+
			"`suffix` such as `ON CONFLICT (...) DO NOTHING` (PostgreSQL) or `ON DUPLICATE KEY UPDATE ...` "+
			"(MySQL), a message delivered twice (at-least-once) leaves one row.").
		Fields(
			service.NewStringField(fieldDriver).
				Description("The database: `postgres` (PostgreSQL and compatible servers, over pgx; `pgx` is the same) or `mysql` (MySQL and MariaDB).").
				Example(string(driverPostgres)).
				LintRule(driverLint),
			service.NewStringField(fieldDSN).
				Description("The data source name. For `postgres` a URL `postgres://user:password@host:5432/db?sslmode=require` "+
					"or `host=... user=... password=...` keywords; for `mysql` `user:password@tcp(host:3306)/db`. "+
					"It is never logged; set the password through an environment variable.").
				Example("postgres://benthos:${POSTGRES_PASSWORD}@db.example.com:5432/crm?sslmode=require").
				Example("benthos:${MYSQL_PASSWORD}@tcp(db.example.com:3306)/crm").
				Secret(),
			service.NewStringField(fieldTable).
				Description("The table to insert into.").
				Example("salesforce_changes"),
			service.NewStringListField(fieldColumns).
				Description("The columns to set, in the order of the values `args_mapping` returns.").
				Example([]string{"channel", "replay_id", "payload"}),
			service.NewBloblangField(fieldArgsMapping).
				Description("A Bloblang mapping that returns an array with one value per column. Objects and arrays are "+
					"written as their JSON text.").
				Example(`root = [ @salesforce_channel, @salesforce_replay_id.number(), content().string() ]`),
			service.NewStringField(fieldPrefix).
				Description("Text put before `INSERT`.").
				Optional().
				Advanced(),
			service.NewStringField(fieldSuffix).
				Description("Text appended after the values, e.g. a conflict clause.").
				Example("ON CONFLICT (channel, replay_id) DO NOTHING").
				Optional().
				Advanced(),
			service.NewStringListField(fieldOptions).
				Description("Keywords put between `INSERT` and `INTO`, e.g. MySQL's `IGNORE`.").
				Example([]string{"IGNORE"}).
				Optional().
				Advanced(),
			service.NewOutputMaxInFlightField(),
			service.NewStringListField(fieldInitFiles).
				Description("Files of SQL run once, on the first successful connection, before `init_statement`; glob patterns (`**` too) "+
					"are expanded. A missing file or a failing statement stops the output from connecting (and it retries).").
				Example([]string{"./init/*.sql"}).
				Optional().
				Advanced(),
			service.NewStringField(fieldInitStatement).
				Description("A statement run once, on the first successful connection, e.g. `CREATE TABLE IF NOT EXISTS`. "+
					"With `mysql`, several statements need `multiStatements=true` in the DSN.").
				Optional().
				Advanced(),
			service.NewDurationField(fieldConnMaxIdleTime).
				Description("How long a connection may stay idle before it is closed. Empty means no limit.").
				Optional().
				Advanced(),
			service.NewDurationField(fieldConnMaxLifeTime).
				Description("How long a connection may be reused. Empty means no limit.").
				Optional().
				Advanced(),
			service.NewIntField(fieldConnMaxIdle).
				Description("The most idle connections kept. Zero or less keeps none.").
				Default(defaultConnMaxIdle).
				Advanced(),
			service.NewIntField(fieldConnMaxOpen).
				Description("The most open connections. Zero or less means no limit.").
				Optional().
				Advanced(),
			service.NewBatchPolicyField(outputconf.FieldBatching),
		)
}
