package nats

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The configs written from Connect's documentation (which the end-to-end
// suite lints with bin/benthos) also build: lint and start-up agree.
func TestConnectExamplesBuild(t *testing.T) {
	sections, err := harness.ConnectExampleSections("nats_jetstream")
	require.NoError(t, err)
	require.NotEmpty(t, sections)
	for file, section := range sections {
		t.Run(file, func(t *testing.T) {
			parsed, err := spec().ParseYAML(section, nil)
			require.NoError(t, err)
			_, err = parseConfig(parsed, "example")
			assert.NoError(t, err, section)
		})
	}
}
