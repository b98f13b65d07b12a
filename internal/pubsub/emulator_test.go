package pubsub

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// The client against the emulator over loopback: sfauth for tokens from its OAuth endpoint, plaintext gRPC to
// its Pub/Sub server, and an interceptor recording what the client sends.

type recorder struct {
	mu         sync.Mutex
	requested  []int32 // num_requested of every FetchRequest, in order
	getSchemas int
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.requested {
		n += int(v)
	}
	return n
}

type recordingStream struct {
	grpc.ClientStream
	r *recorder
}

func (s recordingStream) SendMsg(m any) error {
	if fr, ok := m.(*eventbusv1.FetchRequest); ok {
		s.r.mu.Lock()
		s.r.requested = append(s.r.requested, fr.GetNumRequested())
		s.r.mu.Unlock()
	}
	return s.ClientStream.SendMsg(m)
}

type testEnv struct {
	emu    *sfemu.Server
	clock  *sfemu.FakeClock
	obs    *observer
	client *Client
	rec    *recorder
	log    *testLogger
}

// testLogger keeps the client's log lines.
type testLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLogger) add(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, args...))
}
func (l *testLogger) Debugf(f string, a ...any) { l.add("DEBUG", f, a...) }
func (l *testLogger) Infof(f string, a ...any)  { l.add("INFO", f, a...) }
func (l *testLogger) Warnf(f string, a ...any)  { l.add("WARN", f, a...) }
func (l *testLogger) Errorf(f string, a ...any) { l.add("ERROR", f, a...) }

// contains reports whether one line holds every fragment.
func (l *testLogger) contains(fragments ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		all := true
		for _, f := range fragments {
			all = all && strings.Contains(line, f)
		}
		if all {
			return true
		}
	}
	return false
}

func (l *testLogger) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// observer records what the client reports to its Observer.
type observer struct {
	mu         sync.Mutex
	reconnects map[stream.ReconnectReason]int
	refreshes  int
	fallbacks  []stream.InvalidReplayPolicy
}

func (o *observer) Reconnect(r stream.ReconnectReason) { o.mu.Lock(); o.reconnects[r]++; o.mu.Unlock() }
func (o *observer) TokenRefresh()                      { o.mu.Lock(); o.refreshes++; o.mu.Unlock() }
func (o *observer) ReplayFallback(_ string, p stream.InvalidReplayPolicy) {
	o.mu.Lock()
	o.fallbacks = append(o.fallbacks, p)
	o.mu.Unlock()
}
func (o *observer) Events(string, int) {}

func (o *observer) count(r stream.ReconnectReason) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reconnects[r]
}

func startEnv(t testing.TB, cfg sfemu.Config, fake bool) *testEnv {
	t.Helper()
	env := &testEnv{rec: &recorder{}, log: &testLogger{}}
	if fake {
		env.clock = sfemu.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		cfg.Clock = env.clock
	}
	cfg.Seed = 7
	env.emu = sfemu.New(cfg)
	hs := httptest.NewServer(env.emu)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := env.emu.NewPubSubServer()
	go func() { _ = g.Serve(lis) }()

	src, err := sfauth.NewSource(sfauth.Config{OrgURL: hs.URL, GrantType: sfauth.GrantClientCredentials,
		ClientID: sfemu.DefaultClientID, ClientSecret: sfemu.DefaultClientSecret})
	require.NoError(t, err)
	rec := env.rec
	env.obs = &observer{reconnects: map[stream.ReconnectReason]int{}}
	env.client, err = New(Config{Auth: src, Endpoint: lis.Addr().String(), Plaintext: true, Logger: env.log, Observer: env.obs,
		Backoff: stream.BackoffConfig{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Long: 20 * time.Millisecond},
		DialOptions: []grpc.DialOption{
			grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				cs, err := streamer(ctx, desc, cc, method, opts...)
				return recordingStream{cs, rec}, err
			}),
			grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				if method == eventbusv1.PubSub_GetSchema_FullMethodName {
					rec.mu.Lock()
					rec.getSchemas++
					rec.mu.Unlock()
				}
				return invoker(ctx, method, req, reply, cc, opts...)
			}),
		}})
	require.NoError(t, err)
	t.Cleanup(func() {
		env.client.Close()
		env.emu.Close()
		g.Stop()
		hs.Close()
	})
	return env
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// collect takes batches until n events arrived (keepalives are skipped), releasing each batch's events when
// release is set.
func collect(t *testing.T, ctx context.Context, sub *Subscription, n int, release bool) []Event {
	t.Helper()
	var out []Event
	for len(out) < n {
		b, err := sub.Next(ctx)
		require.NoError(t, err, "after %d of %d events", len(out), n)
		out = append(out, b.Events...)
		if release {
			sub.Release(len(b.Events))
		}
	}
	return out
}

