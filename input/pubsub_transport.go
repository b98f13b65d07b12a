package input

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux"
	"github.com/salesforce-streaming/salesforce_streaming/internal/pubsub"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
)

// pubsubTransport is the Pub/Sub client as a transport: one Subscription per
// channel over one gRPC connection, their batches merged into one stream by
// a goroutine per channel. Each subscription's MaxInFlight is
// checkpoint_limit, and Release is called as the input's acks resolve
// batches, so the events requested from Salesforce plus those the pipeline
// holds never exceed checkpoint_limit per channel.
type pubsubTransport struct {
	client  *pubsub.Client
	subs    map[string]*pubsub.Subscription // by channel
	metrics *ssiMetrics

	out    chan pubsubResult
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error // terminal: the error a subscription ended with

	closeOnce sync.Once
}

type pubsubResult struct {
	batch eventBatch
	err   error
}

// pubsubStart is where one channel's subscription starts: after replayID
// when set, else at preset.
type pubsubStart struct {
	replayID []byte
	preset   pubsub.ReplayPreset
}

// startPubSub connects and subscribes to every channel; on any failure it
// closes what it opened.
func startPubSub(ctx context.Context, conf ssiConfig, src *sfauth.Source, starts map[string]pubsubStart, log bayeux.Logger, metrics *ssiMetrics) (*pubsubTransport, error) {
	client, err := pubsub.New(pubsub.Config{
		Auth:      pubsubAuth{src},
		Endpoint:  conf.PubSubEndpoint,
		Plaintext: conf.PubSubPlaintext,
		TLS:       conf.TLS,
		Backoff:   conf.Backoff,
		Logger:    log,
		Observer:  metrics,
		Redactor:  src.Redactor(),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the Pub/Sub API client: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	t := &pubsubTransport{client: client, subs: map[string]*pubsub.Subscription{}, metrics: metrics,
		out: make(chan pubsubResult), cancel: cancel}
	for _, ch := range conf.Channels {
		start := starts[ch]
		sub, err := client.Subscribe(ctx, pubsub.SubscribeConfig{
			Topic:             ch,
			ReplayID:          start.replayID,
			Preset:            start.preset,
			OnInvalidReplayID: replayPolicy(conf.OnInvalidReplayID),
			MaxInFlight:       conf.CheckpointLimit,
		})
		if err != nil {
			_ = t.Close(context.Background())
			return nil, fmt.Errorf("subscribing to %s: %w", ch, err)
		}
		t.subs[ch] = sub
	}
	for ch, sub := range t.subs {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.pump(runCtx, ch, sub)
		}()
	}
	return t, nil
}

// pump hands sub's batches to Next, in order, until sub ends or Close.
func (t *pubsubTransport) pump(ctx context.Context, channel string, sub *pubsub.Subscription) {
	for {
		b, err := sub.Next(ctx)
		var r pubsubResult
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.err = err
		} else {
			r.batch = pubsubBatch(channel, b)
			if n := len(r.batch.Events); n > 0 && t.metrics != nil {
				t.metrics.Events(channel, n)
			}
		}
		select {
		case t.out <- r:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

func (t *pubsubTransport) Next(ctx context.Context) (eventBatch, error) {
	select {
	case r := <-t.out:
		if r.err != nil {
			var invalid *pubsub.InvalidReplayError
			if errors.As(r.err, &invalid) {
				t.mu.Lock()
				t.err = r.err
				t.mu.Unlock()
			}
			return eventBatch{}, r.err
		}
		return r.batch, nil
	case <-ctx.Done():
		return eventBatch{}, ctx.Err()
	}
}

func (t *pubsubTransport) Release(channel string, n int) {
	if sub := t.subs[channel]; sub != nil {
		sub.Release(n)
	}
}

func (t *pubsubTransport) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Close ends every subscription and the connection, and waits for the pumps.
// Pub/Sub has no session to end on the server. It is idempotent.
func (t *pubsubTransport) Close(context.Context) error {
	var err error
	t.closeOnce.Do(func() {
		t.cancel()
		for _, sub := range t.subs {
			_ = sub.Close()
		}
		t.wg.Wait()
		err = t.client.Close()
	})
	return err
}

// pubsubAuth lets the Pub/Sub client obtain tokens from an sfauth.Source,
// marking refused logins as the CometD path does.
type pubsubAuth struct{ src *sfauth.Source }

func (a pubsubAuth) Token(ctx context.Context) (sfauth.Token, error) {
	tok, err := a.src.Token(ctx)
	return tok, loginError(err)
}

func (a pubsubAuth) Refresh(ctx context.Context, stale sfauth.Token) (sfauth.Token, error) {
	tok, err := a.src.Refresh(ctx, stale)
	return tok, loginError(err)
}

// presetName names a Pub/Sub preset for logs.
func presetName(p pubsub.ReplayPreset) string {
	if p == pubsub.ReplayEarliest {
		return presetEarliest
	}
	return presetLatest
}

// pubsubPreset maps a CometD preset (-1, -2) to the Pub/Sub one.
func pubsubPreset(id int64) pubsub.ReplayPreset {
	if id == replayEarliest {
		return pubsub.ReplayEarliest
	}
	return pubsub.ReplayLatest
}
