package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// backlogBench drains a preloaded backlog with bin/benthos and the peer clients, and profiles the drain.
type backlogBench struct{ *bench }

// checkpointKey is the checkpoint_cache_key of the benchmark pipelines.
const checkpointKey = "sfbench"

// inputBlock is the input of every benchmark pipeline: the emulator's default credentials and the file replay-id
// store. Placeholders: org URL, the transport's fields (transport.yaml), channel (quoted), replay_preset.
const inputBlock = `input:
  salesforce_streaming:
    org_url: %s
%s    auth:
      grant_type: client_credentials
      client_id: ` + harness.EmulatorClientID + `
      client_secret: ` + harness.EmulatorClientSecret + `
    channels: [ %s ]
    replay_preset: %s
    checkpoint_cache: replay_ids
    checkpoint_cache_key: ` + checkpointKey + `
`

// inputYAML is inputBlock for one channel over tr.
func inputYAML(orgURL string, tr transport, channel, preset string) string {
	return fmt.Sprintf(inputBlock, orgURL, tr.yaml(), strconv.Quote(channel), preset)
}

// drainPipeline is bin/benthos draining the backlog: every retained event from the start (replay_preset
// earliest), nothing done with them (output drop), replay ids checkpointed to the file cache of
// resources/replay_ids_file.yaml. Placeholders: HTTP address, debug endpoints, the input (inputYAML).
const drainPipeline = `# sfbench: drain the emulator's backlog (written by test/sfbench)
http:
  address: %s
  debug_endpoints: %t
logger:
  level: warn
%soutput:
  drop: {}
`

// backlog preloads the emulator and drains it with bin/benthos, the Node peers and the floor, in that order,
// against the same emulator process, and adds their rows.
func (b backlogBench) backlog(ctx context.Context, logf func(string, ...any)) error {
	o := b.opts
	dir := filepath.Join(b.dir, "backlog")
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	ecfg := harness.EmulatorConfig{Dir: dir, Seed: 1, MaxBatch: o.maxBatch, Preload: map[string]int{o.channel: o.events},
		ReadyTimeout: o.timeout}
	streaming, pubsub := transport{api: apiStreaming}, transport{api: apiPubSub}
	if o.pubsub || o.stall > 0 {
		addr, err := harness.FreeAddr()
		if err != nil {
			return err
		}
		pubsub.endpoint = addr
		// Events encoded for Pub/Sub once at preload: the drain measures the client, not the encoding.
		ecfg.Args = append(ecfg.Args, "-pubsub-addr", pubsub.endpoint, "-pubsub-encode-at-publish")
	}
	logf("preloading %d events on %s", o.events, o.channel)
	start := time.Now()
	emu, err := harness.StartEmulator(ctx, ecfg)
	if err != nil {
		return err
	}
	defer emu.Close()
	preload := time.Since(start)
	st, err := emu.State(ctx)
	if err != nil {
		return err
	}
	chState := st.Channels[o.channel]
	if chState.Retained != o.events {
		return fmt.Errorf("the emulator retains %d events on %s, want %d", chState.Retained, o.channel, o.events)
	}
	last := chState.LastReplayID
	emuCmd := fmt.Sprintf("bin/sfemu -addr 127.0.0.1:0 -seed 1 -preload %s=%d", o.channel, o.events)
	if o.maxBatch > 0 {
		emuCmd += fmt.Sprintf(" -max-batch %d", o.maxBatch)
	}
	if pubsub.endpoint != "" {
		emuCmd += " -pubsub-addr 127.0.0.1:0 -pubsub-encode-at-publish"
	}

	logf("draining with bin/benthos")
	ours, err := b.drainBenthos(ctx, emu, last, "drain", streaming, 0)
	if err != nil {
		return err
	}
	logf("bin/benthos: %.0f events/s", ours.rate())
	var viaPubSub *drainResult
	if o.pubsub {
		logf("draining with bin/benthos, api: pubsub")
		r, err := b.drainBenthos(ctx, emu, last, "drain-pubsub", pubsub, 0)
		if err != nil {
			return err
		}
		logf("%s: %.0f events/s", r.name, r.rate())
		viaPubSub = &r
	}

	var ceilings []drainResult // with the drain's metadata, then bare
	if o.ceiling {
		for _, withMeta := range []bool{true, false} {
			logf("running the framework ceiling (generate into drop, metadata: %t)", withMeta)
			r, err := b.drainCeiling(ctx, withMeta)
			if err != nil {
				return err
			}
			logf("%s: %.0f events/s", r.name, r.rate())
			ceilings = append(ceilings, r)
		}
	}

	var pubsubPeers []drainResult
	if o.pubsub && o.pubsubPeers {
		if pubsubPeers, err = b.drainPubSubPeers(ctx, emu, pubsub.endpoint, last, logf); err != nil {
			return err
		}
	}

	var peers []drainResult
	if o.peers {
		token, err := fetchToken(ctx, emu.URL)
		if err != nil {
			return err
		}
		for _, name := range []string{"jsforce", "cometd"} {
			peerDir := filepath.Join(b.root, "bench", "peers", name)
			if err := ensurePeer(ctx, peerDir, logf); err != nil {
				return err
			}
			logf("draining with the %s peer", name)
			r, err := b.drainExternal(ctx, emu, token, name, "node",
				[]string{filepath.Join(peerDir, "drain.js"), emu.URL, o.channel, strconv.Itoa(o.events)}, last)
			if err != nil {
				return err
			}
			r.command = fmt.Sprintf("node bench/peers/%s/drain.js $SFEMU_URL %s %d", name, o.channel, o.events)
			logf("%s: %.0f events/s", name, r.rate())
			peers = append(peers, r)
		}
	}
	var floor, pubsubFloor *drainResult
	if o.floor {
		r, err := b.drainGoProgram(ctx, emu, last, "floor", "sfbench-floor",
			"go build -o bin/sfbench-floor ./test/sfbench/floor", "", logf)
		if err != nil {
			return err
		}
		floor = &r
	}
	if o.floor && o.pubsub {
		r, err := b.drainGoProgram(ctx, emu, last, "floor-pubsub", "sfbench-floor-pubsub",
			"go build -o bin/sfbench-floor-pubsub ./test/sfbench/floor-pubsub", pubsub.endpoint, logf)
		if err != nil {
			return err
		}
		pubsubFloor = &r
	}
	emuStat, err := harness.ReadProcStat(emu.Proc.PID())
	if err != nil {
		return err
	}
	if o.pprofOut != "" {
		tr, measured := streaming, ours.wall
		if o.pprofAPI == apiPubSub {
			if viaPubSub == nil {
				return errors.New("-pprof-api pubsub needs the Pub/Sub drain (-pubsub)")
			}
			tr, measured = pubsub, viaPubSub.wall
		}
		if err := b.profileDrain(ctx, emu, last, tr, measured, logf); err != nil {
			return err
		}
	}
	b.backlogRows(emuCmd, preload, emuStat, ours, viaPubSub, ceilings, peers, pubsubPeers, floor, pubsubFloor)
	if o.stall > 0 {
		if err := stallBench(b).stallScenario(ctx, emu, []transport{pubsub, streaming}, logf); err != nil {
			return err
		}
	}
	return nil
}

