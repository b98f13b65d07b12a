// Package limits is the emulated org's allocations: it counts what the emulator really does (deliveries,
// publishes, REST calls, Bulk query jobs) under its own lock, enforces the configured daily limits, and answers
// the REST limits resource. It is the one owner of that usage; the surfaces report to it.
package limits

import (
	"strconv"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
)

// The org's allocations, as the REST limits resource reports them. The emulator counts what it really does:
// events it delivers to CometD and Pub/Sub clients, platform events published through REST and Pub/Sub, and
// authenticated REST requests. Like Salesforce, a Daily* allocation counts the last 24 hours (a rolling window:
// usage falls as the events of 24 hours ago drop out, there is no reset at midnight), an Hourly* one the last
// hour, and the monthly entitlement the current calendar month (UTC). Windows read the emulator's clock, so a
// FakeClock moves them. When an enforced delivery allocation (Config.DailyDelivery, DailyStreaming) is
// used up, or the daily_limit fault is injected, connects and subscribes fail with Salesforce's daily-limit
// error. docs/emulator.md describes each entry.

// Config holds the enforced limits (0: counted against Salesforce's default Max, not enforced) and the
// concurrent-client Max the resource reports.
type Config struct {
	DailyDelivery    int64 // DailyDeliveredPlatformEvents
	DailyStreaming   int64 // DailyDurableStreamingApiEvents
	DailyAPIRequests int64 // DailyApiRequests
	MaxClients       int   // StreamingApiConcurrentClients
}

// Clock is the time the windows read.
type Clock interface{ Now() time.Time }

// Usage counts against the allocations.
type Usage struct {
	cfg    Config
	clock  Clock
	faults *faults.Set // the daily_limit fault empties every delivery allocation

	mu   sync.Mutex
	used usage
}

// New returns a Usage with nothing counted.
func New(cfg Config, clock Clock, f *faults.Set) *Usage {
	return &Usage{cfg: cfg, clock: clock, faults: f}
}

// Delivered is an allocation's usage over the last 24 hours.
func (s *Usage) Delivered(a Allocation) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliveredLocked(a)
}

// Allocation is one daily delivery Allocation.
type Allocation int

const (
	// PlatformEvents counts platform event and change event deliveries to CometD and Pub/Sub clients.
	PlatformEvents Allocation = iota
	// DurableStreaming counts PushTopic and generic event deliveries.
	DurableStreaming
	allocationCount
)

// AllocationOf is the daily allocation the deliveries of a channel kind count against.
func AllocationOf(k eventstore.Kind) Allocation {
	if k == eventstore.KindPlatformEvent || k == eventstore.KindCDC {
		return PlatformEvents
	}
	return DurableStreaming
}

// Salesforce's default Max of each Allocation (Performance and Unlimited editions unless noted).
const (
	DefaultDailyDeliveryMax  = 50_000
	DefaultDailyStreamingMax = 1_000_000
	// DailyStreamingApiEvents counts deliveries over API versions below 37.0, which the emulator does not serve.
	DefaultLegacyStreamingMax = 1_000_000
	DefaultHourlyPublishedMax = 250_000
	// One platform event add-on's monthly entitlement (100,000 deliveries a day, 3 million a month).
	DefaultMonthlyEntitlementMax = 3_000_000
	// A Developer Edition org's API requests per 24 hours.
	DefaultDailyAPIRequestsMax = 15_000
	DefaultDailyBulkV2QueryMax = 10_000
)

const (
	dailyWindow  = 24 * time.Hour
	hourlyWindow = time.Hour
	// UsageBucket is the resolution of the rolling windows: usage leaves a window within this long after it
	// left it exactly.
	UsageBucket = time.Minute
)

// usage is what counts against the Allocations.
type usage struct {
	delivered   [allocationCount]rollingCount // 24 h
	published   rollingCount                  // platform events published through REST and Pub/Sub, 1 h
	apiRequests rollingCount                  // authenticated REST requests, 24 h
	bulkQueries rollingCount                  // Bulk API 2.0 query jobs created, 24 h
	monthly     monthCount                    // platform and change event deliveries this month
}

// rollingCount counts events in per-minute buckets, oldest first, so that a window's total is the sum of the
// buckets inside it.
type rollingCount struct {
	buckets []usageMinute
}

type usageMinute struct {
	start time.Time // truncated to UsageBucket
	n     int64
}

// add counts n at now and forgets buckets older than keep.
func (r *rollingCount) add(now time.Time, n int64, keep time.Duration) {
	if n <= 0 {
		return
	}
	start := now.Truncate(UsageBucket)
	if k := len(r.buckets); k > 0 && r.buckets[k-1].start.Equal(start) {
		r.buckets[k-1].n += n
	} else {
		r.buckets = append(r.buckets, usageMinute{start: start, n: n})
	}
	r.prune(now, keep)
}

// total is the count of the window ending at now.
func (r *rollingCount) total(now time.Time, window time.Duration) int64 {
	var sum int64
	for _, b := range r.buckets {
		if now.Sub(b.start) < window {
			sum += b.n
		}
	}
	return sum
}

func (r *rollingCount) prune(now time.Time, keep time.Duration) {
	drop := 0
	for drop < len(r.buckets) && now.Sub(r.buckets[drop].start) >= keep {
		drop++
	}
	if drop > 0 {
		r.buckets = append(r.buckets[:0], r.buckets[drop:]...)
	}
}

