package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// pubAckTimeout bounds the wait for one message's PubAck; past it the
// message fails and Benthos retries it.
const pubAckTimeout = 5 * time.Second

func init() {
	service.MustRegisterBatchOutput("nats_jetstream", spec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			c, err := parseConfig(conf, mgr.Label())
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			out, err := conf.WrapBatchOutputExtractTracingSpanMapping("nats_jetstream", &output{conf: c, log: mgr.Logger()})
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			return out, c.batching, c.maxInFlight, nil
		})
}

// nkeyFromSeed signs the server's nonce with an NKey seed given inline.
func nkeyFromSeed(seed string) (nats.Option, error) {
	kp, err := nkeys.FromSeed([]byte(seed))
	if err != nil {
		return nil, errors.New("not a valid NKey seed")
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, errors.New("not a valid NKey seed")
	}
	return nats.Nkey(pub, kp.Sign), nil
}

// output is a service.BatchOutput over one NATS connection, shared by the
// max_in_flight batches written at once.
type output struct {
	conf *config
	log  *service.Logger

	mu sync.RWMutex
	nc *nats.Conn // nil until Connect, and after Close
	js jetstream.JetStream
}

func (o *output) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.nc != nil {
		return nil
	}
	nc, err := nats.Connect(o.conf.urls, o.conf.options...)
	if err != nil {
		// The URLs may hold credentials: the error names none of them.
		return fmt.Errorf("connecting to nats: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(pubAckTimeout))
	if err != nil {
		nc.Close()
		return fmt.Errorf("opening jetstream: %w", err)
	}
	o.nc, o.js = nc, js
	return nil
}

// WriteBatch publishes every message of the batch, then waits for each
// PubAck. Messages without one (no stream for the subject, a timeout, a lost
// connection, a subject or header that could not be computed) are named in a
// service.BatchError; the others count as written.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.RLock()
	js := o.js
	o.mu.RUnlock()
	if js == nil {
		return service.ErrNotConnected
	}
	var batchErr *service.BatchError
	failed := 0
	var firstErr error
	fail := func(i int, err error) {
		if batchErr == nil {
			batchErr = service.NewBatchError(batch, errors.New("publishing to jetstream"))
		}
		failed++
		if firstErr == nil {
			firstErr = err
		}
		batchErr.Failed(i, err)
	}
	type pending struct {
		index  int
		future jetstream.PubAckFuture
	}
	futures := make([]pending, 0, len(batch))
	for i := range batch {
		msg, err := o.message(batch, i)
		if err != nil {
			fail(i, err)
			continue
		}
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			fail(i, fmt.Errorf("publishing to %s: %w", msg.Subject, err))
			continue
		}
		futures = append(futures, pending{index: i, future: f})
	}
	for _, p := range futures {
		select {
		case <-p.future.Ok():
		case err := <-p.future.Err():
			fail(p.index, fmt.Errorf("publishing to %s: %w", p.future.Msg().Subject, err))
		case <-ctx.Done():
			fail(p.index, fmt.Errorf("waiting for the PubAck: %w", ctx.Err()))
		}
	}
	if batchErr == nil {
		return nil
	}
	o.log.Errorf("JetStream did not store %d of %d messages, first: %v", failed, len(batch), firstErr)
	return batchErr
}

// message builds the NATS message of batch[i].
func (o *output) message(batch service.MessageBatch, i int) (*nats.Msg, error) {
	subject, err := batch.TryInterpolatedString(i, o.conf.subject)
	if err != nil {
		return nil, fmt.Errorf("computing the subject: %w", err)
	}
	if subject == "" {
		return nil, errors.New("computing the subject: it is empty")
	}
	data, err := batch[i].AsBytes()
	if err != nil {
		return nil, fmt.Errorf("reading the message: %w", err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	if o.conf.metadata != nil {
		_ = o.conf.metadata.Walk(batch[i], func(k, v string) error {
			msg.Header.Add(k, v)
			return nil
		})
	}
	for k, v := range o.conf.headers {
		value, err := batch.TryInterpolatedString(i, v)
		if err != nil {
			return nil, fmt.Errorf("computing header %s: %w", k, err)
		}
		msg.Header.Set(k, value)
	}
	return msg, nil
}

// Close drains nothing (every write waited for its PubAcks) and closes the
// connection. It is idempotent.
func (o *output) Close(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.nc != nil {
		o.nc.Close()
		o.nc, o.js = nil, nil
	}
	return nil
}
