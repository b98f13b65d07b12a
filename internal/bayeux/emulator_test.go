package bayeux

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// Scenario tests against the emulator over loopback TCP, one per scenario of protocol.md 2.10, asserting what a
// user sees: events in order without loss, the replay ids on resubscribe, token requests and handshakes, and
// recovery time.

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
	assert.Equal(t, map[string]int64{"/event/Order__e": last}, h.c.ReplayIDs())
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
	hs := e.rec.messages(channelHandshake)
	require.Len(t, hs, 2)
	for _, m := range append(e.rec.messages(channelSubscribe), e.rec.messages(channelConnect)...) {
		assert.NotEmpty(t, m.Cookies["BAYEUX_BROWSER"], "%s without BAYEUX_BROWSER", m.Channel)
	}
	assert.NotEmpty(t, hs[1].Cookies["sfdc-stream"])
	assert.NotEqual(t, hs[1].Cookies["sfdc-stream"], e.rec.messages(channelSubscribe)[0].Cookies["sfdc-stream"],
		"the rotated load-balancer cookie must be sent back")
}

// Scenario 2: the stored replay id is no longer retained. The policy applies at Start and on resubscribes.
func TestEmulatorInvalidReplayAtStart(t *testing.T) {
	tests := []struct {
		policy InvalidReplayPolicy
		want   string // subscribe replay ids
	}{
		{ReplayFallbackEarliest, "-2"},
		{ReplayFallbackLatest, "-1"},
		{ReplayFallbackFail, ""},
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
			if tt.policy == ReplayFallbackFail {
				var ie *InvalidReplayError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, "/event/Order__e", ie.Channel)
				assert.Equal(t, ids[1], ie.ReplayID)
				assert.Contains(t, err.Error(), "you provided was invalid")
				assert.Empty(t, e.state().Clients, "a failed Start frees its client slot")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{itoa(ids[1]), tt.want}, e.rec.subscribeReplays("/event/Order__e"))
			assert.Equal(t, []string{"/event/Order__e:" + tt.policy.String()}, h.obs.fallbacks)
			assert.True(t, h.log.has("ERROR", itoa(ids[1]), "you provided was invalid", tt.policy.String()))
			if tt.policy == ReplayFallbackEarliest {
				assertSequence(t, replayIDs(h.collect(3, 5*time.Second)), ids[2], ids[4], 3)
			} else {
				h.quiet(200 * time.Millisecond)
			}
		})
	}
}

func TestEmulatorInvalidReplayOnResubscribe(t *testing.T) {
	for _, policy := range []InvalidReplayPolicy{ReplayFallbackEarliest, ReplayFallbackLatest, ReplayFallbackFail} {
		t.Run(policy.String(), func(t *testing.T) {
			e := startEmu(t, sfemu.Config{})
			h, _ := emuClient(t, e, Config{OnInvalidReplayID: policy})
			h.start()
			_, l1 := e.publish("/event/Order__e", 3)
			h.collect(3, 5*time.Second)
			e.purge("/event/Order__e", l1) // the last queued id expires...
			e.fault(sfemu.FaultUnknownClient) // ...and then the session is lost
			if policy == ReplayFallbackFail {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := h.c.Next(ctx)
				var ie *InvalidReplayError
				require.ErrorAs(t, err, &ie, "Next reports the fatal error")
				assert.Equal(t, l1, ie.ReplayID)
				_, err = h.c.Next(ctx)
				require.ErrorAs(t, err, &ie, "and keeps reporting it")
				assert.True(t, h.log.has("ERROR", "you provided was invalid"))
				return
			}
			eventually(t, 5*time.Second, func() bool { return len(e.rec.subscribeReplays("/event/Order__e")) == 3 },
				"no fallback resubscribe")
			want := map[InvalidReplayPolicy]string{ReplayFallbackEarliest: "-2", ReplayFallbackLatest: "-1"}[policy]
			assert.Equal(t, []string{"-1", itoa(l1), want}, e.rec.subscribeReplays("/event/Order__e"))
			f2, l2 := e.publish("/event/Order__e", 2)
			assertSequence(t, replayIDs(h.collect(2, 5*time.Second)), f2, l2, 2)
		})
	}
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
	good, instance, err := newSfauth(t, e.url).Token(context.Background())
	require.NoError(t, err)

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
		var ae *AuthError
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

func (f *flakyRefresh) Refresh(ctx context.Context, stale string) (string, string, error) {
	tok, inst, err := f.sfauthAdapter.Refresh(ctx, stale)
	if f.refreshs.Load() <= f.bad {
		return "00Dstill!refused", inst, err
	}
	return tok, inst, err
}

func itoa(n int64) string { return fmtInt(n) }
