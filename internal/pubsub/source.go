package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Source is one Client's subscriptions merged into one stream.Source: one Subscription per topic over the one
// gRPC connection, their batches handed on by a goroutine per topic, each topic's in order. Each batch's release
// handle is its Subscription's Release, so the events requested from Salesforce plus those the caller holds never
// exceed the topic's MaxInFlight. The Source owns the Client: Close closes both.
type Source struct {
	client *Client
	subs   map[string]*Subscription // by topic

	out    chan sourceResult
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error // terminal: the invalid replay id a subscription ended with (policy fail)

	closeOnce sync.Once
	closeErr  error
}

type sourceResult struct {
	batch stream.Batch
	err   error
}

// OpenSource creates a Client from cfg and subscribes to every topic of subs; on any failure it closes what it
// opened. Observer.Events is told of the events of each batch the Source hands on.
func OpenSource(ctx context.Context, cfg Config, subs []SubscribeConfig) (*Source, error) {
	client, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the Pub/Sub API client: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Source{client: client, subs: make(map[string]*Subscription, len(subs)), out: make(chan sourceResult), cancel: cancel}
	for _, sc := range subs {
		sub, err := client.Subscribe(ctx, sc)
		if err != nil {
			_ = s.Close(context.Background())
			return nil, fmt.Errorf("subscribing to %s: %w", sc.Topic, err)
		}
		s.subs[sc.Topic] = sub
	}
	for topic, sub := range s.subs {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.pump(runCtx, topic, sub)
		}()
	}
	return s, nil
}

// pump hands sub's batches to Next, in order, until sub ends or Close.
func (s *Source) pump(ctx context.Context, topic string, sub *Subscription) {
	release := sub.Release
	for {
		b, err := sub.Next(ctx)
		var r sourceResult
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.err = err
		} else {
			r.batch = streamBatch(topic, b, release)
			if n := len(r.batch.Events); n > 0 {
				s.client.obs.Events(topic, n)
			}
		}
		select {
		case s.out <- r:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// Next returns the next batch of any topic: a topic's batches come in order; an error ends the Source.
func (s *Source) Next(ctx context.Context) (stream.Batch, error) {
	select {
	case r := <-s.out:
		if r.err != nil {
			var invalid *stream.InvalidReplayError
			if errors.As(r.err, &invalid) {
				s.mu.Lock()
				s.err = r.err
				s.mu.Unlock()
			}
			return stream.Batch{}, r.err
		}
		return r.batch, nil
	case <-ctx.Done():
		return stream.Batch{}, ctx.Err()
	}
}

// Err is the terminal error that stopped a subscription (an invalid replay id with on_invalid_replay_id fail).
func (s *Source) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends every subscription and the connection, and waits for the pumps. Pub/Sub has no session to end on
// the server. It is idempotent.
func (s *Source) Close(context.Context) error {
	s.closeOnce.Do(func() {
		s.cancel()
		for _, sub := range s.subs {
			_ = sub.Close()
		}
		s.wg.Wait()
		s.closeErr = s.client.Close()
	})
	return s.closeErr
}

var _ stream.Source = (*Source)(nil)

// streamBatch turns a subscription's batch into the stream model: each event's body is its payload decoded to
// the JSON a CometD subscriber receives as `payload`, with the metadata the decoder read as it decoded. An event
// whose payload does not decode keeps its Avro bytes as body and carries its DecodeErr.
func streamBatch(topic string, b Batch, release func(int)) stream.Batch {
	out := stream.Batch{Channel: topic, Fallbacks: b.Fallbacks, OnRelease: release}
	if b.Keepalive() {
		out.Latest = b.LatestReplayID
		return out
	}
	out.Events = make([]stream.Event, len(b.Events))
	opaque := make([]stream.OpaqueEvent, len(b.Events)) // one allocation for the batch
	platformEvent := strings.HasPrefix(topic, "/event/")
	for k := range b.Events {
		ev := &b.Events[k]
		opaque[k] = stream.OpaqueEvent{ReplayID: ev.ReplayID, EventID: ev.EventID, SchemaID: ev.SchemaID, DecodeErr: ev.DecodeErr}
		se := stream.Event{Channel: topic, Data: ev.JSON, Opaque: &opaque[k]}
		if ev.DecodeErr != nil {
			se.Data = ev.Payload
		} else {
			se.Meta = streamMeta(&ev.Meta)
			if platformEvent {
				// A platform event's uuid is its Pub/Sub event id.
				se.Meta.EventUUID = ev.EventID
			}
		}
		se.Meta.Schema = ev.SchemaID
		out.Events[k] = se
	}
	return out
}

// streamMeta is the decoder's metadata in the stream model: the fields CometD delivers alike.
func streamMeta(m *Metadata) stream.Metadata {
	return stream.Metadata{
		CreatedDate:     m.CreatedDate,
		ChangeType:      m.ChangeType,
		EntityName:      m.EntityName,
		TransactionKey:  m.TransactionKey,
		CommitUser:      m.CommitUser,
		RecordIDs:       m.RecordIDs,
		CommitTimestamp: m.CommitTimestamp,
	}
}
