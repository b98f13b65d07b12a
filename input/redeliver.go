package input

import (
	"context"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// delivery is one batch of the input from the moment it is tracked until an
// ack without error (or, with auto_replay_nacks false, any ack) resolves its
// checkpoint slot. The input keeps the events themselves, not the messages it
// handed out: processors may split, merge, archive or regroup those, and a
// nack of any message derived from the batch makes the whole batch go out
// again, rebuilt from the events with their metadata.
type delivery struct {
	batch   stream.Batch
	resolve func()    // resolves the checkpoint slot and releases the events to the client
	nacks   int       // nacks so far: the back-off of the next redelivery grows with it
	due     time.Time // when a queued redelivery may go out
}

// redeliveries queues nacked batches for ReadBatch, which sends them ahead of
// new data. A ReadBatch blocked on new data registers a cancel func, so that a
// nack arriving meanwhile interrupts the wait at once.
type redeliveries struct {
	mu      sync.Mutex
	queue   []*delivery
	waiting context.CancelFunc // the blocked ReadBatch's, nil when none
	// interrupted: interrupt ran while no ReadBatch waited; the next wait
	// ends at once.
	interrupted bool
}

// push queues d to go out again after wait.
func (r *redeliveries) push(d *delivery, wait time.Duration) {
	r.mu.Lock()
	d.due = time.Now().Add(wait)
	r.queue = append(r.queue, d)
	cancel := r.waiting
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// head returns the oldest queued redelivery without removing it, or nil.
func (r *redeliveries) head() *delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return nil
	}
	return r.queue[0]
}

// pop removes d, the head.
func (r *redeliveries) pop(d *delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) > 0 && r.queue[0] == d {
		r.queue[0] = nil
		r.queue = r.queue[1:]
	}
}

// interruptible returns a context derived from ctx that ends when a
// redelivery is queued, and a release func to call when the wait is over.
func (r *redeliveries) interruptible(ctx context.Context) (context.Context, func()) {
	wctx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	if len(r.queue) > 0 || r.interrupted {
		cancel()
	}
	r.interrupted = false
	r.waiting = cancel
	r.mu.Unlock()
	return wctx, func() {
		r.mu.Lock()
		r.waiting = nil
		r.mu.Unlock()
		cancel()
	}
}

// ackFunc is the AckFunc of one hand-out of d. An ack without error resolves
// d's checkpoint slot. A nack queues the whole batch again, after a back-off
// that grows with d's nacks up to backoff.max_interval, so that an output
// that keeps failing is not hammered; with auto_replay_nacks false it drops
// the batch instead, and the checkpoint moves past it.
func (i *ssiInput) ackFunc(d *delivery) service.AckFunc {
	var once sync.Once
	return func(_ context.Context, err error) error {
		once.Do(func() {
			if err == nil {
				d.resolve()
				return
			}
			if !i.conf.AutoReplayNacks {
				i.logs.channel(d.batch.Channel).With(logFieldReason, "nack").Debugf("Dropping a rejected batch of %d events of %s (auto_replay_nacks is false): %v", len(d.batch.Events), d.batch.Channel, err)
				d.resolve()
				return
			}
			d.nacks++
			wait := i.nackBackoff().Delay(d.nacks)
			i.logs.channel(d.batch.Channel).With(logFieldReason, "nack").Debugf("Redelivering a rejected batch of %d events of %s in %v: %v", len(d.batch.Events), d.batch.Channel, wait, err)
			i.redeliver.push(d, wait)
		})
		return nil
	}
}

// nextRedelivery waits for the oldest queued redelivery to be due and
// returns it, or returns nil at once when none is queued.
func (i *ssiInput) nextRedelivery(ctx context.Context) (*delivery, error) {
	d := i.redeliver.head()
	if d == nil {
		return nil, nil
	}
	if wait := time.Until(d.due); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-i.done:
			return nil, service.ErrEndOfInput
		}
	}
	i.redeliver.pop(d)
	return d, nil
}
