package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// Timings of the soak around the plan.
const (
	emulatorHold     = 2 * time.Second  // long polls cycle often
	reconnectWindow  = 3 * time.Second  // a client silent this long is expired: backoff waits cross it
	warmup           = 3 * time.Second  // calm start after the first subscription
	subscribeTimeout = 60 * time.Second // the first run subscribes every channel
	stopTimeout      = 10 * time.Second // a graceful stop, before it is a kill
	redisStopTimeout = 10 * time.Second
	controlTick      = 100 * time.Millisecond
	progressEvery    = 10 * time.Second
	controlTimeout   = 15 * time.Second // one control action
	checkpointLimit  = 200              // small bounds: an outage backs the pipeline up into the client
	maxBuffered      = 300
	sampleEvery      = time.Second // the emulator's retention window is sampled this often
)

// soak is one chaos run: the processes, the sink, the publisher and what
// happened to them.
type soak struct {
	opts     options
	channels []channelSpec // published to and read over CometD
	pubsub   []channelSpec // read over Pub/Sub too (with -pubsub)
	dir      string
	log      io.Writer // the action log (chaos.log and, with -v, stdout)
	out      io.Writer // progress lines

	emu     *harness.Emulator
	redis   *harness.Redis
	redisUp bool
	sink    *sink
	pub     *publisher
	benthos *benthosRunner
	// replica is a second bin/benthos on the same checkpoint key: the lease
	// lets one of the two consume while the other stands by (replicas.go).
	replica *benthosRunner
	// mirror is the record mirror of -mirror (mirror.go), nil without it.
	mirror *mirrorSoak

	start       time.Time
	incidents   []incident
	faults      map[string]int
	kills       int
	graceful    int
	unplanned   int
	outages     int
	outageFrom  time.Time
	outageTotal time.Duration
	redisDowns  int
	problems    []string
	plans       []runPlan         // every run's plan, in run order
	retention   []retentionSample // the emulator's first retained ids over time
}

