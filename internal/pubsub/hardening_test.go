package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/test/hostilepubsub"
)

// testClient is a Client that is never connected, for the pure parts (statusError).
func testClient() *Client {
	return &Client{red: redact.New(), log: stream.NopLogger{}, obs: stream.NopObserver{}, closed: make(chan struct{})}
}

// hostileToken is the n-th token the counting source issues, shaped like a Salesforce session id with characters
// that change under encoding.
func hostileToken(n int) string {
	return fmt.Sprintf(`00D000000000001AAA!AQx%02dHt7"Zq4&Rw9 Lp+Ks/`, n)
}

// countingSource issues a new token per request and counts them.
type countingSource struct{ grants atomic.Int32 }

func (s *countingSource) issue() sfauth.Token {
	n := int(s.grants.Add(1))
	return sfauth.Token{AccessToken: hostileToken(n), InstanceURL: "https://org.example",
		ID: "https://login.example/id/00D000000000001AAA/005000000000001AAA"}
}
func (s *countingSource) Token(context.Context) (sfauth.Token, error) { return s.issue(), nil }
func (s *countingSource) Refresh(context.Context, sfauth.Token) (sfauth.Token, error) {
	return s.issue(), nil
}

func TestRetryPolicy(t *testing.T) {
	b := stream.BackoffConfig{}.WithDefaults()
	inDelay := func(attempt int, d time.Duration) bool {
		hi := b.Initial << (attempt - 1)
		hi = min(hi, b.Max)
		return d >= hi/2 && d < hi
	}
	t.Run("a streak resubscribes at once, then backs off exponentially", func(t *testing.T) {
		p := retryPolicy{backoff: b}
		wait, refresh := p.failure(kindRetryable)
		assert.Zero(t, wait)
		assert.False(t, refresh)
		for attempt := 1; attempt <= 8; attempt++ {
			wait, _ = p.failure(kindRetryable)
			assert.True(t, inDelay(attempt, wait), "failure %d waited %s", attempt+1, wait)
		}
	})
	t.Run("only a healthy stream ends the streak", func(t *testing.T) {
		p := retryPolicy{backoff: b}
		p.failure(kindRetryable)
		p.failure(kindRetryable)
		p.healthy()
		wait, _ := p.failure(kindRetryable)
		assert.Zero(t, wait, "the first failure after a healthy stream resubscribes at once")
	})
	t.Run("one immediate refresh per streak, then refresh after backoff", func(t *testing.T) {
		p := retryPolicy{backoff: b}
		wait, refresh := p.failure(kindAuth)
		assert.Zero(t, wait)
		assert.True(t, refresh)
		for attempt := 1; attempt <= 4; attempt++ {
			wait, refresh = p.failure(kindAuth)
			assert.True(t, refresh, "each refusal gets one refresh")
			assert.True(t, inDelay(attempt, wait), "refusal %d waited %s", attempt+1, wait)
		}
		p.healthy()
		wait, _ = p.failure(kindAuth)
		assert.Zero(t, wait)
	})
	for _, k := range []errKind{kindLimit, kindPermanent} {
		t.Run(k.String()+" waits long", func(t *testing.T) {
			p := retryPolicy{backoff: b}
			wait, refresh := p.failure(k)
			assert.GreaterOrEqual(t, wait, b.Long/2)
			assert.Less(t, wait, b.Long)
			assert.False(t, refresh)
		})
	}
}

func TestNewAppliesTheCometDDefaults(t *testing.T) {
	c, err := New(Config{Auth: &countingSource{}, Endpoint: "127.0.0.1:1", Plaintext: true})
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, stream.DefaultBackoffInitial, c.cfg.Backoff.Initial)
	assert.Equal(t, stream.DefaultBackoffMax, c.cfg.Backoff.Max)
	assert.Equal(t, stream.DefaultBackoffLong, c.cfg.Backoff.Long)
	assert.Equal(t, DefaultMaxResponseBytes, c.cfg.MaxResponseBytes)
	assert.Equal(t, DefaultHealthyAfter, c.cfg.HealthyAfter)
	assert.Equal(t, DefaultKeepaliveQuiet, c.cfg.KeepaliveQuiet)
	assert.NotNil(t, c.red)
}

