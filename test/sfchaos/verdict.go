package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// result is what a soak observed.
type result struct {
	opts     options
	channels []channelSpec
	dir      string

	report        harness.Report    // expected ids vs the sink's records, split by run
	records       int               // records the sink accepted, duplicates included
	filteredOut   map[string]int    // per channel: published, excluded by the subscription's filter
	firstRetained map[string]int64  // per channel: the emulator's first retained id at the end
	lastExpected  map[string]int64  // per channel: the last id the output had to get
	checkpoints   map[string]string // per channel: the stored replay id after the final stop

	faults        map[string]int // injected, per kind
	kills         int
	graceful      int
	unplanned     int
	runs          int
	outages       int
	outageTotal   time.Duration
	rejected      int         // requests the sink answered 503
	refusedBy     map[int]int // per run: requests the sink answered 503 (nacks)
	plans         []runPlan   // per run: preset, pipeline shape, random refusals
	retention     []retentionSample
	times         pubTimes // per channel: expected ids with their publish time
	redisRestarts int
	recoveries    []recovery
	pubsubRecov   []recovery // the same incidents, recovered over Pub/Sub (with -pubsub)
	drained       bool
	drainTime     time.Duration
	problems      []string
	mirror        mirrorResult // with -mirror
}

// verdict is the judgement of a result.
type verdict struct {
	Lost    map[string][]int64 // never delivered, and retained at the end or after its publish
	Expired map[string][]int64 // never delivered, and not retained after its publish nor at the end
	// Reordered are order violations within runs whose output refused
	// requests: after a nack Benthos may deliver later batches first, which
	// at-least-once allows. Order is checked in every other run.
	Reordered []harness.Violation
	Failures  []string
}

// OK reports whether the soak passed.
func (v verdict) OK() bool { return len(v.Failures) == 0 }

// judge decides whether the pipeline passed: nothing retained was lost,
// nothing unexpected, nothing out of order within a run whose output refused
// nothing, the drain completed, the
// final checkpoints are at the last events, nothing crashed, and the soak
// injected at least the minimum faults and restarts.
func (r result) judge() verdict {
	v := verdict{Lost: map[string][]int64{}, Expired: map[string][]int64{}}
	fail := func(format string, args ...any) { v.Failures = append(v.Failures, fmt.Sprintf(format, args...)) }
	for ch, ids := range r.report.Missing {
		first, ok := r.firstRetained[ch]
		for _, id := range ids {
			if ok && id >= first || retainedAfterPublish(r.retention, r.times, ch, id) {
				v.Lost[ch] = append(v.Lost[ch], id)
			} else {
				v.Expired[ch] = append(v.Expired[ch], id)
			}
		}
	}
	if n := harness.Count(v.Lost); n > 0 {
		fail("lost %d retained events (%s): %s", n, r.lostPerAPI(v), idLists(v.Lost))
	}
	if n := harness.Count(r.report.Unexpected); n > 0 {
		fail("%d records of events never published or excluded by the filter: %s", n, idLists(r.report.Unexpected))
	}
	var disorder []harness.Violation
	for _, o := range r.report.Order {
		if r.refusedBy[o.Run+1] > 0 {
			v.Reordered = append(v.Reordered, o)
			continue
		}
		disorder = append(disorder, o)
	}
	if n := len(disorder); n > 0 {
		var shown []string
		for i, o := range disorder {
			if i == 5 {
				shown = append(shown, fmt.Sprintf("... %d more", n-i))
				break
			}
			shown = append(shown, fmt.Sprintf("run %d %s: %d after %d", o.Run+1, o.Channel, o.ReplayID, o.After))
		}
		fail("%d events out of replay order within a run whose output refused nothing: %s", n, strings.Join(shown, "; "))
	}
	if !r.drained {
		fail("the drain did not complete within %v: %s", r.opts.drainTimeout, idLists(r.report.Missing))
	}
	if r.drained {
		for _, ch := range sortedKeys(r.lastExpected) {
			want := strconv.FormatInt(r.lastExpected[ch], 10)
			if got := r.checkpoints[ch]; storedID(got) != want {
				fail("checkpoint of %s after the final graceful stop is %s, want %s (its last event)", ch, got, want)
			}
		}
	}
	if n := sum(r.faults); n < r.opts.minFaults {
		fail("only %d faults injected, want at least %d", n, r.opts.minFaults)
	}
	if n := r.kills + r.graceful; n < r.opts.minRestarts {
		fail("only %d restarts, want at least %d", n, r.opts.minRestarts)
	}
	if r.unplanned > 0 {
		fail("bin/benthos exited on its own %d times", r.unplanned)
	}
	if r.mirror.enabled && !r.mirror.purged {
		fail("the mirror's replay ids never fell out of retention: no kill -9 in the chaos' second half")
	}
	if r.mirror.enabled && r.mirror.diff != "" {
		fail("the mirror's tables differ from the org's records %v after the drain: %s", r.mirror.convergeIn.Round(time.Second), r.mirror.diff)
	}
	for _, p := range r.problems {
		fail("%s", firstLine(p))
	}
	return v
}

