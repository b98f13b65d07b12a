package main

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
)

// The distribution registers the input, our components and Benthos' own pure
// and io ones (a sample of each).
func TestComponentsRegistered(t *testing.T) {
	env := service.GlobalEnvironment()
	tests := []struct {
		kind, name string
		get        func(string) (*service.ConfigView, bool)
	}{
		{"input", "salesforce_streaming", env.GetInputConfig},
		{"cache", "redis", env.GetCacheConfig},
		{"metrics", "prometheus", env.GetMetricsConfig},
		{"output", "kafka_franz", env.GetOutputConfig},
		{"output", "redpanda", env.GetOutputConfig},
		{"cache", "file", env.GetCacheConfig},            // io
		{"output", "http_client", env.GetOutputConfig},   // io
		{"output", "stdout", env.GetOutputConfig},        // io
		{"processor", "mapping", env.GetProcessorConfig}, // pure
	}
	for _, tt := range tests {
		_, ok := tt.get(tt.name)
		assert.True(t, ok, "%s %s", tt.kind, tt.name)
	}
}
