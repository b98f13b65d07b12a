package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanIsReplayableFromItsSeed(t *testing.T) {
	cfg := planConfig{Duration: 2 * time.Minute, Warmup: 3 * time.Second, FaultEvery: 1500 * time.Millisecond,
		RestartEvery: 15 * time.Second, OutageEvery: 40 * time.Second, MinFaults: 50, MinRestarts: 5}
	assert.Equal(t, newPlan(42, cfg), newPlan(42, cfg), "the same seed gives the same plan")
	assert.NotEqual(t, newPlan(42, cfg), newPlan(43, cfg), "another seed gives another plan")
}

func TestPlanMeetsMinimumsAndPairsItsActions(t *testing.T) {
	tests := []struct {
		name                 string
		cfg                  planConfig
		wantFaults           int
		wantRestarts         int
		wantOutagesAtLeast   int
		wantEveryKindAtLeast int
	}{
		{
			name: "short run of make test",
			cfg: planConfig{Duration: 2 * time.Minute, Warmup: 3 * time.Second, FaultEvery: 1500 * time.Millisecond,
				RestartEvery: 15 * time.Second, OutageEvery: 40 * time.Second, MinFaults: 50, MinRestarts: 5},
			wantFaults: 78, wantRestarts: 8, wantOutagesAtLeast: 3, wantEveryKindAtLeast: 8,
		},
		{
			name: "long run",
			cfg: planConfig{Duration: 35 * time.Minute, Warmup: 3 * time.Second, FaultEvery: 1500 * time.Millisecond,
				RestartEvery: 15 * time.Second, OutageEvery: 40 * time.Second, MinFaults: 1000, MinRestarts: 50},
			wantFaults: 1398, wantRestarts: 140, wantOutagesAtLeast: 52, wantEveryKindAtLeast: 155,
		},
		{
			name: "minimums above what the intervals give",
			cfg: planConfig{Duration: 30 * time.Second, Warmup: 3 * time.Second, FaultEvery: 10 * time.Second,
				RestartEvery: time.Minute, OutageEvery: time.Minute, MinFaults: 20, MinRestarts: 4},
			wantFaults: 20, wantRestarts: 4, wantOutagesAtLeast: 1, wantEveryKindAtLeast: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := newPlan(7, tt.cfg)
			require.NotEmpty(t, plan)
			c := countPlan(plan)
			assert.Equal(t, tt.wantFaults, c.TotalFaults)
			assert.Equal(t, tt.wantRestarts, c.Kills+c.Graceful)
			assert.Positive(t, c.Kills, "kill -9 happens")
			assert.GreaterOrEqual(t, c.Outages, tt.wantOutagesAtLeast)
			assert.Equal(t, 1, c.RedisDowns, "redis-server restarts once")
			for _, kind := range faultKinds {
				assert.GreaterOrEqual(t, c.Faults[kind], tt.wantEveryKindAtLeast, "fault %s", kind)
			}

			var pending = map[actionKind]int{}
			var last time.Duration
			for _, a := range plan {
				assert.GreaterOrEqual(t, a.At, last, "sorted by offset")
				last = a.At
				assert.GreaterOrEqual(t, a.At, tt.cfg.Warmup, "%s: nothing during the warmup", a)
				switch a.Kind {
				case actFault:
					if a.Fault.Fault == "daily_limit" {
						pending[actClear]++
					}
				case actClear:
					pending[actClear]--
				case actKill, actStop:
					assert.Zero(t, pending[actStart], "%s: benthos is up before the next restart", a)
					pending[actStart]++
				case actStart:
					pending[actStart]--
				case actOutageStart:
					pending[actOutageEnd]++
				case actOutageEnd:
					pending[actOutageEnd]--
				case actRedisDown:
					pending[actRedisUp]++
				case actRedisUp:
					pending[actRedisUp]--
				}
			}
			for kind, n := range pending {
				assert.Zero(t, n, "every disturbance ends: %s", kind)
			}
			assert.Less(t, last, tt.cfg.Duration+outageMax, "follow-ups end soon after the duration")
		})
	}
}

func TestPlanFaultParametersStayInBounds(t *testing.T) {
	plan := newPlan(99, planConfig{Duration: 10 * time.Minute, Warmup: time.Second, FaultEvery: time.Second,
		RestartEvery: time.Minute, OutageEvery: time.Minute})
	for _, a := range plan {
		if a.Kind != actFault {
			continue
		}
		switch a.Fault.Fault {
		case "http_error":
			assert.Contains(t, httpErrorStatuses, a.Fault.Status)
			assert.True(t, a.Fault.Count >= 1 && a.Fault.Count <= maxFaultCount, "count %d", a.Fault.Count)
		case "slow_response":
			d, err := time.ParseDuration(a.Fault.Delay)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, d, slowDelayMin)
			assert.LessOrEqual(t, d, slowDelayMax)
		case "server_busy", "server_disconnect", "drop_connection", "malformed_response":
			assert.True(t, a.Fault.Count >= 1 && a.Fault.Count <= maxFaultCount, "count %d", a.Fault.Count)
		default:
			assert.Zero(t, a.Fault.Count, "%s takes no count", a.Fault.Fault)
		}
	}
}

func TestCountFor(t *testing.T) {
	tests := []struct {
		window, every time.Duration
		minimum, want int
	}{
		{2 * time.Minute, 1500 * time.Millisecond, 50, 80},
		{2 * time.Minute, 10 * time.Second, 50, 50},
		{time.Minute, 0, 3, 3},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, countFor(tt.window, tt.every, tt.minimum), "%v / %v, min %d", tt.window, tt.every, tt.minimum)
	}
}
