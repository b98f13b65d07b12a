package kafka

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The configs written from Connect's documentation (which the end-to-end
// suite lints with bin/benthos) also build: lint and start-up agree.
func TestConnectExamplesBuild(t *testing.T) {
	for _, kind := range []outputKind{kindKafkaFranz, kindRedpanda} {
		harness.CheckConnectExamplesBuild(t, string(kind), outputSpec(kind), func(_ *testing.T, p *service.ParsedConfig) error {
			_, err := parseConfig(p)
			return err
		})
	}
}
