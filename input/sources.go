package input

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux"
	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
	"github.com/salesforce-streaming/salesforce_streaming/internal/pubsub"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// This file is the one place of the input that knows the Salesforce clients.
// Everything else works on internal/stream: a stream.Source of batches, each
// with its release handle, and stream.Position. The API is chosen once, here,
// as an apiSource: its checkpoint codec, how a start is logged, and how its
// Source is opened.

// The clients' defaults the configuration spec documents.
const (
	defaultPubSubEndpoint    = pubsub.DefaultEndpoint
	defaultAPIVersion        = bayeux.DefaultAPIVersion
	defaultMaxBufferedEvents = bayeux.DefaultMaxBufferedEvents
)

// apiSource is what differs between the APIs, chosen once per input.
type apiSource struct {
	// codec is the stored form of the API's checkpoints.
	codec checkpointfmt.Codec
	// logStart says where channel ch starts and why (from).
	logStart func(log *service.Logger, ch string, start stream.Start, from string)
	// open starts the API's Source from starts (by channel as configured).
	// Its errors are already wrapped by recovery.
	open func(ctx context.Context, i *ssiInput, starts map[string]stream.Start) (stream.Source, error)
}

// sourceFor is the apiSource of api.
func sourceFor(api apiKind) apiSource {
	if api == apiPubSub {
		return apiSource{codec: checkpointfmt.PubSub, logStart: logPubSubStart, open: openPubSub}
	}
	return apiSource{codec: checkpointfmt.CometD, logStart: logCometDStart, open: openCometD}
}

// openCometD starts a bayeux client from starts.
func openCometD(ctx context.Context, i *ssiInput, starts map[string]stream.Start) (stream.Source, error) {
	replayIDs := make(map[string]int64, len(starts))
	for ch, s := range starts {
		replayIDs[stream.ChannelKey(ch)] = cometdReplayID(s)
	}
	client, err := bayeux.New(bayeux.Config{
		Auth:              tokenSource{i.auth},
		APIVersion:        i.conf.APIVersion,
		HTTPClient:        i.http,
		Redactor:          i.auth.Redactor(),
		Channels:          i.conf.Channels,
		ReplayIDs:         replayIDs,
		OnInvalidReplayID: replayPolicy(i.conf.OnInvalidReplayID),
		MaxBufferedEvents: i.conf.MaxBuffered,
		Logger:            i.logs.client(),
		Observer:          i.metrics,
		Backoff:           i.conf.Backoff,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the Streaming API client: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		closeClient(cometdSource{Client: client})
		return nil, i.recovery.connectFailed(fmt.Errorf("connecting to Salesforce: %w", err))
	}
	return cometdSource{Client: client, payloadBody: i.conf.Body == bodyPayload}, nil
}

// cometdReplayID is a start as CometD's subscribe writes it: the replay id
// to resume after, or the preset's -1 or -2.
func cometdReplayID(s stream.Start) int64 {
	if s.Resume {
		return s.After.Seq
	}
	return int64(s.Preset)
}

func logCometDStart(log *service.Logger, ch string, s stream.Start, from string) {
	id := cometdReplayID(s)
	log.With(logFieldReplayID, id).Infof("Subscribing to %s from replay id %d (%s)", ch, id, from)
}

// cometdSource is the bayeux client as a stream.Source. CometD has no flow
// control: its batches carry no release handle (max_buffered_events bounds
// the client). With payloadBody (body: payload) each event's body is its
// payload.
type cometdSource struct {
	*bayeux.Client
	payloadBody bool
}

func (t cometdSource) Next(ctx context.Context) (stream.Batch, error) {
	b, err := t.Client.Next(ctx)
	if err == nil && t.payloadBody {
		payloadBody(&b)
	}
	return b, err
}

// payloadBody makes each event's body its payload: data.payload, or a
// PushTopic event's data.sobject. An event with neither keeps its data.
func payloadBody(b *stream.Batch) {
	for k := range b.Events {
		ev := &b.Events[k]
		if p, ok := wire.Member(ev.Data, "payload"); ok {
			ev.Data = p
		} else if p, ok := wire.Member(ev.Data, "sobject"); ok {
			ev.Data = p
		}
	}
}

// openPubSub connects to the Pub/Sub API and subscribes to every channel,
// one subscription each over one connection. Each subscription's
// MaxInFlight is checkpoint_limit, and its batches' release handles are
// called as the input's acks resolve them, so the events requested from
// Salesforce plus those the pipeline holds never exceed checkpoint_limit per
// channel.
func openPubSub(ctx context.Context, i *ssiInput, starts map[string]stream.Start) (stream.Source, error) {
	subs := make([]pubsub.SubscribeConfig, 0, len(i.conf.Channels))
	for _, ch := range i.conf.Channels {
		s := starts[ch]
		sc := pubsub.SubscribeConfig{
			Topic:             ch,
			Preset:            pubsubPreset(s.Preset),
			OnInvalidReplayID: replayPolicy(i.conf.OnInvalidReplayID),
			MaxInFlight:       i.conf.CheckpointLimit,
		}
		if s.Resume {
			sc.ReplayID = []byte(s.After.Opaque)
		}
		subs = append(subs, sc)
	}
	src, err := pubsub.OpenSource(ctx, pubsub.Config{
		Auth:      tokenSource{i.auth},
		Endpoint:  i.conf.PubSubEndpoint,
		Plaintext: i.conf.PubSubPlaintext,
		TLS:       i.conf.TLS,
		Backoff:   i.conf.Backoff,
		Logger:    i.logs.client(),
		Observer:  i.metrics,
		Redactor:  i.auth.Redactor(),
	}, subs)
	if err != nil {
		return nil, i.recovery.connectFailed(fmt.Errorf("connecting to the Salesforce Pub/Sub API: %w", err))
	}
	return src, nil
}

func logPubSubStart(log *service.Logger, ch string, s stream.Start, from string) {
	if s.Resume {
		id := shorten(base64.StdEncoding.EncodeToString([]byte(s.After.Opaque)))
		log.With(logFieldReplayID, id).Infof("Subscribing to %s over the Pub/Sub API after replay id %s (%s)", ch, id, from)
		return
	}
	log.Infof("Subscribing to %s over the Pub/Sub API from the %s event (%s)", ch, s.Preset, from)
}

// pubsubPreset maps a preset to the Pub/Sub one.
func pubsubPreset(p stream.Preset) pubsub.ReplayPreset {
	if p == stream.Earliest {
		return pubsub.ReplayEarliest
	}
	return pubsub.ReplayLatest
}

// tokenSource lets both clients obtain tokens from an sfauth.Source,
// marking refused logins (stream.LoginRejectedError) so that a client waits
// backoff.long_interval before the next one mid-session too, as Connect does
// at start.
type tokenSource struct{ src *sfauth.Source }

func (a tokenSource) Token(ctx context.Context) (sfauth.Token, error) {
	tok, err := a.src.Token(ctx)
	return tok, loginError(err)
}

func (a tokenSource) Refresh(ctx context.Context, stale sfauth.Token) (sfauth.Token, error) {
	tok, err := a.src.Refresh(ctx, stale)
	return tok, loginError(err)
}
