package input

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/orgapi"
)

// scriptedLimits answers each read with the next entry of its script (the
// last one repeats).
type scriptedLimits struct {
	mu     sync.Mutex
	script []limitsRead
	reads  int
}

type limitsRead struct {
	limits map[string]orgapi.Limit
	err    error
}

func (s *scriptedLimits) Limits(context.Context) (map[string]orgapi.Limit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.script[min(s.reads, len(s.script)-1)]
	s.reads++
	return r.limits, r.err
}

func (s *scriptedLimits) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// jsonLogLines decodes the lines a JSON slog handler wrote.
func jsonLogLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		lines = append(lines, m)
	}
	return lines
}

func jsonLogger(buf *syncBuffer) *service.Logger {
	return service.NewLoggerFromSlog(slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// TestLimitsPoller: the watched limits become gauges (others do not), a
// limit under 10% is warned about once until it recovers, and failed reads
// are logged once per streak (then rate-limited), redacted by orgapi, with
// no other effect.
func TestLimitsPoller(t *testing.T) {
	h := newHarness(t, t.TempDir(), "http://127.0.0.1:1", "channels: [ /event/A__e ]\n")
	delivered := func(remaining int64) limitsRead {
		return limitsRead{limits: map[string]orgapi.Limit{
			"DailyDeliveredPlatformEvents":          {Max: 50000, Remaining: remaining},
			"MonthlyPlatformEventsUsageEntitlement": {Max: 0, Remaining: 0},
			"DailyApiRequests":                      {Max: 15000, Remaining: 14000},
			"PermissionSets":                        {Max: 1500, Remaining: 1400},
		}}
	}
	reader := &scriptedLimits{}
	var buf syncBuffer
	p := newLimitsPoller(reader, time.Minute, jsonLogger(&buf), h.res.Metrics())

	steps := []struct {
		read              limitsRead
		remaining         int64 // DailyDeliveredPlatformEvents after the step
		warns, infos      int   // lines the step adds
		warnText, infoTxt string
	}{
		{read: delivered(50000), remaining: 50000},
		{read: delivered(4999), remaining: 4999, warns: 1, warnText: "DailyDeliveredPlatformEvents is under 10%: 4999 of 50000 remaining"},
		{read: delivered(3000), remaining: 3000},
		{read: limitsRead{err: errors.New("reading the org limits: Salesforce answered 503")}, remaining: 3000, warns: 1, warnText: "Reading the org limits failed (1 in a row"},
		{read: limitsRead{err: errors.New("reading the org limits: Salesforce answered 503")}, remaining: 3000},
		{read: delivered(5000), remaining: 5000, infos: 2, infoTxt: "is above 10% again: 5000 of 50000"},
		{read: delivered(10), remaining: 10, warns: 1, warnText: "under 10%: 10 of 50000"},
	}
	for k, step := range steps {
		before := jsonLogLines(t, buf.String())
		reader.mu.Lock()
		reader.script = []limitsRead{step.read}
		reader.mu.Unlock()
		p.poll(t.Context())
		assert.Equal(t, step.remaining, h.metrics.get(metricOrgLimitRemaining, "DailyDeliveredPlatformEvents"), "step %d", k)
		assert.Equal(t, int64(50000), h.metrics.get(metricOrgLimitMax, "DailyDeliveredPlatformEvents"), "step %d", k)

		added := jsonLogLines(t, buf.String())[len(before):]
		var warns, infos []string
		for _, l := range added {
			msg, _ := l["msg"].(string)
			switch l["level"] {
			case "WARN":
				warns = append(warns, msg)
				if strings.Contains(msg, "under") {
					assert.Equal(t, "DailyDeliveredPlatformEvents", l["limit"], "the low-limit line names it as a field")
				}
			case "INFO":
				infos = append(infos, msg)
			}
		}
		assert.Len(t, warns, step.warns, "step %d: %q", k, warns)
		assert.Len(t, infos, step.infos, "step %d: %q", k, infos)
		if step.warnText != "" && len(warns) > 0 {
			assert.Contains(t, warns[0], step.warnText, "step %d", k)
		}
		if step.infoTxt != "" {
			assert.Contains(t, strings.Join(infos, "\n"), step.infoTxt, "step %d", k)
		}
	}
	assert.Equal(t, int64(14000), h.metrics.get(metricOrgLimitRemaining, "DailyApiRequests"))
	assert.Equal(t, int64(0), h.metrics.get(metricOrgLimitMax, "MonthlyPlatformEventsUsageEntitlement"))
	h.metrics.mu.Lock()
	for key := range h.metrics.values {
		assert.NotContains(t, key, "PermissionSets", "only the watched limits become series")
	}
	h.metrics.mu.Unlock()
}

// TestLimitsPollerLifecycle: start reads at once and then every interval;
// stop ends the goroutine, is idempotent, and no start follows it.
func TestLimitsPollerLifecycle(t *testing.T) {
	h := newHarness(t, t.TempDir(), "http://127.0.0.1:1", "channels: [ /event/A__e ]\n")
	reader := &scriptedLimits{script: []limitsRead{{limits: map[string]orgapi.Limit{"DailyApiRequests": {Max: 10, Remaining: 9}}}}}
	var buf syncBuffer
	p := newLimitsPoller(reader, 10*time.Millisecond, jsonLogger(&buf), h.res.Metrics())
	p.stop() // before start: nothing to wait for
	p = newLimitsPoller(reader, 10*time.Millisecond, jsonLogger(&buf), h.res.Metrics())
	p.start()
	p.start()
	require.Eventually(t, func() bool { return reader.count() >= 3 }, waitTimeout, 5*time.Millisecond)
	p.stop()
	p.stop()
	n := reader.count()
	p.start()
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, n, reader.count(), "no read after stop")
	assert.Equal(t, int64(9), h.metrics.get(metricOrgLimitRemaining, "DailyApiRequests"))
}

// TestLimitsIntervalField: the default, 0 (off) and the floor.
func TestLimitsIntervalField(t *testing.T) {
	in, err := newTestInput(t, agreementBase)
	require.NoError(t, err)
	assert.Equal(t, defaultLimitsInterval, in.conf.LimitsInterval)
	require.NotNil(t, in.limits)

	in, err = newTestInput(t, agreementBase+"limits_interval: 0s\n")
	require.NoError(t, err)
	assert.Zero(t, in.conf.LimitsInterval)
	assert.Nil(t, in.limits, "0 turns the reads off")
	assert.Empty(t, lintInput(t, agreementBase+"limits_interval: 0s\n"))

	in, err = newTestInput(t, agreementBase+"limits_interval: 1s\n")
	require.NoError(t, err)
	assert.Equal(t, time.Second, in.conf.LimitsInterval)
	assert.Empty(t, lintInput(t, agreementBase+"limits_interval: 1s\n"))
}
