package input

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/orgapi"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

const (
	// closeTimeout bounds Close whatever its context: the framework passes
	// context.Background().
	closeTimeout = 5 * time.Second
	// dropTimeout bounds closing a client that ended or is abandoned.
	dropTimeout = 2 * time.Second
)

func init() {
	service.MustRegisterBatchInput("salesforce_streaming", spec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
			// No AutoRetryNacksBatchedToggled: its retry maps nacked messages
			// back to the batch by index, which loses events once processors
			// split, merge or regroup the batch. The input redelivers whole
			// batches itself (redeliver.go).
			return newInput(conf, mgr)
		})
}

// ssiInput is the salesforce_streaming BatchInput. Connect starts the
// configured API's stream.Source from the acknowledged positions, ReadBatch
// hands out its batches, Close ends it. A client that dies is dropped and the framework calls
// Connect again, which starts a fresh one from what was acknowledged (or,
// after a terminal error, returns that error once: see recovery).
type ssiInput struct {
	conf    ssiConfig
	log     *service.Logger // the session's lines: api and every channel as fields
	logs    inputLoggers
	auth    *sfauth.Source
	http    *http.Client
	cp      *checkpointer
	metrics *ssiMetrics
	// api is what differs between the APIs (sources.go), chosen once.
	api apiSource
	// org and instanceName detect an org migration at each start
	// (org_migration.go); nil in tests that build the input by hand.
	org          orgStore
	instanceName func(context.Context) (string, error)
	limits       *limitsPoller // nil when limits_interval is 0
	cdc          *cdcRuntime   // nil without snapshot, gap_events: fetch and resync

	redeliver redeliveries
	recovery  *recovery
	done      chan struct{} // closed by Close

	// health, lease (nil when lease.enabled is false) and probe: checkpoint
	// health and the lease (input_gate.go).
	health    *storeHealth
	lease     *lease
	probe     func(context.Context) error
	lastNamed time.Time // when Connect last returned the not-ready error

	mu     sync.Mutex
	client stream.Source // nil when not connected
	closed bool
	// held is a batch taken from client whose tracking was interrupted (by a
	// redelivery to send first, or by ReadBatch's context): the next
	// ReadBatch tracks and returns it, unless client was replaced meanwhile
	// (the new one starts from what was acknowledged, so it comes again).
	held       *stream.Batch
	heldClient stream.Source
	// fallbacks is the Fallbacks count last seen per channel on
	// fallbackClient's batches: when it grows, a new checkpoint epoch starts.
	fallbacks      map[string]int
	fallbackClient stream.Source
	// startSeen holds the channels whose start marker's first event
	// startSeenClient handed on: their skipping is over (start_marker.go).
	startSeen       map[string]bool
	startSeenClient stream.Source

	closeOnce sync.Once
	closeErr  error
}

func newInput(pConf *service.ParsedConfig, mgr *service.Resources) (*ssiInput, error) {
	conf, err := configFromParsed(pConf, mgr.FS())
	if err != nil {
		return nil, err
	}
	if !mgr.HasCache(conf.CheckpointCache) {
		return nil, fmt.Errorf("checkpoint_cache: there is no cache resource named %q: add one under cache_resources (a file or redis cache), or fix the name", conf.CheckpointCache)
	}

	httpClient := newHTTPClient(conf)
	conf.Auth.HTTPClient = httpClient
	src, err := sfauth.NewSource(conf.Auth)
	if err != nil {
		return nil, err
	}

	metrics := newMetrics(mgr.Metrics())
	logs := newInputLoggers(mgr.Logger(), conf.API, conf.Channels)
	cpLog := logs.session.With(logFieldCheckpointKey, conf.CheckpointKey)
	api := sourceFor(conf.API)
	store := cacheStore{res: mgr, cache: conf.CheckpointCache, prefix: conf.CheckpointKey, log: logs.api, codec: api.codec}
	org := orgapi.New(src, httpClient, conf.APIVersion, src.Redactor(), orgClientOptions(mgr, logs.session, conf)...)
	var limits *limitsPoller
	if conf.LimitsInterval > 0 {
		limits = newLimitsPoller(org, conf.LimitsInterval, logs.session, mgr.Metrics())
	}
	in := &ssiInput{
		conf:    conf,
		log:     logs.session,
		logs:    logs,
		auth:    src,
		http:    httpClient,
		cp:      newCheckpointer(store, conf.CheckpointLimit, cpLog, metrics.checkpointLag),
		metrics: metrics,
		api:     api,
		probe:   store.Probe,
		org:     store,
		instanceName: func(ctx context.Context) (string, error) {
			return queryInstanceName(ctx, httpClient, src, conf.APIVersion)
		},
		limits: limits,
		cdc:    newCDCRuntime(conf, org, store, mgr, logs.session),
		recovery: &recovery{
			log:     logs.session,
			logs:    logs,
			backoff: stream.BackoffConfig{Initial: conf.Backoff.Initial, Max: conf.Backoff.Max},
			long:    conf.Backoff.Long,
			key:     store.key,
		},
		done: make(chan struct{}),
	}
	in.wireCDC()
	in.initGate(mgr)
	return in, nil
}

