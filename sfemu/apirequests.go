package sfemu

// REST API usage: every authenticated REST call counts against DailyApiRequests (limits.go's rolling window),
// and with Config.DailyAPIRequestLimit a call above it is refused, as Salesforce refuses it.

// apiRequestMaxLocked is DailyApiRequests' Max: the enforced limit, or Salesforce's default.
func (s *Server) apiRequestMaxLocked() int64 {
	if s.cfg.DailyAPIRequestLimit > 0 {
		return s.cfg.DailyAPIRequestLimit
	}
	return defaultDailyAPIRequestsMax
}

// admitAPIRequest counts a REST call unless an enforced DailyAPIRequestLimit is used up; it returns the usage
// after the call and the Max, for Sforce-Limit-Info.
func (s *Server) admitAPIRequest() (used, limit int64, ok bool) {
	s.mu.Lock()
	used, limit = s.orgLimits.apiRequests.total(s.clock.Now(), dailyWindow), s.apiRequestMaxLocked()
	refused := s.cfg.DailyAPIRequestLimit > 0 && used >= limit
	s.mu.Unlock()
	if refused {
		return used, limit, false
	}
	// Concurrent calls may pass the check together and overshoot by a few, as they may on Salesforce.
	s.countAPIRequest()
	return used + 1, limit, true
}

// countBulkQueryJob counts a created Bulk API 2.0 query job (DailyBulkV2QueryJobs).
func (s *Server) countBulkQueryJob() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgLimits.bulkQueries.add(s.clock.Now(), 1, dailyWindow)
}
