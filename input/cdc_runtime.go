package input

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/orgapi"
)

// The input's Change Data Capture convergence at run time: whether a
// snapshot runs before the streams start, its pages handed out by ReadBatch
// ahead of any event, and gap events resolved on their way out. input.go
// calls it at four places: Connect (beforeStream), ReadBatch (next, and
// resolveGaps on each batch), the start positions (startPreset) and Close.

// metricAPICalls counts the org API requests the input sends, by kind.
const metricAPICalls = "salesforce_streaming_api_calls"

// snapshotAckPoll is how often a finished snapshot checks that its last
// pages were acknowledged before the streams start.
const snapshotAckPoll = 20 * time.Millisecond

// cdcRuntime is nil in an input without snapshot and gap resolution.
type cdcRuntime struct {
	conf  cdcConfig
	body  bodyShape
	org   orgReader
	store cacheStore
	res   *service.Resources
	log   *service.Logger
	gaps  *gapResolver // nil unless gap_events: fetch
	// resync: on_invalid_replay_id is resync.
	resync bool

	mu       sync.Mutex
	decided  bool // the snapshot question was settled for this process
	progress *snapshotProgress
	run      *snapshotRun // the reader running now, nil when none
	lastErr  error        // the last reader's failure, returned once by Connect
	// absorb: a resync snapshot completed before the streams started, so
	// the replay-id fallback that follows (the stored id is still the one
	// Salesforce refused) needs no second one.
	absorb bool
	// gapRun is the resolution of a stream batch with gap events, whose
	// batches ReadBatch hands out before anything else; nil when none.
	gapRun *gapStream
	stop   context.CancelFunc
	ctx    context.Context
}

// snapshotRun is one reader goroutine.
type snapshotRun struct {
	pages chan snapshotPage
	done  chan struct{}
	err   error // set before done closes
	// absorb: see startRunLocked.
	absorb bool
}

// gapStream is one stream batch being resolved: a goroutine sends its
// resolved batches, one at a time (an overflow's query pages are never all
// held), and the stream batch's ack runs when the resolution is over and
// every batch it sent is acknowledged.
type gapStream struct {
	batches chan service.MessageBatch
	done    chan struct{}
	// resolved is set before done closes when the resolution ran to its
	// end; otherwise (the input closed) the stream batch is nacked.
	resolved bool

	mu       sync.Mutex
	ack      service.AckFunc
	out      int   // batches sent and not yet acknowledged
	finished bool  // the resolution is over
	acked    bool  // ack ran
	first    error // the first nack of a batch sent
}

// part registers a batch handed out and returns its ack.
func (g *gapStream) part() service.AckFunc {
	g.mu.Lock()
	g.out++
	g.mu.Unlock()
	var once sync.Once
	return func(ctx context.Context, err error) error {
		var ret error
		once.Do(func() {
			g.mu.Lock()
			g.out--
			if err != nil && g.first == nil {
				g.first = err
			}
			ret = g.settleLocked(ctx)
		})
		return ret
	}
}

// finish marks the resolution over.
func (g *gapStream) finish(ctx context.Context) error {
	g.mu.Lock()
	g.finished = true
	if !g.resolved && g.first == nil {
		g.first = errors.New("the resolution of its gap events was cut short")
	}
	return g.settleLocked(ctx)
}

// settleLocked runs the stream batch's ack once everything is done; it
// unlocks g.mu.
func (g *gapStream) settleLocked(ctx context.Context) error {
	fire := g.finished && g.out == 0 && !g.acked
	if fire {
		g.acked = true
	}
	ack, first := g.ack, g.first
	g.mu.Unlock()
	if !fire {
		return nil
	}
	return ack(ctx, first)
}

