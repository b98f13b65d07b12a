package bayeux

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"

	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// Scenario tests against the emulator over loopback TCP, one per failure Salesforce is known to produce (see the
// package documentation and docs/emulator.md), asserting what a user sees: events in order without loss, the
// replay ids on resubscribe, token requests and handshakes, and recovery time.

func emuClient(t *testing.T, e *emu, cfg Config) (*harness, *sfauthAdapter) {
	auth := newSfauth(t, e.url)
	cfg.Auth = auth
	if cfg.Channels == nil {
		cfg.Channels = []string{"/event/Order__e"}
	}
	return newHarness(t, cfg), auth
}

func TestEmulatorStartNextClose(t *testing.T) {
	e := startEmu(t, sfemu.Config{Hold: sfemu.DefaultHold}) // Salesforce's 110 s hold: Close must cut it
	h, auth := emuClient(t, e, Config{})
	h.start()
	first, last := e.publish("/event/Order__e", 5)
	evs := h.collect(5, 5*time.Second)
	assertSequence(t, replayIDs(evs), first, last, 5)
	for _, ev := range evs {
		assert.Equal(t, "/event/Order__e", ev.Channel)
		assert.NotEmpty(t, ev.Meta.CreatedDate)
		assert.NotEmpty(t, ev.Meta.EventUUID)
		assert.Equal(t, byte('{'), ev.Data[0])
	}
	assert.Equal(t, map[string]int64{"/event/Order__e": last}, h.c.replayIDs())
	assert.Equal(t, int32(1), auth.tokens.Load())
	assert.Zero(t, auth.refreshs.Load())
	assert.Equal(t, []string{"-1"}, e.rec.subscribeReplays("/event/Order__e"))

	// Close mid-poll: returns fast, disconnects, and Next says ErrClosed.
	eventually(t, 2*time.Second, func() bool {
		st := e.state()
		return len(st.Clients) == 1 && st.Clients[0].ConnectPending
	}, "no long poll pending")
	began := time.Now()
	require.NoError(t, h.c.Close(context.Background()))
	assert.Less(t, time.Since(began), time.Second)
	st := e.state()
	assert.Empty(t, st.Clients, "Close must free the org's client slot")
	assert.Equal(t, int64(1), st.Counters["disconnects"])
	_, err := h.c.Next(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
	require.NoError(t, h.c.Close(context.Background()), "Close is idempotent")
}

// Scenario 1 (and 8): 403::Unknown client mid-stream. The client handshakes again and resubscribes every channel
// from the last queued replay id, with the load balancer's rotated cookie; nothing is lost or repeated.
func TestEmulatorUnknownClient(t *testing.T) {
	e := startEmu(t, sfemu.Config{})
	h, auth := emuClient(t, e, Config{Channels: []string{"/event/Order__e", "/u/Alerts"}})
	h.start()
	f1, l1 := e.publish("/event/Order__e", 3)
	evs := h.collect(3, 5*time.Second)

	began := time.Now()
	e.fault(sfemu.FaultUnknownClient)
	_, l2 := e.publish("/event/Order__e", 4) // during or after the recovery: replayed either way
	evs = append(evs, h.collect(4, 5*time.Second)...)
	assert.Less(t, time.Since(began), 2*time.Second, "recovery time")
	assertSequence(t, replayIDs(evs), f1, l2, 7)

	assert.Equal(t, []string{"-1", itoa(l1)}, e.rec.subscribeReplays("/event/Order__e"))
	assert.Equal(t, []string{"-1", "-1"}, e.rec.subscribeReplays("/u/Alerts"), "a channel without events keeps its start")
	st := e.state()
	assert.Equal(t, int64(2), st.Counters["handshakes"])
	assert.Equal(t, int64(1), st.Counters["token_grants"])
	assert.Zero(t, auth.refreshs.Load())
	assert.Equal(t, []string{"unknown_client"}, h.obs.reasons())
	assert.True(t, h.log.has("INFO", "403::Unknown client"), "the reconnect reason is logged with Salesforce's text")

	// Cookies: every request after a handshake carries BAYEUX_BROWSER, and the requests after the unknown
	// client reply carry the rotated sfdc-stream cookie.
	hs := e.rec.messages(wire.ChannelHandshake)
	require.Len(t, hs, 2)
	for _, m := range append(e.rec.messages(wire.ChannelSubscribe), e.rec.messages(wire.ChannelConnect)...) {
		assert.NotEmpty(t, m.Cookies["BAYEUX_BROWSER"], "%s without BAYEUX_BROWSER", m.Channel)
	}
	assert.NotEmpty(t, hs[1].Cookies["sfdc-stream"])
	assert.NotEqual(t, hs[1].Cookies["sfdc-stream"], e.rec.messages(wire.ChannelSubscribe)[0].Cookies["sfdc-stream"],
		"the rotated load-balancer cookie must be sent back")
}

// Scenario 2: the stored replay id is no longer retained. The policy applies at Start and on resubscribes.
func TestEmulatorInvalidReplayAtStart(t *testing.T) {
	tests := []struct {
		policy stream.InvalidReplayPolicy
		want   string // subscribe replay ids
	}{
		{stream.ReplayFallbackEarliest, "-2"},
		{stream.ReplayFallbackLatest, "-1"},
		{stream.ReplayFallbackFail, ""},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			e := startEmu(t, sfemu.Config{})
			ids := make([]int64, 0, 5)
			for range 5 {
				_, id := e.publish("/event/Order__e", 1)
				ids = append(ids, id)
			}
			e.purge("/event/Order__e", ids[1]) // the checkpoint (ids[1]) is gone; ids[2..4] are retained
			h, _ := emuClient(t, e, Config{OnInvalidReplayID: tt.policy, ReplayIDs: map[string]int64{"/event/Order__e": ids[1]}})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := h.c.Start(ctx)
			if tt.policy == stream.ReplayFallbackFail {
				var ie *stream.InvalidReplayError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, "/event/Order__e", ie.Channel)
				assert.Equal(t, ids[1], ie.ReplayID.Seq)
				assert.Contains(t, err.Error(), "you provided was invalid")
				assert.Empty(t, e.state().Clients, "a failed Start frees its client slot")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{itoa(ids[1]), tt.want}, e.rec.subscribeReplays("/event/Order__e"))
			assert.Equal(t, []string{"/event/Order__e:" + tt.policy.String()}, h.obs.fallbacks)
			assert.True(t, h.log.has("ERROR", itoa(ids[1]), "you provided was invalid", tt.policy.String()))
			if tt.policy == stream.ReplayFallbackEarliest {
				assertSequence(t, replayIDs(h.collect(3, 5*time.Second)), ids[2], ids[4], 3)
			} else {
				h.quiet(200 * time.Millisecond)
			}
		})
	}
}

