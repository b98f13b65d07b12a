package pubsub

import (
	"fmt"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// violationEvery is how often one kind of protocol violation is logged per subscription: a server that floods or
// repeats itself on every response would otherwise fill the log.
const violationEvery = 30 * time.Second

// violationLog logs a server's protocol violations (flooding past num_requested, a wrong pending count,
// duplicate replay ids) as warnings, at most once per violationEvery for each kind, with the number left
// unlogged since. Its texts quote no server text but replay ids, which are opaque bytes shown in hex.
type violationLog struct {
	log   stream.Logger
	topic string
	now   func() time.Time

	mu    sync.Mutex
	kinds map[string]*violationKind
}

type violationKind struct {
	last       time.Time
	suppressed int
}

func newViolationLog(log stream.Logger, topic string) *violationLog {
	return &violationLog{log: log, topic: topic, now: time.Now, kinds: map[string]*violationKind{}}
}

// report logs the violation unless one of its kind was logged within violationEvery; it reports whether it did.
func (v *violationLog) report(kind, format string, args ...any) bool {
	v.mu.Lock()
	k := v.kinds[kind]
	if k == nil {
		k = &violationKind{}
		v.kinds[kind] = k
	}
	now := v.now()
	if !k.last.IsZero() && now.Sub(k.last) < violationEvery {
		k.suppressed++
		v.mu.Unlock()
		return false
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	v.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if suppressed > 0 {
		msg += fmt.Sprintf(" (%d more of this kind since the last report)", suppressed)
	}
	v.log.Warnf("pubsub %s: server protocol violation: %s", v.topic, msg)
	return true
}

// seenIDsKept bounds the replay ids a stream remembers to spot duplicates: far more than one response holds.
const seenIDsKept = 4096

// seenIDs is a bounded set of the replay ids a stream handed on, oldest forgotten first.
type seenIDs struct {
	set  map[seenKey]struct{}
	ring []seenKey
	next int
}

// seenKey is a replay id as a map key: an id of up to 8 bytes (Salesforce's are 8) is held in place, so that
// remembering it allocates nothing; a longer one as a string. n tells the lengths apart.
type seenKey struct {
	short [8]byte
	n     int8 // the length of short's id, or -1 for long
	long  string
}

func keyOf[T string | []byte](id T) seenKey {
	if len(id) > 8 {
		return seenKey{n: -1, long: string(id)}
	}
	k := seenKey{n: int8(len(id))}
	copy(k.short[:], id)
	return k
}

func newSeenIDs(n int) *seenIDs {
	return &seenIDs{set: make(map[seenKey]struct{}, n), ring: make([]seenKey, 0, n)}
}

// add remembers id and reports whether it was new.
func (s *seenIDs) add(id string) bool { return s.addKey(keyOf(id)) }

// addBytes is add for an id held in a byte slice.
func (s *seenIDs) addBytes(id []byte) bool { return s.addKey(keyOf(id)) }

func (s *seenIDs) addKey(k seenKey) bool {
	if _, dup := s.set[k]; dup {
		return false
	}
	if len(s.ring) < cap(s.ring) {
		s.ring = append(s.ring, k)
	} else {
		delete(s.set, s.ring[s.next])
		s.ring[s.next] = k
		s.next = (s.next + 1) % len(s.ring)
	}
	s.set[k] = struct{}{}
	return true
}