// writeSummary prints the summary table of a result and its verdict.
func (r result) writeSummary(w io.Writer, v verdict) {
	delivered := 0
	for _, n := range r.report.Delivered {
		delivered += n
	}
	dups, dupsInRun := 0, 0
	for _, n := range r.report.Duplicates {
		dups += n
	}
	for _, n := range r.report.DuplicatesWithinRun {
		dupsInRun += n
	}
	perKind, all := summarizeRecoveries(r.recoveries)

	fmt.Fprintf(w, "\nsfchaos summary (seed %d, %v of chaos, %d channels at %g events/s each; replay: -seed %d)\n",
		r.opts.seed, r.opts.duration, len(r.channels), r.opts.rate, r.opts.seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	toDeliver := perAPI(r.channels, func(ch channelSpec) int { return r.toDeliver(ch.Base) })
	fmt.Fprintf(tw, "  events published\t%d\t(to deliver over CometD; %d more excluded by a PushTopic filter)\n", toDeliver[apiStreaming], sum(r.filteredOut))
	if n, ok := toDeliver[apiPubSub]; ok {
		fmt.Fprintf(tw, "  also over Pub/Sub\t%d\t(the platform-event and CDC ones, to deliver over Pub/Sub too)\n", n)
	}
	both := ""
	if _, ok := toDeliver[apiPubSub]; ok {
		both = ", both APIs"
	}
	fmt.Fprintf(tw, "  events delivered\t%d\t(distinct%s; %d records in all)\n", delivered, both, r.records)
	fmt.Fprintf(tw, "  lost\t%d\t(retained, never delivered; %s)\n", harness.Count(v.Lost), r.lostPerAPI(v))
	if n := harness.Count(v.Expired); n > 0 {
		fmt.Fprintf(tw, "  expired\t%d\t(never delivered, no longer retained)\n", n)
	}
	fmt.Fprintf(tw, "  duplicates\t%d\t(%d within a run)\n", dups, dupsInRun)
	fmt.Fprintf(tw, "  out of order\t%d\t(within a run whose output refused nothing; %d more after nacks)\n", len(r.report.Order)-len(v.Reordered), len(v.Reordered))
	fmt.Fprintf(tw, "  faults\t%d\t(%d kinds)\n", sum(r.faults), len(r.faults))
	fmt.Fprintf(tw, "  restarts\t%d\t(kill -9 %d, graceful %d; %d runs; unplanned exits %d)\n", r.kills+r.graceful, r.kills, r.graceful, r.runs, r.unplanned)
	fmt.Fprintf(tw, "  output outages\t%d\t(%v in all)\n", r.outages, r.outageTotal.Round(100*time.Millisecond))
	fmt.Fprintf(tw, "  nacks\t%d\t(requests refused, each a nack of whole input batches; in %d of %d runs)\n", r.rejected, len(r.refusedBy), r.runs)
	fmt.Fprintf(tw, "  redis restarts\t%d\t\n", r.redisRestarts)
	fmt.Fprintf(tw, "  time to recover\tp50 %s, max %s\t(%d of %d incidents)\n", secs(all.P50), secs(all.Max), all.Recovered, all.Count)
	if r.pubsubRecov != nil {
		_, ps := summarizeRecoveries(r.pubsubRecov)
		fmt.Fprintf(tw, "  over Pub/Sub\tp50 %s, max %s\t(%d of %d incidents: to the first Pub/Sub delivery of an event published after)\n", secs(ps.P50), secs(ps.Max), ps.Recovered, ps.Count)
	}
	fmt.Fprintf(tw, "  final drain\t%s\t(%s)\n", secs(r.drainTime), map[bool]string{true: "complete", false: "INCOMPLETE"}[r.drained])
	if m := r.mirror; m.enabled {
		state := "EQUAL to the org's records"
		if m.diff != "" {
			state = "DIFFERENT: " + m.diff
		}
		fmt.Fprintf(tw, "  mirror\t%s\t(%d Accounts, %d Contacts; changes %d, gap %d, overflow %d; %d runs, kill -9 %d, graceful %d, past retention %d; converged %s after the drain)\n",
			state, m.accounts, m.contacts, m.mutations["change"], m.mutations["gap"], m.mutations["overflow"], m.runs, m.kills, m.stops, map[bool]int{true: 1}[m.purged], secs(m.convergeIn))
	}
	tw.Flush()
	fmt.Fprintf(w, "  run shapes: %s; replay_preset earliest for run 1, latest after\n", r.shapeCounts())

	fmt.Fprintln(w, "\n  incident            injected  recovered  p50      max")
	for _, s := range perKind {
		n := s.Count
		if f, ok := r.faults[s.Kind]; ok {
			n = f
		}
		fmt.Fprintf(w, "  %-18s  %8d  %9d  %-7s  %s\n", s.Kind, n, s.Recovered, secs(s.P50), secs(s.Max))
	}
	for _, kind := range faultKinds {
		if _, ok := r.faults[kind]; !ok {
			fmt.Fprintf(w, "  %-18s  %8d\n", kind, 0)
		}
	}

	fmt.Fprintln(w, "\n  api        channel                               to deliver  delivered  lost  duplicates  checkpoint")
	for _, ch := range r.channels {
		fmt.Fprintf(w, "  %-9s  %-36s  %10d  %9d  %4d  %10d  %s\n", ch.API, ch.Configured, r.toDeliver(ch.Base), r.report.Delivered[ch.Base],
			len(v.Lost[ch.Base]), r.report.Duplicates[ch.Base], r.checkpoints[ch.Base])
	}
	fmt.Fprintf(w, "\n  work dir: %s (records.jsonl, chaos.log, per-run benthos logs; kept on failure and with -keep)\n", r.dir)
	if v.OK() {
		fmt.Fprintln(w, "\nPASS")
		return
	}
	fmt.Fprintln(w, "\nFAIL")
	for _, f := range v.Failures {
		fmt.Fprintf(w, "  - %s\n", f)
	}
}

// shapeCounts sums up the runs' pipeline shapes, e.g. "map only 2, split
// 3 (random refusals in 2 of 5 runs)".
func (r result) shapeCounts() string {
	counts := map[string]int{}
	refusing := 0
	for _, p := range r.plans {
		counts[p.Shape.kind()]++
		if p.Refusing {
			refusing++
		}
	}
	var parts []string
	for _, k := range sortedKeys(counts) {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return fmt.Sprintf("%s (random refusals in %d of %d runs)", strings.Join(parts, ", "), refusing, len(r.plans))
}

// storedID returns the replay id of a stored checkpoint value: `<id>`, or
// `<id>@<epoch>` once a replay-id fallback started a new epoch.
func storedID(value string) string {
	id, _, _ := strings.Cut(value, "@")
	return id
}

// toDeliver returns the number of ids the channel had to deliver, as the
// report counted them (delivered + missing).
func (r result) toDeliver(ch string) int {
	return r.report.Delivered[ch] + len(r.report.Missing[ch])
}

func secs(d time.Duration) string {
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func idLists(m map[string][]int64) string {
	var parts []string
	for _, ch := range sortedKeys(m) {
		ids := m[ch]
		if len(ids) > 10 {
			parts = append(parts, fmt.Sprintf("%s %v ... (%d ids, last %d)", ch, ids[:10], len(ids), ids[len(ids)-1]))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %v", ch, ids))
	}
	return strings.Join(parts, "; ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Clip(keys)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// lostPerAPI says how many events were lost over each API of the soak, e.g.
// "streaming 0, pubsub 0".
func (r result) lostPerAPI(v verdict) string {
	lost := perAPI(r.channels, func(ch channelSpec) int { return len(v.Lost[ch.Base]) })
	parts := []string{fmt.Sprintf("%s %d", apiStreaming, lost[apiStreaming])}
	if n, ok := lost[apiPubSub]; ok {
		parts = append(parts, fmt.Sprintf("%s %d", apiPubSub, n))
	}
	return strings.Join(parts, ", ")
}
