package input

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// TestDroppedEventsMetric checks the labels of events the client refused:
// per channel (without filter) and reason, with no channel label for names
// that came from the server rather than from the config.
func TestDroppedEventsMetric(t *testing.T) {
	h := newHarness(t, t.TempDir(), "http://127.0.0.1:1", "channels: [ /event/A__e ]\n")
	tm := h.metrics
	var obs stream.Observer = h.in.metrics
	drops, ok := obs.(stream.DropObserver)
	assert.True(t, ok, "the input's metrics see dropped events")
	drops.Dropped("/topic/Invoices?Status__c=Open", stream.DropReplayIDNotIncreasing, 2)
	drops.Dropped("/topic/Invoices?Status__c=Open", stream.DropReplayIDNotIncreasing, 1)
	drops.Dropped("/event/Evil__e", stream.DropUnknownChannel, 4)
	drops.Dropped("", stream.DropMissingChannel, 1)
	assert.Equal(t, int64(3), tm.get(metricEventsDropped, "/topic/Invoices", stream.DropReplayIDNotIncreasing))
	assert.Equal(t, int64(4), tm.get(metricEventsDropped, "", stream.DropUnknownChannel))
	assert.Equal(t, int64(1), tm.get(metricEventsDropped, "", stream.DropMissingChannel))
}
