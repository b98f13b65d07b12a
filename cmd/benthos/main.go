// Command benthos is a Benthos distribution with the salesforce_streaming
// input, Benthos' own pure and io components, and components of our own for
// where Salesforce events are routed.
package main

import (
	"context"

	"github.com/redpanda-data/benthos/v4/public/service"

	// Benthos' own components: processors, Bloblang, files, stdin/stdout, HTTP.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	// The salesforce_streaming input.
	_ "github.com/salesforce-streaming/salesforce_streaming/input"

	// Our components: the replay-id store users share between instances, and
	// Prometheus metrics (the default metrics type once registered).
	_ "github.com/salesforce-streaming/salesforce_streaming/components/prometheus"
	_ "github.com/salesforce-streaming/salesforce_streaming/components/redis"

	// Our outputs.
	_ "github.com/salesforce-streaming/salesforce_streaming/components/kafka"
	_ "github.com/salesforce-streaming/salesforce_streaming/components/nats"
	_ "github.com/salesforce-streaming/salesforce_streaming/components/s3"
	_ "github.com/salesforce-streaming/salesforce_streaming/components/sql"
)

// Version and DateBuilt are set at link time by the Makefile.
var (
	Version   = "dev"
	DateBuilt = "unknown"
)

func main() {
	opts := []service.CLIOptFunc{
		service.CLIOptSetBinaryName("benthos"),
		service.CLIOptSetProductName("Benthos for Salesforce streaming"),
		service.CLIOptSetVersion(Version, DateBuilt),
	}
	// The HTTP API on loopback by default, and the streams API scrubbed of secrets (streamsapi.go).
	opts = append(opts, secureAPIOptions()...)
	service.RunCLI(context.Background(), opts...)
}
