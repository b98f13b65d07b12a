package stream

// InvalidReplayPolicy says what a subscription refused for its replay id (no longer retained, or never an event)
// does: the input's on_invalid_replay_id, the same over both APIs.
type InvalidReplayPolicy int

const (
	// ReplayFallbackEarliest resubscribes from the earliest retained event: nothing retained is skipped.
	ReplayFallbackEarliest InvalidReplayPolicy = iota
	// ReplayFallbackLatest resubscribes from the latest event (new events only).
	ReplayFallbackLatest
	// ReplayFallbackFail stops: the source's Next returns the error once its queue is drained, and Err keeps it.
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
