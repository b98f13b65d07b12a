package orgapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
)

// fakeTokens hands out tok1, then tok2 after a Refresh.
type fakeTokens struct {
	url       string
	mu        sync.Mutex
	refreshes int
}

func (f *fakeTokens) current() string {
	if f.refreshes == 0 {
		return "00Dxx0000001gPL!tok1secret"
	}
	return "00Dxx0000001gPL!tok2secret"
}

func (f *fakeTokens) Token(context.Context) (sfauth.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sfauth.Token{AccessToken: f.current(), InstanceURL: f.url}, nil
}

func (f *fakeTokens) Refresh(context.Context, sfauth.Token) (sfauth.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes++
	return sfauth.Token{AccessToken: f.current(), InstanceURL: f.url}, nil
}

const limitsBody = `{"DailyApiRequests":{"Max":15000,"Remaining":14998},
 "DailyDeliveredPlatformEvents":{"Max":50000,"Remaining":49000},
 "MonthlyPlatformEventsUsageEntitlement":{"Max":0,"Remaining":0},
 "PermissionSets":{"Max":1500,"Remaining":1498,"CreateCustom":{"Max":1000,"Remaining":998}},
 "Odd":{"Max":"many"},
 "NoRemaining":{"Max":5}}`

func TestLimits(t *testing.T) {
	tests := []struct {
		name      string
		status    []int // answers in turn; the last repeats
		body      string
		want      map[string]Limit
		refreshes int
		errText   string
	}{
		{name: "read", status: []int{200}, body: limitsBody, want: map[string]Limit{
			"DailyApiRequests":                      {15000, 14998},
			"DailyDeliveredPlatformEvents":          {50000, 49000},
			"MonthlyPlatformEventsUsageEntitlement": {0, 0},
			"PermissionSets":                        {1500, 1498},
		}},
		{name: "a refused token is refreshed once", status: []int{401, 200}, body: limitsBody, refreshes: 1,
			want: map[string]Limit{"DailyApiRequests": {15000, 14998}, "DailyDeliveredPlatformEvents": {50000, 49000},
				"MonthlyPlatformEventsUsageEntitlement": {0, 0}, "PermissionSets": {1500, 1498}}},
		{name: "refused twice", status: []int{401}, body: `[{"message":"Session expired or invalid 00Dxx0000001gPL!tok2secret","errorCode":"INVALID_SESSION_ID"}]`,
			refreshes: 1, errText: "401"},
		{name: "forbidden", status: []int{403}, body: `[{"message":"The REST API is not enabled for this Organization.","errorCode":"API_DISABLED_FOR_ORG"}]`,
			errText: "API_DISABLED_FOR_ORG"},
		{name: "not JSON", status: []int{200}, body: `<html>maintenance</html>`, errText: "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			var auths []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				st := tc.status[min(calls, len(tc.status)-1)]
				calls++
				auths = append(auths, r.Header.Get("Authorization"))
				mu.Unlock()
				assert.Equal(t, "/services/data/v64.0/limits", r.URL.Path)
				w.WriteHeader(st)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			tokens := &fakeTokens{url: srv.URL}
			c := New(tokens, srv.Client(), "64.0", redact.New())
			got, err := c.Limits(t.Context())
			assert.Equal(t, tc.refreshes, tokens.refreshes)
			if tc.errText != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.errText)
				assert.NotContains(t, err.Error(), "secret", "no token in the error")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, "Bearer "+tokens.current(), auths[len(auths)-1])
		})
	}
}

func TestLimitsUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := New(&fakeTokens{url: url}, nil, "64.0", nil).Limits(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reading the org limits")
	assert.NotContains(t, err.Error(), "secret")
}
