// Command sfchaos is the chaos soak of salesforce_streaming (`make chaos`):
// it runs the real bin/benthos with the salesforce_streaming input against
// bin/sfemu, with replay ids in a redis-server and an HTTP sink of its own as
// the output, while it publishes to channels of every kind, injects every
// fault of the emulator's control API, kill -9s and restarts bin/benthos,
// restarts redis-server once and makes the output fail for a while. The
// output does not retry: every refused request is a nack for the input.
// Each run draws its pipeline shape from the seed (map only, split,
// archive, split then archive) and whether its output also refuses requests
// at random; every run after the first starts from replay_preset latest, so
// a restart that ignored its checkpoint loses events instead of replaying
// them. With -pubsub (the default) the same bin/benthos also reads the
// platform-event and CDC channels over the emulator's Pub/Sub API (a second
// input, api: pubsub, with its own checkpoint key prefix), and every event
// published there must arrive over both APIs. Then it drains and checks, per
// channel of each API, that every published event reached the output unless the emulator no longer retained it right after
// its publish, in order within each run whose output refused nothing, and
// prints one summary.
//
// Exit status: 0 pass, 1 the pipeline failed the check (or too few faults or
// restarts happened), 2 the soak could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// defaultChannels covers every kind: platform event, CDC (per object and the
// all-changes channel), PushTopic (plain and filtered) and generic streaming.
const defaultChannels = "/event/ChaosOrder__e,/data/AccountChangeEvent,/data/ChangeEvents," +
	"/topic/ChaosTasks,/topic/ChaosInvoices?Status__c=Open,/u/ChaosAlerts"

// options are the command line.
type options struct {
	duration     time.Duration
	seed         uint64
	channels     string
	rate         float64
	minFaults    int
	minRestarts  int
	faultEvery   time.Duration
	restartEvery time.Duration
	outageEvery  time.Duration
	drainTimeout time.Duration
	dir          string
	keep         bool
	verbose      bool
	pubsub       bool // also read the platform-event and CDC channels over Pub/Sub
	// mirror runs the shipped record mirror beside the soak (mirror.go).
	mirror         bool
	mirrorAccounts int
	mirrorContacts int
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("sfchaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "chaos phase, from the first subscription to the drain")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the fault plan, payloads and emulator ids (0: random, printed so that a run can be replayed)")
	fs.StringVar(&o.channels, "channels", defaultChannels, "comma-separated channels to publish to and subscribe (a PushTopic may carry a ?Field=Value filter)")
	fs.Float64Var(&o.rate, "rate", 20, "events per second published to each channel")
	fs.IntVar(&o.minFaults, "min-faults", 50, "fail unless at least this many faults were injected")
	fs.IntVar(&o.minRestarts, "min-restarts", 5, "fail unless bin/benthos was restarted at least this many times")
	fs.DurationVar(&o.faultEvery, "fault-every", 2*time.Second, "mean interval between faults")
	fs.DurationVar(&o.restartEvery, "restart-every", 15*time.Second, "mean interval between restarts of bin/benthos")
	fs.DurationVar(&o.outageEvery, "outage-every", 40*time.Second, "mean interval between output outages")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 60*time.Second, "bound of the final drain")
	fs.StringVar(&o.dir, "dir", "", "work directory for logs and records (default: a new temp dir)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory after a passing run (a failing run always keeps it)")
	fs.BoolVar(&o.verbose, "v", false, "print every action, not just progress")
	fs.BoolVar(&o.pubsub, "pubsub", true, "also read the platform-event and CDC channels over the emulator's Pub/Sub API (api: pubsub, a second input of the same pipeline); -pubsub=false runs the CometD soak alone")
	fs.BoolVar(&o.mirror, "mirror", false, "also run the shipped record mirror (config/cdc_mirror_postgres.yaml) into a throwaway PostgreSQL while records change, and compare its tables with the emulator's records at the end; the /data/ channels are then the mirror's")
	fs.IntVar(&o.mirrorAccounts, "mirror-accounts", 2000, "with -mirror: Accounts the emulator holds")
	fs.IntVar(&o.mirrorContacts, "mirror-contacts", 1000, "with -mirror: Contacts the emulator holds")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.duration <= warmup:
		return o, fmt.Errorf("-duration %v: want more than %v", o.duration, warmup)
	case o.rate <= 0:
		return o, fmt.Errorf("-rate %g: want > 0", o.rate)
	case o.faultEvery <= 0 || o.restartEvery <= 0 || o.outageEvery <= 0:
		return o, errors.New("-fault-every, -restart-every and -outage-every must be > 0")
	case o.drainTimeout <= 0:
		return o, errors.New("-drain-timeout must be > 0")
	case o.mirror && (o.mirrorAccounts < 1 || o.mirrorContacts < 1):
		return o, fmt.Errorf("-mirror-accounts %d, -mirror-contacts %d: want > 0", o.mirrorAccounts, o.mirrorContacts)
	}
	if o.seed == 0 {
		o.seed = rand.Uint64N(1<<53) + 1 // printable without loss everywhere
	}
	return o, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sfchaos: %v\n", err)
		return 2
	}
	channels, err := parseChannels(opts.channels)
	if err == nil && opts.mirror {
		if channels = withoutCDC(channels); len(channels) == 0 {
			err = errors.New("-mirror leaves no channel: the /data/ ones are the mirror's")
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "sfchaos: %v\n", err)
		return 2
	}
	dir := opts.dir
	if dir == "" {
		dir, err = os.MkdirTemp("", "sfchaos-")
	} else {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sfchaos: creating the work dir: %v\n", err)
		return 2
	}
	logFile, err := os.Create(filepath.Join(dir, "chaos.log"))
	if err != nil {
		fmt.Fprintf(stderr, "sfchaos: %v\n", err)
		return 2
	}
	defer logFile.Close()
	var log io.Writer = logFile
	if opts.verbose {
		log = io.MultiWriter(logFile, stdout)
	}

	if err := snapshotBinaries(dir); err != nil {
		fmt.Fprintf(stderr, "sfchaos: %v\n", err)
		return 2
	}
	defer os.RemoveAll(filepath.Join(dir, "bin")) // a copy of bin/: not worth keeping
	fmt.Fprintf(stdout, "sfchaos: seed %d, %v of chaos on %d channels at %g events/s each (pubsub %v, mirror %v), work dir %s\n",
		opts.seed, opts.duration, len(channels), opts.rate, opts.pubsub, opts.mirror, dir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := &soak{opts: opts, channels: channels, dir: dir, log: log, out: stdout}
	if opts.pubsub {
		s.pubsub = pubsubSpecs(channels)
	}
	res, err := s.run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "sfchaos: the soak could not run (seed %d, work dir %s kept): %v\n", opts.seed, dir, err)
		return 2
	}
	v := res.judge()
	res.writeSummary(stdout, v)
	if !v.OK() {
		return 1
	}
	if !opts.keep && opts.dir == "" {
		_ = os.RemoveAll(dir)
	}
	return 0
}
