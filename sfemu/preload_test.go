package sfemu

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPreloadAboveMutationCap: a preload of a records-backed channel is not a control API request, so a count
// above the per-request cap of changes is made whole, in chunks, rather than refused. A small cap stands in for
// the real one so that the test makes thousands of changes, not millions.
func TestPreloadAboveMutationCap(t *testing.T) {
	cases := []struct {
		channel string
		count   int
		cap     int
	}{
		{"/data/AccountChangeEvent", 2500, 1000},         // two full chunks and a partial one
		{"/data/AccountChangeEvent", 1000, 1000},         // exactly the cap
		{"/data/ContactChangeEvent", 7, 3},               // a cap smaller than the count, tiny
		{"/data/ChangeEvents", 2501, 400},                // shared by the standard objects, several chunks each
		{"/event/Order__e", 2500, 1000},                  // generated payloads: the cap never applied
		{"/data/OpportunityChangeEvent", 1_234, 1 << 30}, // the cap far above the count
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s=%d cap %d", tc.channel, tc.count, tc.cap), func(t *testing.T) {
			t.Parallel()
			s := New(Config{Clock: NewFakeClock(epoch), Seed: 11, mutationCap: tc.cap,
				Preload: []ChannelCount{{Channel: tc.channel, Count: tc.count}}})
			defer s.Close()
			require.NoError(t, s.PreloadErr())
			st := s.State().Channels[tc.channel]
			assert.Equal(t, tc.count, st.Retained, "retained events")
			assert.EqualValues(t, tc.count, st.Published, "published events")
		})
	}
}

// TestPreloadErr: a preload the emulator cannot make is reported, naming the channel, not dropped.
func TestPreloadErr(t *testing.T) {
	s := New(Config{Clock: NewFakeClock(epoch), Seed: 11, Preload: []ChannelCount{
		{Channel: "/data/AccountChangeEvent", Count: 3}, {Channel: "/data/UserChangeEvent", Count: 5}}})
	defer s.Close()
	err := s.PreloadErr()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "preloading 5 events on /data/UserChangeEvent")
	assert.Equal(t, 3, s.State().Channels["/data/AccountChangeEvent"].Retained, "the other preload is whole")
}

// TestMutateOverCap: POST /emulator/mutate above the per-request cap is refused with 400 naming the limit, and
// changes nothing.
func TestMutateOverCap(t *testing.T) {
	cases := []struct {
		cap, count int
		limit      string
	}{
		{0, maxMutations + 1, "limit of 1000000 changes per request"}, // the real cap, refused before any work
		{10, 11, "limit of 10 changes per request"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.count), func(t *testing.T) {
			e := startStrictEmu(t, Config{mutationCap: tc.cap}, true)
			resp := e.control(http.MethodPost, "/emulator/mutate", fmt.Sprintf(`{"object":"Account","count":%d}`, tc.count), nil)
			assert.Equal(t, http.StatusBadRequest, resp.status, resp.String())
			assert.Contains(t, string(resp.body), tc.limit)
			assert.Zero(t, e.srv.State().Channels["/data/AccountChangeEvent"].Published, "nothing changed")
		})
	}
	e := startStrictEmu(t, Config{mutationCap: 10}, true)
	var out MutateResponse
	e.control(http.MethodPost, "/emulator/mutate", `{"object":"Account","count":10}`, &out)
	assert.Len(t, out.RecordIDs, 10, "the cap itself is allowed")
}
