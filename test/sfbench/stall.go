package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// stallBench stalls the output and watches the memory and the flow control of each transport.
type stallBench struct{ *bench }

// stallPipeline is bin/benthos reading the backlog into an output that stalls: an http_client whose server
// holds every request (holdServer), with a timeout longer than the stall so that nothing is retried meanwhile.
// Prometheus metrics on Benthos' HTTP server give the input's events received. Placeholders: HTTP address,
// the input (inputYAML plus its checkpoint_limit), the server's URL, the request timeout.
const stallPipeline = `# sfbench: a stalled output (written by test/sfbench)
http:
  address: %s
logger:
  level: warn
metrics:
  prometheus: {}
%s    checkpoint_limit: %d
output:
  http_client:
    url: %s
    verb: POST
    timeout: %s
    max_in_flight: 64
`

// metricReceived is the input's counter of events received from Salesforce (docs/metrics.md).
const metricReceived = "salesforce_streaming_events_received"

// scrapeEvery is how many RSS samples (one a second) pass between two reads of Benthos' /metrics, which is also
// read at the stall's end. Answering a scrape costs bin/benthos memory: scraped every second, a stalled
// pipeline's RSS crept up by about 1 MB a minute; unscraped, it stayed flat to the kB for minutes.
const scrapeEvery = 10

// stallSample is one reading of bin/benthos during the stall.
type stallSample struct {
	at       time.Duration // since the stall began (the first request held)
	rss      int64         // VmRSS, bytes
	received int64         // the input's events received; -1 when the metrics were not or could not be read
}

// stallResult is one transport's run of the stalled-output scenario.
type stallResult struct {
	tr       transport
	command  string
	samples  []stallSample
	startRSS int64         // VmRSS when the first request was held
	fullAt   time.Duration // first sample with checkpoint_limit events received (-1: never)
	fullRSS  int64         // VmRSS at fullAt
	peakRSS  int64         // largest VmRSS sampled during the stall
	hwm      int64         // VmHWM at the stall's end (start-up included)
	received int64         // largest events-received count sampled
	resumed  bool          // a checkpoint was stored after the output was released
}

// stallScenario runs the stalled-output scenario over each transport at once (the stall leaves the CPUs idle,
// so the runs do not disturb each other's figures, and make bench pays the stall once), adds the rows, and
// records a failure when Pub/Sub's memory is not bounded.
func (b stallBench) stallScenario(ctx context.Context, emu *harness.Emulator, trs []transport, logf func(string, ...any)) error {
	dir := filepath.Join(b.dir, "stall")
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	logf("stalling the output of bin/benthos for %v over %d APIs at once", b.opts.stall, len(trs))
	results := make([]stallResult, len(trs))
	errs := make([]error, len(trs))
	var wg sync.WaitGroup
	for i, tr := range trs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = b.stallRun(ctx, emu, dir, tr)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, r := range results {
		b.stallRows(r)
	}
	return nil
}