// run performs the soak and returns its result. An error means the soak
// itself could not run (a process would not start, the control API failed),
// not that the pipeline misbehaved, which the result tells.
func (s *soak) run(ctx context.Context) (res result, err error) {
	s.faults = map[string]int{}
	defer s.close()

	emuConf := harness.EmulatorConfig{
		Dir: s.dir, Hold: emulatorHold, ReconnectWindow: reconnectWindow, Seed: s.opts.seed,
	}
	pubsubAddr := ""
	if len(s.pubsub) > 0 {
		if pubsubAddr, err = freeLoopbackAddr(); err != nil {
			return res, err
		}
		emuConf.Args = append(emuConf.Args, "-pubsub-addr", pubsubAddr)
	}
	if s.opts.mirror {
		emuConf.Args = append(emuConf.Args, mirrorRecordArgs(s.opts)...)
	}
	s.emu, err = harness.StartEmulator(ctx, emuConf)
	if err != nil {
		return res, err
	}
	s.redis, err = harness.StartRedis(ctx, s.dir)
	if err != nil {
		return res, err
	}
	s.redisUp = true
	if s.opts.mirror {
		if s.mirror, err = startMirror(ctx, s.dir, s.emu, redisResources(s.redis.URL), s.opts.seed); err != nil {
			return res, err
		}
	}
	s.sink, err = newSink(filepath.Join(s.dir, "records.jsonl"))
	if err != nil {
		return res, err
	}
	sinkURL, err := s.sink.start()
	if err != nil {
		return res, err
	}
	configured := make([]string, len(s.channels))
	for i, ch := range s.channels {
		configured[i] = ch.Configured
	}
	pubsubConfigured := make([]string, len(s.pubsub))
	for i, ch := range s.pubsub {
		pubsubConfigured[i] = ch.Configured
	}
	config := func(p runPlan) (string, error) {
		return pipelineConfig(pipelineParams{
			EmulatorURL: s.emu.URL, SinkURL: sinkURL, Channels: configured,
			CheckpointLimit: checkpointLimit, MaxBuffered: maxBuffered,
			Preset: p.Preset, Shape: p.Shape,
			PubSubAddr: pubsubAddr, PubSubChannels: pubsubConfigured,
		})
	}
	s.benthos = &benthosRunner{
		dir: s.dir, resources: redisResources(s.redis.URL), planner: newRunPlanner(s.opts.seed),
		config: func(p runPlan) (string, error) {
			return pipelineConfig(pipelineParams{
				EmulatorURL: s.emu.URL, SinkURL: sinkURL, Channels: configured,
				CheckpointLimit: checkpointLimit, MaxBuffered: maxBuffered,
				Preset: p.Preset, Shape: p.Shape,
				PubSubAddr: pubsubAddr, PubSubChannels: pubsubConfigured,
			})
		},
		started: func(p runPlan) {
			s.plans = append(s.plans, p)
			if p.Refusing {
				s.sink.setRefusing(p.Run, s.opts.seed)
			}
			s.logf("  run %d: replay_preset %s, pipeline %s, output refusing at random %v", p.Run, p.Preset, p.Shape, p.Refusing)
		},
	}
	s.replica = newReplica(s.benthos, config, s.opts.seed)

	s.pub = newPublisher(s.emu.Client, s.channels, s.opts.rate, s.opts.seed)
	stopPub := make(chan struct{})
	pubErr := make(chan error, 1)
	go func() { pubErr <- s.pub.run(stopPub) }()
	pubStopped := false
	stopPublishing := func() error {
		if pubStopped {
			return nil
		}
		pubStopped = true
		close(stopPub)
		return <-pubErr
	}
	defer func() { _ = stopPublishing() }()

	if err := s.benthos.start(); err != nil {
		return res, err
	}
	subCtx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	_, err = s.emu.WaitSubscribed(subCtx, configured...)
	cancel()
	if err != nil {
		return res, fmt.Errorf("waiting for the first run to subscribe: %w\n%s", err, s.benthos.proc.Tail(40))
	}
	if err := s.replica.start(); err != nil {
		return res, err
	}

	plan := newPlan(s.opts.seed, planConfig{
		Duration: s.opts.duration, Warmup: warmup,
		FaultEvery: s.opts.faultEvery, RestartEvery: s.opts.restartEvery, OutageEvery: s.opts.outageEvery,
		MinFaults: s.opts.minFaults, MinRestarts: s.opts.minRestarts,
	})
	s.start = time.Now()
	s.logf("plan: %d actions (seed %d); offsets count from %s", len(plan), s.opts.seed, s.start.UTC().Format(time.RFC3339Nano))
	if err := s.chaos(ctx, plan, pubErr); err != nil {
		return res, err
	}

	// The drain: no more publishing nor faults; everything published must
	// arrive within the bound.
	if err := stopPublishing(); err != nil {
		return res, fmt.Errorf("publishing: %w", err)
	}
	drainStart := time.Now()
	drained, err := s.drain(ctx)
	if err != nil {
		return res, err
	}
	drainTime := time.Since(drainStart)
	mirrored, err := s.mirrorDrain(ctx)
	if err != nil {
		return res, err
	}

	// A last graceful stop: it must be prompt and leave every channel's
	// checkpoint at its last delivered event.
	checkpoints := map[string]string{}
	for _, b := range s.finalStopOrder(ctx) {
		if _, took, err := b.stop(stopTimeout); err != nil {
			s.problem("final %v", err)
		} else {
			s.logf("final graceful stop of run %d took %v", b.run, took.Round(time.Millisecond))
		}
	}
	if err := s.mirrorFinal(ctx, &mirrored); err != nil {
		return res, err
	}
	expected, times, filtered, lastPublished := s.ledger()
	all := s.allChannels()
	for _, ch := range all {
		pos, ok, err := s.checkpoint(ctx, ch.Base)
		switch {
		case err != nil:
			s.problem("reading the checkpoint of %s: %v", ch.Base, err)
		case !ok:
			checkpoints[ch.Base] = "(none)"
		default:
			checkpoints[ch.Base] = string(checkpointfmt.CometD.Format(pos))
		}
	}
	stCtx, cancel := context.WithTimeout(ctx, controlTimeout)
	state, err := s.emu.State(stCtx)
	cancel()
	if err != nil {
		return res, err
	}
	s.retention = append(s.retention, s.sampleOf(state))
	firstRetained := map[string]int64{}
	for _, ch := range all {
		cs, ok := state.Channels[ch.source()]
		if !ok {
			s.problem("the emulator has no channel %s", ch.source())
			continue
		}
		firstRetained[ch.Base] = cs.FirstReplayID
		if cs.LastReplayID != lastPublished[ch.Base] {
			s.problem("ledger of %s ends at %d but the emulator's last replay id is %d", ch.Base, lastPublished[ch.Base], cs.LastReplayID)
		}
	}

	deliveries, bad, rejected, refusedBy := s.sink.snapshot()
	for _, b := range bad {
		s.problem("the sink refused a request: %s", b)
	}
	report := harness.Check(expected, splitRuns(deliveries)...)
	lastExpected := map[string]int64{}
	for ch, ids := range expected {
		if len(ids) > 0 {
			lastExpected[ch] = ids[len(ids)-1]
		}
	}
	recoveries := measureRecoveries(s.incidents, times, deliveries)
	s.logRecoveries(recoveries)
	var pubsubRecoveries []recovery
	if len(s.pubsub) > 0 {
		pubsubRecoveries = measureRecoveries(s.incidents, onlyPubSub(times), deliveries)
	}
	return result{
		opts:          s.opts,
		channels:      all,
		dir:           s.dir,
		report:        report,
		records:       len(deliveries),
		filteredOut:   filtered,
		firstRetained: firstRetained,
		lastExpected:  lastExpected,
		checkpoints:   checkpoints,
		faults:        s.faults,
		kills:         s.kills,
		graceful:      s.graceful,
		unplanned:     s.unplanned,
		runs:          s.benthos.run + s.replica.run - replicaRunBase,
		outages:       s.outages,
		outageTotal:   s.outageTotal,
		rejected:      rejected,
		refusedBy:     refusedBy,
		plans:         s.plans,
		retention:     s.retention,
		times:         times,
		redisRestarts: s.redisDowns,
		recoveries:    recoveries,
		pubsubRecov:   pubsubRecoveries,
		drained:       drained,
		drainTime:     drainTime,
		problems:      s.problems,
		mirror:        mirrored,
	}, nil
}