func TestEmulatorInvalidReplayOnResubscribe(t *testing.T) {
	for _, policy := range []stream.InvalidReplayPolicy{stream.ReplayFallbackEarliest, stream.ReplayFallbackLatest, stream.ReplayFallbackFail} {
		t.Run(policy.String(), func(t *testing.T) {
			e := startEmu(t, sfemu.Config{})
			h, _ := emuClient(t, e, Config{OnInvalidReplayID: policy})
			h.start()
			_, l1 := e.publish("/event/Order__e", 3)
			h.collect(3, 5*time.Second)
			e.purge("/event/Order__e", l1)    // the last queued id expires...
			e.fault(sfemu.FaultUnknownClient) // ...and then the session is lost
			if policy == stream.ReplayFallbackFail {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := h.c.Next(ctx)
				var ie *stream.InvalidReplayError
				require.ErrorAs(t, err, &ie, "Next reports the fatal error")
				assert.Equal(t, l1, ie.ReplayID.Seq)
				_, err = h.c.Next(ctx)
				require.ErrorAs(t, err, &ie, "and keeps reporting it")
				assert.True(t, h.log.has("ERROR", "you provided was invalid"))
				return
			}
			eventually(t, 5*time.Second, func() bool { return len(e.rec.subscribeReplays("/event/Order__e")) == 3 },
				"no fallback resubscribe")
			want := map[stream.InvalidReplayPolicy]string{stream.ReplayFallbackEarliest: "-2", stream.ReplayFallbackLatest: "-1"}[policy]
			assert.Equal(t, []string{"-1", itoa(l1), want}, e.rec.subscribeReplays("/event/Order__e"))
			f2, l2 := e.publish("/event/Order__e", 2)
			assertSequence(t, replayIDs(h.collect(2, 5*time.Second)), f2, l2, 2)
		})
	}
}