// newHTTPClient is the base client of token and CometD requests: Go's default
// transport with the configured TLS and proxy. bayeux adds its cookie jar and
// per-request timeouts to copies of it.
func newHTTPClient(conf ssiConfig) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if conf.TLS != nil {
		tr.TLSClientConfig = conf.TLS
	}
	if conf.ProxyURL != nil {
		tr.Proxy = http.ProxyURL(conf.ProxyURL)
	}
	return &http.Client{Transport: tr}
}

// Connect starts a session: it loads each channel's start position, then
// authenticates, handshakes and subscribes. Failures come back wrapped in a
// back-off, long for failures that retrying cannot fix soon.
func (i *ssiInput) Connect(ctx context.Context) error {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return service.ErrEndOfInput
	}
	i.mu.Unlock()
	if i.lease != nil {
		i.lease.start()
		select { // a lone instance consumes at once
		case <-i.lease.firstTried():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := i.awaitStore(ctx); err != nil {
		return err
	}
	if i.lease != nil && !i.lease.Held() {
		return nil // a standby: ReadBatch waits for the lease
	}
	i.mu.Lock()
	if i.client != nil {
		i.mu.Unlock()
		return nil
	}
	i.mu.Unlock()
	if terminal := i.recovery.takeTerminal(); terminal != nil {
		return i.recovery.connectFailed(fmt.Errorf("connecting to Salesforce: %w", terminal))
	}

	if ready, err := i.cdc.beforeStream(ctx, i.anyCheckpoint); !ready {
		if err != nil {
			return i.recovery.connectFailed(err)
		}
		return nil // the snapshot's pages come first (cdc_runtime.go)
	}

	client, err := i.connectTransport(ctx)
	if err != nil {
		return err
	}

	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed { // Close ran meanwhile and could not see this client
		closeClient(client)
		return service.ErrEndOfInput
	}
	i.client = client
	i.recovery.connected()
	if i.limits != nil {
		i.limits.start() // the first session is up: the credentials work
	}
	return nil
}

// connectTransport starts the Source of the configured API from the
// acknowledged positions. Its errors are already wrapped by recovery.
func (i *ssiInput) connectTransport(ctx context.Context) (stream.Source, error) {
	migrated, err := i.checkOrgMigration(ctx)
	var migration *orgMigrationError
	switch {
	case errors.As(err, &migration):
		// Retrying soon cannot help: an operator must act.
		i.log.Errorf("Not consuming: %v", err)
		return nil, service.NewErrBackOff(err, i.conf.Backoff.Long)
	case err != nil:
		return nil, i.recovery.connectFailed(err)
	}
	starts, err := i.startPositions(ctx, migrated)
	if err != nil {
		return nil, i.recovery.connectFailed(err)
	}
	return i.api.open(ctx, i, starts)
}

// startPositions resolves where each channel starts, keyed by channel as
// configured: after its acknowledged position (stored by an earlier run, or
// acked by this process, written or not); at the earliest event when that
// is a start marker (readNew drops the events below it); else after its
// initial_replay_ids entry (a replay id, base64 over Pub/Sub, or a preset);
// else at replay_preset.
func (i *ssiInput) startPositions(ctx context.Context, migrated map[string]bool) (map[string]stream.Start, error) {
	starts := make(map[string]stream.Start, len(i.conf.Channels))
	for _, ch := range i.conf.Channels {
		base := stream.ChannelKey(ch)
		acked, haveAcked, err := i.cp.Resume(ctx, base)
		if err != nil {
			return nil, fmt.Errorf("loading the checkpoint of %s: %w", base, err)
		}
		initialOpaque, haveOpaque := i.conf.InitialPubSubIDs[base]
		initial, haveInitial := i.conf.InitialReplayIDs[base]
		var start stream.Start
		var from string
		switch {
		case haveAcked && migrated[base]:
			start.Preset, from = stream.Preset(i.migratedStart(base)), "on_invalid_replay_id after an org migration"
		case haveAcked && acked.Start:
			start.Preset, from = stream.Earliest, fmt.Sprintf("its checkpoint is the start marker %s: nothing was acknowledged since its first subscription, and the events before that are skipped", shorten(string(i.api.codec.Format(storedPosition(acked)))))
		case haveAcked:
			start, from = stream.Start{After: acked, Resume: true}, "its last acknowledged event"
		case haveOpaque:
			start, from = stream.Start{After: stream.Position{Opaque: string(initialOpaque)}, Resume: true}, "initial_replay_ids"
		case haveInitial && (initial == replayLatest || initial == replayEarliest):
			start.Preset, from = stream.Preset(initial), "initial_replay_ids"
		case haveInitial:
			start, from = stream.Start{After: stream.Position{Seq: initial}, Resume: true}, "initial_replay_ids"
		default:
			start.Preset, from = stream.Preset(i.cdc.startPreset(i.conf.ReplayPreset)), "replay_preset"
		}
		i.api.logStart(i.logs.channel(ch), ch, start, from)
		starts[ch] = start
	}
	return starts, nil
}

// ReadBatch returns the next batch: a nacked batch due for redelivery first,
// else the next batch of the client. A batch is tracked before it is
// returned; its ack resolves the tracking, which lets the checkpointer
// persist the channel's highest contiguously acknowledged id.
func (i *ssiInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	for {
		// A standby (no lease) or a store failing past its grace period
		// hands out nothing: neither snapshot pages nor events.
		if err := i.readGate(ctx); err != nil {
			return nil, nil, err
		}
		if msgs, ack, ok, err := i.cdc.next(ctx); ok || err != nil {
			return msgs, ack, err
		}
		d, err := i.nextRedelivery(ctx)
		if err != nil {
			return nil, nil, err
		}
		if d == nil {
			if d, err = i.readNew(ctx); err != nil {
				return nil, nil, err
			}
		}
		if d != nil {
			msgs, ack, ok, err := i.cdc.resolveGaps(ctx, batchMessages(&d.batch), i.ackFunc(d), i.nackBackoff().Delay)
			if ok || err != nil {
				return msgs, ack, err
			}
			continue
		}
		// A nack queued a redelivery while this call waited: send it first.
	}
}

// readNew takes the next batch of the client and tracks it. It returns a nil
// delivery and no error when a redelivery was queued meanwhile.
func (i *ssiInput) readNew(ctx context.Context) (*delivery, error) {
	i.mu.Lock()
	client := i.client
	batch, haveHeld := i.takeHeldLocked(client)
	i.mu.Unlock()
	if client == nil {
		return nil, service.ErrNotConnected
	}

	wctx, release := i.redeliver.interruptible(ctx)
	defer release()
	for !haveHeld {
		var err error
		batch, err = client.Next(wctx)
		switch {
		case err == nil && len(batch.Events) == 0:
			// Never hand the framework an empty batch. A Pub/Sub keepalive
			// moves an idle channel's checkpoint.
			if batch.Latest == nil {
				continue
			}
			if i.noteFallbacks(ctx, client, batch) && i.cdc.onFallback(ctx) {
				return nil, nil // a resync snapshot comes first (cdc_runtime.go)
			}
			if i.cp.Keepalive(batch.Channel, batch.Latest) {
				i.logs.channel(batch.Channel).Debugf("Checkpoint of %s moved to the keepalive's latest replay id", batch.Channel)
			}
			continue
		case err == nil:
			if i.noteFallbacks(ctx, client, batch) && i.cdc.onFallback(ctx) {
				// A resync snapshot comes first; the batch waits for it.
				i.mu.Lock()
				i.held, i.heldClient = &batch, client
				i.mu.Unlock()
				return nil, nil
			}
			if batch = i.dropBeforeStart(client, batch); len(batch.Events) == 0 {
				continue
			}
			haveHeld = true
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case wctx.Err() != nil:
			return nil, nil
		default:
			i.dropClient(client, err)
			return nil, service.ErrNotConnected
		}
	}

	if !i.storeStart(ctx, wctx, client, batch) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, nil
	}

	last, hasPos := batch.Last()
	resolve, err := i.cp.Track(wctx, batch.Channel, last, hasPos, len(batch.Events))
	if err != nil {
		// checkpoint_limit is reached and the wait was cut short. The batch
		// left the client, which must not carry on past it: keep it for the
		// next call, after whatever redeliveries free the limit.
		i.mu.Lock()
		i.held, i.heldClient = &batch, client
		i.mu.Unlock()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, nil
	}
	n := len(batch.Events)
	return &delivery{batch: batch, resolve: func() {
		resolve()
		batch.Release(n) // flow control follows acks
	}}, nil
}

