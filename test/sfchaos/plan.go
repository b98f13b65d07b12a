package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// Fault names of the emulator's control API (docs/emulator.md, "Faults"):
// the soak injects every one of them.
var faultKinds = []string{
	"unknown_client", "revoke_tokens", "server_busy", "server_disconnect", "drop_connection",
	"http_error", "malformed_response", "slow_response", "daily_limit",
}

// faultClear ends a daily_limit (and drops counted faults not consumed yet).
const faultClear = "clear"

// actionKind says what an action of the plan does.
type actionKind int

const (
	actFault       actionKind = iota // POST /emulator/faults
	actClear                         // POST /emulator/faults clear: the end of a daily_limit
	actKill                          // kill -9 bin/benthos
	actStop                          // SIGINT bin/benthos (a graceful restart)
	actStart                         // start bin/benthos again after a kill or stop
	actOutageStart                   // the sink answers 503 from now on
	actOutageEnd                     // the sink accepts again
	actRedisDown                     // redis-server SHUTDOWN SAVE
	actRedisUp                       // redis-server again on the same address
)

func (k actionKind) String() string {
	switch k {
	case actFault:
		return "fault"
	case actClear:
		return "clear"
	case actKill:
		return "kill -9"
	case actStop:
		return "graceful stop"
	case actStart:
		return "start benthos"
	case actOutageStart:
		return "output outage start"
	case actOutageEnd:
		return "output outage end"
	case actRedisDown:
		return "redis down"
	case actRedisUp:
		return "redis up"
	}
	return fmt.Sprintf("action(%d)", int(k))
}

// action is one step of the plan, at an offset from the start of the chaos.
type action struct {
	At    time.Duration
	Kind  actionKind
	Fault harness.FaultRequest // actFault, actClear
}

func (a action) String() string {
	if a.Kind == actFault {
		s := a.Fault.Fault
		if a.Fault.Count > 0 {
			s += fmt.Sprintf(" count=%d", a.Fault.Count)
		}
		if a.Fault.Status > 0 {
			s += fmt.Sprintf(" status=%d", a.Fault.Status)
		}
		if a.Fault.Delay != "" {
			s += " delay=" + a.Fault.Delay
		}
		return fmt.Sprintf("%8.3fs fault %s", a.At.Seconds(), s)
	}
	return fmt.Sprintf("%8.3fs %s", a.At.Seconds(), a.Kind)
}

// planConfig shapes the plan. Every "every" is a mean interval; the counts it
// gives are raised to the minimums, so that a plan run to its end meets them.
type planConfig struct {
	Duration     time.Duration // chaos phase, from the first subscription to the drain
	Warmup       time.Duration // calm start: the first run subscribes and delivers
	FaultEvery   time.Duration
	RestartEvery time.Duration
	OutageEvery  time.Duration
	MinFaults    int
	MinRestarts  int
}

// Bounds of the random parts of the plan. Short, so that the input (with its
// short backoff) recovers in seconds and the faults keep coming.
const (
	maxFaultCount    = 2                       // counted faults: 1..2 answers
	slowDelayMin     = 500 * time.Millisecond  // slow_response delay
	slowDelayMax     = 3 * time.Second         //
	dailyLimitMin    = 2 * time.Second         // daily_limit lasts until its clear
	dailyLimitMax    = 5 * time.Second         //
	restartDownMax   = 1500 * time.Millisecond // benthos down between kill/stop and start
	gracefulShare    = 4                       // one restart in this many is graceful (SIGINT)
	outageMin        = 3 * time.Second         // the sink answers 503
	outageMax        = 8 * time.Second         //
	redisDownMin     = 2 * time.Second         // redis-server down
	redisDownMax     = 4 * time.Second         //
	slotJitterMargin = 0.1                     // events sit in [10%, 90%] of their slot
)

var httpErrorStatuses = []int{500, 502, 503, 504}