// The terminal error of policy fail is exposed by Err as soon as the session stops, and by Next once the queue is
// drained; before that Err is nil.
func TestEmulatorTerminalErrorExposedByErr(t *testing.T) {
	e := startEmu(t, sfemu.Config{})
	h, _ := emuClient(t, e, Config{OnInvalidReplayID: stream.ReplayFallbackFail})
	h.start()
	_, l1 := e.publish("/event/Order__e", 3)
	h.collect(3, 5*time.Second)
	require.NoError(t, h.c.Err(), "no terminal error while the session runs")
	e.purge("/event/Order__e", l1)
	e.fault(sfemu.FaultUnknownClient)
	eventually(t, 5*time.Second, func() bool { return h.c.Err() != nil }, "the session stopped")
	var ie *stream.InvalidReplayError
	require.ErrorAs(t, h.c.Err(), &ie)
	assert.Equal(t, l1, ie.ReplayID.Seq)
	assert.Equal(t, stream.Permanent, stream.Classify(h.c.Err()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.c.Next(ctx)
	assert.Equal(t, h.c.Err(), err, "Next returns the same error")
}

// Scenario 4: the token is revoked. Salesforce answers the poll with its own /meta/disconnect and 401, advice
// none; recovery costs exactly one token request and one handshake.
func TestEmulatorTokenRevoked(t *testing.T) {
	e := startEmu(t, sfemu.Config{})
	h, auth := emuClient(t, e, Config{})
	h.start()
	f1, l1 := e.publish("/event/Order__e", 2)
	evs := h.collect(2, 5*time.Second)

	began := time.Now()
	e.fault(sfemu.FaultRevokeTokens)
	eventually(t, 5*time.Second, func() bool { return e.counter("handshakes") == 2 }, "no second handshake")
	_, l2 := e.publish("/event/Order__e", 2)
	evs = append(evs, h.collect(2, 5*time.Second)...)
	assert.Less(t, time.Since(began), 2*time.Second)
	assertSequence(t, replayIDs(evs), f1, l2, 4)

	st := e.state()
	assert.Equal(t, int64(2), st.Counters["token_grants"], "one new token")
	assert.Equal(t, int64(2), st.Counters["handshakes"], "one new handshake")
	assert.Zero(t, st.Counters["handshakes_denied"])
	assert.Equal(t, int32(1), auth.refreshs.Load())
	assert.Equal(t, 1, h.obs.refreshes)
	assert.Equal(t, []string{"auth"}, h.obs.reasons())
	assert.Equal(t, []string{"-1", itoa(l1)}, e.rec.subscribeReplays("/event/Order__e"))
	assert.True(t, h.log.has("WARN", "401::Authentication invalid"))
}

// Scenario 5: handshake denied with failureReason 401: one refresh, then backoff.
func TestEmulatorHandshakeDenied401(t *testing.T) {
	e := startEmu(t, sfemu.Config{})
	tok, err := newSfauth(t, e.url).Token(context.Background())
	require.NoError(t, err)
	good, instance := tok.AccessToken, tok.InstanceURL

	t.Run("start refreshes once and succeeds", func(t *testing.T) {
		auth := &staticAuth{url: instance, first: "00Dbogus!revoked", refreshed: []string{good}}
		h := newHarness(t, Config{Auth: auth, Channels: []string{"/event/Order__e"}})
		before := e.state().Counters
		h.start()
		after := e.state().Counters
		assert.Equal(t, 1, auth.refreshes)
		assert.Equal(t, int64(1), after["handshakes_denied"]-before["handshakes_denied"])
		assert.Equal(t, int64(1), after["handshakes"]-before["handshakes"])
	})
	t.Run("start with a refused token fails after one refresh", func(t *testing.T) {
		auth := &staticAuth{url: instance, first: "00Dbogus!1", refreshed: []string{"00Dbogus!2"}}
		h := newHarness(t, Config{Auth: auth, Channels: []string{"/event/Order__e"}})
		before := e.state().Counters
		err := h.c.Start(context.Background())
		var ae *stream.AuthError
		require.ErrorAs(t, err, &ae)
		assert.Contains(t, err.Error(), "401::Authentication invalid")
		assert.NotContains(t, err.Error(), "00Dbogus", "tokens never appear in errors")
		assert.Equal(t, 1, auth.refreshes)
		assert.Equal(t, int64(2), e.state().Counters["handshakes_denied"]-before["handshakes_denied"])
	})
	t.Run("in the loop: refresh, then backoff", func(t *testing.T) {
		// After a revoke the first refresh still yields a refused token: the client must not loop.
		src := newSfauth(t, e.url)
		auth := &flakyRefresh{sfauthAdapter: src, bad: 1}
		h := newHarness(t, Config{Auth: auth, Channels: []string{"/event/Order__e"}})
		h.start()
		f, _ := e.publish("/event/Order__e", 1) // a concrete replay position, so nothing published meanwhile is skipped
		h.collect(1, 5*time.Second)
		before := e.state().Counters
		began := time.Now()
		e.fault(sfemu.FaultRevokeTokens)
		_, l := e.publish("/event/Order__e", 1)
		evs := h.collect(1, 5*time.Second)
		assert.Equal(t, l, evs[0].ReplayID)
		assert.Greater(t, l, f)
		after := e.state().Counters
		assert.Equal(t, int32(2), auth.refreshs.Load(), "one refresh per attempt")
		assert.Equal(t, int64(1), after["handshakes_denied"]-before["handshakes_denied"])
		assert.Equal(t, int64(1), after["handshakes"]-before["handshakes"])
		assert.GreaterOrEqual(t, time.Since(began), fastBackoff.Initial/2, "the second refresh waits a backoff")
	})
}

// flakyRefresh returns a refused token from its first `bad` refreshes.
type flakyRefresh struct {
	*sfauthAdapter
	bad int32
}

func (f *flakyRefresh) Refresh(ctx context.Context, stale sfauth.Token) (sfauth.Token, error) {
	tok, err := f.sfauthAdapter.Refresh(ctx, stale)
	if f.refreshs.Load() <= f.bad {
		tok.AccessToken = "00Dstill!refused"
	}
	return tok, err
}

func itoa(n int64) string { return fmtInt(n) }

// Scenario 6: 503 Server is too busy on connect, handshake and subscribe: a long wait each time, with an error
// line naming Salesforce's text, and no tight loop.
func TestEmulatorServerBusy(t *testing.T) {
	t.Run("at start", func(t *testing.T) {
		e := startEmu(t, sfemu.Config{})
		e.fault(sfemu.FaultServerBusy)
		h, _ := emuClient(t, e, Config{})
		err := h.c.Start(context.Background())
		var le *stream.LimitError
		require.ErrorAs(t, err, &le)
		assert.True(t, le.Busy)
		assert.Contains(t, err.Error(), "503::Server is too busy")
	})
	for _, count := range []int{1, 3} { // 1: the connect; 3: connect, then handshake, then subscribe
		t.Run(fmt.Sprintf("%d busy answers in the loop", count), func(t *testing.T) {
			e := startEmu(t, sfemu.Config{})
			h, _ := emuClient(t, e, Config{})
			h.start()
			f1, l1 := e.publish("/event/Order__e", 1)
			h.collect(1, 5*time.Second)
			began := time.Now()
			e.fault(sfemu.FaultServerBusy, "count", count)
			eventually(t, 10*time.Second, func() bool {
				st := e.state()
				return st.Faults.ServerBusy == 0 && len(st.Clients) == 1 && st.Clients[0].Connected
			}, "no recovery")
			_, l2 := e.publish("/event/Order__e", 1)
			evs := h.collect(1, 5*time.Second)
			assert.Equal(t, l2, evs[0].ReplayID)
			elapsed := time.Since(began)
			assert.GreaterOrEqual(t, elapsed, time.Duration(count)*fastBackoff.Long/2, "each busy answer waits Backoff.Long")
			assert.True(t, h.log.has("ERROR", "503::Server is too busy"))
			assert.Equal(t, []string{"server_busy"}, h.obs.reasons())
			assert.LessOrEqual(t, e.counter("handshakes")+e.counter("handshakes_denied"), int64(1+count))
			assert.Equal(t, itoa(l1), e.rec.subscribeReplays("/event/Order__e")[len(e.rec.subscribeReplays("/event/Order__e"))-1])
			_ = f1
		})
	}
}

// Scenario 7: the daily delivery limit: long waits, no handshake storm, no leaked client; delivery resumes
// where it stopped once the limit clears. The concurrent-client limit refuses a second client until the first
// one's Close frees its slot.
func TestEmulatorDailyLimit(t *testing.T) {
	e := startEmu(t, sfemu.Config{})
	h, _ := emuClient(t, e, Config{})
	h.start()
	_, l1 := e.publish("/event/Order__e", 2)
	h.collect(2, 5*time.Second)
	before := e.counter("handshakes")
	e.fault(sfemu.FaultDailyLimit)
	const window = 1200 * time.Millisecond
	time.Sleep(window) // the limit lasts this long; the client must wait, not storm
	st := e.state()
	handshakes := st.Counters["handshakes"] - before
	assert.LessOrEqual(t, handshakes, int64(window/(fastBackoff.Long/2))+1, "handshake storm")
	assert.GreaterOrEqual(t, handshakes, int64(1), "the client keeps trying")
	assert.LessOrEqual(t, len(st.Clients), 1, "no leaked client slots")
	assert.True(t, h.log.has("ERROR", "403::Organization total events daily limit exceeded"))

	e.fault(sfemu.FaultClear)
	f2, l2 := e.publish("/event/Order__e", 3)
	assertSequence(t, replayIDs(h.collect(3, 5*time.Second)), f2, l2, 3)
	replays := e.rec.subscribeReplays("/event/Order__e")
	assert.Equal(t, itoa(l1), replays[len(replays)-1])
}

func TestEmulatorConcurrentClientLimit(t *testing.T) {
	e := startEmu(t, sfemu.Config{MaxClients: 1})
	a, _ := emuClient(t, e, Config{})
	a.start()
	b, _ := emuClient(t, e, Config{})
	err := b.c.Start(context.Background())
	var le *stream.LimitError
	require.ErrorAs(t, err, &le)
	assert.Contains(t, err.Error(), "403::Organization concurrent user limit exceeded")

	require.NoError(t, a.c.Close(context.Background()))
	require.NoError(t, b.c.Start(context.Background()), "Close freed the slot; a failed Start can be retried")
	f, l := e.publish("/event/Order__e", 2)
	assertSequence(t, replayIDs(b.collect(2, 5*time.Second)), f, l, 2)
}

// Scenario 9: batches above 1 MiB in one connect answer.
func TestEmulatorLargeBatch(t *testing.T) {
	e := startEmu(t, sfemu.Config{MaxBatch: 5000})
	const n = 3000
	f, l := e.publish("/data/ChangeEvents", n)
	h, _ := emuClient(t, e, Config{Channels: []string{"/data/ChangeEvents"},
		ReplayIDs: map[string]int64{"/data/ChangeEvents": ReplayEarliest}})
	h.start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var evs []stream.Event
	biggest := 0
	for len(evs) < n {
		b, err := h.c.Next(ctx)
		require.NoError(t, err)
		size := 0
		for _, ev := range b.Events {
			size += len(ev.Data)
		}
		biggest = max(biggest, size)
		evs = append(evs, b.Events...)
	}
	assertSequence(t, replayIDs(evs), f, l, n)
	assert.Greater(t, biggest, 1<<20, "one answer above 1 MiB")
	for _, ev := range evs[:3] {
		assert.NotEmpty(t, ev.Meta.ChangeType)
		assert.NotEmpty(t, ev.Meta.RecordIDs)
		assert.NotEmpty(t, ev.Meta.CommitTimestamp)
		assert.Equal(t, ev.Meta.CommitTimestamp, ev.Meta.CreatedDate)
	}
}

// Scenario 10: idle long polls end without events and are renewed, without any reconnect; a pipeline slower
// than Salesforce fills the buffer, the client disconnects cleanly (well past the 40 s window, emulated by a
// short one) and resumes from the last queued replay id without loss or duplicates.
func TestEmulatorIdleHolds(t *testing.T) {
	e := startEmu(t, sfemu.Config{Hold: 150 * time.Millisecond})
	h, _ := emuClient(t, e, Config{})
	h.start()
	h.quiet(800 * time.Millisecond)
	assert.GreaterOrEqual(t, e.counter("connects"), int64(4))
	assert.Equal(t, int64(1), e.counter("handshakes"))
	assert.Empty(t, h.obs.reasons())
}

func TestEmulatorBackpressure(t *testing.T) {
	e := startEmu(t, sfemu.Config{MaxBatch: 10, ReconnectWindow: 300 * time.Millisecond})
	h, _ := emuClient(t, e, Config{MaxBufferedEvents: 20})
	h.start()
	f, l := e.publish("/event/Order__e", 100)
	var st sfemu.State
	eventually(t, 5*time.Second, func() bool {
		st = e.state()
		return len(st.Clients) == 0 && st.Counters["disconnects"] == 1
	}, "the client should disconnect while its buffer is full: %+v", &st)
	queued := h.c.replayIDs()["/event/Order__e"]
	time.Sleep(500 * time.Millisecond) // longer than the reconnect window: nothing may depend on the old session
	assert.Equal(t, []string{"backpressure"}, h.obs.reasons())
	assert.True(t, h.log.has("INFO", "max_buffered_events 20"))

	evs := h.collect(100, 10*time.Second)
	assertSequence(t, replayIDs(evs), f, l, 100)
	replays := e.rec.subscribeReplays("/event/Order__e")
	require.GreaterOrEqual(t, len(replays), 2)
	assert.Equal(t, itoa(queued), replays[1], "resumes from the last queued id")
}

// Scenario 11: several channels of every kind on one session, a filtered PushTopic whose replay key has no
// query, events split per channel in order with their metadata.
func TestEmulatorMultipleChannels(t *testing.T) {
	e := startEmu(t, sfemu.Config{})
	channels := []string{"/topic/Invoices?Status__c=Open", "/event/Order__e", "/data/AccountChangeEvent", "/u/Alerts"}
	h, _ := emuClient(t, e, Config{Channels: channels})
	h.start()
	e.publishPayloads("/topic/Invoices", `{"Id":"a1","Status__c":"Open"}`, `{"Id":"a2","Status__c":"Closed"}`,
		`{"Id":"a3","Status__c":"Open"}`)
	e.publish("/event/Order__e", 3)
	e.publish("/data/AccountChangeEvent", 3)
	e.publish("/u/Alerts", 3)
	evs := h.collect(11, 5*time.Second)

	per := map[string][]stream.Event{}
	for _, ev := range evs {
		per[ev.Channel] = append(per[ev.Channel], ev)
	}
	require.Len(t, per, 4, "channels: %v", per)
	require.Len(t, per["/topic/Invoices?Status__c=Open"], 2, "the filter is the server's")
	for ch, list := range per {
		for i, ev := range list {
			assert.NotEmpty(t, ev.Meta.CreatedDate, ch)
			if i > 0 {
				assert.Greater(t, ev.ReplayID, list[i-1].ReplayID, ch)
			}
		}
	}
	assert.Equal(t, "created", per["/topic/Invoices?Status__c=Open"][0].Meta.EventType)
	cdc := per["/data/AccountChangeEvent"][0].Meta
	assert.Equal(t, "Account", cdc.EntityName)
	assert.NotEmpty(t, cdc.ChangeType)
	assert.NotEmpty(t, cdc.RecordIDs)
	assert.NotEmpty(t, cdc.Schema)
	assert.NotEmpty(t, per["/event/Order__e"][0].Meta.EventUUID)

	// Scenario 3: every subscribe carries a replay map with exactly its own key (never empty, never the query).
	for _, ch := range channels {
		assert.Equal(t, []string{"-1"}, e.rec.subscribeReplays(ch), ch)
	}
	ids := h.c.replayIDs()
	assert.Equal(t, per["/topic/Invoices?Status__c=Open"][1].ReplayID, ids["/topic/Invoices"])
}

// Scenario 12: a dropped connection, HTTP errors from the load balancer and a malformed answer mid-stream: the
// client reconnects after a backoff, never loses an event and never storms.
func TestEmulatorTransportFaults(t *testing.T) {
	tests := []struct {
		fault  string
		extra  []any
		reason string
	}{
		{sfemu.FaultDropConnection, nil, "connection_error"},
		{sfemu.FaultHTTPError, []any{"count", 2, "status", 502}, "connection_error"},
		{sfemu.FaultMalformedResponse, nil, "connection_error"},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			e := startEmu(t, sfemu.Config{})
			h, _ := emuClient(t, e, Config{})
			h.start()
			f1, _ := e.publish("/event/Order__e", 2)
			evs := h.collect(2, 5*time.Second)
			e.fault(tt.fault, tt.extra...)
			e.publish("/event/Order__e", 3) // the held poll may deliver these before the fault hits the next request
			evs = append(evs, h.collect(3, 5*time.Second)...)
			eventually(t, 5*time.Second, func() bool {
				for _, r := range h.obs.reasons() {
					if r == tt.reason {
						return true
					}
				}
				return false
			}, "the fault never reached the client")
			_, l2 := e.publish("/event/Order__e", 2)
			evs = append(evs, h.collect(2, 5*time.Second)...)
			assertSequence(t, replayIDs(evs), f1, l2, 7)
			assert.LessOrEqual(t, e.counter("handshakes"), int64(4), "no handshake storm")
			assert.True(t, h.log.has("WARN"), "the failure is logged")
		})
	}
}

