package orgapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

func contextWithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// A busy server and a limit are waited out by the backoff policy; other
// refusals are not retried; server text in errors is redacted.
func TestRetryPolicy(t *testing.T) {
	const page = `{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Account"},"Id":"001"}]}`
	busy := `[{"message":"Server busy","errorCode":"SERVER_UNAVAILABLE"}]`
	limit := `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`
	leak := `[{"message":"bad 00Dxx0000001gPL!tok1secret","errorCode":"MALFORMED_QUERY"}]`
	tests := []struct {
		name    string
		answers []answer
		calls   int
		waits   int
		errCode string
	}{
		{"503 then ok", []answer{{503, busy}, {503, busy}, {200, page}}, 3, 2, ""},
		{"limit then ok", []answer{{403, limit}, {200, page}}, 2, 1, ""},
		{"a bad query is final", []answer{{400, leak}}, 1, 0, "MALFORMED_QUERY"},
		{"forbidden is final", []answer{{403, `[{"errorCode":"API_DISABLED_FOR_ORG","message":"no"}]`}}, 1, 0, "API_DISABLED_FOR_ORG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a := tc.answers[min(int(n.Add(1))-1, len(tc.answers)-1)]
				w.WriteHeader(a.status)
				_, _ = w.Write([]byte(a.body))
			}))
			defer srv.Close()
			seen := &calls{n: map[string]int{}}
			c := New(&fakeTokens{url: srv.URL}, srv.Client(), "64.0", redact.New(), WithHooks(seen.hooks()),
				WithBackoff(stream.BackoffConfig{Initial: time.Millisecond, Max: 2 * time.Millisecond, Long: 3 * time.Millisecond}))
			var got int
			_, err := c.Query(t.Context(), "SELECT Id FROM Account", false, func(json.RawMessage) error { got++; return nil })
			assert.Equal(t, tc.calls, seen.of(KindQuery))
			assert.Len(t, seen.waits, tc.waits)
			if tc.errCode != "" {
				var se *StatusError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tc.errCode, se.Code)
				assert.NotContains(t, err.Error(), "tok1secret")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 1, got)
		})
	}
}

type answer struct {
	status int
	body   string
}

// A page cut short is an error, never a silently shorter page.
func TestTruncatedPageIsAnError(t *testing.T) {
	for _, body := range []string{
		`{"totalSize":3,"done":true,"records":[{"Id":"1"},{"Id":"2"}`,
		`{"totalSize":3,"done":false,"records":[]}`,
		`<html>`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
		c := New(&fakeTokens{url: srv.URL}, srv.Client(), "64.0", nil)
		_, err := c.Query(t.Context(), "SELECT Id FROM Account", false, func(json.RawMessage) error { return nil })
		assert.Error(t, err, body)
		srv.Close()
	}
}
