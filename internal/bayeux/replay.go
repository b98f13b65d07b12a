package bayeux

import "github.com/salesforce-streaming/salesforce_streaming/internal/stream"

// Replay presets of a subscribe request: -1 new events only, -2 every event Salesforce retains (stream's presets
// are these very values).
const (
	ReplayLatest   = int64(stream.Latest)
	ReplayEarliest = int64(stream.Earliest)
)
