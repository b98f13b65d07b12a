package harness

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// The org-level client methods against an in-process emulator: the requests
// they send are the ones the control API and the REST resources take.
func TestOrgClientMethods(t *testing.T) {
	srv := sfemu.New(sfemu.Config{Seed: 7})
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	c := NewClient(ts.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	versions, err := c.Versions(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, versions)
	latest := versions[len(versions)-1].Version

	ids, err := c.PublishIDs(ctx, "/data/AccountChangeEvent", 5, 1)
	require.NoError(t, err)
	ret, err := c.SetRetention(ctx, "/data/AccountChangeEvent", 90*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "1h30m0s", ret.Channels["/data/AccountChangeEvent"].Retention)
	assert.Equal(t, 5, ret.Channels["/data/AccountChangeEvent"].Retained)
	_, err = c.SetRetention(ctx, "/nope", time.Hour)
	assert.Error(t, err)

	migrated, err := c.MigrateOrg(ctx)
	require.NoError(t, err)
	m := migrated["/data/AccountChangeEvent"]
	assert.Equal(t, ids[0], m.OldFirstReplayID)
	assert.Equal(t, ids[4], m.OldLastReplayID)
	assert.Less(t, m.NextReplayIDFrom, ids[0])

	limits, err := c.Limits(ctx, latest)
	require.NoError(t, err)
	assert.Contains(t, limits, "DailyDeliveredPlatformEvents")
	assert.Contains(t, limits, "DailyDurableStreamingApiEvents")

	_, err = c.Publish(ctx, PublishRequest{Channel: "/u/Pushed", Payloads: nil, Count: 1})
	require.NoError(t, err)
	results, err := c.Push(ctx, latest, "/u/Pushed", "hello", "world")
	require.NoError(t, err)
	require.Len(t, results, 2)
	assert.Equal(t, 0, results[0].FanoutCount, "nobody subscribed")
	st, err := c.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, st.Channels["/u/Pushed"].Retained, "one published, two pushed")
	_, err = c.Push(ctx, latest, "/u/Unknown", "x")
	assert.Error(t, err)
}