// drainGoProgram drains the backlog with a Go program of bin/ (binary, built by build) that speaks the peerline
// protocol, with a token of its own: a floor, or the Go Pub/Sub peer when endpoint (the emulator's Pub/Sub
// address) is set. name names its rows.
func (b backlogBench) drainGoProgram(ctx context.Context, emu *harness.Emulator, last int64, name, binary, build, endpoint string,
	logf func(string, ...any)) (drainResult, error) {
	o := b.opts
	token, err := fetchToken(ctx, emu.URL)
	if err != nil {
		return drainResult{}, err
	}
	bin, err := benchBinary(binary, build)
	if err != nil {
		return drainResult{}, err
	}
	args, shown := []string{emu.URL}, "$SFEMU_URL"
	if endpoint != "" {
		args, shown = append(args, endpoint), shown+" $PUBSUB_ADDR"
	}
	logf("draining with %s", name)
	r, err := b.drainExternal(ctx, emu, token, name, bin, append(args, o.channel, strconv.Itoa(o.events)), last)
	if err != nil {
		return drainResult{}, err
	}
	r.command = fmt.Sprintf("bin/%s %s %s %d", binary, shown, o.channel, o.events)
	logf("%s: %.0f events/s", name, r.rate())
	return r, nil
}

// benchBinary locates the benchmark program name next to bin/benthos; build is the command that builds it.
func benchBinary(name, build string) (string, error) {
	dir, err := harness.BinDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s is not built (%s, or make bench): %w", name, build, err)
	}
	return path, nil
}

