package pubsub

import (
	"context"
	"fmt"
	"time"

	"github.com/hamba/avro/v2"
	"google.golang.org/grpc"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
)

// credit is how many more events this stream may request, given outstanding already requested from it and held
// received but not yet handed to the stage. Both count against MaxInFlight; only outstanding counts against the
// stream's window (Salesforce's 100): received events are no longer owed by the server.
func (s *Subscription) credit(outstanding, held int) int {
	s.mu.Lock()
	free := s.cfg.MaxInFlight - s.unreleased - s.decoding - outstanding - held
	window := s.window
	s.mu.Unlock()
	return max(min(free, window-outstanding), 0)
}

// inFlight reports whether any event received is not yet Released: being decoded, queued or taken by Next.
func (s *Subscription) inFlight() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unreleased > 0 || s.decoding > 0
}

type recvResult struct {
	resp *eventbusv1.FetchResponse
	err  error
}

// stream runs one Subscribe call until it fails.
func (s *Subscription) stream(ctx context.Context) (res streamResult) {
	c := s.c
	opened := time.Now()
	defer func() { res.lasted = time.Since(opened) }()
	tok, err := c.currentToken(ctx)
	if err != nil {
		res.err = err
		return res
	}
	res.token = tok
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	actx, err := withAuth(sctx, tok)
	if err != nil {
		res.err = err
		return res
	}
	stream, err := c.api.Subscribe(actx)
	if err != nil {
		res.err = c.statusError(err, nil)
		return res
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
	flow := flowWindow{}
	first.NumRequested = int32(s.credit(flow.outstanding, 0))
	flow.requested(int(first.NumRequested))
	if err := stream.Send(first); err != nil {
		res.err = s.streamErr(stream, err)
		return res
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

	// The stage decodes and queues what this goroutine receives, so that it takes each response and asks for more
	// as soon as the response arrives. A stream that ends for any other reason than the subscription closing
	// lets the stage queue what it holds first: the next stream resumes after the last batch queued.
	stage := newDecodeStage(ctx, s, decodeWorkers())
	defer func() {
		handedOn := stage.close(ctx.Err() != nil || isClosed(s.c.closed))
		res.handedOn = res.handedOn || handedOn
	}()

	idle := time.NewTimer(c.cfg.StreamIdleTimeout)
	defer idle.Stop()
	seen := newSeenIDs(seenIDsKept)
	lastEvent := opened // quiet is measured from the last event, or from the subscribe
	s.mu.Lock()
	threshold := max(min(s.cfg.MaxInFlight, s.window)/2, 1)
	s.mu.Unlock()
	// Ask for more once at least half the window is free (or nothing is outstanding), not per released event.
	// held counts events received and not yet submitted to the stage (credit counts those in it): they use the
	// caller's window too.
	requestMore := func(held int) error {
		n := s.credit(flow.outstanding, held)
		if n == 0 || (n < threshold && flow.outstanding > 0) {
			return nil
		}
		if err := stream.Send(&eventbusv1.FetchRequest{NumRequested: int32(n)}); err != nil {
			return err
		}
		flow.requested(n)
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			res.err = ctx.Err()
			return res
		case <-s.c.closed:
			res.err = ErrClosed
			return res
		case <-idle.C:
			res.err = fmt.Errorf("no response on the stream for %s (keepalives come every 270 s)", c.cfg.StreamIdleTimeout)
			return res
		case <-s.released:
			if err := requestMore(0); err != nil {
				res.err = s.streamErr(stream, err)
				return res
			}
		case r := <-results:
			if r.err != nil {
				res.err = s.streamErr(stream, r.err)
				return res
			}
			idle.Reset(c.cfg.StreamIdleTimeout)
			if err := s.receive(ctx, r.resp, &flow, seen, &lastEvent, stage, func(held int) error {
				if err := requestMore(held); err != nil {
					return s.streamErr(stream, err)
				}
				return nil
			}); err != nil {
				res.err = err
				return res
			}
			if err := requestMore(0); err != nil {
				res.err = s.streamErr(stream, err)
				return res
			}
		}
	}
}

// receive checks one FetchResponse against what the stream requested and hands on to the stage what may be
// handed on: at most the events still outstanding by our own count (a flood ends the stream after them), each
// replay id once per stream, and a keepalive's position (which the stage takes only when keepaliveApplies).
//
// Once the response's events are counted off the window it asks for more (requestMore, with the accepted events
// counted as held), so that the server prepares the next response while this one is decoded: the window and
// Salesforce's 100 per stream bound what is asked as before.
func (s *Subscription) receive(ctx context.Context, resp *eventbusv1.FetchResponse, flow *flowWindow, seen *seenIDs,
	lastEvent *time.Time, stage *decodeStage, requestMore func(held int) error) error {
	events := resp.GetEvents()
	received := len(events)
	expected := flow.outstanding
	accepted := flow.received(received)
	var flood error
	if accepted < received {
		flood = &FlowError{Topic: s.cfg.Topic, Received: received, Expected: expected}
		s.violations.report("flood", "%v", flood)
		events = events[:accepted]
	}
	if accepted > 0 && flood == nil {
		if err := requestMore(accepted); err != nil {
			return err
		}
	}
	// A server counting fewer pending than we do may just not have read our latest request yet: debug only. One
	// counting more claims requests we never sent.
	switch pending := int(resp.GetPendingNumRequested()); {
	case flood != nil:
	case pending > flow.outstanding:
		s.violations.report("pending", "the server reports %d events pending where the client requested %d more; "+
			"the client keeps its own count", pending, flow.outstanding)
	case pending < flow.outstanding:
		s.log.Debugf("pubsub %s: the server reports %d events pending where the client requested %d more; "+
			"the client keeps its own count", s.cfg.Topic, pending, flow.outstanding)
	}
	if received == 0 {
		if len(resp.GetLatestReplayId()) == 0 {
			return nil
		}
		return stage.submit(ctx, &decodeJob{latest: resp.GetLatestReplayId(), quiet: time.Since(*lastEvent)})
	}
	*lastEvent = time.Now()
	fresh := events[:0:0]
	for _, ce := range events {
		if !seen.addBytes(ce.GetReplayId()) {
			s.violations.report("duplicate", "the server sent replay id %x twice in one stream; the copy was dropped",
				ce.GetReplayId())
			continue
		}
		fresh = append(fresh, ce)
	}
	if len(fresh) > 0 {
		schemas, err := s.schemas(ctx, fresh)
		if err != nil {
			return err
		}
		if err := stage.submit(ctx, &decodeJob{events: fresh, schemas: schemas}); err != nil {
			return err
		}
	}
	return flood
}

// keepaliveApplies is the rule for taking a keepalive's latest_replay_id as the subscription's position: nothing
// the subscription handed on is unreleased, and the stream delivered no event for at least quietMin. A server
// sends a keepalive only when it has nothing to deliver; one right behind a delivery, or while events are in
// flight, could name a position past events never delivered, and storing it would skip them for good.
func keepaliveApplies(inFlight bool, quiet, quietMin time.Duration) bool {
	return !inFlight && quiet >= quietMin
}

// flowWindow counts, by the client's own requests, how many events a stream still owes. The server's
// pending_num_requested is only compared with it, never used: a server counting wrong either way must not make
// the client request past its window.
type flowWindow struct{ outstanding int }

func (f *flowWindow) requested(n int) { f.outstanding += n }

// received takes n events off the count and returns how many may be handed on: at most what was outstanding.
func (f *flowWindow) received(n int) int {
	accepted := min(n, f.outstanding)
	f.outstanding -= accepted
	return accepted
}

// streamErr is the status of a failed stream with its trailer.
func (s *Subscription) streamErr(stream grpc.ClientStream, err error) error {
	return s.c.statusError(err, stream.Trailer())
}

// eventSchema is a schema a response's events name: its id redacted (server text that becomes metadata) and the
// schema itself.
type eventSchema struct {
	id, redacted string
	schema       *avro.RecordSchema
}

// schemas resolves the schemas the events name (the events of a response mostly share one), from the cache or
// GetSchema. A schema that cannot be fetched fails the stream (it is retried by the policy, the token refreshed
// there if it was refused), before any of the response's events is handed on.
func (s *Subscription) schemas(ctx context.Context, events []*eventbusv1.ConsumerEvent) ([]eventSchema, error) {
	var out []eventSchema
	for _, ce := range events {
		id := ce.GetEvent().GetSchemaId()
		if findSchema(out, id) != nil {
			continue
		}
		schema, err := s.c.schema(ctx, id, false)
		if err != nil {
			return nil, err
		}
		out = append(out, eventSchema{id: id, redacted: redactID(s.c.red, id), schema: schema})
	}
	return out, nil
}

func findSchema(schemas []eventSchema, id string) *eventSchema {
	for i := range schemas {
		if schemas[i].id == id {
			return &schemas[i]
		}
	}
	return nil
}

// batch decodes the events of a FetchResponse with dec, their schemas resolved by schemas. A payload that does
// not decode is handed on with DecodeErr. Event ids are server text that becomes metadata: they are redacted.
func (s *Subscription) batch(dec *eventDecoder, events []*eventbusv1.ConsumerEvent, schemas []eventSchema) Batch {
	b := Batch{Topic: s.cfg.Topic, Events: make([]Event, 0, len(events))}
	red := s.c.red
	sc := &schemas[0]
	for _, ce := range events {
		pe := ce.GetEvent()
		if id := pe.GetSchemaId(); id != sc.id {
			sc = findSchema(schemas, id)
		}
		ev := Event{ReplayID: ce.GetReplayId(), EventID: redactID(red, pe.GetId()), SchemaID: sc.redacted,
			Payload: pe.GetPayload()}
		ev.JSON, ev.Meta, ev.DecodeErr = dec.decode(sc.schema, pe.GetPayload())
		if ev.DecodeErr != nil {
			ev.DecodeErr = redactedError{text: red.QuoteString(ev.DecodeErr.Error())}
		}
		b.Events = append(b.Events, ev)
	}
	b.LatestReplayID = b.Events[len(b.Events)-1].ReplayID
	return b
}

// redactID redacts an event or schema id, on every event, cheaply when it can. Salesforce's ids are plain
// (letters, digits, '-', '_', '.'), and no credential pattern of Redactor.String can match such a text (each
// needs '!', '%', a backslash, a space, '+', ':' or '='), so a plain id needs only the known secrets and tokens
// removed (Known, which for such a text only looks for them as written: about 0.3 us); any other id gets the full String (about 15 us).
func redactID(red *redact.Redactor, id string) string {
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.') {
			return red.String(id)
		}
	}
	return red.Known(id)
}

// redactedError shows a redacted text for an error whose own text may quote server data. It does not unwrap:
// the cause's text is the unredacted one.
type redactedError struct{ text string }

func (e redactedError) Error() string { return e.text }