// chaos runs the plan until its last action and the end of the duration,
// watching for unplanned exits of bin/benthos and publish errors.
func (s *soak) chaos(ctx context.Context, plan []action, pubErr <-chan error) error {
	ticker := time.NewTicker(controlTick)
	defer ticker.Stop()
	nextProgress := s.start.Add(progressEvery)
	nextSample := s.start
	nextMutation := s.start.Add(warmup)
	next := 0
	for next < len(plan) || time.Since(s.start) < s.opts.duration {
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos interrupted: %w", ctx.Err())
		case err := <-pubErr:
			return fmt.Errorf("publishing: %w", err)
		case <-ticker.C:
		}
		if err := s.watchBenthos(); err != nil {
			return err
		}
		for next < len(plan) && time.Since(s.start) >= plan[next].At {
			if err := s.do(ctx, plan[next]); err != nil {
				return err
			}
			next++
		}
		if now := time.Now(); s.mirror != nil && !now.Before(nextMutation) {
			nextMutation = s.mirror.nextMutation(now)
			did, err := s.mirror.mutate(ctx)
			if err != nil {
				return err
			}
			s.logf("%s", did)
		}
		if now := time.Now(); !now.Before(nextSample) {
			nextSample = now.Add(sampleEvery)
			if err := s.sampleRetention(ctx); err != nil {
				return err
			}
		}
		if now := time.Now(); !now.Before(nextProgress) {
			nextProgress = nextProgress.Add(progressEvery)
			s.progress()
		}
	}
	return nil
}

// sampleRetention records the emulator's first retained id of every channel
// now: an event missing at the end that was retained after it was published
// is lost, whatever the emulator retains at the end.
func (s *soak) sampleRetention(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	st, err := s.emu.State(ctx)
	if err != nil {
		return err
	}
	s.retention = append(s.retention, s.sampleOf(st))
	return nil
}