// drainBenthos runs bin/benthos over tr on the backlog until the checkpoint of the channel reaches last, the
// replay id of the last retained event. With profile > 0 it saves a CPU profile of that length, taken from the start of
// the drain, to b.opts.pprofOut.
func (b backlogBench) drainBenthos(ctx context.Context, emu *harness.Emulator, last int64, name string, tr transport, profile time.Duration) (drainResult, error) {
	o := b.opts
	dir := filepath.Join(b.dir, "backlog")
	dataDir := filepath.Join(dir, name+"-data")
	if err := os.RemoveAll(dataDir); err != nil {
		return drainResult{}, fmt.Errorf("clearing %s: %w", dataDir, err)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "replay_ids"), 0o755); err != nil {
		return drainResult{}, fmt.Errorf("creating %s: %w", dataDir, err)
	}
	resources, err := os.ReadFile(filepath.Join(b.root, "resources", "replay_ids_file.yaml"))
	if err != nil {
		return drainResult{}, fmt.Errorf("reading the file cache resource: %w", err)
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return drainResult{}, err
	}
	pipeline := fmt.Sprintf(drainPipeline, addr, profile > 0, inputYAML(emu.URL, tr, o.channel, "earliest"))
	replayIDs := filepath.Join(dataDir, "replay_ids")

	emuBefore, err := harness.ReadProcStat(emu.Proc.PID())
	if err != nil {
		return drainResult{}, err
	}
	start := time.Now()
	p, err := harness.StartBenthos(harness.BenthosConfig{Dir: dir, Name: name, Pipeline: pipeline,
		Resources: []string{string(resources)}, Env: []string{"SALESFORCE_STREAMING_DATA_DIR=" + dataDir}})
	if err != nil {
		return drainResult{}, err
	}
	defer p.Close()
	res := drainResult{name: tr.label(), events: o.events,
		command: fmt.Sprintf("SALESFORCE_STREAMING_DATA_DIR=%s bin/benthos -r %s -c %s", b.rel(dataDir),
			b.rel(filepath.Join(dir, name+".resources-1.yaml")), b.rel(filepath.Join(dir, name+".pipeline.yaml")))}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	profDone := make(chan error, 1)
	if profile > 0 {
		go func() { profDone <- saveProfile(ctx, "http://"+addr, profile, o.pprofOut) }()
	}
	if err := waitCheckpoint(ctx, p, tr, replayIDs, o.channel, last); err != nil {
		return res, err
	}
	if err := res.measureEnd(start, p, emu, emuBefore); err != nil {
		return res, err
	}
	if profile > 0 {
		if err := <-profDone; err != nil {
			return res, err
		}
	}
	if err := p.Stop(harness.DefaultStopTimeout); err != nil {
		return res, fmt.Errorf("stopping bin/benthos after the drain: %w\n%s", err, p.Tail(20))
	}
	return res, nil
}

// waitCheckpoint polls the checkpoint of channel over tr in the file cache at dir until it holds last.
func waitCheckpoint(ctx context.Context, p *harness.Process, tr transport, dir, channel string, last int64) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var seen int64
	for {
		if id, ok := tr.readCheckpoint(dir, channel); ok {
			seen = id
			if id >= last {
				return nil
			}
		}
		if p.Exited() {
			return fmt.Errorf("bin/benthos exited before checkpointing replay id %d (last checkpoint %d): %v\n%s", last, seen, p.ExitErr(), p.Tail(30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the checkpoint of %s in %s to reach %d (at %d): %w\n%s", channel, dir, last, seen, ctx.Err(), p.Tail(30))
		case <-tick.C:
		}
	}
}

// profileDrain drains once more with Benthos' debug endpoints on and a CPU profile running: a separate run, so
// that the profiler's overhead stays out of the table's figures.
func (b backlogBench) profileDrain(ctx context.Context, emu *harness.Emulator, last int64, tr transport, measured time.Duration, logf func(string, ...any)) error {
	length := measured + 2*time.Second
	logf("draining again with %s for a %v CPU profile (%s)", tr.label(), length.Round(time.Second), b.opts.pprofOut)
	r, err := b.drainBenthos(ctx, emu, last, "profile", tr, length)
	if err != nil {
		return err
	}
	logf("profiled drain: %.0f events/s; inspect with: go tool pprof -top %s", r.rate(), b.opts.pprofOut)
	return nil
}

// saveProfile waits for Benthos' HTTP server and saves /debug/pprof/profile?seconds=N to out.
func saveProfile(ctx context.Context, base string, length time.Duration, out string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ping", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("waiting for bin/benthos' HTTP server at %s: %w", base, errors.Join(err, ctx.Err()))
		}
		time.Sleep(pollEvery)
	}
	secs := int(length.Seconds() + 0.999)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profiling bin/benthos: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("profiling bin/benthos: HTTP %d: %s", resp.StatusCode, body)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("saving the profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("saving the profile: %w", err)
	}
	return f.Close()
}
