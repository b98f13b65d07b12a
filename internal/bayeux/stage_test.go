package bayeux

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The decode stage completes answer k only once the loop has fetched answer k+1: fetching and decoding overlap,
// and the events still come out in order, per channel, across answers.
func TestStageOverlapsAndKeepsOrder(t *testing.T) {
	const answers, perAnswer = 30, 20
	g := startGeneric(t)
	next := map[string]int{chA: 1, chB: 1}
	for range answers {
		var msgs []string
		for i := range perAnswer {
			ch := []string{chA, chB}[i%2]
			msgs = append(msgs, event(ch, next[ch], 200))
			next[ch]++
		}
		g.raw = append(g.raw, rawAnswer{body: rawEvents(msgs...)})
	}
	h := hostileClient(t, g, Config{MaxBufferedEvents: answers * perAnswer})
	var jobs atomic.Int32
	var overlapped atomic.Int32
	h.c.stage.hook = func() {
		k := int(jobs.Add(1))
		if k >= answers {
			return
		}
		deadline := time.Now().Add(5 * time.Second)
		for g.count(func(g *genericServer) int { return g.connects }) <= k { // no signal to wait on: poll, bounded
			if time.Now().After(deadline) {
				return
			}
			time.Sleep(time.Millisecond)
		}
		overlapped.Add(1)
	}
	h.start()

	ids := h.collectIDs(answers * perAnswer)
	for _, ch := range []string{chA, chB} {
		assertSequence(t, ids[ch], 1, answers*perAnswer/2, answers*perAnswer/2)
	}
	assert.Equal(t, int32(answers-1), overlapped.Load(), "answer k decoded while answer k+1 was fetched")
	assert.Empty(t, h.obs.reasons())
}

// A session that ends while an answer is still in the decode stage resubscribes from the last event of that
// answer: the loop waits for the stage before it subscribes, so no event is asked for twice or skipped.
func TestStageDrainedBeforeResubscribe(t *testing.T) {
	g := startGeneric(t)
	var msgs []string
	for id := 1; id <= 50; id++ {
		msgs = append(msgs, event(chA, id, 100))
	}
	unknown := `[{"channel":"/meta/connect","id":"{{ID}}","successful":false,"error":"403::Unknown client",` +
		`"advice":{"reconnect":"handshake","interval":0}}]`
	g.raw = []rawAnswer{{body: rawEvents(msgs...)}, {body: unknown}, {body: rawEvents(event(chA, 51, 100))}}
	h := hostileClient(t, g, Config{Channels: []string{chA}})
	release := make(chan struct{})
	var held atomic.Bool
	h.c.stage.hook = func() {
		if held.CompareAndSwap(false, true) {
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		}
	}
	h.start()

	eventually(t, 5*time.Second, func() bool { return g.count(func(g *genericServer) int { return g.connects }) >= 2 },
		"the loop fetched the unknown-client answer while the first answer was held in the stage")
	h.quiet(100 * time.Millisecond) // nothing handed on yet: the first answer is still in the stage
	assert.Equal(t, 1, g.count(func(g *genericServer) int { return g.handshakes }),
		"no handshake while an answer is in the stage")
	close(release)

	ids := h.collectIDs(51)[chA]
	assertSequence(t, ids, 1, 51, 51)
	assert.Equal(t, []int64{ReplayLatest, 50}, g.subscribedFrom(t, chA),
		"resubscribed from the last event of the answer that was in the stage")
	assert.Equal(t, []string{"unknown_client"}, h.obs.reasons())
}

// Buffered events include those still in the decode stage: the buffer bound holds with the stage.
func TestStageCountsTowardsTheBufferBound(t *testing.T) {
	g := startGeneric(t)
	for a := range 6 {
		var msgs []string
		for i := range 10 {
			msgs = append(msgs, event(chA, a*10+i+1, 100))
		}
		g.raw = append(g.raw, rawAnswer{body: rawEvents(msgs...)})
	}
	h := hostileClient(t, g, Config{Channels: []string{chA}, MaxBufferedEvents: 20})
	release := make(chan struct{})
	h.c.stage.hook = func() {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}
	h.start()
	// Two answers in the stage (20 events) fill the buffer: the loop stops polling and disconnects.
	eventually(t, 5*time.Second, func() bool { return g.count(func(g *genericServer) int { return g.disconnects }) >= 1 },
		"backpressure with the events in the stage counted")
	assert.Equal(t, 2, g.count(func(g *genericServer) int { return g.connects }), "no poll beyond the bound")
	close(release)
	ids := h.collectIDs(60)[chA]
	assertSequence(t, ids, 1, 60, 60)
	require.Contains(t, h.obs.reasons(), "backpressure")
}
