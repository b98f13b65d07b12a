package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// liveBench measures the latency of a live stream.
type liveBench struct{ *bench }

// livePipeline is bin/benthos on a live stream. Each CDC event the emulator generates carries its publish time
// in ChangeEventHeader.commitTimestamp (epoch ms, set when the generator publishes it); the output's mapping
// writes that time and now minus it, in µs, for every event to a file that the harness reads afterwards.
// Placeholders: HTTP address, the input (inputYAML), latency file.
const livePipeline = `# sfbench: publish-to-output latency of a live stream (written by test/sfbench)
http:
  address: %s
logger:
  level: warn
%soutput:
  processors:
    - mapping: |
        let published = this.payload.ChangeEventHeader.commitTimestamp
        root = {"pub_ms": $published, "lat_us": (now().ts_unix_nano() - $published * 1000000) / 1000}
  file:
    path: %s
    codec: lines
`

// latencyLine is one line of the live pipeline's output.
type latencyLine struct {
	PubMS int64   `json:"pub_ms"`
	LatUS float64 `json:"lat_us"`
}

// liveLatency runs the emulator generating events and bin/benthos consuming them, and adds the latency rows.
func (b liveBench) liveLatency(ctx context.Context, logf func(string, ...any)) error {
	o := b.opts
	dir := filepath.Join(b.dir, "live")
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(dataDir, "replay_ids"), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dataDir, err)
	}
	emu, err := harness.StartEmulator(ctx, harness.EmulatorConfig{Dir: dir, Seed: 1, MaxBatch: o.maxBatch,
		Generate: map[string]float64{o.channel: o.liveRate},
		// Latency is measured from commitTimestamp, which real change events
		// carry in whole seconds: keep the milliseconds for the measurement.
		Args: []string{"-precise-timestamps"}})
	if err != nil {
		return err
	}
	defer emu.Close()
	emuCmd := fmt.Sprintf("bin/sfemu -addr 127.0.0.1:0 -seed 1 -precise-timestamps -generate %s=%g", o.channel, o.liveRate)

	resources, err := os.ReadFile(filepath.Join(b.root, "resources", "replay_ids_file.yaml"))
	if err != nil {
		return fmt.Errorf("reading the file cache resource: %w", err)
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "latency.jsonl")
	pipeline := fmt.Sprintf(livePipeline, addr, inputYAML(emu.URL, transport{api: apiStreaming}, o.channel, "latest"), strconv.Quote(out))
	p, err := harness.StartBenthos(harness.BenthosConfig{Dir: dir, Name: "live", Pipeline: pipeline,
		Resources: []string{string(resources)}, Env: []string{"SALESFORCE_STREAMING_DATA_DIR=" + dataDir}})
	if err != nil {
		return err
	}
	defer p.Close()
	command := fmt.Sprintf("SALESFORCE_STREAMING_DATA_DIR=%s bin/benthos -r %s -c %s", b.rel(dataDir),
		b.rel(filepath.Join(dir, "live.resources-1.yaml")), b.rel(filepath.Join(dir, "live.pipeline.yaml")))

	// The window opens once events flow, so that start-up (token, handshake, subscribe) is not counted.
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitNonEmpty(waitCtx, p, out); err != nil {
		return err
	}
	before, err := harness.ReadProcStat(p.PID())
	if err != nil {
		return err
	}
	windowStart := time.Now()
	logf("measuring live latency at %g events/s for %v", o.liveRate, o.liveDuration)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(o.liveDuration):
	}
	windowEnd := time.Now()
	after, err := harness.ReadProcStat(p.PID())
	if err != nil {
		return err
	}
	// Events published at the end of the window get a moment to arrive before the pipeline stops.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
	}
	if err := p.Stop(harness.DefaultStopTimeout); err != nil {
		return fmt.Errorf("stopping the live pipeline: %w\n%s", err, p.Tail(20))
	}
	lats, err := readLatencies(out, windowStart.UnixMilli(), windowEnd.UnixMilli())
	if err != nil {
		return err
	}
	expected := int(o.liveRate * windowEnd.Sub(windowStart).Seconds())
	if len(lats) < expected*9/10 {
		return fmt.Errorf("only %d events published in the %v window reached the output (about %d were generated)", len(lats), o.liveDuration, expected)
	}
	s := summarize(lats)
	cpu := after.CPU - before.CPU
	b.liveRows(emuCmd, command, len(lats), windowEnd.Sub(windowStart), s, cpu, after.PeakRSS)
	logf("live latency p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d events", ms(s.p50), ms(s.p99), ms(s.max), len(lats))
	return nil
}

// waitNonEmpty waits until the pipeline wrote its first line.
func waitNonEmpty(ctx context.Context, p *harness.Process, path string) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("the live pipeline exited before any event: %v\n%s", p.ExitErr(), p.Tail(30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the first live event in %s: %w\n%s", path, ctx.Err(), p.Tail(30))
		case <-tick.C:
		}
	}
}

// readLatencies returns the latencies of the events published within [fromMS, toMS).
func readLatencies(path string, fromMS, toMS int64) ([]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading latencies: %w", err)
	}
	defer f.Close()
	var lats []time.Duration
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l latencyLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("parsing latency line %q: %w", sc.Text(), err)
		}
		if l.PubMS >= fromMS && l.PubMS < toMS {
			lats = append(lats, time.Duration(l.LatUS*float64(time.Microsecond)))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading latencies: %w", err)
	}
	return lats, nil
}

type latencySummary struct{ p50, p99, max time.Duration }

// summarize returns nearest-rank percentiles.
func summarize(lats []time.Duration) latencySummary {
	if len(lats) == 0 {
		return latencySummary{}
	}
	s := slices.Clone(lats)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return latencySummary{p50: rank(0.50), p99: rank(0.99), max: s[len(s)-1]}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
