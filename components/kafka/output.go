package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	for _, kind := range []outputKind{kindKafkaFranz, kindRedpanda} {
		service.MustRegisterBatchOutput(string(kind), outputSpec(kind),
			func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
				c, err := parseConfig(conf)
				if err != nil {
					return nil, service.BatchPolicy{}, 0, err
				}
				out, err := conf.WrapBatchOutputExtractTracingSpanMapping(string(kind), &output{conf: c, log: mgr.Logger()})
				if err != nil {
					return nil, service.BatchPolicy{}, 0, err
				}
				return out, c.batching, c.maxInFlight, nil
			})
	}
}

// output is a service.BatchOutput over one franz-go client, shared by the
// max_in_flight batches written at once.
type output struct {
	conf *config
	log  *service.Logger

	mu     sync.RWMutex
	client *kgo.Client // nil until Connect, and after Close
}

// Connect creates the client and checks that a broker answers, so that a
// wrong address or credentials show up as connection errors, with Benthos'
// backoff, rather than as failed writes.
func (o *output) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client != nil {
		return nil
	}
	cl, err := kgo.NewClient(o.conf.clientOpts...)
	if err != nil {
		return fmt.Errorf("creating the kafka client: %w", err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return fmt.Errorf("connecting to the kafka brokers: %w", err)
	}
	o.client = cl
	return nil
}

// WriteBatch produces one record per message and returns when the brokers
// have acknowledged or rejected each. Messages whose record failed (or whose
// topic, key or partition could not be computed) are named in a
// service.BatchError; the others count as written.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.RLock()
	cl := o.client
	o.mu.RUnlock()
	if cl == nil {
		return service.ErrNotConnected
	}
	var batchErr *service.BatchError
	fail := func(i int, err error) {
		if batchErr == nil {
			batchErr = service.NewBatchError(batch, errors.New("writing to kafka"))
		}
		batchErr.Failed(i, err)
	}
	records := make([]*kgo.Record, 0, len(batch))
	indexes := make(map[*kgo.Record]int, len(batch)) // batch index of each record
	for i, msg := range batch {
		rec, err := o.record(batch, i, msg)
		if err != nil {
			fail(i, err)
			continue
		}
		records = append(records, rec)
		indexes[rec] = i
	}
	failed := 0
	var firstErr error
	// Results come in the order the brokers answered, not the order given.
	for _, res := range cl.ProduceSync(ctx, records...) {
		if res.Err != nil {
			failed++
			if firstErr == nil {
				firstErr = res.Err
			}
			fail(indexes[res.Record], fmt.Errorf("producing to %s: %w", res.Record.Topic, res.Err))
		}
	}
	if batchErr == nil {
		return nil
	}
	if failed > 0 {
		o.log.Errorf("Kafka rejected %d of %d records, first: %v", failed, len(batch), firstErr)
	}
	return batchErr
}

// record builds the Kafka record of message i.
func (o *output) record(batch service.MessageBatch, i int, msg *service.Message) (*kgo.Record, error) {
	topic, err := batch.TryInterpolatedString(i, o.conf.topic)
	if err != nil {
		return nil, fmt.Errorf("computing the topic: %w", err)
	}
	if topic == "" {
		return nil, errors.New("computing the topic: it is empty")
	}
	value, err := msg.AsBytes()
	if err != nil {
		return nil, fmt.Errorf("reading the message: %w", err)
	}
	rec := &kgo.Record{Topic: topic, Value: value}
	if o.conf.key != nil {
		if rec.Key, err = batch.TryInterpolatedBytes(i, o.conf.key); err != nil {
			return nil, fmt.Errorf("computing the key: %w", err)
		}
	}
	if o.conf.partition != nil {
		s, err := batch.TryInterpolatedString(i, o.conf.partition)
		if err != nil {
			return nil, fmt.Errorf("computing the partition: %w", err)
		}
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("computing the partition: %q is not a partition number", s)
		}
		rec.Partition = int32(p)
	}
	if o.conf.timestamp != nil {
		s, err := batch.TryInterpolatedString(i, o.conf.timestamp)
		if err != nil {
			return nil, fmt.Errorf("computing the timestamp: %w", err)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("computing the timestamp: %q is not an integer", s)
		}
		if o.conf.tsUnit == time.Second {
			rec.Timestamp = time.Unix(n, 0)
		} else {
			rec.Timestamp = time.UnixMilli(n)
		}
	}
	if o.conf.metadata != nil {
		_ = o.conf.metadata.Walk(msg, func(k, v string) error {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
			return nil
		})
	}
	return rec, nil
}

// Close flushes nothing (every write waited for its acks) and closes the
// client. It is idempotent.
func (o *output) Close(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client != nil {
		o.client.Close()
		o.client = nil
	}
	return nil
}
