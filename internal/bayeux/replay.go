package bayeux

// Replay presets of a subscribe request: -1 new events only, -2 every event Salesforce retains.
const (
	ReplayLatest   int64 = -1
	ReplayEarliest int64 = -2
)

// InvalidReplayPolicy says what a subscribe refused with "400::The replayId {x} you provided was invalid" does.
type InvalidReplayPolicy int

const (
	// ReplayFallbackEarliest resubscribes with -2 (every retained event): nothing retained is skipped.
	ReplayFallbackEarliest InvalidReplayPolicy = iota
	// ReplayFallbackLatest resubscribes with -1 (new events only).
	ReplayFallbackLatest
	// ReplayFallbackFail stops: Start returns the InvalidReplayError, or Next does once the buffer is drained.
	ReplayFallbackFail
)

func (p InvalidReplayPolicy) String() string {
	switch p {
	case ReplayFallbackEarliest:
		return "earliest"
	case ReplayFallbackLatest:
		return "latest"
	case ReplayFallbackFail:
		return "fail"
	}
	return "unknown"
}
