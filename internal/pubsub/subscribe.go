package pubsub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux"
	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
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
	OnInvalidReplayID bayeux.InvalidReplayPolicy
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
	JSON      []byte
	DecodeErr error
}

// Batch is what Next hands on: the events of one FetchResponse in order, or none (a keepalive).
type Batch struct {
	Topic  string
	Events []Event
	// LatestReplayID is the subscription's position after this response: the last event's replay id, or on a
	// keepalive the newest position the server vouches for (every event up to it has been delivered).
	LatestReplayID []byte
	// Fallbacks is how many times the subscription had replaced a refused replay id per OnInvalidReplayID when
	// the batch was queued (as bayeux's wire.Batch.Fallbacks): when it grows, the batch is the first of a
	// subscription that started over from the earliest or latest event.
	Fallbacks int
}

// Keepalive reports an empty batch: no events, only a newer position.
func (b Batch) Keepalive() bool { return len(b.Events) == 0 }

// Subscription is one topic's Subscribe stream, kept open across failures: after any stream error it
// resubscribes from the replay id of the last event queued for Next, with the CometD client's backoff and error
// reactions.
type Subscription struct {
	c   *Client
	cfg SubscribeConfig
	log bayeux.Logger // the client's, with the topic as the channel field

	mu         sync.Mutex
	queue      []Batch
	unreleased int    // events handed on (queued or taken by Next) and not yet Released
	position   []byte // replay id to resubscribe after; nil: use the preset
	preset     ReplayPreset
	fallbacks  int   // refused replay ids replaced so far (Batch.Fallbacks)
	err        error // terminal error, returned by Next once the queue is drained

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
	s := &Subscription{c: c, cfg: cfg, log: bayeux.WithFields(c.log, bayeux.LogFieldChannel, cfg.Topic), position: cfg.ReplayID, preset: cfg.Preset,
		notify: make(chan struct{}, 1), released: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
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

// enqueue hands a batch on and moves the resubscribe position to it. Consecutive keepalives coalesce.
func (s *Subscription) enqueue(b Batch) {
	s.mu.Lock()
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

// run keeps the subscription open until ctx ends or a failure is final.
func (s *Subscription) run(ctx context.Context) {
	c := s.c
	streak := 0 // failures since the last stream that delivered a response
	for {
		delivered, err := s.stream(ctx)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-c.closed:
			s.fail(ErrClosed)
			return
		default:
		}
		if delivered {
			streak = 0
		}
		s.mu.Lock()
		pos := s.position
		s.mu.Unlock()
		kind, wrapped := classify(err, s.cfg.Topic, pos)
		var wait time.Duration
		switch kind {
		case kindAuth:
			var ae *bayeux.AuthError
			if errors.As(err, &ae) && !isStatus(err) {
				// the token source failed: it has its own retry rules; wait like any failure
				streak++
				wait = c.cfg.Backoff.Delay(streak)
				s.log.Errorf("pubsub %s: getting a token: %v", s.cfg.Topic, err)
				break
			}
			c.obs.Reconnect(bayeux.ReconnectAuth)
			tok, _ := c.currentToken(ctx)
			if _, rerr := c.refresh(ctx, tok); rerr != nil {
				streak++
				wait = c.cfg.Backoff.Delay(streak)
				s.log.Errorf("pubsub %s: refreshing the refused token: %v", s.cfg.Topic, rerr)
			} else {
				s.log.Warnf("pubsub %s: token refused (%v); refreshed it, resubscribing", s.cfg.Topic, wrapped)
				if streak > 0 {
					wait = c.cfg.Backoff.Delay(streak)
				}
				streak++
			}
		case kindInvalidReplay:
			c.obs.ReplayFallback(s.cfg.Topic, s.cfg.OnInvalidReplayID)
			switch s.cfg.OnInvalidReplayID {
			case bayeux.ReplayFallbackFail:
				bayeux.WithFields(s.log, bayeux.LogFieldReason, "invalid_replay_id").Errorf("pubsub %s: %v; on_invalid_replay_id is fail: stopping", s.cfg.Topic, wrapped)
				s.fail(wrapped)
				return
			case bayeux.ReplayFallbackLatest:
				s.restartFrom(ReplayLatest)
			default:
				s.restartFrom(ReplayEarliest)
			}
			bayeux.WithFields(s.log, bayeux.LogFieldReason, "invalid_replay_id").Errorf("pubsub %s: %v; resubscribing from the %s event", s.cfg.Topic, wrapped, s.cfg.OnInvalidReplayID)
		case kindLimit, kindPermanent:
			if kind == kindLimit {
				c.obs.Reconnect(bayeux.ReconnectLimit)
			} else {
				c.obs.Reconnect(bayeux.ReconnectConnectionError)
			}
			wait = longWait(c.cfg.Backoff)
			s.log.Errorf("pubsub %s: %v; retrying in %s", s.cfg.Topic, wrapped, wait.Round(time.Second))
		case kindClosed:
			s.fail(ErrClosed)
			return
		default:
			c.obs.Reconnect(bayeux.ReconnectConnectionError)
			if streak > 0 {
				wait = c.cfg.Backoff.Delay(streak)
			}
			streak++
			s.log.Warnf("pubsub %s: stream ended: %v; resubscribing in %s", s.cfg.Topic, wrapped, wait.Round(time.Millisecond))
		}
		if !sleep(ctx, c.closed, wait) {
			if ctx.Err() == nil {
				s.fail(ErrClosed) // the Client was closed during the wait
			}
			return
		}
	}
}

func isStatus(err error) bool {
	var se *StatusError
	return errors.As(err, &se)
}

// restartFrom drops the position so the next stream starts from a preset: a fallback from a refused replay id.
func (s *Subscription) restartFrom(p ReplayPreset) {
	s.mu.Lock()
	s.position, s.preset = nil, p
	s.fallbacks++
	s.mu.Unlock()
}

// credit is how many more events this stream may request, given outstanding already requested from it.
func (s *Subscription) credit(outstanding int) int {
	s.mu.Lock()
	free := s.cfg.MaxInFlight - s.unreleased - outstanding
	s.mu.Unlock()
	return max(min(free, MaxNumRequested-outstanding), 0)
}

type recvResult struct {
	resp *eventbusv1.FetchResponse
	err  error
}

// stream runs one Subscribe call until it fails; delivered reports whether any response arrived.
func (s *Subscription) stream(ctx context.Context) (delivered bool, err error) {
	c := s.c
	tok, err := c.currentToken(ctx)
	if err != nil {
		return false, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	actx, err := withAuth(sctx, tok)
	if err != nil {
		return false, err
	}
	stream, err := c.api.Subscribe(actx)
	if err != nil {
		return false, statusError(err, nil)
	}

	s.mu.Lock()
	first := &eventbusv1.FetchRequest{TopicName: s.cfg.Topic}
	switch {
	case s.position != nil:
		first.ReplayPreset, first.ReplayId = eventbusv1.ReplayPreset_CUSTOM, s.position
	case s.preset == ReplayEarliest:
		first.ReplayPreset = eventbusv1.ReplayPreset_EARLIEST
	default:
		first.ReplayPreset = eventbusv1.ReplayPreset_LATEST
	}
	s.mu.Unlock()
	outstanding := 0
	first.NumRequested = int32(s.credit(outstanding))
	outstanding += int(first.NumRequested)
	if err := stream.Send(first); err != nil {
		return false, s.streamErr(stream, err)
	}
	s.log.Debugf("pubsub %s: subscribed (%s), requested %d", s.cfg.Topic, first.ReplayPreset, first.NumRequested)

	results := make(chan recvResult, 1)
	go func() { // ends when the stream does (cancel below ends a blocked Recv)
		for {
			resp, err := stream.Recv()
			select {
			case results <- recvResult{resp, err}:
			case <-sctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	idle := time.NewTimer(c.cfg.StreamIdleTimeout)
	defer idle.Stop()
	// Ask for more once at least half the window is free (or nothing is outstanding), not per released event.
	threshold := max(min(s.cfg.MaxInFlight, MaxNumRequested)/2, 1)
	requestMore := func() error {
		n := s.credit(outstanding)
		if n == 0 || (n < threshold && outstanding > 0) {
			return nil
		}
		if err := stream.Send(&eventbusv1.FetchRequest{NumRequested: int32(n)}); err != nil {
			return err
		}
		outstanding += n
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return delivered, ctx.Err()
		case <-s.c.closed:
			return delivered, ErrClosed
		case <-idle.C:
			return delivered, fmt.Errorf("no response on the stream for %s (keepalives come every 270 s)", c.cfg.StreamIdleTimeout)
		case <-s.released:
			if err := requestMore(); err != nil {
				return delivered, s.streamErr(stream, err)
			}
		case r := <-results:
			if r.err != nil {
				return delivered, s.streamErr(stream, r.err)
			}
			delivered = true
			idle.Reset(c.cfg.StreamIdleTimeout)
			// What the stream still owes: our count less the events received, or the server's
			// pending_num_requested when that is lower (it may have dropped part of a request), never the higher
			// of the two, so that a server miscounting upwards cannot push events past MaxInFlight.
			outstanding = max(min(outstanding-len(r.resp.GetEvents()), int(r.resp.GetPendingNumRequested())), 0)
			b, err := s.batch(ctx, r.resp)
			if err != nil {
				return delivered, err
			}
			if !b.Keepalive() || len(b.LatestReplayID) > 0 {
				s.enqueue(b)
			}
			if err := requestMore(); err != nil {
				return delivered, s.streamErr(stream, err)
			}
		}
	}
}

// streamErr is the status of a failed stream with its trailer.
func (s *Subscription) streamErr(stream grpc.ClientStream, err error) error {
	return statusError(err, stream.Trailer())
}

// batch decodes a FetchResponse. A schema that cannot be fetched fails the stream (it is retried); a payload
// that does not decode is handed on with DecodeErr.
func (s *Subscription) batch(ctx context.Context, resp *eventbusv1.FetchResponse) (Batch, error) {
	b := Batch{Topic: s.cfg.Topic, LatestReplayID: resp.GetLatestReplayId()}
	for _, ce := range resp.GetEvents() {
		pe := ce.GetEvent()
		ev := Event{ReplayID: ce.GetReplayId(), EventID: pe.GetId(), SchemaID: pe.GetSchemaId(), Payload: pe.GetPayload()}
		schema, err := s.c.Schema(ctx, pe.GetSchemaId())
		if err != nil {
			return Batch{}, err
		}
		ev.JSON, ev.DecodeErr = DecodePayload(schema, pe.GetPayload())
		b.Events = append(b.Events, ev)
	}
	if n := len(b.Events); n > 0 {
		b.LatestReplayID = b.Events[n-1].ReplayID
	}
	return b, nil
}

// longWait is Backoff.Long (default 2 min), jittered into [d/2, d) like every other wait.
func longWait(b bayeux.BackoffConfig) time.Duration {
	d := b.Long
	if d <= 0 {
		d = 2 * time.Minute
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half)
}

// sleep waits d or until ctx ends or closed is closed; it reports whether the full wait elapsed.
func sleep(ctx context.Context, closed <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	case <-closed:
		return false
	}
}
