// Command sfbench is the benchmark harness behind `make bench`. Against bin/sfemu on this machine it measures
// bin/benthos draining a preloaded backlog (events/s, CPU per event, peak memory) over CometD and over the
// Pub/Sub API, the framework ceiling (Benthos' generate input making the same messages into drop, with and
// without their metadata), the same backlog drained by peers (over CometD jsforce and the CometD JavaScript
// client, over Pub/Sub Salesforce's Go example client and the npm salesforce-pubsub-api-client) and by floor
// programs that only read the emulator's answers (one per API), bin/benthos' memory while its output stalls for
// minutes (over both APIs; the run fails when Pub/Sub's is not bounded), the publish-to-output latency of a live
// stream, and the Go benchmarks of the hot path. It prints one markdown table: every figure with its target and the
// command that produced it.
//
// Usage: go run ./test/sfbench [-events 500000] [-live-duration 60s] ...   (flags: sfbench -h)
// It expects bin/benthos, bin/sfemu, bin/sfbench-floor, bin/sfbench-floor-pubsub and bin/sfbench-pubsub-go
// (`make bench` builds them) and installs the Node peers with `npm ci` when their node_modules are missing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// options are sfbench's flags.
type options struct {
	events       int
	channel      string
	maxBatch     int
	liveRate     float64
	liveDuration time.Duration
	dir          string
	peers        bool
	floor        bool
	ceiling      bool
	ceilingBytes int
	live         bool
	goBench      bool
	goBenchPkgs  string
	benchtime    string
	pprofOut     string
	pprofAPI     api
	pubsub       bool
	pubsubPeers  bool
	stall        time.Duration
	stallBound   float64
	stallLimit   int
	timeout      time.Duration
	// snapshotRecords sizes the snapshot scenario (snapshot.go); 0 skips it.
	snapshotRecords int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "sfbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("sfbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.events, "events", 500000, "events preloaded in the emulator and drained by every client")
	fs.StringVar(&o.channel, "channel", "/data/AccountChangeEvent", "channel of the backlog and of the live stream (a CDC channel: ~1 KB events)")
	fs.IntVar(&o.maxBatch, "max-batch", 0, "sfemu -max-batch: events per connect answer (0: the emulator's default)")
	fs.Float64Var(&o.liveRate, "live-rate", 2000, "events per second generated for the live latency measure")
	fs.DurationVar(&o.liveDuration, "live-duration", 60*time.Second, "length of the live latency measure")
	fs.StringVar(&o.dir, "dir", "bench/out", "directory for configs, logs and data of the runs (relative to the repository root)")
	fs.BoolVar(&o.peers, "peers", true, "drain the backlog with the Node.js peers (jsforce, CometD JS) too")
	fs.BoolVar(&o.floor, "floor", true, "drain the backlog with the floor programs too (CometD; Pub/Sub with -pubsub)")
	fs.BoolVar(&o.ceiling, "ceiling", true, "run the framework ceiling too: Benthos' generate input making as many messages of the drain's size and metadata into drop")
	fs.IntVar(&o.ceilingBytes, "ceiling-bytes", 800, "body size of the framework ceiling's messages (about a backlog event's data: the emulator's CDC events are about 850 bytes on the wire with their envelope)")
	fs.BoolVar(&o.live, "live", true, "measure live latency")
	fs.BoolVar(&o.goBench, "gobench", true, "run the Go benchmarks of the hot path")
	fs.StringVar(&o.goBenchPkgs, "gobench-pkgs", "./internal/bayeux/wire/ ./input/ ./sfemu/ ./sfemu/internal/pubsubapi/", "packages whose Go benchmarks run (space separated)")
	fs.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime")
	fs.StringVar(&o.pprofOut, "pprof", "", "after the measured drain, drain again with Benthos' debug endpoints on and save a CPU profile of bin/benthos here")
	fs.BoolVar(&o.pubsub, "pubsub", true, "drain the backlog with bin/benthos over the Pub/Sub API (api: pubsub) too")
	fs.BoolVar(&o.pubsubPeers, "pubsub-peers", true, "with -pubsub: drain the backlog over Pub/Sub with the peers too (Salesforce's Go example client, the npm salesforce-pubsub-api-client)")
	pprofAPI := fs.String("pprof-api", string(apiStreaming), "API of the profiled drain: streaming or pubsub")
	fs.DurationVar(&o.stall, "stall", 3*time.Minute, "length of the stalled-output scenario (bin/benthos over each API into an output that holds every request); 0 skips it")
	fs.Float64Var(&o.stallBound, "stall-bound", 1.5, "the stalled-output scenario fails when Pub/Sub's peak RSS during the stall exceeds this multiple of its RSS once checkpoint_limit events are in flight")
	fs.IntVar(&o.stallLimit, "stall-limit", 1024, "checkpoint_limit of the stalled-output pipelines (the input's default)")
	fs.IntVar(&o.snapshotRecords, "snapshot-records", 1000000, "Accounts in the emulator that bin/benthos snapshots over Bulk API 2.0 into drop; 0 skips the snapshot scenario")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound of each drain and of the Go benchmarks")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.snapshotRecords < 0 {
		return o, fmt.Errorf("-snapshot-records must not be negative, got %d", o.snapshotRecords)
	}
	if o.ceilingBytes < 0 {
		return o, fmt.Errorf("-ceiling-bytes must not be negative, got %d", o.ceilingBytes)
	}
	if o.events < 1 {
		return o, fmt.Errorf("-events must be positive, got %d", o.events)
	}
	switch o.pprofAPI = api(*pprofAPI); o.pprofAPI {
	case apiStreaming, apiPubSub:
	default:
		return o, fmt.Errorf("-pprof-api must be streaming or pubsub, got %q", *pprofAPI)
	}
	if o.stall < 0 || o.stallBound <= 1 || o.stallLimit < 1 {
		return o, errors.New("-stall must not be negative, -stall-bound must exceed 1 and -stall-limit must be positive")
	}
	if o.liveRate <= 0 || o.liveDuration <= 0 {
		return o, errors.New("-live-rate and -live-duration must be positive")
	}
	return o, nil
}

