package bayeux

import (
	"strings"
	"sync"
)

// Replay presets (protocol.md 1.9): -1 new events only, -2 every retained event.
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

// channelKey is the replay-map key of a channel: the channel without its ?filter query (protocol.md 2.4).
func channelKey(channel string) string {
	if i := strings.IndexByte(channel, '?'); i >= 0 {
		return channel[:i]
	}
	return channel
}

// replayPositions holds, per channel key, the replay id every (re)subscribe starts from: the initial one, then
// the id of the last event queued for Next. Positions only move when an event is queued (never on receipt of an
// answer that is then dropped), so a resubscribe neither skips nor repeats what the caller was handed.
type replayPositions struct {
	mu        sync.Mutex
	ids       map[string]int64
	fallbacks map[string]int // replay ids replaced per OnInvalidReplayID, per channel key
}

func newReplayPositions() *replayPositions {
	return &replayPositions{ids: map[string]int64{}, fallbacks: map[string]int{}}
}

// fallBack moves the channel to the preset id after its replay id was refused, and counts the fallback.
func (r *replayPositions) fallBack(key string, id int64) {
	r.mu.Lock()
	r.ids[key] = id
	r.fallbacks[key]++
	r.mu.Unlock()
}

// stamp sets each batch's Fallbacks to its channel's count.
func (r *replayPositions) stamp(batches []Batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range batches {
		batches[i].Fallbacks = r.fallbacks[channelKey(batches[i].Channel)]
	}
}

func (r *replayPositions) get(key string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.ids[key]; ok {
		return id
	}
	return ReplayLatest
}

func (r *replayPositions) set(key string, id int64) {
	r.mu.Lock()
	r.ids[key] = id
	r.mu.Unlock()
}

// advance moves the channel to its last event that carries a replay id. Events without one (generic Bayeux
// servers) do not move the position.
func (r *replayPositions) advance(key string, events []Event) {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].HasReplayID {
			r.set(key, events[i].ReplayID)
			return
		}
	}
}

func (r *replayPositions) snapshot() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int64, len(r.ids))
	for k, v := range r.ids {
		m[k] = v
	}
	return m
}