// monthCount counts within one calendar month (UTC); the first count of a new month starts from zero.
type monthCount struct {
	month time.Time // first instant of the counted month
	n     int64
}

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func (m *monthCount) add(now time.Time, n int64) {
	if month := monthOf(now); !month.Equal(m.month) {
		m.month, m.n = month, 0
	}
	m.n += n
}

func (m *monthCount) total(now time.Time) int64 {
	if !monthOf(now).Equal(m.month) {
		return 0
	}
	return m.n
}

// CountDelivered counts n events of an allocation delivered to a CometD or Pub/Sub client.
func (s *Usage) CountDelivered(a Allocation, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.used.delivered[a].add(now, int64(n), dailyWindow)
	if a == PlatformEvents {
		s.used.monthly.add(now, int64(n))
	}
}

// CountPublished counts n platform events published through REST or Pub/Sub.
func (s *Usage) CountPublished(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used.published.add(s.clock.Now(), int64(n), hourlyWindow)
}

// deliveredLocked is an Allocation's usage over the last 24 hours.
func (s *Usage) deliveredLocked(a Allocation) int64 {
	return s.used.delivered[a].total(s.clock.Now(), dailyWindow)
}

// limitLocked returns an Allocation's Max and whether it is enforced.
func (s *Usage) limitLocked(a Allocation) (max int64, enforced bool) {
	configured, def := s.cfg.DailyDelivery, int64(DefaultDailyDeliveryMax)
	if a == DurableStreaming {
		configured, def = s.cfg.DailyStreaming, DefaultDailyStreamingMax
	}
	if configured > 0 {
		return configured, true
	}
	return def, false
}

// remainingLocked is an Allocation's Remaining: 0 under the daily_limit fault, never below 0.
func (s *Usage) remainingLocked(a Allocation) int64 {
	max, _ := s.limitLocked(a)
	if s.faults.DailyLimit() {
		return 0
	}
	return max - min(s.deliveredLocked(a), max)
}

// DailyLimitReached reports whether deliveries are refused: the daily_limit fault, or an enforced allocation used
// up.
func (s *Usage) DailyLimitReached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.DailyLimit() {
		return true
	}
	for a := range allocationCount {
		if max, enforced := s.limitLocked(a); enforced && s.deliveredLocked(a) >= max {
			return true
		}
	}
	return false
}

// JSON is the limits resource, keys in Salesforce's alphabetical order; clients is the concurrent CometD
// clients now (StreamingApiConcurrentClients).
func (s *Usage) JSON(clients int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	entry := func(limit, used int64) []byte {
		return jsonw.NewChain(nil).Raw("Max", strconv.AppendInt(nil, limit, 10)).
			Raw("Remaining", strconv.AppendInt(nil, limit-min(max(used, 0), limit), 10)).Done()
	}
	delivery := func(a Allocation) []byte {
		limit, _ := s.limitLocked(a)
		return entry(limit, limit-s.remainingLocked(a))
	}
	monthly := s.used.monthly.total(now)
	if s.faults.DailyLimit() {
		monthly = DefaultMonthlyEntitlementMax
	}
	return jsonw.NewChain(nil).
		Raw("DailyApiRequests", entry(s.apiRequestMaxLocked(), s.used.apiRequests.total(now, dailyWindow))).
		Raw("DailyBulkV2QueryJobs", entry(DefaultDailyBulkV2QueryMax, s.used.bulkQueries.total(now, dailyWindow))).
		Raw("DailyDeliveredPlatformEvents", delivery(PlatformEvents)).
		Raw("DailyDurableStreamingApiEvents", delivery(DurableStreaming)).
		Raw("DailyStreamingApiEvents", entry(DefaultLegacyStreamingMax, 0)).
		Raw("HourlyPublishedPlatformEvents", entry(DefaultHourlyPublishedMax, s.used.published.total(now, hourlyWindow))).
		Raw("MonthlyPlatformEventsUsageEntitlement", entry(DefaultMonthlyEntitlementMax, monthly)).
		Raw("StreamingApiConcurrentClients", entry(int64(s.cfg.MaxClients), int64(clients))).
		Done()
}

// apiRequestMaxLocked is DailyApiRequests' Max: the enforced limit, or Salesforce's default.
func (s *Usage) apiRequestMaxLocked() int64 {
	if s.cfg.DailyAPIRequests > 0 {
		return s.cfg.DailyAPIRequests
	}
	return DefaultDailyAPIRequestsMax
}

// AdmitAPIRequest counts an authenticated REST call (the Versions resource, which needs no session, does not
// count, as in Salesforce) unless an enforced DailyAPIRequests is used up; it returns the usage after the call
// and the Max, for Sforce-Limit-Info.
func (s *Usage) AdmitAPIRequest() (used, limit int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	used, limit = s.used.apiRequests.total(now, dailyWindow), s.apiRequestMaxLocked()
	if s.cfg.DailyAPIRequests > 0 && used >= limit {
		return used, limit, false
	}
	s.used.apiRequests.add(now, 1, dailyWindow)
	return used + 1, limit, true
}

// CountBulkQueryJob counts a created Bulk API 2.0 query job (DailyBulkV2QueryJobs).
func (s *Usage) CountBulkQueryJob() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used.bulkQueries.add(s.clock.Now(), 1, dailyWindow)
}