func distinctInOrder(t *testing.T, evs []Event) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		require.Equal(t, 1, bytes.Compare(evs[i].ReplayID, evs[i-1].ReplayID), "event %d after %d (the emulator's ids are big-endian, so byte order is stream order)", i, i-1)
	}
}

// TestFlowControl: the client never requests more than MaxInFlight minus what the caller holds, at most 100 per
// request, and asks for more only when the caller releases events.
func TestFlowControl(t *testing.T) {
	env := startEnv(t, sfemu.Config{Preload: []sfemu.ChannelCount{{Channel: "/data/AccountChangeEvent", Count: 250}}}, false)
	ctx := testCtx(t)
	sub, err := env.client.Subscribe(ctx, SubscribeConfig{Topic: "/data/AccountChangeEvent", Preset: ReplayEarliest, MaxInFlight: 30})
	require.NoError(t, err)
	defer sub.Close()

	held := collect(t, ctx, sub, 30, false)
	require.Len(t, held, 30, "exactly what was requested")
	assert.Equal(t, 30, env.rec.total(), "nothing more requested while the caller holds 30")

	var all []Event
	all = append(all, held...)
	sub.Release(30)
	all = append(all, collect(t, ctx, sub, 220, true)...)
	require.Len(t, all, 250)
	distinctInOrder(t, all)

	env.rec.mu.Lock()
	defer env.rec.mu.Unlock()
	sum := 0
	for _, n := range env.rec.requested {
		assert.LessOrEqual(t, n, int32(30))
		assert.Positive(t, n)
		sum += int(n)
	}
	assert.LessOrEqual(t, sum, 250+30, "requests follow releases")
	assert.Equal(t, 1, env.rec.getSchemas, "one schema fetched for 250 events of one schema")

	for _, ev := range all {
		require.NoError(t, ev.DecodeErr)
		var m map[string]any
		require.NoError(t, json.Unmarshal(ev.JSON, &m))
		assert.Equal(t, "Account", m["ChangeEventHeader"].(map[string]any)["entityName"])
		assert.NotEmpty(t, ev.EventID)
	}
}

// TestResubscribeAfterRevokedToken: a revoked token ends the stream with UNAUTHENTICATED; the client refreshes
// the token and resubscribes after the last event it handed on: nothing lost, nothing repeated.
func TestResubscribeAfterRevokedToken(t *testing.T) {
	env := startEnv(t, sfemu.Config{Preload: []sfemu.ChannelCount{{Channel: "/event/Order_Event__e", Count: 10}}}, false)
	ctx := testCtx(t)
	sub, err := env.client.Subscribe(ctx, SubscribeConfig{Topic: "/event/Order_Event__e", Preset: ReplayEarliest, MaxInFlight: 4})
	require.NoError(t, err)
	defer sub.Close()

	first := collect(t, ctx, sub, 4, false)
	require.NoError(t, env.emu.InjectFault(sfemu.FaultRequest{Fault: sfemu.FaultRevokeTokens}))
	grantsBefore := env.emu.State().Counters["token_grants"]
	sub.Release(4)
	rest := collect(t, ctx, sub, 6, true)
	all := append(first, rest...)
	require.Len(t, all, 10)
	distinctInOrder(t, all)
	assert.Greater(t, env.emu.State().Counters["token_grants"], grantsBefore, "a new token was requested")
	assert.True(t, env.log.contains("token refused"), "the refusal is logged")
	assert.GreaterOrEqual(t, env.obs.count(stream.ReconnectAuth), 1, "the resubscription is reported")
	env.obs.mu.Lock()
	assert.GreaterOrEqual(t, env.obs.refreshes, 1, "the refresh is reported")
	env.obs.mu.Unlock()
	tok, err := env.client.currentToken(ctx)
	require.NoError(t, err)
	assert.False(t, env.log.contains(tok.AccessToken), "no token in the log")
}

