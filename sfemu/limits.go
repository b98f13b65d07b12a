package sfemu

import "strconv"

// Daily event delivery allocations, as the REST limits resource reports them. The emulator counts what it
// delivers; when an allocation is enforced (Config.DailyDeliveryLimit, DailyStreamingLimit) and used up, or the
// daily_limit fault is injected, connects and subscribes fail with Salesforce's daily-limit error.

// allocation is one daily delivery allocation.
type allocation int

const (
	// allocPlatformEvents counts platform event and change event deliveries to CometD clients.
	allocPlatformEvents allocation = iota
	// allocDurableStreaming counts PushTopic and generic event deliveries.
	allocDurableStreaming
	allocationCount
)

// Salesforce's default Max of each allocation (Performance and Unlimited editions).
const (
	defaultDailyBulkV2QueryJobs = 10_000
	defaultDailyDeliveryMax     = 50_000
	defaultDailyStreamingMax    = 1_000_000
)

func allocationOf(k Kind) allocation {
	if k == KindPlatformEvent || k == KindCDC {
		return allocPlatformEvents
	}
	return allocDurableStreaming
}

// limitLocked returns an allocation's Max and whether it is enforced.
func (s *restHandler) limitLocked(a allocation) (max int64, enforced bool) {
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
func (s *restHandler) remainingLocked(a allocation) int64 {
	max, _ := s.limitLocked(a)
	if s.faults.DailyLimit {
		return 0
	}
	return max - min(s.delivered[a], max)
}

// dailyLimitLocked reports whether deliveries are refused: the daily_limit fault, or an enforced allocation used
// up.
func (s *restHandler) dailyLimitLocked() bool {
	if s.faults.DailyLimit {
		return true
	}
	for a := range allocationCount {
		if max, enforced := s.limitLocked(a); enforced && s.delivered[a] >= max {
			return true
		}
	}
	return false
}

// limitsJSON is the limits resource, keys in Salesforce's alphabetical order.
func (s *restHandler) limitsJSON() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	entry := func(a allocation) []byte {
		max, _ := s.limitLocked(a)
		return newObj(nil).raw("Max", strconv.AppendInt(nil, max, 10)).raw("Remaining", strconv.AppendInt(nil, s.remainingLocked(a), 10)).done()
	}
	bulkJobs, apiCalls := s.counters.bulkQueryJobs.Load(), s.counters.apiRequests.Load()
	return newObj(nil).
		raw("DailyApiRequests", newObj(nil).raw("Max", strconv.AppendInt(nil, s.apiRequestMax(), 10)).
			raw("Remaining", strconv.AppendInt(nil, max(0, s.apiRequestMax()-apiCalls), 10)).done()).
		raw("DailyBulkV2QueryJobs", newObj(nil).raw("Max", strconv.AppendInt(nil, defaultDailyBulkV2QueryJobs, 10)).
			raw("Remaining", strconv.AppendInt(nil, max(0, defaultDailyBulkV2QueryJobs-bulkJobs), 10)).done()).
		raw("DailyDeliveredPlatformEvents", entry(allocPlatformEvents)).
		raw("DailyDurableStreamingApiEvents", entry(allocDurableStreaming)).done()
}

// countBulkQueryJob counts a created Bulk API 2.0 query job (DailyBulkV2QueryJobs).
func (s *Server) countBulkQueryJob() { s.counters.bulkQueryJobs.Add(1) }

// defaultDailyAPIRequests is a Developer Edition org's API requests per 24 hours.
const defaultDailyAPIRequests = 15_000

// apiRequestMax is DailyApiRequests' Max: the enforced limit, or Salesforce's default.
func (s *Server) apiRequestMax() int64 {
	if s.cfg.DailyAPIRequestLimit > 0 {
		return s.cfg.DailyAPIRequestLimit
	}
	return defaultDailyAPIRequests
}