func TestFlowWindowNeverAcceptsPastTheRequest(t *testing.T) {
	tests := []struct {
		requested, received, accepted, left int
	}{
		{requested: 10, received: 4, accepted: 4, left: 6},
		{requested: 10, received: 10, accepted: 10, left: 0},
		{requested: 10, received: 50, accepted: 10, left: 0},
		{requested: 0, received: 3, accepted: 0, left: 0},
	}
	for _, tt := range tests {
		f := flowWindow{}
		f.requested(tt.requested)
		assert.Equal(t, tt.accepted, f.received(tt.received), "%+v", tt)
		assert.Equal(t, tt.left, f.outstanding, "%+v", tt)
	}
}

func TestKeepaliveApplies(t *testing.T) {
	tests := []struct {
		name     string
		inFlight bool
		quiet    time.Duration
		want     bool
	}{
		{"idle and quiet", false, 6 * time.Second, true},
		{"exactly the quiet period", false, 5 * time.Second, true},
		{"right behind a delivery", false, 10 * time.Millisecond, false},
		{"events in flight", true, time.Minute, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, keepaliveApplies(tt.inFlight, tt.quiet, 5*time.Second), tt.name)
	}
}

func TestSeenIDsIsBounded(t *testing.T) {
	s := newSeenIDs(3)
	for _, id := range []string{"a", "b", "c"} {
		assert.True(t, s.add(id))
	}
	assert.False(t, s.add("b"), "a duplicate")
	assert.True(t, s.add("d"), "a new id evicts the oldest")
	assert.True(t, s.add("a"), "the oldest was forgotten")
	assert.Len(t, s.set, 3)

	// Ids of up to 8 bytes are kept in place, longer ones as text; lengths and forms never mix.
	s = newSeenIDs(8)
	for _, id := range []string{"", "\x00", "\x00\x00", "12345678", "123456789", "1234567"} {
		assert.True(t, s.add(id), "%q is new", id)
		assert.False(t, s.addBytes([]byte(id)), "%q as bytes is the same id", id)
	}
}

func TestViolationLogIsRateLimited(t *testing.T) {
	log := &testLogger{}
	v := newViolationLog(log, "/event/X__e")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v.now = func() time.Time { return now }
	assert.True(t, v.report("flood", "first"))
	for range 5 {
		assert.False(t, v.report("flood", "again"))
	}
	assert.True(t, v.report("duplicate", "another kind is logged on its own"))
	now = now.Add(violationEvery)
	assert.True(t, v.report("flood", "later"))
	assert.True(t, log.contains("(5 more of this kind since the last report)"), log.all())
}

func TestStatusErrorRedactsServerText(t *testing.T) {
	tok := hostileToken(1)
	c := testClient()
	c.red.AddToken(tok)
	for name, text := range map[string]string{
		"raw":    "refused " + tok,
		"query":  "q=" + strings.ReplaceAll(tok, " ", "+"),
		"bearer": "Authorization: Bearer " + tok,
	} {
		err := c.statusError(status.Error(codes.Unavailable, text),
			metadata.Pairs("error-code", "echo "+tok, "rpc-id", tok))
		var se *StatusError
		require.ErrorAs(t, err, &se, name)
		for _, part := range []string{se.Error(), se.Message, se.ErrorCode, se.RPCID} {
			assert.NotContains(t, part, "Ht7", "%s: %q", name, part)
		}
	}
}

func TestTooLargeIsRecognised(t *testing.T) {
	err := testClient().statusError(status.Error(codes.ResourceExhausted,
		"grpc: received message larger than max (62914632 vs. 16777216)"), nil)
	var tl *TooLargeError
	require.ErrorAs(t, err, &tl)
	assert.Equal(t, int64(62914632), tl.Size)
	kind, wrapped := classify(err, "/event/X__e", nil)
	assert.Equal(t, kindTooLarge, kind)
	assert.Contains(t, wrapped.Error(), "/event/X__e")
	assert.Contains(t, wrapped.Error(), "62914632 bytes")
	assert.Equal(t, 15, smallWindow(DefaultMaxResponseBytes), "16 MB holds 15 events of 1 MB with room for framing")

	other := testClient().statusError(status.Error(codes.ResourceExhausted, "limit exceeded"), nil)
	assert.False(t, errors.As(other, &tl), "Salesforce's own RESOURCE_EXHAUSTED stays a limit")
}

// hostileEnv is a Client with default backoff against a hostile server.
type hostileEnv struct {
	srv *hostilepubsub.Server
	src *countingSource
	log *testLogger
	c   *Client
}

func startHostile(t *testing.T, mode hostilepubsub.Mode, cfg Config) *hostileEnv {
	t.Helper()
	srv, err := hostilepubsub.Start(hostilepubsub.Config{Mode: mode, AheadPause: 2 * time.Second})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	env := &hostileEnv{srv: srv, src: &countingSource{}, log: &testLogger{}}
	cfg.Auth, cfg.Endpoint, cfg.Plaintext, cfg.Logger = env.src, srv.Addr(), true, env.log
	env.c, err = New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = env.c.Close() })
	return env
}