// TestInvalidReplayPolicies: a replay id no longer retained falls back as configured, or fails.
func TestInvalidReplayPolicies(t *testing.T) {
	env := startEnv(t, sfemu.Config{Preload: []sfemu.ChannelCount{{Channel: "/event/Order_Event__e", Count: 6}}}, false)
	ctx := testCtx(t)
	sub, err := env.client.Subscribe(ctx, SubscribeConfig{Topic: "/event/Order_Event__e", Preset: ReplayEarliest})
	require.NoError(t, err)
	evs := collect(t, ctx, sub, 6, true)
	require.NoError(t, sub.Close())
	_, err = sub.Next(ctx)
	assert.ErrorIs(t, err, ErrClosed)

	// The first two events expire (replay ids have gaps: purge through the second's).
	through := int64(binary.BigEndian.Uint64(evs[1].ReplayID))
	n, err := env.emu.Purge("/event/Order_Event__e", &through)
	require.NoError(t, err)
	require.Equal(t, 2, n, "purged through replay id %d", through)
	stale := evs[0].ReplayID

	t.Run("earliest", func(t *testing.T) {
		sub, err := env.client.Subscribe(ctx, SubscribeConfig{Topic: "/event/Order_Event__e", ReplayID: stale, OnInvalidReplayID: stream.ReplayFallbackEarliest})
		require.NoError(t, err)
		defer sub.Close()
		b, err := sub.Next(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, b.Fallbacks, "the batch after the fallback says so")
		assert.Equal(t, evs[2].ReplayID, b.Events[0].ReplayID, "every retained event")
	})
	t.Run("latest", func(t *testing.T) {
		sub, err := env.client.Subscribe(ctx, SubscribeConfig{Topic: "/event/Order_Event__e", ReplayID: stale, OnInvalidReplayID: stream.ReplayFallbackLatest})
		require.NoError(t, err)
		defer sub.Close()
		// Nothing says when the subscription from latest reached the server:
		// publish one event at a time until one arrives. It must be one of
		// those, never a retained event from before the fallback.
		retained := map[string]bool{}
		for _, ev := range evs {
			retained[string(ev.ReplayID)] = true
		}
		for attempt := 0; ; attempt++ {
			require.Less(t, attempt, 100, "no new event arrived after the fallback to latest")
			_, _, err := env.emu.PublishN("/event/Order_Event__e", 1)
			require.NoError(t, err)
			nctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			b, err := sub.Next(nctx)
			cancel()
			if err != nil {
				continue
			}
			require.NotEmpty(t, b.Events)
			assert.Equal(t, 1, b.Fallbacks, "the batch after the fallback says so")
			assert.False(t, retained[string(b.Events[0].ReplayID)], "latest delivers no retained event: got one from before the fallback")
			return
		}
	})
	t.Run("fail", func(t *testing.T) {
		sub, err := env.client.Subscribe(ctx, SubscribeConfig{Topic: "/event/Order_Event__e", ReplayID: stale, OnInvalidReplayID: stream.ReplayFallbackFail})
		require.NoError(t, err)
		defer sub.Close()
		_, err = sub.Next(ctx)
		var ire *stream.InvalidReplayError
		require.ErrorAs(t, err, &ire)
		assert.Equal(t, stale, []byte(ire.ReplayID.Opaque))
		var se *StatusError
		require.ErrorAs(t, ire.Err, &se)
		assert.Equal(t, ErrorCodeReplayCorrupt, se.ErrorCode)
		env.obs.mu.Lock()
		assert.Contains(t, env.obs.fallbacks, stream.ReplayFallbackFail, "the refusal is reported")
		env.obs.mu.Unlock()
	})
}

// TestKeepaliveHandedOn: with nothing to deliver the server's keepalive reaches the caller as an empty batch
// carrying the newest position.
func TestKeepaliveHandedOn(t *testing.T) {
	env := startEnv(t, sfemu.Config{Preload: []sfemu.ChannelCount{{Channel: "/data/ChangeEvents", Count: 3}}}, true)
	ctx := testCtx(t)
	sub, err := env.client.Subscribe(ctx, SubscribeConfig{Topic: "/data/ChangeEvents", Preset: ReplayEarliest})
	require.NoError(t, err)
	defer sub.Close()
	evs := collect(t, ctx, sub, 3, true)

	for range 20 { // the server re-arms its keepalive timer after each send: advance until one fires
		env.clock.Advance(sfemu.PubSubKeepalive)
		wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		b, err := sub.Next(wctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		require.NoError(t, err)
		require.True(t, b.Keepalive())
		assert.Equal(t, evs[2].ReplayID, b.LatestReplayID)
		return
	}
	t.Fatal("no keepalive after 20 keepalive periods")
}

// TestSubscribeUnknownTopic: a topic Salesforce does not know fails Subscribe at once, permanently.
func TestSubscribeUnknownTopic(t *testing.T) {
	env := startEnv(t, sfemu.Config{}, false)
	_, err := env.client.Subscribe(testCtx(t), SubscribeConfig{Topic: "/topic/InvoiceUpdates"})
	var pe *stream.PermissionError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "/topic/InvoiceUpdates", pe.Channel)
}

