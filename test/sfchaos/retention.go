package main

import (
	"sort"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// retentionSample is the emulator's retention window at one moment: per
// channel, the first retained replay id (0: none retained).
type retentionSample struct {
	At    time.Time
	First map[string]int64
}

func sampleOf(st harness.State) retentionSample {
	first := make(map[string]int64, len(st.Channels))
	for ch, cs := range st.Channels {
		first[ch] = cs.FirstReplayID
	}
	return retentionSample{At: time.Now(), First: first}
}

// retainedAfterPublish reports whether the emulator still retained id of
// channel at the first sample taken after its publish: from then on a
// pipeline that kept its checkpoint could read it, so never delivering it is
// loss, even when it is no longer retained at the end. It is false when no
// sample follows the publish or the id was never published.
func retainedAfterPublish(samples []retentionSample, pubs pubTimes, channel string, id int64) bool {
	ps := pubs[channel]
	i := sort.Search(len(ps), func(i int) bool { return ps[i].ID >= id })
	if i == len(ps) || ps[i].ID != id {
		return false
	}
	at := ps[i].At
	j := sort.Search(len(samples), func(j int) bool { return !samples[j].At.Before(at) })
	if j == len(samples) {
		return false
	}
	first := samples[j].First[channel]
	return first != 0 && id >= first
}