// newCDCRuntime answers nil when the input neither snapshots nor resolves gaps.
func newCDCRuntime(conf ssiConfig, org *orgapi.Client, store cacheStore, res *service.Resources, log *service.Logger) *cdcRuntime {
	resync := conf.OnInvalidReplayID == onInvalidResync
	if conf.CDC.Mode == snapshotNever && conf.CDC.Gaps != gapFetch && !resync {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &cdcRuntime{conf: conf.CDC, body: conf.Body, org: org, store: store, res: res, log: log, ctx: ctx, stop: cancel, resync: resync}
	if conf.CDC.Gaps == gapFetch {
		r.gaps = newGapResolver(org, conf.Body, conf.CDC, res)
	}
	return r
}

// orgClientOptions are the options of the input's org API client: the
// api_calls metric and a log line before each wait.
func orgClientOptions(res *service.Resources, log *service.Logger, conf ssiConfig) []orgapi.Option {
	calls := res.Metrics().NewCounter(metricAPICalls, "kind")
	return []orgapi.Option{
		orgapi.WithBackoff(conf.Backoff),
		orgapi.WithHooks(orgapi.Hooks{
			Call: func(kind string) { calls.Incr(1, kind) },
			Retry: func(kind string, wait time.Duration, err error) {
				log.With(logFieldReason, "org_api_retry").Warnf("Org API %s request refused, retrying in %v: %v", kind, wait.Round(time.Millisecond), err)
			},
		}),
	}
}

// beforeStream runs in Connect before a client starts: it answers true when
// the streams may start (no snapshot due, or it is complete). Otherwise it
// starts (or resumes) the snapshot, whose pages ReadBatch hands out, and
// answers false; Connect then returns without a client and is called again
// once the snapshot is done.
func (r *cdcRuntime) beforeStream(ctx context.Context, anyCheckpoint func(context.Context) (bool, error)) (bool, error) {
	if r == nil || r.conf.Mode == snapshotNever && !r.resync {
		return true, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.lastErr; err != nil {
		r.lastErr = nil
		return false, err
	}
	if r.run != nil {
		return false, nil
	}
	if r.progress == nil {
		if r.decided {
			return true, nil
		}
		state, due, err := r.decide(ctx, anyCheckpoint)
		if err != nil {
			return false, err
		}
		r.decided = true
		if !due {
			return true, nil
		}
		r.progress = newSnapshotProgress(state, r.writeState, r.res)
		if err := r.writeState(ctx, state); err != nil {
			return false, err
		}
		r.log.With("reason", "snapshot_"+state.Reason).Infof("Snapshot generation %d of %d objects starts (%s): the streams start when it is acknowledged", state.Generation, len(r.conf.Objects), state.Reason)
	}
	state := r.progress.stored()
	if state.Complete {
		return true, nil
	}
	r.startRunLocked(state, state.Reason == onInvalidResync)
	return false, nil
}

// wireCDC lets the runtime hear of replay-id fallbacks as the clients meet
// them (a quiet channel may bring no batch for long after one).
func (i *ssiInput) wireCDC() {
	if i.cdc == nil || !i.cdc.resync {
		return
	}
	i.metrics.onFallback = func(string) {
		// The client's goroutine must not wait on the cache.
		go func() {
			if i.cdc.startResync() {
				i.redeliver.interrupt()
			}
		}()
	}
}

// interrupt ends the wait of a ReadBatch for the client's next batch, so
// that it hands out what the input has first (a resync snapshot's pages).
func (r *redeliveries) interrupt() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting != nil {
		r.waiting()
	} else {
		r.interrupted = true
	}
}

// onFallback runs when a batch shows that its client fell back from a
// refused replay id: true while a resync snapshot runs, whose pages and
// acknowledgements come before the client's batches (the client keeps its
// place meanwhile, from the earliest retained event), so that no event newer
// than a snapshot record is applied before it.
func (r *cdcRuntime) onFallback(context.Context) bool {
	if r == nil || !r.resync {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run != nil
}

// startResync starts a snapshot of a new generation after a replay-id
// fallback (on_invalid_replay_id: resync), unless one runs already or the
// fallback follows a resync snapshot this process completed before its
// streams started. It reports whether it started one.
func (r *cdcRuntime) startResync() bool {
	ctx := r.ctx
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	if r.absorb {
		r.absorb = false
		return false
	}
	if r.run != nil {
		return false
	}
	prev, found, err := checkpointfmt.ReadSnapshot(ctx, r.store.get, r.store.prefix)
	if err != nil || !found {
		prev = checkpointfmt.SnapshotState{}
		if r.progress != nil {
			prev = r.progress.stored()
		}
	}
	state := r.newGeneration(prev, onInvalidResync)
	if err := r.writeState(ctx, state); err != nil {
		r.log.With("reason", "snapshot_store_failed").Errorf("Storing the start of a resync snapshot failed (a restart would not resume it): %v", err)
	}
	r.progress, r.decided = newSnapshotProgress(state, r.writeState, r.res), true
	r.log.With("reason", "snapshot_resync").Warnf("Salesforce refused a stored replay id: snapshot generation %d of %d objects runs before the stream goes on from the earliest retained event", state.Generation, len(r.conf.Objects))
	r.startRunLocked(state, false)
	return true
}

// decide settles whether a snapshot is due: the stored one when it is not
// complete; a new generation for always, or for initial when no channel has
// a checkpoint and no snapshot was ever stored.
func (r *cdcRuntime) decide(ctx context.Context, anyCheckpoint func(context.Context) (bool, error)) (checkpointfmt.SnapshotState, bool, error) {
	stored, found, err := checkpointfmt.ReadSnapshot(ctx, r.store.get, r.store.prefix)
	if err != nil {
		return stored, false, fmt.Errorf("loading the snapshot progress: %w", err)
	}
	if found && !stored.Complete {
		return r.reconcile(stored), true, nil
	}
	switch r.conf.Mode {
	case snapshotNever:
		return stored, false, nil
	case snapshotInitial:
		if found {
			return stored, false, nil
		}
		has, err := anyCheckpoint(ctx)
		if err != nil || has {
			return stored, false, err
		}
	case snapshotAlways:
	default:
		return stored, false, nil
	}
	return r.newGeneration(stored, string(r.conf.Mode)), true, nil
}

// reconcile fits an interrupted snapshot's progress to the configured
// objects: an object no longer configured is dropped (else the snapshot
// could never complete), a new one is added, not started.
func (r *cdcRuntime) reconcile(s checkpointfmt.SnapshotState) checkpointfmt.SnapshotState {
	byName := map[string]checkpointfmt.ObjectProgress{}
	for _, o := range s.Objects {
		byName[o.Object] = o
	}
	s.Objects = nil
	for _, o := range r.conf.Objects {
		p, ok := byName[o.Name]
		if !ok {
			p = checkpointfmt.ObjectProgress{Object: o.Name}
		}
		s.Objects = append(s.Objects, p)
	}
	return s
}

// newGeneration is the state of a snapshot generation after prev.
func (r *cdcRuntime) newGeneration(prev checkpointfmt.SnapshotState, reason string) checkpointfmt.SnapshotState {
	next := checkpointfmt.SnapshotState{Seq: prev.Seq + 1, Generation: prev.Generation + 1, Started: time.Now().UTC(), Reason: reason}
	for _, o := range r.conf.Objects {
		next.Objects = append(next.Objects, checkpointfmt.ObjectProgress{Object: o.Name})
	}
	return next
}

// startRunLocked starts a reader from state. absorb: the run resumes a
// resync snapshot before any client started, so the fallback the next client
// meets (the stored replay id is still the refused one) asks for no other.
func (r *cdcRuntime) startRunLocked(state checkpointfmt.SnapshotState, absorb bool) {
	run := &snapshotRun{pages: make(chan snapshotPage), done: make(chan struct{}), absorb: absorb}
	r.run = run
	reader := &snapshotReader{org: r.org, body: r.body, method: r.conf.Method, objects: r.conf.Objects, gen: state.Generation, progress: r.progress}
	logCtx, stopLog := context.WithCancel(r.ctx)
	go r.progress.logLoop(logCtx)
	go func() {
		defer close(run.done)
		defer stopLog()
		run.err = reader.run(r.ctx, state, func(ctx context.Context, p snapshotPage) error {
			select {
			case run.pages <- p:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
}

// writeState stores the snapshot progress in the checkpoint cache.
func (r *cdcRuntime) writeState(ctx context.Context, s checkpointfmt.SnapshotState) error {
	value := s.Format()
	for _, k := range checkpointfmt.WriteOrder(checkpointfmt.SnapshotKey(r.store.prefix)) {
		var setErr error
		if err := r.store.res.AccessCache(ctx, r.store.cache, func(c service.Cache) {
			setErr = c.Set(ctx, k, value, nil)
		}); err != nil {
			return fmt.Errorf("accessing checkpoint_cache %q: %w", r.store.cache, err)
		}
		if setErr != nil {
			return fmt.Errorf("writing the snapshot progress %q to checkpoint_cache %q: %w", k, r.store.cache, setErr)
		}
	}
	return nil
}

// next runs first in ReadBatch: it hands out the rest of a resolved gap
// batch, or the next snapshot page. ok is false when it has nothing: the
// stream's batches follow (or, once a snapshot is done and acknowledged,
// ErrNotConnected makes the framework call Connect, which starts them).
func (r *cdcRuntime) next(ctx context.Context) (service.MessageBatch, service.AckFunc, bool, error) {
	if r == nil {
		return nil, nil, false, nil
	}
	r.mu.Lock()
	gr := r.gapRun
	r.mu.Unlock()
	if gr != nil {
		select {
		case b := <-gr.batches:
			return b, gr.part(), true, nil
		case <-gr.done:
			r.mu.Lock()
			r.gapRun = nil
			r.mu.Unlock()
			if err := gr.finish(ctx); err != nil {
				return nil, nil, true, err
			}
		case <-ctx.Done():
			return nil, nil, true, ctx.Err()
		}
	}
	r.mu.Lock()
	run, progress := r.run, r.progress
	r.mu.Unlock()
	if run == nil {
		return nil, nil, false, nil
	}
	select {
	case p := <-run.pages:
		return p.msgs, progress.sent(p), true, nil
	case <-run.done:
	case <-ctx.Done():
		return nil, nil, true, ctx.Err()
	}
	if run.err != nil {
		r.finishRun(run, run.err)
		return nil, nil, false, nil
	}
	// Every page is out: the streams start once they are acknowledged, so
	// that no event overtakes a snapshot record.
	t := time.NewTicker(snapshotAckPoll)
	defer t.Stop()
	for !progress.stored().Complete {
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, nil, true, ctx.Err()
		}
	}
	state := progress.stored()
	r.log.Infof("Snapshot generation %d is complete and acknowledged: the streams start", state.Generation)
	r.finishRun(run, nil)
	return nil, nil, false, nil
}

func (r *cdcRuntime) finishRun(run *snapshotRun, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.run != run {
		return
	}
	r.run = nil
	if err == nil && run.absorb {
		r.absorb = true
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		r.log.With("reason", "snapshot_failed").Errorf("The snapshot stopped and resumes from its last acknowledged page: %v", err)
		r.lastErr = fmt.Errorf("snapshot: %w", err)
	}
}

// resolveGaps runs on each batch of the stream with gap_events: fetch. A
// batch without gap events is answered as it is (ok). One with gap events
// is resolved by a goroutine whose batches next hands out, in order, before
// anything else (ok is false: ReadBatch reads again); the stream batch's ack
// runs once the resolution is over and all of them are acknowledged. A failed
// resolution is logged and retried from the start after wait (batches sent
// again are duplicates, which at-least-once allows) until the input closes:
// a gap event never passes unresolved.
func (r *cdcRuntime) resolveGaps(_ context.Context, msgs service.MessageBatch, ack service.AckFunc, wait func(attempt int) time.Duration) (service.MessageBatch, service.AckFunc, bool, error) {
	if r == nil || r.gaps == nil || !hasGaps(msgs) {
		return msgs, ack, true, nil
	}
	gr := &gapStream{batches: make(chan service.MessageBatch), done: make(chan struct{}), ack: ack}
	r.mu.Lock()
	r.gapRun = gr
	r.mu.Unlock()
	ctx := r.ctx
	go func() {
		defer close(gr.done)
		for attempt := 1; ; attempt++ {
			err := r.gaps.resolve(ctx, msgs, func(b service.MessageBatch) error {
				select {
				case gr.batches <- b:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if err == nil {
				gr.mu.Lock()
				gr.resolved = true
				gr.mu.Unlock()
				return
			}
			if ctx.Err() != nil {
				return
			}
			d := wait(attempt)
			r.log.With("reason", "gap_fetch_failed").Errorf("Resolving gap events failed, retrying in %v: %v", d.Round(time.Millisecond), err)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
	}()
	return nil, nil, false, nil
}

// close stops the reader and the progress lines.
func (r *cdcRuntime) close() {
	if r != nil {
		r.stop()
	}
}

// startPreset is where a channel without a checkpoint starts: with a
// snapshot configured, at the earliest retained event, which is no later
// than the snapshot's start (changes made while it ran are delivered, some
// twice); else preset.
func (r *cdcRuntime) startPreset(preset int64) int64 {
	if r == nil || r.conf.Mode == snapshotNever {
		return preset
	}
	return replayEarliest
}

// anyCheckpoint reports whether a channel has a stored checkpoint.
func (i *ssiInput) anyCheckpoint(ctx context.Context) (bool, error) {
	for _, ch := range i.conf.Channels {
		_, found, err := i.cp.Resume(ctx, ch)
		if err != nil {
			return false, fmt.Errorf("loading the checkpoint of %s: %w", ch, err)
		}
		if found {
			return true, nil
		}
	}
	return false, nil
}
