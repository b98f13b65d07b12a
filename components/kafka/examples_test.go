package kafka

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The configs written from Connect's documentation (which the end-to-end
// suite lints with bin/benthos) also build: lint and start-up agree.
func TestConnectExamplesBuild(t *testing.T) {
	for _, kind := range []outputKind{kindKafkaFranz, kindRedpanda} {
		sections, err := harness.ConnectExampleSections(string(kind))
		require.NoError(t, err)
		require.NotEmpty(t, sections, "examples of %s", kind)
		for file, section := range sections {
			t.Run(file, func(t *testing.T) {
				parsed, err := outputSpec(kind).ParseYAML(section, nil)
				require.NoError(t, err)
				_, err = parseConfig(parsed)
				assert.NoError(t, err, section)
			})
		}
	}
}