// newPlan draws the whole plan from the seed, so that a failing run can be
// replayed with the same faults at the same offsets (the timing of the
// processes around them is not replayable). It is sorted by offset.
func newPlan(seed uint64, cfg planConfig) []action {
	rng := rand.New(rand.NewPCG(seed, seed^0x5f3759df))
	window := cfg.Duration - cfg.Warmup
	if window <= 0 {
		return nil
	}
	uniform := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	var plan []action

	// Faults: every kind once per shuffled cycle, so that each kind shows up
	// in short runs too.
	nFaults := countFor(window, cfg.FaultEvery, cfg.MinFaults)
	var cycle []string
	for _, at := range slotTimes(rng, cfg.Warmup, window, nFaults) {
		if len(cycle) == 0 {
			cycle = slices.Clone(faultKinds)
			rng.Shuffle(len(cycle), func(i, j int) { cycle[i], cycle[j] = cycle[j], cycle[i] })
		}
		kind := cycle[0]
		cycle = cycle[1:]
		req := harness.FaultRequest{Fault: kind}
		switch kind {
		case "server_busy", "server_disconnect", "drop_connection", "malformed_response":
			req.Count = 1 + rng.IntN(maxFaultCount)
		case "http_error":
			req.Count = 1 + rng.IntN(maxFaultCount)
			req.Status = httpErrorStatuses[rng.IntN(len(httpErrorStatuses))]
		case "slow_response":
			req.Count = 1 + rng.IntN(2)
			req.Delay = uniform(slowDelayMin, slowDelayMax).Round(10 * time.Millisecond).String()
		}
		plan = append(plan, action{At: at, Kind: actFault, Fault: req})
		if kind == "daily_limit" {
			plan = append(plan, action{At: at + uniform(dailyLimitMin, dailyLimitMax), Kind: actClear, Fault: harness.FaultRequest{Fault: faultClear}})
		}
	}

	// Restarts of bin/benthos: mostly kill -9, some graceful.
	nRestarts := countFor(window, cfg.RestartEvery, cfg.MinRestarts)
	for _, at := range slotTimes(rng, cfg.Warmup, window, nRestarts) {
		kind := actKill
		if rng.IntN(gracefulShare) == 0 {
			kind = actStop
		}
		plan = append(plan, action{At: at, Kind: kind}, action{At: at + uniform(0, restartDownMax), Kind: actStart})
	}

	// Output outages.
	nOutages := countFor(window, cfg.OutageEvery, 1)
	for _, at := range slotTimes(rng, cfg.Warmup, window, nOutages) {
		plan = append(plan, action{At: at, Kind: actOutageStart}, action{At: at + uniform(outageMin, outageMax), Kind: actOutageEnd})
	}

	// One redis-server restart, in the middle third.
	at := cfg.Warmup + window/3 + uniform(0, window/3)
	plan = append(plan, action{At: at, Kind: actRedisDown}, action{At: at + uniform(redisDownMin, redisDownMax), Kind: actRedisUp})

	slices.SortStableFunc(plan, func(a, b action) int { return int(a.At - b.At) })
	return plan
}

// countFor returns how many events of mean interval every fit in window,
// at least minimum.
func countFor(window, every time.Duration, minimum int) int {
	n := 0
	if every > 0 {
		n = int(math.Round(float64(window) / float64(every)))
	}
	return max(n, minimum)
}

// slotTimes spreads n events over [start, start+window): one per equal slot,
// at a random point of its middle, so that events neither bunch up nor keep a
// fixed rhythm.
func slotTimes(rng *rand.Rand, start, window time.Duration, n int) []time.Duration {
	if n <= 0 {
		return nil
	}
	slot := float64(window) / float64(n)
	out := make([]time.Duration, n)
	for i := range out {
		pos := slotJitterMargin + rng.Float64()*(1-2*slotJitterMargin)
		out[i] = start + time.Duration(slot*(float64(i)+pos))
	}
	return out
}

// planCounts returns what a plan injects: faults per kind, restarts (kill -9
// and graceful), outages and redis restarts.
type planCounts struct {
	Faults      map[string]int
	Kills       int
	Graceful    int
	Outages     int
	RedisDowns  int
	TotalFaults int
}

func countPlan(plan []action) planCounts {
	c := planCounts{Faults: map[string]int{}}
	for _, a := range plan {
		switch a.Kind {
		case actFault:
			c.Faults[a.Fault.Fault]++
			c.TotalFaults++
		case actKill:
			c.Kills++
		case actStop:
			c.Graceful++
		case actOutageStart:
			c.Outages++
		case actRedisDown:
			c.RedisDowns++
		}
	}
	return c
}
