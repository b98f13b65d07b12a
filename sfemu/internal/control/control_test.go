package control

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The surface calls only the operations it is given: a purge reaches Purge and then State, nothing else.
func TestHandlerDrivesOnlyItsOps(t *testing.T) {
	var purged string
	h := New(Ops{
		Purge: func(channel string, through *int64) (int, error) {
			purged = channel
			require.NotNil(t, through)
			return 3, nil
		},
		State: func() State {
			return State{Channels: map[string]ChannelState{"/event/E__e": {FirstReplayID: 10, LastReplayID: 12, Retained: 3}}}
		},
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/emulator/purge", strings.NewReader(`{"channel":"/event/E__e","through_replay_id":9}`)))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "/event/E__e", purged)
	assert.JSONEq(t, `{"channel":"/event/E__e","purged":3,"first_replay_id":10,"last_replay_id":12,"retained":3}`, w.Body.String())
}

func TestHandlerRefusesBadRequests(t *testing.T) {
	h := New(Ops{}) // no operation may be reached
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"unknown endpoint", http.MethodGet, "/emulator/nope", "", http.StatusNotFound, "unknown control endpoint"},
		{"wrong method", http.MethodGet, "/emulator/publish", "", http.StatusMethodNotAllowed, "takes POST"},
		{"unknown field", http.MethodPost, "/emulator/publish", `{"chanel":"/event/E__e"}`, http.StatusBadRequest, `unknown field \"chanel\"`},
		{"trailing data", http.MethodPost, "/emulator/purge", `{"channel":"/x"} {}`, http.StatusBadRequest, "trailing data"},
		{"negative count", http.MethodPost, "/emulator/publish", `{"channel":"/event/E__e","count":-1}`, http.StatusBadRequest, "count must not be negative"},
		{"no retention", http.MethodPost, "/emulator/retention", `{}`, http.StatusBadRequest, "retention not given"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			assert.Equal(t, tc.status, w.Code)
			assert.Contains(t, w.Body.String(), tc.want)
		})
	}
}
