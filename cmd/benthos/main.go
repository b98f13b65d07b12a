// Command benthos is a Benthos distribution with the salesforce_streaming
// input and the outputs and caches that Salesforce events are routed into:
// Kafka/Redpanda, NATS, AMQP, SQL databases, AWS, GCP, Elasticsearch,
// OpenSearch and Redis, plus Benthos' pure and io components.
package main

import (
	"context"

	"github.com/redpanda-data/benthos/v4/public/service"

	// Benthos' own components: processors, Bloblang, files, stdin/stdout, HTTP.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	// The salesforce_streaming input.
	_ "github.com/salesforce-streaming/salesforce_streaming/input"

	// Destinations users route Salesforce events into.
	_ "github.com/redpanda-data/connect/v4/public/components/amqp09"
	_ "github.com/redpanda-data/connect/v4/public/components/aws"
	_ "github.com/redpanda-data/connect/v4/public/components/elasticsearch/v8"
	_ "github.com/redpanda-data/connect/v4/public/components/gcp"
	_ "github.com/redpanda-data/connect/v4/public/components/kafka"
	_ "github.com/redpanda-data/connect/v4/public/components/nats"
	_ "github.com/redpanda-data/connect/v4/public/components/opensearch"
	_ "github.com/redpanda-data/connect/v4/public/components/redis"

	// SQL outputs with the Postgres and MySQL drivers only: the full sql
	// bundle brings every vendor's driver and doubles the build.
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lib/pq"
	_ "github.com/redpanda-data/connect/v4/public/components/sql/base"
)

// Version and DateBuilt are set at link time by the Makefile.
var (
	Version   = "dev"
	DateBuilt = "unknown"
)

func main() {
	service.RunCLI(
		context.Background(),
		service.CLIOptSetBinaryName("benthos"),
		service.CLIOptSetProductName("Benthos for Salesforce streaming"),
		service.CLIOptSetVersion(Version, DateBuilt),
	)
}
