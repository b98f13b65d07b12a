package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// ReplayPreset is where a subscription without a replay id starts.
type ReplayPreset int

// Replay presets.
const (
	ReplayLatest   ReplayPreset = iota // new events only (Salesforce's default)
	ReplayEarliest                     // every retained event
)

// SubscribeConfig configures one subscription.
type SubscribeConfig struct {
	Topic string // /event/X__e, /data/XChangeEvent, /data/ChangeEvents, /data/X__chn
	// ReplayID, when set, starts the subscription after this event (a stored checkpoint); otherwise Preset.
	ReplayID []byte
	Preset   ReplayPreset
	// OnInvalidReplayID says what a refused replay id does: resubscribe from the earliest or latest event, or
	// fail (Next returns the InvalidReplayError once the queue is drained).
	OnInvalidReplayID stream.InvalidReplayPolicy
	// MaxInFlight bounds the events handed on by Next and not yet Released plus those requested from the server
	// (default 100). num_requested never exceeds it, nor MaxNumRequested per stream, and more is requested only
	// as Release frees capacity, so a slow caller slows the stream instead of filling a buffer.
	MaxInFlight int
}

// Event is one delivered event.
type Event struct {
	ReplayID []byte // opaque: store it as bytes, never compute with it
	EventID  string
	SchemaID string
	Payload  []byte // the Avro payload as received
	// JSON is the payload decoded to the shape CometD delivers (DecodePayload); nil when DecodeErr is set.
	JSON []byte
	// Meta is read from the payload as it is decoded (DecodeEvent); zero when DecodeErr is set.
	Meta      Metadata
	DecodeErr error
}

// Batch is what Next hands on: the events of one FetchResponse in order, or none (a keepalive).
type Batch struct {
	Topic  string
	Events []Event
	// LatestReplayID is the subscription's position after this response: the last event's replay id, or on a
	// keepalive the newest position the server vouches for (every event up to it has been delivered). A
	// keepalive is handed on only when nothing of the subscription is in flight and its stream has delivered no
	// event for Config.KeepaliveQuiet.
	LatestReplayID []byte
	// Fallbacks is how many times the subscription had replaced a refused replay id per OnInvalidReplayID when
	// the batch was queued (stream.Batch.Fallbacks): when it grows, the batch is the first of a
	// subscription that started over from the earliest or latest event.
	Fallbacks int
}

// Keepalive reports an empty batch: no events, only a newer position.
func (b Batch) Keepalive() bool { return len(b.Events) == 0 }

// Subscription is one topic's Subscribe stream, kept open across failures: after any stream error it
// resubscribes from the replay id of the last event queued for Next, with the CometD client's backoff and error
// reactions (retryPolicy). It trusts the server no further than it must: it never hands on more events than it
// requested, never takes the server's count of what is pending over its own, drops a replay id it already handed
// on in the same stream, and takes a keepalive's position only when nothing is in flight and the stream has been
// quiet (keepaliveApplies).
type Subscription struct {
	c   *Client
	cfg SubscribeConfig
	log stream.Logger // the client's, with the topic as the channel field

	mu         sync.Mutex
	queue      []Batch
	unreleased int    // events handed on (queued or taken by Next) and not yet Released
	decoding   int    // events received and accepted, in the stream's decodeStage: not yet queued
	position   []byte // replay id to resubscribe after; nil: use the preset
	preset     ReplayPreset
	fallbacks  int   // refused replay ids replaced so far (Batch.Fallbacks)
	err        error // terminal error, returned by Next once the queue is drained
	// window is the most events a stream may have outstanding: MaxNumRequested, or smallWindow after a
	// response was refused for its size.
	window int

	violations *violationLog // protocol violations by the server, logged rate-limited

	notify   chan struct{} // a batch was queued or err set
	released chan struct{} // Release freed capacity
	cancel   context.CancelFunc
	done     chan struct{}
	closeMu  sync.Once
}

// Subscribe checks the topic with GetTopic (so a topic that does not exist or may not be read fails here) and
// starts the subscription's goroutine. Close stops it.
func (c *Client) Subscribe(ctx context.Context, cfg SubscribeConfig) (*Subscription, error) {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = MaxNumRequested
	}
	info, err := c.GetTopic(ctx, cfg.Topic)
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) {
			if kind, wrapped := classify(se, cfg.Topic, cfg.ReplayID); kind == kindPermanent {
				return nil, wrapped
			}
		}
		return nil, err
	}
	if !info.GetCanSubscribe() {
		return nil, fmt.Errorf("subscribing to %s: the user may not subscribe to this topic", cfg.Topic)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	log := stream.WithFields(c.log, stream.LogFieldChannel, cfg.Topic)
	s := &Subscription{c: c, cfg: cfg, log: log, position: cfg.ReplayID, preset: cfg.Preset, window: MaxNumRequested,
		violations: newViolationLog(log, cfg.Topic),
		notify:     make(chan struct{}, 1), released: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.run(runCtx)
	}()
	return s, nil
}

// Next returns the next batch, waiting until one is queued, ctx ends or the subscription fails for good.
func (s *Subscription) Next(ctx context.Context) (Batch, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			b := s.queue[0]
			s.queue[0] = Batch{}
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return b, nil
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return Batch{}, err
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
}

// Release tells the subscription that the caller is done with n events (acknowledged downstream), which frees
// capacity for more.
func (s *Subscription) Release(n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	s.unreleased = max(s.unreleased-n, 0)
	s.mu.Unlock()
	select {
	case s.released <- struct{}{}:
	default:
	}
}

// Close ends the stream and waits for the subscription's goroutine; it is idempotent.
func (s *Subscription) Close() error {
	s.closeMu.Do(func() {
		s.cancel()
		<-s.done
		s.fail(ErrClosed)
	})
	return nil
}

func (s *Subscription) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.wake()
}

func (s *Subscription) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// dropDecoding takes n events of a dropped decode job off decoding.
func (s *Subscription) dropDecoding(n int) {
	s.mu.Lock()
	s.decoding -= n
	s.mu.Unlock()
}

// enqueue hands a batch on and moves the resubscribe position to it. Consecutive keepalives coalesce. Its
// events move from decoding to unreleased at once, so credit never counts them free in between.
func (s *Subscription) enqueue(b Batch) {
	s.mu.Lock()
	s.decoding -= len(b.Events)
	b.Fallbacks = s.fallbacks
	if n := len(s.queue); n > 0 && b.Keepalive() && s.queue[n-1].Keepalive() {
		s.queue[n-1] = b
	} else {
		s.queue = append(s.queue, b)
	}
	s.unreleased += len(b.Events)
	if len(b.LatestReplayID) > 0 {
		s.position = b.LatestReplayID
	}
	s.mu.Unlock()
	s.wake()
}
