package sfemu

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/cometd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestControlRetention(t *testing.T) {
	e := startEmu(t, Config{}, true)
	e.publish("/data/AccountChangeEvent", 3)
	e.clock.Advance(2 * time.Hour)
	_, keptLast := e.publish("/data/AccountChangeEvent", 2)
	e.publish("/event/Order__e", 1)

	var one RetentionResponse
	e.control(http.MethodPost, "/emulator/retention", `{"channel":"/data/AccountChangeEvent","retention":"1h"}`, &one)
	require.Contains(t, one.Channels, "/data/AccountChangeEvent")
	assert.Equal(t, 2, one.Channels["/data/AccountChangeEvent"].Retained, "the events older than an hour are gone at once")
	assert.Equal(t, "1h0m0s", one.Channels["/data/AccountChangeEvent"].Retention)
	assert.NotContains(t, one.Channels, "/event/Order__e")
	assert.Equal(t, "72h0m0s", e.state().Channels["/event/Order__e"].Retention, "other channels keep theirs")

	var all RetentionResponse
	e.control(http.MethodPost, "/emulator/retention", `{"retention":60000}`, &all)
	assert.Len(t, all.Channels, 2)
	for name, ch := range all.Channels {
		assert.Equal(t, "1m0s", ch.Retention, name)
	}
	e.clock.Advance(2 * time.Minute)
	st := e.state()
	assert.Zero(t, st.Channels["/data/AccountChangeEvent"].Retained)
	assert.Equal(t, keptLast, st.Channels["/data/AccountChangeEvent"].LastReplayID)
	e.publish("/topic/New", 1)
	assert.Equal(t, "1m0s", e.state().Channels["/topic/New"].Retention, "channels created later take the new default")

	for _, body := range []string{`{"retention":"0s"}`, `{"retention":"-1h"}`, `{"channel":"/nope/X","retention":"1h"}`, `{"channel":"/u/X"}`, `{"retention":"soon"}`} {
		resp := e.control(http.MethodPost, "/emulator/retention", body, nil)
		assert.Equal(t, http.StatusBadRequest, resp.status, "%s: %s", body, resp)
	}
}

// After an org migration, replay ids restart below the old ones, a stored id is refused as invalid, and the
// sessions of the old instance are unknown.
func TestControlMigrateOrg(t *testing.T) {
	e := startEmu(t, Config{}, true)
	oldFirst, oldLast := e.publish("/data/AccountChangeEvent", 5)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/data/AccountChangeEvent", map[string]any{"/data/AccountChangeEvent": oldLast})

	var mig MigrateResponse
	e.control(http.MethodPost, "/emulator/migrate_org", `{}`, &mig)
	m := mig.Channels["/data/AccountChangeEvent"]
	assert.Equal(t, MigratedChannel{OldFirstReplayID: oldFirst, OldLastReplayID: oldLast, NextReplayIDFrom: m.NextReplayIDFrom, Dropped: 5}, m)
	assert.Less(t, m.NextReplayIDFrom, oldFirst)

	_, reply, resp := c.connect()
	assert.Equal(t, cometd.ErrUnknownClient, reply["error"], resp.String())

	newFirst, newLast := e.publish("/data/AccountChangeEvent", 3)
	assert.Greater(t, newFirst, m.NextReplayIDFrom)
	assert.Less(t, newLast, oldFirst, "the new ids are below the old ones")

	c.handshake()
	resp = c.send(c.subscribeMsg("/data/AccountChangeEvent", map[string]any{"/data/AccountChangeEvent": oldLast}))
	assert.Equal(t, fmt.Sprintf(`[{"clientId":"%s","channel":"/meta/subscribe","id":"%d","subscription":"/data/AccountChangeEvent","error":"%s","successful":false}]`,
		c.clientID, c.n, cometd.ErrReplayInvalid(fmt.Sprint(oldLast))), string(resp.body))
	c.subscribe("/data/AccountChangeEvent", map[string]any{"/data/AccountChangeEvent": -2})
	evs, _, _ := c.connect()
	require.Len(t, evs, 3)
	assert.Equal(t, []int64{newFirst, replayIDs(evs)[1], newLast}, replayIDs(evs))

	assert.Equal(t, http.StatusBadRequest, e.control(http.MethodPost, "/emulator/migrate_org", `{"x":1}`, nil).status)
}