// stallRun starts bin/benthos over tr into a holding output, samples its RSS every second (and its events
// received every scrapeEvery seconds) for the stall's length from the first held request, then releases the output and waits for a checkpoint to show it moves again.
func (b stallBench) stallRun(ctx context.Context, emu *harness.Emulator, dir string, tr transport) (stallResult, error) {
	o := b.opts
	res := stallResult{tr: tr, fullAt: -1, received: -1}
	name := "stall-" + string(tr.api)
	dataDir := filepath.Join(dir, name+"-data")
	replayIDs := filepath.Join(dataDir, "replay_ids")
	if err := os.MkdirAll(replayIDs, 0o755); err != nil {
		return res, fmt.Errorf("creating %s: %w", replayIDs, err)
	}
	resources, err := os.ReadFile(filepath.Join(b.root, "resources", "replay_ids_file.yaml"))
	if err != nil {
		return res, fmt.Errorf("reading the file cache resource: %w", err)
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return res, err
	}
	hold, err := startHoldServer()
	if err != nil {
		return res, err
	}
	defer hold.Close()
	pipeline := fmt.Sprintf(stallPipeline, addr, inputYAML(emu.URL, tr, o.channel, "earliest"), o.stallLimit, hold.url,
		o.stall+time.Minute)
	p, err := harness.StartBenthos(harness.BenthosConfig{Dir: dir, Name: name, Pipeline: pipeline,
		Resources: []string{string(resources)}, Env: []string{"SALESFORCE_STREAMING_DATA_DIR=" + dataDir}})
	if err != nil {
		return res, err
	}
	defer p.Close()
	res.command = fmt.Sprintf("SALESFORCE_STREAMING_DATA_DIR=%s bin/benthos -r %s -c %s", b.rel(dataDir),
		b.rel(filepath.Join(dir, name+".resources-1.yaml")), b.rel(filepath.Join(dir, name+".pipeline.yaml")))

	wait, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	select {
	case <-hold.First():
	case <-p.Done():
		return res, fmt.Errorf("%s exited before its output received anything: %v\n%s", tr.label(), p.ExitErr(), p.Tail(30))
	case <-wait.Done():
		return res, fmt.Errorf("waiting for the first request of %s: %w\n%s", tr.label(), wait.Err(), p.Tail(30))
	}
	start := time.Now()
	metricsURL := "http://" + addr + "/metrics"
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		ps, err := harness.ReadProcStat(p.PID())
		if err != nil {
			return res, fmt.Errorf("%s during the stall: %w\n%s", tr.label(), err, p.Tail(30))
		}
		s := stallSample{at: time.Since(start), rss: ps.RSS, received: -1}
		last := s.at >= o.stall
		if len(res.samples)%scrapeEvery == 0 || last {
			s.received = scrapeCounter(ctx, metricsURL, metricReceived)
		}
		res.samples = append(res.samples, s)
		res.hwm = ps.PeakRSS
		if len(res.samples) == 1 {
			res.startRSS = s.rss
		}
		if res.fullAt < 0 && s.received >= int64(o.stallLimit) {
			res.fullAt, res.fullRSS = s.at, s.rss
		}
		res.peakRSS = max(res.peakRSS, s.rss)
		res.received = max(res.received, s.received)
		if last {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
	}
	if err := writeSamples(filepath.Join(dir, name+".rss.tsv"), res.samples); err != nil {
		return res, err
	}

	hold.Release()
	resume, cancelResume := context.WithTimeout(ctx, time.Minute)
	defer cancelResume()
	for !res.resumed && resume.Err() == nil && !p.Exited() {
		_, res.resumed = tr.readCheckpoint(replayIDs, o.channel)
		time.Sleep(pollEvery)
	}
	if err := p.Stop(harness.DefaultStopTimeout); err != nil {
		return res, fmt.Errorf("stopping %s after the stall: %w\n%s", tr.label(), err, p.Tail(20))
	}
	return res, nil
}

// scrapeCounter sums a counter's series in Benthos' Prometheus metrics; -1 when they cannot be read.
func scrapeCounter(ctx context.Context, url, name string) int64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return -1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	total, found := sumCounter(bufio.NewScanner(resp.Body), name)
	if !found {
		return -1
	}
	return total
}

// sumCounter adds up the samples of the series named name in Prometheus' text format.
func sumCounter(sc *bufio.Scanner, name string) (int64, bool) {
	var total float64
	found := false
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		fields := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		total += v
		found = true
	}
	return int64(total), found && sc.Err() == nil
}

// writeSamples keeps a run's samples next to its config: seconds, RSS in bytes, events received (-1: not read).
func writeSamples(path string, samples []stallSample) error {
	var sb strings.Builder
	sb.WriteString("seconds\trss_bytes\tevents_received\n")
	for _, s := range samples {
		fmt.Fprintf(&sb, "%.1f\t%d\t%d\n", s.at.Seconds(), s.rss, s.received)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("writing the stall's samples: %w", err)
	}
	return nil
}
