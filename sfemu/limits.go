package sfemu

import (
	"strconv"
	"time"
)

// The org's allocations, as the REST limits resource reports them. The emulator counts what it really does:
// events it delivers to CometD and Pub/Sub clients, platform events published through REST and Pub/Sub, and
// authenticated REST requests. Like Salesforce, a Daily* allocation counts the last 24 hours (a rolling window:
// usage falls as the events of 24 hours ago drop out, there is no reset at midnight), an Hourly* one the last
// hour, and the monthly entitlement the current calendar month (UTC). Windows read the emulator's clock, so a
// FakeClock moves them. When an enforced delivery allocation (Config.DailyDeliveryLimit, DailyStreamingLimit) is
// used up, or the daily_limit fault is injected, connects and subscribes fail with Salesforce's daily-limit
// error. docs/emulator.md describes each entry.

// allocation is one daily delivery allocation.
type allocation int

const (
	// allocPlatformEvents counts platform event and change event deliveries to CometD and Pub/Sub clients.
	allocPlatformEvents allocation = iota
	// allocDurableStreaming counts PushTopic and generic event deliveries.
	allocDurableStreaming
	allocationCount
)

// Salesforce's default Max of each allocation (Performance and Unlimited editions unless noted).
const (
	defaultDailyDeliveryMax  = 50_000
	defaultDailyStreamingMax = 1_000_000
	// DailyStreamingApiEvents counts deliveries over API versions below 37.0, which the emulator does not serve.
	defaultLegacyStreamingMax = 1_000_000
	defaultHourlyPublishedMax = 250_000
	// One platform event add-on's monthly entitlement (100,000 deliveries a day, 3 million a month).
	defaultMonthlyEntitlementMax = 3_000_000
	// A Developer Edition org's API requests per 24 hours.
	defaultDailyAPIRequestsMax = 15_000
	defaultDailyBulkV2QueryMax = 10_000
)

const (
	dailyWindow  = 24 * time.Hour
	hourlyWindow = time.Hour
	// usageBucket is the resolution of the rolling windows: usage leaves a window within this long after it
	// left it exactly.
	usageBucket = time.Minute
)

// orgUsage is what counts against the allocations. Guarded by Server.mu.
type orgUsage struct {
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
	start time.Time // truncated to usageBucket
	n     int64
}

// add counts n at now and forgets buckets older than keep.
func (r *rollingCount) add(now time.Time, n int64, keep time.Duration) {
	if n <= 0 {
		return
	}
	start := now.Truncate(usageBucket)
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

func allocationOf(k Kind) allocation {
	if k == KindPlatformEvent || k == KindCDC {
		return allocPlatformEvents
	}
	return allocDurableStreaming
}

// countDeliveredLocked counts n events of kind delivered to a CometD or Pub/Sub client.
func (s *Server) countDeliveredLocked(k Kind, n int) {
	now := s.clock.Now()
	a := allocationOf(k)
	s.orgLimits.delivered[a].add(now, int64(n), dailyWindow)
	if a == allocPlatformEvents {
		s.orgLimits.monthly.add(now, int64(n))
	}
}

// countPublished counts n platform events published through REST or Pub/Sub.
func (s *Server) countPublished(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgLimits.published.add(s.clock.Now(), int64(n), hourlyWindow)
}

// countAPIRequest counts one authenticated REST request (the Versions resource, which needs no session, does not
// count, as in Salesforce).
func (s *Server) countAPIRequest() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgLimits.apiRequests.add(s.clock.Now(), 1, dailyWindow)
}

// deliveredLocked is an allocation's usage over the last 24 hours.
func (s *Server) deliveredLocked(a allocation) int64 {
	return s.orgLimits.delivered[a].total(s.clock.Now(), dailyWindow)
}

// limitLocked returns an allocation's Max and whether it is enforced.
func (s *Server) limitLocked(a allocation) (max int64, enforced bool) {
	configured, def := s.cfg.DailyDeliveryLimit, int64(defaultDailyDeliveryMax)
	if a == allocDurableStreaming {
		configured, def = s.cfg.DailyStreamingLimit, defaultDailyStreamingMax
	}
	if configured > 0 {
		return configured, true
	}
	return def, false
}

// remainingLocked is an allocation's Remaining: 0 under the daily_limit fault, never below 0.
func (s *Server) remainingLocked(a allocation) int64 {
	max, _ := s.limitLocked(a)
	if s.faults.DailyLimit() {
		return 0
	}
	return max - min(s.deliveredLocked(a), max)
}

// dailyLimitLocked reports whether deliveries are refused: the daily_limit fault, or an enforced allocation used
// up.
func (s *Server) dailyLimitLocked() bool {
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

// limitsJSON is the limits resource, keys in Salesforce's alphabetical order.
func (s *Server) limitsJSON() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	entry := func(limit, used int64) []byte {
		return newObj(nil).raw("Max", strconv.AppendInt(nil, limit, 10)).
			raw("Remaining", strconv.AppendInt(nil, limit-min(max(used, 0), limit), 10)).done()
	}
	delivery := func(a allocation) []byte {
		limit, _ := s.limitLocked(a)
		return entry(limit, limit-s.remainingLocked(a))
	}
	monthly := s.orgLimits.monthly.total(now)
	if s.faults.DailyLimit() {
		monthly = defaultMonthlyEntitlementMax
	}
	return newObj(nil).
		raw("DailyApiRequests", entry(s.apiRequestMaxLocked(), s.orgLimits.apiRequests.total(now, dailyWindow))).
		raw("DailyBulkV2QueryJobs", entry(defaultDailyBulkV2QueryMax, s.orgLimits.bulkQueries.total(now, dailyWindow))).
		raw("DailyDeliveredPlatformEvents", delivery(allocPlatformEvents)).
		raw("DailyDurableStreamingApiEvents", delivery(allocDurableStreaming)).
		raw("DailyStreamingApiEvents", entry(defaultLegacyStreamingMax, 0)).
		raw("HourlyPublishedPlatformEvents", entry(defaultHourlyPublishedMax, s.orgLimits.published.total(now, hourlyWindow))).
		raw("MonthlyPlatformEventsUsageEntitlement", entry(defaultMonthlyEntitlementMax, monthly)).
		raw("StreamingApiConcurrentClients", entry(int64(s.cfg.MaxClients), int64(len(s.clients)))).
		done()
}