// takeHeldLocked returns the held batch when it came from client.
func (i *ssiInput) takeHeldLocked(client stream.Source) (stream.Batch, bool) {
	held, from := i.held, i.heldClient
	i.held, i.heldClient = nil, nil
	if held == nil || from != client || client == nil {
		return stream.Batch{}, false
	}
	return *held, true
}

// noteFallbacks starts a new checkpoint epoch for the batch's channel when
// the client fell back from a refused replay id since its previous batch of
// that channel (see checkpointer.NewEpoch). Every batch the client queued
// before the fallback comes before it. It reports whether a fallback happened.
func (i *ssiInput) noteFallbacks(ctx context.Context, client stream.Source, batch stream.Batch) bool {
	i.mu.Lock()
	if i.fallbackClient != client {
		i.fallbackClient, i.fallbacks = client, map[string]int{}
	}
	base := stream.ChannelKey(batch.Channel)
	grew := batch.Fallbacks > i.fallbacks[base]
	i.fallbacks[base] = batch.Fallbacks
	i.mu.Unlock()
	if grew {
		i.logs.channel(base).With(logFieldReason, "replay_fallback").Infof("Checkpoints of %s start a new epoch after the replay-id fallback: the next acknowledged replay id replaces the stored one", base)
		i.noteLiveMigration(ctx, base, i.cp.NewEpoch(base))
	}
	return grew
}

