package sfemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
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
	if !ok {
		return s.topicNotFound(stream.SetTrailer, topic)
	}

	s.mu.Lock()
	ch, err := s.channelLocked(topic)
	if err != nil {
		s.mu.Unlock()
		return s.topicNotFound(stream.SetTrailer, topic)
	}
	if code, errorCode, msg, refused := s.subscribeRefusalLocked(topic); refused {
		s.mu.Unlock()
		return s.rpcError(stream.SetTrailer, code, errorCode, msg)
	}
	s.pruneLocked(ch, s.clock.Now())
	var cursor int64 // the subscription delivers events with ids above it
	switch first.GetReplayPreset() {
	case eventbusv1.ReplayPreset_EARLIEST:
		cursor = ch.lastID
		if r := ch.retained(); len(r) > 0 {
			cursor = r[0].id - 1
		}
	case eventbusv1.ReplayPreset_CUSTOM:
		id, ok := replayFromBytes(first.GetReplayId())
		if !ok || !s.replayValid(ch, id) {
			s.mu.Unlock()
			return s.rpcError(stream.SetTrailer, codes.InvalidArgument, errCodeReplayCorrupt,
				"The Replay ID validation failed. Ensure that the Replay ID is valid and is within the retention window.")
		}
		cursor = id
	default:
		cursor = ch.lastID
	}
	wake := make(chan struct{}, 1)
	s.pubsub.watchLocked(ch, wake)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.pubsub.unwatchLocked(ch, wake)
		s.mu.Unlock()
	}()
	s.logf("pubsub: subscribe %s preset %s after %d, %d requested", topic, first.GetReplayPreset(), cursor, first.GetNumRequested())

	var (
		mu      sync.Mutex
		pending = min(max(first.GetNumRequested(), 0), maxNumRequested)
	)
	more := make(chan struct{}, 1)
	recvErr := make(chan error, 1)
	go func() { // ends when the stream does: Recv fails once the handler has returned
		for {
			req, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			if req.GetTopicName() != "" && req.GetTopicName() != topic {
				recvErr <- s.rpcError(stream.SetTrailer, codes.InvalidArgument, "",
					fmt.Sprintf("The topic %s differs from the topic %s of the first FetchRequest of the stream.", req.GetTopicName(), topic))
				return
			}
			mu.Lock()
			pending = min(pending+max(req.GetNumRequested(), 0), maxNumRequested)
			mu.Unlock()
			select {
			case more <- struct{}{}:
			default:
			}
		}
	}()

	keepalive := s.clock.NewTimer(PubSubKeepalive)
	defer func() { keepalive.Stop() }()
	for {
		mu.Lock()
		owed := pending
		mu.Unlock()

		s.mu.Lock()
		_, tokenValid := s.tokens[tokenOf(ctx)]
		limited := s.dailyLimitLocked()
		s.pruneLocked(ch, s.clock.Now())
		r := ch.retained()
		i := ch.indexAfter(cursor)
		n := min(int(owed), len(r)-i, maxEventsPerResponse)
		if limited {
			n = 0
		}
		batch := make([]storedEvent, n)
		copy(batch, r[i:i+n])
		caughtUp := i+n == len(r)
		tip := ch.lastID
		faults, reset := s.faultCh, s.pubsub.reset
		fault, delay := s.takeStreamFaultLocked(n > 0)
		s.mu.Unlock()
		switch {
		case fault == streamDrop:
			return status.Error(codes.Unavailable, "the connection was reset")
		case fault == streamClose:
			return nil
		case !tokenValid:
			return s.rpcError(stream.SetTrailer, codes.Unauthenticated, errCodeAuth, "The session ID or OAuth token used has expired or is invalid.")
		case limited:
			return s.rpcError(stream.SetTrailer, codes.ResourceExhausted, errCodeLimitExceeded,
				"The daily event delivery allocation of the org is used up.")
		}

		if n > 0 {
			if fault == streamSlow && !s.wait(ctx, delay) {
				return status.Error(codes.Unavailable, "the emulator is shutting down")
			}
			resp := &eventbusv1.FetchResponse{RpcId: s.rpcID()}
			size := 0
			for _, ev := range batch {
				ce, err := s.consumerEvent(topic, kind, ev.msg, ev.id)
				if err != nil {
					s.logf("pubsub: %v", err)
					return status.Error(codes.Internal, "encoding an event failed")
				}
				if size += len(ce.GetEvent().GetPayload()); size > maxResponsePayloadBytes && len(resp.Events) > 0 {
					break // the rest goes in the next response; gRPC clients refuse messages above 4 MB
				}
				resp.Events = append(resp.Events, ce)
			}
			n = len(resp.Events)
			cursor = batch[n-1].id
			mu.Lock()
			pending -= int32(n)
			resp.PendingNumRequested = pending
			mu.Unlock()
			resp.LatestReplayId = replayBytes(cursor)
			if err := stream.Send(resp); err != nil {
				return err
			}
			s.mu.Lock()
			s.countDeliveredLocked(kind, n) // the daily allocation CometD deliveries count against too
			s.mu.Unlock()
			keepalive.Stop()
			keepalive = s.clock.NewTimer(PubSubKeepalive)
			continue
		}

		select {
		case <-wake:
		case <-more:
		case <-faults:
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
			resp := &eventbusv1.FetchResponse{RpcId: s.rpcID()}
			if cursor > 0 {
				resp.LatestReplayId = replayBytes(cursor)
			}
			mu.Lock()
			resp.PendingNumRequested = pending
			mu.Unlock()
			if err := stream.Send(resp); err != nil {
				return err
			}
			keepalive = s.clock.NewTimer(PubSubKeepalive)
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.closed:
			return status.Error(codes.Unavailable, "the emulator is shutting down")
		}
	}
}

// wait sleeps d of wall-clock time (a slow network, as the CometD fault); false when the stream or the server
// ended first.
func (s *pubsubServer) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}
