package pubsubapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/clock"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/limits"
)

// maxEventsPerResponse and maxResponsePayloadBytes bound one FetchResponse (a response always carries at least
// one owed event): gRPC clients refuse messages above 4 MB by default, and a Pub/Sub event may be up to 1 MB.
const (
	maxEventsPerResponse    = 100
	maxResponsePayloadBytes = 3 << 20
)

// Subscribe serves one subscription. The first FetchRequest names the topic and the start (LATEST: after the
// newest event, EARLIEST: the oldest retained, CUSTOM: after a retained replay id); each FetchRequest adds its
// num_requested to what the server owes, capped at 100. Events go out as they are owed; with nothing to send
// for PubSubKeepalive (the Server's clock), an empty FetchResponse carries the subscription's position: the
// newest replay id when the subscription is caught up, else the last one delivered.
func (p *pubsubService) Subscribe(stream eventbusv1.PubSub_SubscribeServer) error {
	s := p.s
	ctx := stream.Context()
	if err := s.authenticate(ctx, stream.SetTrailer); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	topic := first.GetTopicName()
	kind, ok := pubsubTopic(topic)
	if !ok || !s.topicDefined(topic) {
		return s.topicNotFound(stream.SetTrailer, topic)
	}

	s.deps.Store.Lock()
	ch, err := s.deps.Store.ChannelLocked(topic)
	if err != nil {
		s.deps.Store.Unlock()
		return s.topicNotFound(stream.SetTrailer, topic)
	}
	if code, errorCode, msg, refused := s.subscribeRefusalLocked(topic); refused {
		s.deps.Store.Unlock()
		return s.rpcError(stream.SetTrailer, code, errorCode, msg)
	}
	s.deps.Store.PruneLocked(ch, s.deps.Clock.Now())
	var cursor int64 // the subscription delivers events with ids above it
	switch first.GetReplayPreset() {
	case eventbusv1.ReplayPreset_EARLIEST:
		cursor = s.deps.Store.PositionLocked(ch)
		if r := ch.Retained(); len(r) > 0 {
			cursor = r[0].ID - 1
		}
	case eventbusv1.ReplayPreset_CUSTOM:
		id, ok := replayFromBytes(first.GetReplayId())
		// A retained event's id, or the topic's current position, which keepalives hand out even when no event
		// with that id is retained (an empty topic, or one whose events expired).
		if !ok || !s.deps.Store.ReplayValidLocked(ch, id) && !s.deps.Store.PositionValidLocked(ch, id) {
			s.deps.Store.Unlock()
			return s.rpcError(stream.SetTrailer, codes.InvalidArgument, errCodeReplayCorrupt,
				"The Replay ID validation failed. Ensure that the Replay ID is valid and is within the retention window.")
		}
		cursor = id
	default:
		cursor = s.deps.Store.PositionLocked(ch)
	}
	s.deps.Store.Unlock()
	s.deps.Logf("pubsub: subscribe %s preset %s after %d, %d requested", topic, first.GetReplayPreset(), cursor, first.GetNumRequested())
	return s.serveStream(ctx, &eventStream{
		topic: topic, kind: kind, ch: ch, cursor: cursor, requested: first.GetNumRequested(),
		recv: func() (fetch, error) {
			req, err := stream.Recv()
			if err != nil {
				return fetch{}, err
			}
			if req.GetTopicName() != "" && req.GetTopicName() != topic {
				return fetch{}, s.rpcError(stream.SetTrailer, codes.InvalidArgument, "",
					fmt.Sprintf("The topic %s differs from the topic %s of the first FetchRequest of the stream.", req.GetTopicName(), topic))
			}
			return fetch{num: req.GetNumRequested()}, nil
		},
		send: func(d delivery) error {
			// The response in wire form, written from the events' kept encodings (wire.go).
			return stream.SendMsg(encodeFetchResponse(d.events, d.latest, s.rpcID(), d.pending))
		},
		setTrailer: stream.SetTrailer,
	})
}

// fetch is one request on a subscription stream (Subscribe or ManagedSubscribe): events asked for, and a commit.
type fetch struct {
	num    int32
	commit *eventbusv1.CommitReplayRequest
}

// delivery is one response: events (none in a keepalive or a commit answer), the stream's position, what is still
// owed, and the answer to the commits received since the last one.
type delivery struct {
	events  []*eventstore.Encoding // the kept encodings of the events, in order; valid until send returns
	latest  []byte
	pending int32
	commit  *eventbusv1.CommitReplayResponse
}