func TestTenantID(t *testing.T) {
	tests := []struct {
		id, want, wantErr string
	}{
		{"https://login.salesforce.com/id/00D5e000000SfEmUAQ/0055e000001SfEmUAA", "00D5e000000SfEmUAQ", ""},
		{"https://test.salesforce.com/id/00Dxx0000001gPL/005xx000001Sv6A", "00Dxx0000001gPL", ""},
		{"", "", "no identity URL"},
		{"https://login.salesforce.com/services/oauth2/userinfo", "", "not /id/"},
	}
	for _, tc := range tests {
		got, err := TenantID(sfauth.Token{ID: tc.id})
		if tc.wantErr != "" {
			require.Error(t, err, tc.id)
			assert.Contains(t, err.Error(), tc.wantErr)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

// TestResubscribeAfterResetAndLimit: a reset or closed stream resubscribes at once, a limit after Backoff.Long;
// all continue after the last event handed on. MaxInFlight 2 keeps every batch at two events or fewer.
func TestResubscribeAfterResetAndLimit(t *testing.T) {
	env := startEnv(t, sfemu.Config{Preload: []sfemu.ChannelCount{{Channel: "/data/AccountChangeEvent", Count: 12}}}, false)
	ctx := testCtx(t)
	sub, err := env.client.Subscribe(ctx, SubscribeConfig{Topic: "/data/AccountChangeEvent", Preset: ReplayEarliest, MaxInFlight: 2})
	require.NoError(t, err)
	defer sub.Close()

	all := collect(t, ctx, sub, 2, false)
	env.emu.ResetPubSubStreams()
	sub.Release(2)
	all = append(all, collect(t, ctx, sub, 2, false)...)

	// A clean end of the stream (the server closing its side) is recovered from the same way.
	require.NoError(t, env.emu.InjectFault(sfemu.FaultRequest{Fault: sfemu.FaultServerDisconnect}))
	sub.Release(2)
	all = append(all, collect(t, ctx, sub, 2, false)...)

	require.NoError(t, env.emu.InjectFault(sfemu.FaultRequest{Fault: sfemu.FaultDailyLimit}))
	sub.Release(2)
	// The limit refuses the next stream(s); lifting it lets the retried subscription continue.
	require.Eventually(t, func() bool {
		return env.log.contains("ERROR pubsub /data/AccountChangeEvent: Salesforce limit reached")
	},
		10*time.Second, time.Millisecond)
	require.NoError(t, env.emu.InjectFault(sfemu.FaultRequest{Fault: sfemu.FaultClear}))
	all = append(all, collect(t, ctx, sub, 6, true)...)
	require.Len(t, all, 12)
	distinctInOrder(t, all)
	assert.GreaterOrEqual(t, env.obs.count(stream.ReconnectConnectionError), 2, "the reset and the clean end are reported")
	assert.GreaterOrEqual(t, env.obs.count(stream.ReconnectLimit), 1, "the limit is reported")
}

// TestCloseEndsSubscriptions: closing the Client ends its subscriptions (Next returns ErrClosed); Close is
// idempotent on both.
func TestCloseEndsSubscriptions(t *testing.T) {
	env := startEnv(t, sfemu.Config{Preload: []sfemu.ChannelCount{{Channel: "/event/Order_Event__e"}}}, false) // the event type exists
	ctx := testCtx(t)
	sub, err := env.client.Subscribe(ctx, SubscribeConfig{Topic: "/event/Order_Event__e"})
	require.NoError(t, err)
	require.NoError(t, env.client.Close())
	require.NoError(t, env.client.Close())
	_, err = sub.Next(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	require.NoError(t, sub.Close())
	require.NoError(t, sub.Close())
	_, err = env.client.GetTopic(ctx, "/event/Order_Event__e")
	assert.ErrorIs(t, err, ErrClosed)
}

// TestUnaryRefreshesRefusedToken: GetTopic and Schema retry once with a refreshed token after UNAUTHENTICATED.
func TestUnaryRefreshesRefusedToken(t *testing.T) {
	env := startEnv(t, sfemu.Config{Preload: []sfemu.ChannelCount{{Channel: "/event/Order_Event__e"}}}, false) // the event type exists
	ctx := testCtx(t)
	info, err := env.client.GetTopic(ctx, "/event/Order_Event__e")
	require.NoError(t, err)
	require.NoError(t, env.emu.InjectFault(sfemu.FaultRequest{Fault: sfemu.FaultRevokeTokens}))
	grants := env.emu.State().Counters["token_grants"]
	_, err = env.client.Schema(ctx, info.GetSchemaId())
	require.NoError(t, err, "the refused token was replaced")
	assert.Equal(t, grants+1, env.emu.State().Counters["token_grants"])

	_, err = env.client.GetTopic(ctx, "/topic/Nope")
	var pe *stream.PermissionError
	assert.ErrorAs(t, err, &pe, "an unknown topic is not retried")
}