// drain takes batches for d, releasing them, and returns the events and keepalive positions in order.
func drain(t *testing.T, sub *Subscription, d time.Duration, release bool) (events []Event, keepalives [][]byte, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		b, err := sub.Next(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return events, keepalives, nil
		}
		if err != nil {
			return events, keepalives, err
		}
		if b.Keepalive() {
			keepalives = append(keepalives, b.LatestReplayID)
		}
		events = append(events, b.Events...)
		if release {
			sub.Release(len(b.Events))
		}
	}
}

func seqs(t *testing.T, evs []Event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		n, ok := hostilepubsub.Seq(ev.ReplayID)
		require.True(t, ok)
		out[i] = n
	}
	return out
}

func oneToN(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// TestHostileServer holds the client to its bounds against each hostile mode, with the default backoff.
func TestHostileServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a hostile server for a few seconds per mode")
	}
	const window = 3 * time.Second
	t.Run("getschema failing after subscribe backs off", func(t *testing.T) {
		t.Parallel()
		env := startHostile(t, hostilepubsub.SchemaFails, Config{})
		sub, err := env.c.Subscribe(testCtx(t), SubscribeConfig{Topic: env.srv.Topic(), Preset: ReplayEarliest})
		require.NoError(t, err)
		defer sub.Close()
		evs, _, err := drain(t, sub, window, true)
		require.NoError(t, err)
		assert.Empty(t, evs, "no event can be decoded")
		// at once, then about 0.75 s, 1.5 s, 3 s: at most 5 subscribes in 3 s (the old client made thousands)
		assert.LessOrEqual(t, env.srv.Stats().Subscribes, 5)
		assert.True(t, env.log.contains("the schema service is unavailable"), env.log.all())
	})
	t.Run("unauthenticated getschema refreshes once per refusal and backs off", func(t *testing.T) {
		t.Parallel()
		env := startHostile(t, hostilepubsub.SchemaUnauthenticated, Config{})
		sub, err := env.c.Subscribe(testCtx(t), SubscribeConfig{Topic: env.srv.Topic(), Preset: ReplayEarliest})
		require.NoError(t, err)
		defer sub.Close()
		_, _, err = drain(t, sub, window, true)
		require.NoError(t, err)
		st := env.srv.Stats()
		assert.LessOrEqual(t, st.Subscribes, 5)
		assert.LessOrEqual(t, int(env.src.grants.Load()), st.Subscribes+1, "one token per refusal (plus the first)")
		assert.LessOrEqual(t, st.GetSchemas, st.Subscribes, "GetSchema inside a stream is not retried by itself")
	})
	t.Run("token echoed in messages, trailers and event ids is redacted", func(t *testing.T) {
		t.Parallel()
		env := startHostile(t, hostilepubsub.TokenEcho, Config{})
		sub, err := env.c.Subscribe(testCtx(t), SubscribeConfig{Topic: env.srv.Topic(), Preset: ReplayEarliest})
		require.NoError(t, err)
		defer sub.Close()
		evs, _, err := drain(t, sub, window, true)
		require.NoError(t, err)
		require.NotEmpty(t, evs)
		assert.Equal(t, oneToN(len(evs)), seqs(t, evs))
		for _, ev := range evs {
			assert.Equal(t, "evt-"+redact.Mark, ev.EventID)
		}
		require.True(t, env.log.contains("upstream refused the request"), env.log.all())
		assert.NotContains(t, env.log.all(), "Ht7", "no piece of a token in any log")
		assert.LessOrEqual(t, env.srv.Stats().Subscribes, 5)
	})
	t.Run("a flood past num_requested is refused", func(t *testing.T) {
		t.Parallel()
		env := startHostile(t, hostilepubsub.Flood, Config{})
		sub, err := env.c.Subscribe(testCtx(t), SubscribeConfig{Topic: env.srv.Topic(), Preset: ReplayEarliest, MaxInFlight: 20})
		require.NoError(t, err)
		defer sub.Close()
		held := collect(t, testCtx(t), sub, 20, false)
		require.Len(t, held, 20, "the first response's flood is cut at what was requested")
		more, _, err := drain(t, sub, time.Second, false)
		require.NoError(t, err)
		assert.Empty(t, more, "never more than MaxInFlight handed on, whatever the server sends")
		sub.Release(len(held))
		rest, _, err := drain(t, sub, 8*time.Second, true)
		require.NoError(t, err)
		all := seqs(t, append(held, rest...))
		assert.Equal(t, oneToN(len(all)), all, "every event once, in order, none skipped")
		assert.GreaterOrEqual(t, len(all), 40, "each stream hands on what was requested before it is ended")
		assert.LessOrEqual(t, env.srv.Stats().Subscribes, 8, "a flooding server is resubscribed with backoff")
		assert.True(t, env.log.contains("flow control violated"), env.log.all())
	})
	t.Run("a keepalive ahead of delivery moves no position", func(t *testing.T) {
		t.Parallel()
		env := startHostile(t, hostilepubsub.KeepaliveAhead, Config{})
		sub, err := env.c.Subscribe(testCtx(t), SubscribeConfig{Topic: env.srv.Topic(), Preset: ReplayEarliest})
		require.NoError(t, err)
		defer sub.Close()
		evs, keepalives, err := drain(t, sub, 2*window, true)
		require.NoError(t, err)
		assert.Equal(t, oneToN(200), seqs(t, evs))
		assert.Empty(t, keepalives, "the keepalive came right behind a delivery: not taken")
		assert.Equal(t, 1, env.srv.Stats().Subscribes, "the stream stayed open")
	})
	t.Run("a lying pending_num_requested is not trusted", func(t *testing.T) {
		t.Parallel()
		env := startHostile(t, hostilepubsub.LyingPending, Config{})
		sub, err := env.c.Subscribe(testCtx(t), SubscribeConfig{Topic: env.srv.Topic(), Preset: ReplayEarliest, MaxInFlight: 20})
		require.NoError(t, err)
		defer sub.Close()
		evs, _, err := drain(t, sub, window, true)
		require.NoError(t, err)
		assert.Equal(t, oneToN(200), seqs(t, evs))
		assert.LessOrEqual(t, env.srv.Stats().MaxOutstanding, 20, "requests follow the client's own count")
		assert.True(t, env.log.contains("the client keeps its own count"), env.log.all())
	})
	t.Run("a 60 MB event is refused unread, naming the channel and the size", func(t *testing.T) {
		t.Parallel()
		env := startHostile(t, hostilepubsub.HugeEvent, Config{})
		sub, err := env.c.Subscribe(testCtx(t), SubscribeConfig{Topic: env.srv.Topic(), Preset: ReplayEarliest})
		require.NoError(t, err)
		defer sub.Close()
		evs, _, err := drain(t, sub, window, true)
		require.NoError(t, err)
		assert.Empty(t, evs, "nothing passes the huge first event")
		subscribes := env.srv.Stats().Subscribes
		// The server makes and sends 60 MB first: on a loaded machine (a -race run of the whole package) that alone
		// can outlast the window, so the refusal is awaited; the bound on subscribes is the window's.
		assert.Eventually(t, func() bool {
			return env.log.contains("/event/Hostile__e", "exceeds the 16777216-byte limit", "requesting at most 15")
		}, 30*time.Second, 20*time.Millisecond, "the refusal is logged, naming the channel, the size and the smaller window")
		assert.LessOrEqual(t, subscribes, 5)
	})
	t.Run("duplicate ids are dropped", func(t *testing.T) {
		t.Parallel()
		env := startHostile(t, hostilepubsub.Duplicates, Config{})
		sub, err := env.c.Subscribe(testCtx(t), SubscribeConfig{Topic: env.srv.Topic(), Preset: ReplayEarliest})
		require.NoError(t, err)
		defer sub.Close()
		evs, _, err := drain(t, sub, window, true)
		require.NoError(t, err)
		assert.Equal(t, oneToN(200), seqs(t, evs))
		assert.True(t, env.log.contains("twice in one stream"), env.log.all())
	})
}

func TestRedactID(t *testing.T) {
	red := redact.New("PlainSecret42")
	red.AddToken(hostileToken(1))
	tests := []struct{ id, want string }{
		{"e8b7d1f0-4a4b-4c4f-9a0a-1b2c3d4e5f60", "e8b7d1f0-4a4b-4c4f-9a0a-1b2c3d4e5f60"},
		{"evt-PlainSecret42", "evt-" + redact.Mark},
		{"evt-" + hostileToken(1), "evt-" + redact.Mark},
		{"id 00D000000000001AAA!AQunknownTokenxyz", "id " + redact.Mark},
		{"Authorization: Bearer abcdefgh12345", "Authorization: " + redact.Mark},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, redactID(red, tt.id), tt.id)
	}
}
