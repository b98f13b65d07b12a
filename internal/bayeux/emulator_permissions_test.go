package bayeux

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"

	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// Subscribe-time permission and channel errors (Salesforce's documented subscribe failures), staged with the emulator's
// subscribe_error fault.

// At Start a refused subscription is returned as a PermissionError naming the channel and Salesforce's text, and
// the session it opened is closed again.
func TestEmulatorSubscribeRestrictedAtStart(t *testing.T) {
	e := startEmu(t, sfemu.Config{})
	e.fault(sfemu.FaultSubscribeError, "channel", "/topic/X", "error", "403::Restricted channel")
	h, _ := emuClient(t, e, Config{Channels: []string{"/event/Order__e", "/topic/X"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := h.c.Start(ctx)

	var pe *stream.PermissionError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "/topic/X", pe.Channel)
	var se *ServerError
	require.ErrorAs(t, pe.Err, &se)
	assert.Equal(t, "403::Restricted channel", se.Text)
	assert.Equal(t, wire.ChannelSubscribe, se.Channel)
	assert.Contains(t, err.Error(), "/topic/X")
	assert.Contains(t, err.Error(), "403::Restricted channel")
	st := e.state()
	assert.Empty(t, st.Clients, "a failed Start frees its client slot")
	assert.Equal(t, int64(1), st.Counters["handshakes"], "Start does not retry a permission error")
	assert.Equal(t, int64(1), st.Counters["subscribes_failed"])
}

// On a resubscribe (after 403::Unknown client) a refused subscription is logged as an error and retried only
// after Backoff.Long: no handshake storm, no leaked client. Once the refusal ends, every channel resumes from its
// last queued replay id and everything published meanwhile is delivered once.
func TestEmulatorSubscribeRefusedOnResubscribe(t *testing.T) {
	e := startEmu(t, sfemu.Config{})
	backoff := stream.BackoffConfig{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Long: 250 * time.Millisecond}
	h, _ := emuClient(t, e, Config{Channels: []string{"/event/Order__e", "/u/Alerts"}, Backoff: backoff})
	waits := &waitLog{}
	h.c.sess.waitHook = waits.hook
	h.start()
	_, l1 := e.publish("/event/Order__e", 2)
	_, a0 := e.publish("/u/Alerts", 1) // a queued id: a channel still at -1 would resume with new events only
	h.collect(3, 5*time.Second)

	before := e.counter("handshakes")
	e.fault(sfemu.FaultSubscribeError, "channel", "/u/Alerts", "error", "403::Restricted channel")
	e.fault(sfemu.FaultUnknownClient)
	f2, _ := e.publish("/event/Order__e", 3) // published while the subscription is refused
	a1, _ := e.publish("/u/Alerts", 2)

	// Three refused subscribes after the fault (the refusal itself, not just the handshake before it, so the
	// fault is cleared only after the third): the immediate attempt and two after a long wait each.
	eventually(t, 5*time.Second, func() bool { return e.counter("subscribes_failed") >= 3 }, "the client stopped retrying")
	st := e.state()
	handshakes := st.Counters["handshakes"] - before
	got := waits.snapshot()
	require.GreaterOrEqual(t, len(got), 3)
	assert.Zero(t, got[0], "the first attempt after 403::Unknown client follows the advice interval")
	for k, d := range got[1:] {
		assert.True(t, d >= backoff.Long/2 && d < backoff.Long, "wait %d after a refused subscribe is %v, not Backoff.Long", k+2, d)
	}
	assert.LessOrEqual(t, handshakes, int64(len(got)), "one handshake per attempt: no handshake storm")
	assert.LessOrEqual(t, len(st.Clients), 1, "no leaked client slots")
	assert.NotEmpty(t, st.Faults.SubscribeErrors, "the refusal lasts until clear")
	assert.True(t, h.log.has("ERROR", "/u/Alerts", "403::Restricted channel"), "the refusal is logged with Salesforce's text")
	assert.Equal(t, []string{"unknown_client"}, h.obs.reasons())

	e.fault(sfemu.FaultClear)
	_, l3 := e.publish("/event/Order__e", 2)
	_, a2 := e.publish("/u/Alerts", 1)
	var orders, alerts []int64
	for _, ev := range h.collect(8, 5*time.Second) {
		switch ev.Channel {
		case "/event/Order__e":
			orders = append(orders, ev.ReplayID)
		case "/u/Alerts":
			alerts = append(alerts, ev.ReplayID)
		}
	}
	assertSequence(t, orders, f2, l3, 5)
	assertSequence(t, alerts, a1, a2, 3)
	h.quiet(200 * time.Millisecond)

	// Every resubscribe during the refusal started from the last queued id, not from -1.
	replays := e.rec.subscribeReplays("/event/Order__e")
	require.GreaterOrEqual(t, len(replays), 5, "start, three refused attempts, the recovery")
	assert.Equal(t, "-1", replays[0])
	for _, r := range replays[1:] {
		assert.Equal(t, itoa(l1), r)
	}
	alertReplays := e.rec.subscribeReplays("/u/Alerts")
	assert.Equal(t, itoa(a0), alertReplays[len(alertReplays)-1])
}
