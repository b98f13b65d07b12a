package main

import (
	"math"
	"slices"
	"sort"
	"time"
)

// incident is a moment the soak disturbed the pipeline, from which recovery
// is measured: the injection of a counted or instantaneous fault, the clear
// that ends a daily_limit, a kill -9 or graceful stop, the end of an output
// outage, redis-server back up.
type incident struct {
	Kind string
	At   time.Time
}

// pubTimes holds, per channel, the replay ids the soak published with the
// time each publish started, in publish (= replay) order.
type pubTimes map[string][]pubEntry

type pubEntry struct {
	ID int64
	At time.Time
}

// recovery is the outcome of one incident: how long until the first record
// of an event published at or after it reached the sink.
type recovery struct {
	incident
	After     time.Duration
	Recovered bool
	// Measurable is false when nothing was published after the incident (it
	// came as publishing stopped): there is nothing to recover with.
	Measurable bool
}

// measureRecoveries computes each incident's time to recover: from the
// incident to the first delivery of an event published at or after it, on
// any channel. Events published before the incident do not count, as they
// may have been in flight already. deliveries must be in delivery order.
func measureRecoveries(incidents []incident, pubs pubTimes, deliveries []delivery) []recovery {
	byChannel := map[string][]delivery{}
	for _, d := range deliveries {
		byChannel[d.Channel] = append(byChannel[d.Channel], d)
	}
	out := make([]recovery, 0, len(incidents))
	for _, inc := range incidents {
		r := recovery{incident: inc}
		for ch, ps := range pubs {
			// The first event of ch published at or after the incident.
			i := sort.Search(len(ps), func(i int) bool { return !ps[i].At.Before(inc.At) })
			if i == len(ps) {
				continue
			}
			r.Measurable = true
			firstID := ps[i].ID
			ds := byChannel[ch]
			j := sort.Search(len(ds), func(j int) bool { return !ds[j].At.Before(inc.At) })
			for ; j < len(ds); j++ {
				if r.Recovered && ds[j].At.Sub(inc.At) >= r.After {
					break // no earlier than what another channel gave
				}
				if ds[j].ReplayID >= firstID {
					r.After, r.Recovered = ds[j].At.Sub(inc.At), true
					break
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// recoveryStats sums up the recoveries of one kind (or of all, kind "all").
type recoveryStats struct {
	Kind      string
	Count     int // incidents
	Recovered int // incidents followed by a delivery
	P50, Max  time.Duration
}

// summarizeRecoveries returns the stats per kind, sorted by kind, and over
// all incidents, leaving out those that are not measurable.
func summarizeRecoveries(rs []recovery) (perKind []recoveryStats, all recoveryStats) {
	times := map[string][]time.Duration{}
	counts := map[string]int{}
	var allTimes []time.Duration
	n := 0
	for _, r := range rs {
		if !r.Measurable {
			continue
		}
		n++
		counts[r.Kind]++
		if r.Recovered {
			times[r.Kind] = append(times[r.Kind], r.After)
			allTimes = append(allTimes, r.After)
		}
	}
	for kind, n := range counts {
		perKind = append(perKind, stats(kind, n, times[kind]))
	}
	slices.SortFunc(perKind, func(a, b recoveryStats) int {
		if a.Kind < b.Kind {
			return -1
		}
		if a.Kind > b.Kind {
			return 1
		}
		return 0
	})
	return perKind, stats("all", n, allTimes)
}

func stats(kind string, n int, ds []time.Duration) recoveryStats {
	s := recoveryStats{Kind: kind, Count: n, Recovered: len(ds)}
	if len(ds) == 0 {
		return s
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	s.P50 = percentile(sorted, 50)
	s.Max = sorted[len(sorted)-1]
	return s
}

// percentile returns the nearest-rank p-th percentile of sorted durations
// (p in (0, 100]); 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(sorted)) * p / 100))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
