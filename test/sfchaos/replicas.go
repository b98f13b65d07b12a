package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
)

// The soak runs two replicas of bin/benthos on the same checkpoint key, as a
// Deployment with two pods does: the input's lease lets one consume while
// the other stands by. Kills and graceful stops hit the lease holder, so
// every one of them is a takeover; a restart starts whichever replica is
// down. The replica's runs are numbered from replicaRunBase+1, so that the
// sink's per-run order checks keep the two apart.
const (
	replicaRunBase = 1000
	// leaseTTL is the lease's ttl in the soak (15 s by default): a takeover
	// after a kill -9 takes up to about this long.
	leaseTTL = 5 * time.Second
)

// newReplica returns the second runner: same pipeline, its own run numbers
// and run plans.
func newReplica(first *benthosRunner, config func(runPlan) (string, error), seed uint64) *benthosRunner {
	return &benthosRunner{
		dir: first.dir, resources: first.resources, planner: newRunPlanner(seed + 1),
		config: config, started: first.started, run: replicaRunBase,
	}
}

// holder returns the replica that holds the lease, read from redis; the
// first replica when the lease cannot be read or names neither.
func (s *soak) holder(ctx context.Context) *benthosRunner {
	if !s.redisUp {
		return s.benthos
	}
	raw, ok, err := s.redis.Get(ctx, checkpointfmt.LeaseKey(checkpointKey))
	if err != nil || !ok {
		return s.benthos
	}
	l, err := checkpointfmt.ParseLease([]byte(raw))
	if err != nil {
		return s.benthos
	}
	for _, b := range []*benthosRunner{s.benthos, s.replica} {
		if b.running() && strings.Contains(l.Holder, fmt.Sprintf("/%d/", b.proc.PID())) {
			return b
		}
	}
	return s.benthos
}

// finalStopOrder stops the standby first, so that the last graceful stop
// is the holder's and no takeover happens in between.
func (s *soak) finalStopOrder(ctx context.Context) []*benthosRunner {
	if s.holder(ctx) == s.replica {
		return []*benthosRunner{s.benthos, s.replica}
	}
	return []*benthosRunner{s.replica, s.benthos}
}