// dropClient forgets a client that ended (or is abandoned) and closes it; the
// next Connect starts a new one from the acknowledged positions. Events the
// old client handed out but that were not acknowledged yet are delivered
// again.
func (i *ssiInput) dropClient(client stream.Source, cause error) {
	i.mu.Lock()
	if i.client == client {
		i.client = nil
	}
	closed := i.closed
	i.mu.Unlock()
	closeClient(client)
	if closed || isClosed(cause) {
		return
	}
	i.recovery.clientEnded(client, cause)
}

// isClosed reports an error of a client closed by the input.
func isClosed(err error) bool { return errors.Is(err, stream.ErrClosed) }

func closeClient(client stream.Source) {
	ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
	defer cancel()
	_ = client.Close(ctx)
}

// Close ends the session (sending /meta/disconnect, which frees the org's
// concurrent-client slot) and flushes the acknowledged replay ids. It returns
// within closeTimeout whatever ctx says, and is idempotent.
func (i *ssiInput) Close(ctx context.Context) error {
	i.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, closeTimeout)
		defer cancel()

		i.mu.Lock()
		i.closed = true
		client := i.client
		i.client = nil
		i.mu.Unlock()
		close(i.done)
		i.cdc.close()
		if i.limits != nil {
			i.limits.stop()
		}

		var errs []error
		if client != nil {
			if err := client.Close(ctx); err != nil && !isClosed(err) {
				errs = append(errs, fmt.Errorf("closing the Salesforce session: %w", err))
			}
		}
		if err := i.cp.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		// After the final flush, which the lease fences.
		if i.lease != nil {
			i.lease.close(ctx)
		}
		i.health.close()
		i.closeErr = errors.Join(errs...)
	})
	return i.closeErr
}

// nackBackoff is the back-off of redeliveries: the reconnect one, without
// its long wait.
func (i *ssiInput) nackBackoff() stream.BackoffConfig {
	return stream.BackoffConfig{Initial: i.conf.Backoff.Initial, Max: i.conf.Backoff.Max}
}

// replayPolicy maps on_invalid_replay_id to the clients' policy.
func replayPolicy(p invalidReplayPolicy) stream.InvalidReplayPolicy {
	switch p {
	case onInvalidLatest:
		return stream.ReplayFallbackLatest
	case onInvalidFail:
		return stream.ReplayFallbackFail
	default:
		return stream.ReplayFallbackEarliest
	}
}

// loginError marks a login Salesforce refused (invalid_grant, invalid_client,
// ...) so that the client waits backoff.long_interval before the next one
// mid-session too, as Connect does at start.
func loginError(err error) error {
	if sfauth.IsPermanent(err) {
		return &stream.LoginRejectedError{Err: err}
	}
	return err
}