// eventStream is what serveStream needs of a subscription stream.
type eventStream struct {
	topic      string
	kind       eventstore.Kind
	ch         *eventstore.Channel
	cursor     int64 // events with ids above it are due
	requested  int32 // num_requested of the first request
	recv       func() (fetch, error)
	send       func(delivery) error
	setTrailer func(metadata.MD)
	// commit answers a commit (ManagedSubscribe); nil: commits are not part of the stream.
	commit func(*eventbusv1.CommitReplayRequest) *eventbusv1.CommitReplayResponse
	// commitTimeout, when set, ends the stream with commitTimeoutErr when no commit arrives for that long.
	commitTimeout    time.Duration
	commitTimeoutErr func() error
	// stop, when closed, ends the stream with stopErr (a managed subscription set to STOP).
	stop    <-chan struct{}
	stopErr func() error
}

// serveStream delivers a channel's events on a subscription stream: pull flow control (each request adds its
// num_requested to what is owed, capped at 100), keepalives after PubSubKeepalive of silence carrying the stream's
// position (the newest replay id when caught up, else the last one delivered), and the close of a stream that owes
// nothing and hears no request for PubSubIdleClose.
func (s *Handler) serveStream(ctx context.Context, st *eventStream) error {
	topic, kind, ch, cursor := st.topic, st.kind, st.ch, st.cursor
	wake := make(chan struct{}, 1)
	s.deps.Store.Lock()
	ch.WatchLocked(wake)
	s.deps.Store.Unlock()
	defer func() {
		s.deps.Store.Lock()
		ch.UnwatchLocked(wake)
		s.deps.Store.Unlock()
	}()

	var (
		mu      sync.Mutex
		pending = min(max(st.requested, 0), maxNumRequested)
		commit  *eventbusv1.CommitReplayRequest // the newest commit not yet answered; commits coalesce
	)
	more := make(chan struct{}, 1)
	recvErr := make(chan error, 1)
	go func() { // ends when the stream does: Recv fails once the handler has returned
		for {
			f, err := st.recv()
			if err != nil {
				recvErr <- err
				return
			}
			mu.Lock()
			pending = min(pending+max(f.num, 0), maxNumRequested)
			if f.commit != nil {
				commit = f.commit
			}
			mu.Unlock()
			select {
			case more <- struct{}{}:
			default:
			}
		}
	}()

	keepalive := s.deps.Clock.NewTimer(PubSubKeepalive)
	defer func() { keepalive.Stop() }()
	var idle clock.Timer // armed while the stream owes nothing: PubSubIdleClose after the last request
	defer func() {
		if idle != nil {
			idle.Stop()
		}
	}()
	var out pubsubResponse
	var commitTimer clock.Timer
	var commitC <-chan time.Time
	if st.commitTimeout > 0 {
		commitTimer = s.deps.Clock.NewTimer(st.commitTimeout)
		commitC = commitTimer.C()
		defer func() { commitTimer.Stop() }()
	}
	for {
		mu.Lock()
		owed := pending
		toAnswer := commit
		commit = nil
		mu.Unlock()
		if toAnswer != nil && st.commit != nil {
			resp := st.commit(toAnswer)
			if st.commitTimeout > 0 {
				commitTimer.Stop()
				commitTimer = s.deps.Clock.NewTimer(st.commitTimeout)
				commitC = commitTimer.C()
			}
			if err := st.send(delivery{latest: replayBytes(cursor), pending: owed, commit: resp}); err != nil {
				return err
			}
		}
		// The idle clock runs only while the stream owes nothing; it starts when the stream last owed something or
		// heard a request.
		var idleC <-chan time.Time
		switch {
		case owed == 0 && idle == nil:
			idle = s.deps.Clock.NewTimer(PubSubIdleClose)
			idleC = idle.C()
		case owed == 0:
			idleC = idle.C()
		case idle != nil:
			idle.Stop()
			idle = nil
		}

		s.deps.Store.Lock()
		tokenValid := s.deps.Tokens.Valid(tokenOf(ctx))
		limited := s.deps.Limits.DailyLimitReached()
		s.deps.Store.PruneLocked(ch, s.deps.Clock.Now())
		r := ch.Retained()
		i := ch.IndexAfter(cursor)
		n := min(int(owed), len(r)-i, maxEventsPerResponse)
		if limited {
			n = 0
		}
		batch := make([]eventstore.Event, n)
		copy(batch, r[i:i+n])
		caughtUp := i+n == len(r)
		tip := ch.LastID()
		woken, reset := s.deps.Faults.Woken(), s.pubsub.reset
		fault, delay := s.deps.Faults.TakeStream(n > 0)
		s.deps.Store.Unlock()
		switch {
		case fault == faults.StreamDrop:
			return status.Error(codes.Unavailable, "the connection was reset")
		case fault == faults.StreamClose:
			return nil
		case !tokenValid:
			return s.rpcError(st.setTrailer, codes.Unauthenticated, errCodeAuth, "The session ID or OAuth token used has expired or is invalid.")
		case limited:
			return s.rpcError(st.setTrailer, codes.ResourceExhausted, errCodeLimitExceeded,
				"The daily event delivery allocation of the org is used up.")
		}

		if n > 0 {
			if fault == faults.StreamSlow && !s.wait(ctx, delay) {
				return status.Error(codes.Unavailable, "the emulator is shutting down")
			}
			if err := s.encodeBatch(ch, topic, kind, batch); err != nil {
				s.deps.Logf("pubsub: %v", err)
				return status.Error(codes.Internal, "encoding an event failed")
			}
			var resp delivery
			out.reset()
			size := 0
			for k := range batch {
				enc := batch[k].PubSub
				if size += len(enc.Wire); size > maxResponsePayloadBytes && len(out.events) > 0 {
					break // the rest goes in the next response; gRPC clients refuse messages above 4 MB
				}
				out.add(enc)
			}
			resp.events = out.events
			n = len(resp.events)
			cursor = batch[n-1].ID
			mu.Lock()
			pending -= int32(n)
			resp.pending = pending
			mu.Unlock()
			resp.latest = replayBytes(cursor)
			if err := st.send(resp); err != nil {
				return err
			}
			s.deps.Store.Lock()
			s.deps.Limits.CountDelivered(limits.AllocationOf(kind), n) // the daily allocation CometD deliveries count against too
			s.deps.Store.Unlock()
			keepalive.Stop()
			keepalive = s.deps.Clock.NewTimer(PubSubKeepalive)
			continue
		}

		select {
		case <-wake:
		case <-more: // a FetchRequest: the idle clock starts again
			if idle != nil {
				idle.Stop()
				idle = nil
			}
		case <-idleC:
			s.deps.Logf("pubsub: closing the %s subscription: nothing owed and no FetchRequest for %s", topic, PubSubIdleClose)
			return nil
		case <-woken:
		case <-reset:
			return status.Error(codes.Unavailable, "the connection was reset")
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-keepalive.C():
			if caughtUp && tip > cursor {
				cursor = tip
			}
			// Never empty: a keepalive always carries a position (the Node client crashes on an empty one).
			resp := delivery{latest: replayBytes(cursor)}
			mu.Lock()
			resp.pending = pending
			mu.Unlock()
			if err := st.send(resp); err != nil {
				return err
			}
			keepalive = s.deps.Clock.NewTimer(PubSubKeepalive)
		case <-commitC:
			return st.commitTimeoutErr()
		case <-st.stop:
			return st.stopErr()
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.deps.Closed:
			return status.Error(codes.Unavailable, "the emulator is shutting down")
		}
	}
}

// wait sleeps d of wall-clock time (a slow network, as the CometD fault); false when the stream or the server
// ended first.
func (s *Handler) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.deps.Closed:
		return false
	}
}

// encodeBatch gives every event of batch (a copy of retained events of ch) its Pub/Sub encoding: the one kept with
// the event, or a new one made outside the lock and then kept with the retained event (if it is still retained)
// for the next serve.
func (s *Handler) encodeBatch(ch *eventstore.Channel, topic string, kind eventstore.Kind, batch []eventstore.Event) error {
	fresh := -1 // the first event encoded now
	for k := range batch {
		ev := &batch[k]
		if ev.PubSub != nil {
			continue
		}
		enc, err := s.encodePubSub(topic, kind, ev.Msg, ev.ID)
		if err != nil {
			return err
		}
		ev.PubSub = enc
		if fresh < 0 {
			fresh = k
		}
	}
	if fresh < 0 {
		return nil
	}
	s.deps.Store.Lock()
	defer s.deps.Store.Unlock()
	s.deps.Store.KeepEncodingsLocked(ch, batch[fresh:])
	return nil
}