// Salesforce on API 64.0 and later (Hyperforce) may send its own /meta/disconnect in a connect answer; the
// client handshakes again and resubscribes from the last queued replay id.
func TestEmulatorServerDisconnect(t *testing.T) {
	e := startEmu(t, sfemu.Config{})
	h, auth := emuClient(t, e, Config{})
	h.start()
	f1, l1 := e.publish("/event/Order__e", 2)
	evs := h.collect(2, 5*time.Second)
	e.fault(sfemu.FaultServerDisconnect)
	_, l2 := e.publish("/event/Order__e", 2)
	evs = append(evs, h.collect(2, 5*time.Second)...)
	assertSequence(t, replayIDs(evs), f1, l2, 4)
	eventually(t, 2*time.Second, func() bool { return e.counter("handshakes") == 2 }, "no new handshake")
	assert.Equal(t, []string{"server_disconnect"}, h.obs.reasons())
	assert.Equal(t, []string{"-1", itoa(l1)}, e.rec.subscribeReplays("/event/Order__e"))
	assert.Zero(t, auth.refreshs.Load())
	assert.Equal(t, int64(1), e.counter("token_grants"))
}

// TestServerDisconnectRecoversAtOnce: a server /meta/disconnect of a working session is followed at once by a new
// handshake, as its advice says, however many came before: with the default backoff, five in a row on an idle
// channel (each after the session worked for longer than Backoff.Initial, its long poll held) each recover
// within the 4.4 s every other fault takes. Before, each continued the previous one's failure streak (a session
// whose long poll is held never completes the two polls that end a streak), and the fifth waited 8-16 s.
func TestServerDisconnectRecoversAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("five disconnects with the default backoff take about 10 s")
	}
	e := startEmu(t, sfemu.Config{Hold: 60 * time.Second}) // long polls held as Salesforce holds them
	var waits waitLog
	h, _ := emuClient(t, e, Config{Backoff: stream.BackoffConfig{}.WithDefaults()})
	h.c.sess.waitHook = waits.hook
	h.start()
	for round := range 5 {
		time.Sleep(1500 * time.Millisecond) // the session works, its long poll held, for longer than Backoff.Initial
		before := e.counter("handshakes")
		start := time.Now()
		e.fault(sfemu.FaultServerDisconnect)
		eventually(t, 30*time.Second, func() bool { return e.counter("handshakes") > before }, "no new handshake")
		took := time.Since(start)
		assert.LessOrEqual(t, took, 4400*time.Millisecond, "round %d recovered in %s", round, took)
	}
	f1, l1 := e.publish("/event/Order__e", 2)
	assertSequence(t, replayIDs(h.collect(2, 10*time.Second)), f1, l1, 2)
	for _, w := range waits.snapshot() {
		assert.Zero(t, w, "every re-handshake after a server disconnect is immediate: %v", waits.snapshot())
	}
}
