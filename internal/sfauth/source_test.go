package sfauth

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// result is what one concurrent caller got.
type result struct {
	tok Token
	err error
}

// startCallers runs n calls of fn concurrently and returns their results once
// all have returned.
func startCallers(n int, fn func() (Token, error)) <-chan []result {
	out := make(chan []result, 1)
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Go(func() {
			tok, err := fn()
			results[i] = result{tok, err}
		})
	}
	go func() { wg.Wait(); out <- results }()
	return out
}

// joinedSignal makes s report each caller that starts waiting for a fetch.
func joinedSignal(s *Source) <-chan struct{} {
	ch := make(chan struct{}, 100)
	s.joined = func() { ch <- struct{}{} }
	return ch
}

func awaitResults(t *testing.T, ch <-chan []result) []result {
	t.Helper()
	done := make(chan struct{})
	var rs []result
	go func() { rs = <-ch; close(done) }()
	await(t, done, "callers to return")
	return rs
}

func TestTokenIsCached(t *testing.T) {
	ep := newFakeEndpoint(t, numberedToken)
	s := newTestSource(t, clientCredentials(ep.srv.URL))
	for range 3 {
		tok, err := s.Token(t.Context())
		require.NoError(t, err)
		assert.Equal(t, "tok-1", tok.AccessToken)
	}
	assert.Equal(t, 1, ep.requestCount())
}

func TestSingleFlight(t *testing.T) {
	const callers = 8
	tests := []struct {
		name string
		call func(s *Source, stale Token) (Token, error)
	}{
		{"Token", func(s *Source, _ Token) (Token, error) { return s.Token(context.Background()) }},
		{"Refresh", func(s *Source, stale Token) (Token, error) { return s.Refresh(context.Background(), stale) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newFakeEndpoint(t, numberedToken)
			s := newTestSource(t, clientCredentials(ep.srv.URL))
			stale, err := s.Token(t.Context()) // tok-1, cached
			require.NoError(t, err)
			if tt.name == "Token" {
				s.have = false // nothing cached: every Token call must fetch
			}
			ep.gated()
			joined := joinedSignal(s)

			results := startCallers(callers, func() (Token, error) { return tt.call(s, stale) })
			for range callers {
				await(t, joined, "callers to join the fetch")
			}
			await(t, ep.arrived, "the fetch to reach the endpoint")
			ep.release()

			for _, r := range awaitResults(t, results) {
				require.NoError(t, r.err)
				assert.Equal(t, "tok-2", r.tok.AccessToken)
			}
			assert.Equal(t, 2, ep.requestCount(), "one initial fetch plus one shared fetch")
		})
	}
}

func TestRefreshOfAlreadyReplacedToken(t *testing.T) {
	ep := newFakeEndpoint(t, numberedToken)
	s := newTestSource(t, clientCredentials(ep.srv.URL))
	first, err := s.Token(t.Context())
	require.NoError(t, err)

	second, err := s.Refresh(t.Context(), first)
	require.NoError(t, err)
	assert.Equal(t, "tok-2", second.AccessToken)

	// A caller that still held the first token gets the second without a request.
	again, err := s.Refresh(t.Context(), first)
	require.NoError(t, err)
	assert.Equal(t, second, again)
	assert.Equal(t, 2, ep.requestCount())

	// Refreshing the current one fetches.
	third, err := s.Refresh(t.Context(), second)
	require.NoError(t, err)
	assert.Equal(t, "tok-3", third.AccessToken)
	cached, err := s.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, third, cached)
	assert.Equal(t, 3, ep.requestCount())
}

func TestFailureIsSharedAndNotCached(t *testing.T) {
	ep := newFakeEndpoint(t, func(w http.ResponseWriter, n int) {
		if n == 2 {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "expired access/refresh token"})
			return
		}
		numberedToken(w, n)
	})
	s := newTestSource(t, clientCredentials(ep.srv.URL))
	first, err := s.Token(t.Context())
	require.NoError(t, err)

	ep.gated()
	joined := joinedSignal(s)
	results := startCallers(3, func() (Token, error) { return s.Refresh(context.Background(), first) })
	for range 3 {
		await(t, joined, "callers to join the fetch")
	}
	await(t, ep.arrived, "the fetch to reach the endpoint")
	ep.release()
	for _, r := range awaitResults(t, results) {
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "invalid_grant: expired access/refresh token")
		assert.True(t, IsPermanent(r.err))
	}
	assert.Equal(t, 2, ep.requestCount())

	// The rejected token is gone: Token fetches a new one rather than handing it out again.
	next, err := s.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "tok-3", next.AccessToken)
	assert.Equal(t, 3, ep.requestCount())
}

func TestCancelledWaiterLeavesOthersWaiting(t *testing.T) {
	ep := newFakeEndpoint(t, numberedToken).gated()
	s := newTestSource(t, clientCredentials(ep.srv.URL))
	joined := joinedSignal(s)

	ctx, cancel := context.WithCancel(t.Context())
	impatient := startCallers(1, func() (Token, error) { return s.Token(ctx) })
	await(t, joined, "the first caller to join")
	patient := startCallers(1, func() (Token, error) { return s.Token(context.Background()) })
	await(t, joined, "the second caller to join")
	await(t, ep.arrived, "the fetch to reach the endpoint")

	cancel() // the caller that started the fetch gives up
	r := awaitResults(t, impatient)[0]
	require.ErrorIs(t, r.err, context.Canceled)
	assert.False(t, IsPermanent(r.err))

	ep.release()
	r = awaitResults(t, patient)[0]
	require.NoError(t, r.err)
	assert.Equal(t, "tok-1", r.tok.AccessToken)
	assert.Equal(t, 1, ep.requestCount())
}

func TestLastWaiterCancelsTheRequest(t *testing.T) {
	ep := newFakeEndpoint(t, numberedToken).gated()
	s := newTestSource(t, clientCredentials(ep.srv.URL))

	ctx, cancel := context.WithCancel(t.Context())
	caller := startCallers(1, func() (Token, error) { return s.Token(ctx) })
	await(t, ep.arrived, "the fetch to reach the endpoint")
	cancel()
	require.ErrorIs(t, awaitResults(t, caller)[0].err, context.Canceled)
	await(t, ep.cancelled, "the abandoned request to be cancelled")

	// The next caller starts a fresh request instead of joining the cancelled one.
	ep.release()
	tok, err := s.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "tok-2", tok.AccessToken)
	assert.Equal(t, 2, ep.requestCount())
}

func TestDoneContextMakesNoRequest(t *testing.T) {
	ep := newFakeEndpoint(t, numberedToken)
	s := newTestSource(t, clientCredentials(ep.srv.URL))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Token(ctx)
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Refresh(ctx, Token{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 0, ep.requestCount())
}