// bench is one run of the harness: where it works and what it measured.
type bench struct {
	opts  options
	root  string // repository root
	dir   string // absolute work directory
	table table
	notes []string
	fails []string // failed hard checks: the run prints its table, then exits non-zero
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	dir := o.dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the work directory: %w", err)
	}
	b := &bench{opts: o, root: root, dir: dir}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "sfbench: "+format+"\n", a...) }

	m := readMachine(ctx)
	logf("machine: %s", m)
	if err := (backlogBench{b}).backlog(ctx, logf); err != nil {
		return err
	}
	if o.snapshotRecords > 0 {
		if err := (snapshotBench{b}).snapshot(ctx, logf); err != nil {
			return err
		}
	}
	if o.live {
		if err := (liveBench{b}).liveLatency(ctx, logf); err != nil {
			return err
		}
	}
	if o.goBench {
		if err := (goBench{b}).goBenchmarks(ctx, logf); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\n%s\n\n", m.markdown())
	b.table.write(stdout)
	fmt.Fprintf(stdout, "\n%s\n", methodNote)
	for _, n := range b.notes {
		fmt.Fprintf(stdout, "\n%s", n)
	}
	fmt.Fprintf(stdout, "\n\nConfigs and logs of this run: %s\n", b.rel(b.dir))
	if len(b.fails) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(b.fails, "; "))
	}
	return nil
}

// methodNote says what the drain figures include.
const methodNote = "Drain times run from starting the client process to the harness seeing the end: for bin/benthos the file cache's " +
	"checkpoint holding the last preloaded replay id (polled every 20 ms), for the peers and the floor their result line after the " +
	"last event. They include process start-up; \"from its handshake\" is the client's own count without it. CPU per event is the " +
	"process' utime+stime up to that moment (start-up included) over the events; peak RSS is VmHWM read before the process is stopped. " +
	"Every client drains the same emulator process, one after the other."

// rel renders a path relative to the repository root, the way the table's commands are run.
func (b *bench) rel(path string) string {
	if r, err := filepath.Rel(b.root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