// do performs one action of the plan.
func (s *soak) do(ctx context.Context, a action) error {
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	s.logf("%s", a)
	if err := s.mirrorDo(a); err != nil {
		return err
	}
	now := time.Now()
	switch a.Kind {
	case actFault:
		if err := s.emu.Fault(ctx, a.Fault); err != nil {
			return err
		}
		s.faults[a.Fault.Fault]++
		if a.Fault.Fault != "daily_limit" { // that one ends at its clear
			s.incidents = append(s.incidents, incident{Kind: a.Fault.Fault, At: now})
		}
	case actClear:
		if err := s.emu.Fault(ctx, a.Fault); err != nil {
			return err
		}
		s.incidents = append(s.incidents, incident{Kind: "daily_limit", At: now})
	case actStop:
		// A graceful stop waits for the output; while it cannot write (sink
		// failing, redis down) the stop would only wait for its timeout.
		target := s.holder(ctx)
		if !s.sink.isFailing() && s.redisUp {
			if ok, took, err := target.stop(stopTimeout); ok {
				s.graceful++
				s.incidents = append(s.incidents, incident{Kind: "graceful restart", At: now})
				s.logf("  run %d stopped in %v", target.run, took.Round(time.Millisecond))
				if err != nil {
					s.problem("%v", err)
				}
			}
			return nil
		}
		s.logf("  output blocked: kill -9 instead")
		fallthrough
	case actKill:
		target := s.holder(ctx)
		s.logf("  killing run %d (the lease holder, or the first replica when none is known)", target.run)
		ok, err := target.kill()
		if err != nil {
			return err
		}
		if ok {
			s.kills++
			s.incidents = append(s.incidents, incident{Kind: "kill -9", At: now})
		}
	case actStart:
		for _, b := range []*benthosRunner{s.benthos, s.replica} {
			if b.running() {
				continue
			}
			if err := b.start(); err != nil {
				return err
			}
			s.logf("  run %d started", b.run)
		}
	case actOutageStart:
		s.sink.setFailing(true)
		s.outages++
		s.outageFrom = now
	case actOutageEnd:
		s.endOutage(now)
	case actRedisDown:
		if err := s.redis.ShutdownSave(ctx, redisStopTimeout); err != nil {
			return err
		}
		s.redisUp = false
		s.redisDowns++
	case actRedisUp:
		if err := s.redisBack(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *soak) endOutage(now time.Time) {
	if !s.sink.isFailing() {
		return
	}
	s.sink.setFailing(false)
	s.outageTotal += now.Sub(s.outageFrom)
	s.incidents = append(s.incidents, incident{Kind: "output outage", At: now})
}

func (s *soak) redisBack(ctx context.Context) error {
	if s.redisUp {
		return nil
	}
	r, err := harness.StartRedisAt(ctx, s.dir, s.redis.Addr)
	if err != nil {
		return err
	}
	s.redis, s.redisUp = r, true
	s.incidents = append(s.incidents, incident{Kind: "redis restart", At: time.Now()})
	return nil
}

// watchBenthos restarts a bin/benthos that exited on its own and records it.
func (s *soak) watchBenthos() error {
	for _, b := range s.runners() {
		proc := b.unplannedExit()
		if proc == nil {
			continue
		}
		s.unplanned++
		s.problem("benthos run %d exited on its own (%v)\n%s", b.run, proc.ExitErr(), proc.Tail(30))
		s.incidents = append(s.incidents, incident{Kind: "unplanned exit", At: time.Now()})
		if err := b.start(); err != nil {
			return err
		}
	}
	return nil
}

// drain ends every disturbance, lets the pipeline catch up and reports
// whether it did within the drain timeout.
func (s *soak) drain(ctx context.Context) (bool, error) {
	s.logf("drain: clearing faults, the sink accepts, redis and benthos up")
	cctx, cancel := context.WithTimeout(ctx, controlTimeout)
	err := s.emu.Fault(cctx, harness.FaultRequest{Fault: faultClear})
	if err == nil {
		err = s.redisBack(cctx)
	}
	cancel()
	if err != nil {
		return false, err
	}
	s.endOutage(time.Now())
	if err := s.benthos.start(); err != nil {
		return false, err
	}
	if err := s.replica.start(); err != nil {
		return false, err
	}
	if s.mirror != nil {
		if err := s.mirror.runner.start(); err != nil {
			return false, err
		}
	}
	expected, _, _, _ := s.ledger()
	deadline := time.Now().Add(s.opts.drainTimeout)
	ticker := time.NewTicker(controlTick)
	defer ticker.Stop()
	for {
		if err := s.watchBenthos(); err != nil {
			return false, err
		}
		done, why := s.drained(ctx, expected)
		if done {
			s.logf("drain: %s", why)
			return true, nil
		}
		if time.Now().After(deadline) {
			s.logf("drain: timed out after %v", s.opts.drainTimeout)
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("drain interrupted: %w", ctx.Err())
		case <-ticker.C:
		}
	}
}

// drained reports whether the pipeline has caught up, and how: every
// expected event arrived, or every channel's last event arrived and every
// checkpoint stands at it. Waiting for the last events alone would stop the
// pipeline while a nacked batch read before them may still be on its way
// back; once the checkpoints reached the last events, nothing is on its way,
// and an event still missing is lost.
func (s *soak) drained(ctx context.Context, expected harness.Published) (bool, string) {
	for ch, ids := range expected {
		if len(ids) > 0 && !s.sink.has(ch, ids[len(ids)-1]) {
			return false, ""
		}
	}
	if s.sink.hasAll(expected) {
		return true, "every event arrived"
	}
	for ch, ids := range expected {
		if len(ids) == 0 {
			continue
		}
		pos, ok, err := s.checkpoint(ctx, ch)
		if err != nil || !ok || pos.Start || pos.ID != ids[len(ids)-1] {
			return false, ""
		}
	}
	return true, "every channel's last event arrived and is checkpointed, yet events are missing"
}

// logRecoveries writes each incident's time to recover to the action log.
func (s *soak) logRecoveries(rs []recovery) {
	for _, r := range rs {
		at := r.At.Sub(s.start).Seconds()
		switch {
		case !r.Measurable:
			s.logf("recovery: %-18s at %8.3fs: nothing published after it", r.Kind, at)
		case !r.Recovered:
			s.logf("recovery: %-18s at %8.3fs: NOT RECOVERED", r.Kind, at)
		default:
			s.logf("recovery: %-18s at %8.3fs: %v", r.Kind, at, r.After.Round(time.Millisecond))
		}
	}
}

func (s *soak) progress() {
	fmt.Fprintf(s.out, "[%5.0fs] published %d (each also over Pub/Sub on %d channels), delivered %d records, runs %d, faults %d, restarts %d, outages %d\n",
		time.Since(s.start).Seconds(), s.pub.published(), len(s.pubsub), s.sink.count(), s.benthos.run, sum(s.faults), s.kills+s.graceful, s.outages)
}

func (s *soak) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.problems = append(s.problems, msg)
	s.logf("PROBLEM: %s", msg)
}

func (s *soak) logf(format string, args ...any) {
	at := 0.0
	if !s.start.IsZero() {
		at = time.Since(s.start).Seconds()
	}
	fmt.Fprintf(s.log, "[%8.3fs] %s\n", at, fmt.Sprintf(format, args...))
}

// close ends every process and the sink, whatever happened.
func (s *soak) close() {
	if s.benthos != nil {
		s.benthos.Close()
	}
	if s.replica != nil {
		s.replica.Close()
	}
	if s.mirror != nil {
		s.mirror.Close()
	}
	var errs []error
	if s.emu != nil {
		errs = append(errs, s.emu.Close())
	}
	if s.redis != nil {
		errs = append(errs, s.redis.Close())
	}
	if s.sink != nil {
		errs = append(errs, s.sink.Close())
	}
	if err := errors.Join(errs...); err != nil {
		s.logf("closing: %v", err)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// checkpoint reads channel's stored position the way the input does: key and
// shadow, the higher of the two; a Pub/Sub record channel's through
// checkpointfmt's Pub/Sub functions, as the emulator's replay id.
func (s *soak) checkpoint(ctx context.Context, channel string) (checkpointfmt.Position, bool, error) {
	get := func(ctx context.Context, key string) ([]byte, bool, error) {
		v, ok, err := s.redis.Get(ctx, key)
		return []byte(v), ok, err
	}
	if source, ok := strings.CutPrefix(channel, pubsubPrefix); ok {
		return pubsubPosition(ctx, get, source)
	}
	return checkpointfmt.ReadPosition(ctx, get, checkpointfmt.CometD, checkpointKey, channel)
}

// allChannels returns the CometD channels, then the Pub/Sub ones.
func (s *soak) allChannels() []channelSpec {
	return append(slices.Clone(s.channels), s.pubsub...)
}

// ledger is the publisher's ledger with every Pub/Sub channel holding its
// source channel's entries: what was published once must arrive over both.
func (s *soak) ledger() (expected harness.Published, times pubTimes, filtered map[string]int, last map[string]int64) {
	expected, times, filtered, last = s.pub.ledger()
	mirror(expected, s.pubsub, slices.Clone[[]int64])
	mirror(times, s.pubsub, slices.Clone[[]pubEntry])
	mirror(filtered, s.pubsub, func(n int) int { return n })
	mirror(last, s.pubsub, func(id int64) int64 { return id })
	return expected, times, filtered, last
}

// sampleOf is sampleOf with every Pub/Sub channel's window its source's.
func (s *soak) sampleOf(st harness.State) retentionSample {
	r := sampleOf(st)
	mirror(r.First, s.pubsub, func(id int64) int64 { return id })
	return r
}
