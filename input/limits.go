package input

import (
	"context"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/orgapi"
)

// Org limits as metrics: the input reads the limits resource every
// limits_interval, beside its streams and never in their way, and exports
// the allocations that gate streaming and publishing. docs/metrics.md lists
// them.

// Metric names of the org's limits. They carry no salesforce_streaming
// prefix: they describe the org, whatever reads it.
const (
	metricOrgLimitMax       = "salesforce_org_limit_max"
	metricOrgLimitRemaining = "salesforce_org_limit_remaining"
)

const (
	defaultLimitsInterval = 5 * time.Minute
	// floorLimitsInterval: every read is one REST request, counted in
	// DailyApiRequests; faster reads only spend that allocation.
	floorLimitsInterval = time.Second
	// lowLimitPercent: a limit with less than this share of its Max
	// remaining is logged as a warning (once, until it recovers).
	lowLimitPercent = 10
	// limitsFailLogEvery spaces the log lines of a failing read: one when
	// reading starts failing, then at most one per this interval.
	limitsFailLogEvery = 15 * time.Minute
)

// watchedLimits are the limits exported, a fixed set so that the names an
// org answers with never mint series: event delivery and publishing, the
// Streaming API's own allocations, API requests (which the reads and every
// login spend) and Bulk API 2.0 queries. A limit the org does not report is
// left out.
var watchedLimits = []string{
	"DailyApiRequests",
	"DailyBulkV2QueryJobs",
	"DailyDeliveredPlatformEvents",
	"DailyDurableGenericStreamingApiEvents",
	"DailyDurableStreamingApiEvents",
	"DailyGenericStreamingApiEvents",
	"DailyStandardVolumePlatformEvents",
	"DailyStreamingApiEvents",
	"HourlyPublishedPlatformEvents",
	"HourlyPublishedStandardVolumePlatformEvents",
	"MonthlyPlatformEventsUsageEntitlement",
	"StreamingApiConcurrentClients",
}

// limitsReader reads the org's limits (*orgapi.Client).
type limitsReader interface {
	Limits(ctx context.Context) (map[string]orgapi.Limit, error)
}

// limitsPoller reads the limits every interval until stop. Its failures are
// logged and change nothing else: the streams never wait for it.
type limitsPoller struct {
	reader    limitsReader
	interval  time.Duration
	log       *service.Logger
	max       *service.MetricGauge
	remaining *service.MetricGauge

	// Owned by the run goroutine.
	low         map[string]bool // limits logged as low and not recovered since
	failures    int             // consecutive failed reads
	lastFailLog time.Time

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when run returns
}

func newLimitsPoller(reader limitsReader, interval time.Duration, log *service.Logger, m *service.Metrics) *limitsPoller {
	return &limitsPoller{
		reader:    reader,
		interval:  interval,
		log:       log,
		max:       m.NewGauge(metricOrgLimitMax, "limit"),
		remaining: m.NewGauge(metricOrgLimitRemaining, "limit"),
		low:       map[string]bool{},
		done:      make(chan struct{}),
	}
}

// start begins the reads (the first one at once). Later calls, and calls
// after stop, do nothing.
func (p *limitsPoller) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.stopped {
		return
	}
	p.started = true
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.run(ctx)
}

// stop ends the reads and waits for the goroutine. It is idempotent.
func (p *limitsPoller) stop() {
	p.mu.Lock()
	running := p.started && !p.stopped
	p.stopped = true
	p.mu.Unlock()
	if running {
		p.cancel()
		<-p.done
	}
}

func (p *limitsPoller) run(ctx context.Context) {
	defer close(p.done)
	ticker := time.NewTicker(p.interval)
	defer ticker.Stop()
	for {
		p.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// poll reads the limits once and updates the gauges and the low-limit state.
func (p *limitsPoller) poll(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, max(p.interval, 10*time.Second))
	defer cancel()
	limits, err := p.reader.Limits(rctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		p.failed(err)
		return
	}
	if p.failures > 0 {
		p.log.Infof("Reading the org limits works again after %d failed reads", p.failures)
		p.failures = 0
	}
	for _, name := range watchedLimits {
		l, ok := limits[name]
		if !ok {
			continue
		}
		p.max.Set(l.Max, name)
		p.remaining.Set(l.Remaining, name)
		p.checkLow(name, l)
	}
}

// checkLow warns once when a limit falls under lowLimitPercent of its Max,
// and says when it is back above. A Max of 0 (an allocation the org does
// not have, such as the monthly entitlement without an add-on) is never low.
func (p *limitsPoller) checkLow(name string, l orgapi.Limit) {
	low := l.Max > 0 && l.Remaining*100 < l.Max*lowLimitPercent
	switch {
	case low && !p.low[name]:
		p.low[name] = true
		p.log.With("limit", name).Warnf("Org limit %s is under %d%%: %d of %d remaining; when it runs out Salesforce stops what it gates (event delivery stops for DailyDeliveredPlatformEvents)",
			name, lowLimitPercent, l.Remaining, l.Max)
	case !low && p.low[name]:
		delete(p.low, name)
		p.log.With("limit", name).Infof("Org limit %s is above %d%% again: %d of %d remaining", name, lowLimitPercent, l.Remaining, l.Max)
	}
}

// failed logs a failed read: the first of a streak, then at most one per
// limitsFailLogEvery. The error is already redacted by orgapi.
func (p *limitsPoller) failed(err error) {
	p.failures++
	now := time.Now()
	if p.failures > 1 && now.Sub(p.lastFailLog) < limitsFailLogEvery {
		return
	}
	p.lastFailLog = now
	p.log.Warnf("Reading the org limits failed (%d in a row; streaming is not affected, next read in %v): %v", p.failures, p.interval, err)
}
