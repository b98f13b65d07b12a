package pubsub

import (
	"context"
	"runtime"
	"sync"
	"time"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
)

// maxDecodeWorkers bounds the goroutines that decode one stream's responses.
const maxDecodeWorkers = 4

// stageResponses bounds the responses in a decode stage (received, not yet queued for Next): with 100 events a
// response, a few hundred events, which count against MaxInFlight while they are there.
const stageResponses = 4

// decodeStage decodes a stream's responses away from the goroutine that reads them, on up to maxDecodeWorkers
// goroutines (one per CPU), and queues the batches for Next in the order the responses arrived. Salesforce lets a
// stream owe at most 100 events, so the server sends nothing more until the client asks again: a reader that
// decoded each response before taking the next would leave the server waiting for a decode per 100 events, and a
// single decoder would bound the subscription at one CPU.
//
// Nothing in a stage can fail: the stream's goroutine resolves each response's schemas before it submits the
// response (GetSchema stays one call at a time, in order, and its failure ends the stream as before), and an
// event that does not decode is handed on with its DecodeErr. A stage lives as long as its stream. Every job
// submitted is accounted for in Subscription.decoding until the queuer takes it off: queued for Next, or dropped
// when the subscription closes.
type decodeStage struct {
	s        *Subscription
	ctx      context.Context
	cancel   context.CancelFunc
	jobs     chan *decodeJob // to the workers
	order    chan *decodeJob // to the queuer, in arrival order
	handedOn bool            // a batch was queued; the queuer's, read by close after the wait
	wg       sync.WaitGroup  // the workers and the queuer
}

// decodeJob is one response's accepted events with their schemas, or a keepalive's position (no events).
type decodeJob struct {
	events  []*eventbusv1.ConsumerEvent
	schemas []eventSchema // the schemas the events name, resolved
	latest  []byte        // a keepalive's latest_replay_id
	quiet   time.Duration // a keepalive's: how long the stream had delivered no event when it arrived
	batch   Batch
	done    chan struct{} // closed once batch is set, or once the stage is cancelled
}

// decodeWorkers is how many goroutines decode a stream's responses: one per CPU the runtime may use, at most
// maxDecodeWorkers.
func decodeWorkers() int { return min(max(runtime.GOMAXPROCS(0), 1), maxDecodeWorkers) }

// newDecodeStage starts a stage with workers decoding goroutines and its queuer.
func newDecodeStage(ctx context.Context, s *Subscription, workers int) *decodeStage {
	ctx, cancel := context.WithCancel(ctx)
	d := &decodeStage{s: s, ctx: ctx, cancel: cancel, jobs: make(chan *decodeJob, stageResponses),
		order: make(chan *decodeJob, stageResponses)}
	d.wg.Add(workers + 1)
	for range workers {
		go d.work(newEventDecoder())
	}
	go d.queue()
	return d
}

// submit hands a response's events (or a keepalive, with no events) to the stage, waiting while the stage is
// full. It fails only when ctx ends.
func (d *decodeStage) submit(ctx context.Context, j *decodeJob) error {
	j.done = make(chan struct{})
	if len(j.events) == 0 {
		close(j.done)
	}
	d.s.mu.Lock()
	d.s.decoding += len(j.events)
	d.s.mu.Unlock()
	select {
	case d.order <- j:
	case <-ctx.Done():
		d.s.dropDecoding(len(j.events))
		return ctx.Err()
	}
	if len(j.events) > 0 {
		d.jobs <- j // never blocks: a job is in jobs only while it is in order too, and both hold stageResponses
	}
	return nil
}

// work decodes jobs with its own decoder until the stage closes.
func (d *decodeStage) work(dec *eventDecoder) {
	defer d.wg.Done()
	for j := range d.jobs {
		if d.ctx.Err() == nil { // once cancelled, the queuer drops the job
			j.batch = d.s.batch(dec, j.events, j.schemas)
		}
		close(j.done)
	}
}

// queue takes the jobs in arrival order as they are decoded and queues their batches for Next. Once the stage
// is cancelled it drops every job left: queueing one after a gap would move the resubscribe position past the
// events of the one dropped.
func (d *decodeStage) queue() {
	defer d.wg.Done()
	for j := range d.order {
		<-j.done
		switch {
		case d.ctx.Err() != nil:
			d.s.dropDecoding(len(j.events))
		case len(j.events) > 0:
			d.s.enqueue(j.batch)
			d.handedOn = true
		case keepaliveApplies(d.s.inFlight(), j.quiet, d.s.c.cfg.KeepaliveQuiet):
			d.s.enqueue(Batch{Topic: d.s.cfg.Topic, LatestReplayID: j.latest})
			d.handedOn = true
		default:
			d.s.log.Debugf("pubsub %s: keepalive position not taken: events in flight or the stream was quiet only %s",
				d.s.cfg.Topic, j.quiet.Round(time.Millisecond))
		}
	}
}

// close ends the stage after the jobs submitted: they are decoded and queued, unless abort, which drops them
// (the subscription is closing). It waits for the stage's goroutines and reports whether a batch was queued.
func (d *decodeStage) close(abort bool) (handedOn bool) {
	if abort {
		d.cancel()
	}
	close(d.order)
	close(d.jobs)
	d.wg.Wait()
	d.cancel()
	return d.handedOn
}

// isClosed reports whether c is closed.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
