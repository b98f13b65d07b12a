package redis

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The configs written from Connect's documentation (which the end-to-end
// suite lints with bin/benthos) also build: lint and start-up agree.
func TestConnectExamplesBuild(t *testing.T) {
	harness.CheckConnectExamplesBuild(t, "redis", spec(), func(t *testing.T, p *service.ParsedConfig) error {
		c, err := newCache(p)
		if err == nil {
			_ = c.Close(t.Context())
		}
		return err
	})
}
