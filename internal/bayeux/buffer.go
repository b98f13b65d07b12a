package bayeux

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"

	"context"
	"sync"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
)

// buffer is the only state the client's goroutines share: the batches queued for Next, the answers still in the
// decode stage, the replay position of every channel and the terminal error. It owns admission (admit.go: no
// event reaches Next out of its channel's replay order), backpressure (full, waitDrained) and the accounting of
// what is dropped. Every field below mu is read and written under it; the channels wake waiters and never carry
// state.
type buffer struct {
	max int // MaxBufferedEvents
	log stream.Logger
	obs stream.Observer
	red *redact.Redactor

	mu     sync.Mutex
	queue  []stream.Batch
	queued int // events in queue
	// staged counts the answers handed to the decode stage and not yet queued, stagedEvents their data messages
	// (which count against max).
	staged       int
	stagedEvents int
	// positions is, per channel key, the replay id every (re)subscribe starts from: the start point, then the id
	// of the last event queued for Next. It only moves when an event is queued (never on receipt of an answer
	// that is then dropped), so a resubscribe neither skips nor repeats what the caller was handed.
	positions map[string]int64
	fallbacks map[string]int // replay ids replaced per OnInvalidReplayID, per channel key
	fatal     error          // the terminal error, handed out by Next once the queue is drained
	closed    bool

	avail     chan struct{} // a batch or the terminal error is ready
	drained   chan struct{} // the queue fell to half of max
	stageIdle chan struct{} // staged fell to zero
}

func newBuffer(max int, positions map[string]int64, log stream.Logger, obs stream.Observer, red *redact.Redactor) *buffer {
	return &buffer{
		max: max, log: log, obs: obs, red: red,
		positions: positions,
		fallbacks: map[string]int{},
		avail:     make(chan struct{}, 1),
		drained:   make(chan struct{}, 1),
		stageIdle: make(chan struct{}, 1),
	}
}

// position is the replay id the next subscribe of the channel key starts from.
func (b *buffer) position(key string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id, ok := b.positions[key]; ok {
		return id
	}
	return ReplayLatest
}

// fallBack moves the channel to the preset id after its replay id was refused, and counts the fallback.
func (b *buffer) fallBack(key string, id int64) {
	b.mu.Lock()
	b.positions[key] = id
	b.fallbacks[key]++
	b.mu.Unlock()
}

// snapshot copies the replay positions (tests).
func (b *buffer) snapshot() map[string]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := make(map[string]int64, len(b.positions))
	for k, v := range b.positions {
		m[k] = v
	}
	return m
}

// next hands out the oldest queued batch, else the terminal error, else waits; see Client.Next.
func (b *buffer) next(ctx context.Context, closing <-chan struct{}) (stream.Batch, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return stream.Batch{}, ErrClosed
		}
		if len(b.queue) > 0 {
			batch := b.queue[0]
			b.queue[0] = stream.Batch{}
			b.queue = b.queue[1:]
			if len(b.queue) == 0 {
				b.queue = nil // let the backing array go
			}
			b.queued -= len(batch.Events)
			if b.queued <= b.max/2 {
				signal(b.drained)
			}
			if len(b.queue) > 0 || b.fatal != nil {
				signal(b.avail) // another waiting Next may take the rest
			}
			b.mu.Unlock()
			return batch, nil
		}
		if b.fatal != nil {
			err := b.fatal
			b.mu.Unlock()
			signal(b.avail)
			return stream.Batch{}, err
		}
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return stream.Batch{}, ctx.Err()
		case <-closing:
		case <-b.avail:
		}
	}
}

// close makes every Next return ErrClosed.
func (b *buffer) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

func (b *buffer) setFatal(err error) {
	b.mu.Lock()
	b.fatal = err
	b.mu.Unlock()
	signal(b.avail)
}

func (b *buffer) err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fatal
}

// staging counts an answer of events data messages entering the decode stage.
func (b *buffer) staging(events int) {
	b.mu.Lock()
	b.staged++
	b.stagedEvents += events
	b.mu.Unlock()
}

// full reports whether the events queued and those of answers still in the decode stage reach max.
func (b *buffer) full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queued+b.stagedEvents >= b.max
}

func (b *buffer) queuedEvents() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queued
}

// waitDrained blocks until the queue (with the decode stage) holds at most half of max. It returns false if ctx
// ended first.
func (b *buffer) waitDrained(ctx context.Context) bool {
	return b.waitUntil(ctx, b.drained, func() bool { return b.queued+b.stagedEvents <= b.max/2 })
}

// waitStageIdle blocks until every answer handed to the decode stage is queued. It returns false if ctx ended
// first.
func (b *buffer) waitStageIdle(ctx context.Context) bool {
	return b.waitUntil(ctx, b.stageIdle, func() bool { return b.staged == 0 })
}

// waitUntil blocks until cond, evaluated under mu, holds. wake must be signalled whenever cond may have become
// true. It returns false if ctx ended first.
func (b *buffer) waitUntil(ctx context.Context, wake <-chan struct{}, cond func() bool) bool {
	for {
		b.mu.Lock()
		ok := cond()
		b.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-wake:
		}
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
