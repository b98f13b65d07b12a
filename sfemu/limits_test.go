package sfemu

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/cometd"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/limits"
)

// The Daily* allocations count a rolling 24 hours: deliveries drop out one day after they happened, not at
// midnight, and an enforced allocation that was used up admits clients again once enough of them dropped out.
func TestLimitsDailyWindowRolls(t *testing.T) {
	e := startEmu(t, Config{DailyDeliveryLimit: 10}, true)
	auth := "Bearer " + e.token()
	remaining := func() int64 { return e.limits(auth)["DailyDeliveredPlatformEvents"].Remaining }

	deliver := func(n int) {
		c := e.loggedIn()
		c.handshake()
		c.subscribe("/event/Order__e", nil)
		e.publish("/event/Order__e", n)
		evs, _, _ := c.connect()
		require.Len(t, evs, n)
	}
	deliver(6) // at 12:00
	assert.EqualValues(t, 4, remaining())
	e.clock.Advance(11 * time.Hour) // 23:00: midnight passes next, which resets nothing
	deliver(4)
	assert.EqualValues(t, 0, remaining())

	e.clock.Advance(2 * time.Hour) // 01:00 the next day
	assert.EqualValues(t, 0, remaining(), "midnight does not reset a rolling window")
	c := e.loggedIn()
	c.handshake()
	resp := c.send(c.subscribeMsg("/event/Order__e", nil))
	assert.Contains(t, string(resp.body), cometd.ErrDailyLimit, "the allocation used up refuses subscribes")

	e.clock.Advance(11*time.Hour + limits.UsageBucket) // 12:01: the 6 of yesterday 12:00 dropped out
	assert.EqualValues(t, 6, remaining())
	deliver(2)
	assert.EqualValues(t, 4, remaining())

	e.clock.Advance(11 * time.Hour) // 23:01: the 4 of yesterday 23:00 dropped out too
	assert.EqualValues(t, 8, remaining())
	e.clock.Advance(13 * time.Hour) // the next day 12:01: nothing of the last 24 hours
	assert.EqualValues(t, 10, remaining())
}

// Pub/Sub deliveries, REST and Pub/Sub publishes and REST requests count too, each in its own window, and the
// monthly entitlement counts the calendar month.
func TestLimitsCountPublishesRequestsAndMonth(t *testing.T) {
	e := startEmu(t, Config{}, true)
	auth := "Bearer " + e.token()

	first := e.limits(auth)
	assert.EqualValues(t, limits.DefaultDailyAPIRequestsMax-1, first["DailyApiRequests"].Remaining, "the limits request itself counts")
	assert.EqualValues(t, limits.DefaultHourlyPublishedMax, first["HourlyPublishedPlatformEvents"].Remaining)
	assert.EqualValues(t, limits.DefaultMonthlyEntitlementMax, first["MonthlyPlatformEventsUsageEntitlement"].Remaining)
	for _, name := range []string{"DailyBulkV2QueryJobs", "DailyStreamingApiEvents", "StreamingApiConcurrentClients"} {
		assert.Positive(t, first[name].Max, name)
	}
	assert.Equal(t, http.StatusOK, e.get("/services/data/", "").status)

	for range 3 {
		resp := e.postJSON("/services/data/v66.0/sobjects/Order__e", auth, `{"OrderNumber__c":"1"}`)
		require.Equal(t, http.StatusCreated, resp.status, resp.String())
	}
	e.publish("/event/Order__e", 5) // the control API stands for the org's own activity: not an API publish
	l := e.limits(auth)
	assert.EqualValues(t, limits.DefaultDailyAPIRequestsMax-5, l["DailyApiRequests"].Remaining, "the Versions resource does not count")
	assert.EqualValues(t, limits.DefaultHourlyPublishedMax-3, l["HourlyPublishedPlatformEvents"].Remaining)

	c := e.loggedIn()
	c.handshake()
	c.subscribe("/event/Order__e", map[string]any{"/event/Order__e": -2})
	evs, _, _ := c.connect()
	require.Len(t, evs, 8)
	l = e.limits(auth)
	assert.EqualValues(t, limits.DefaultDailyDeliveryMax-8, l["DailyDeliveredPlatformEvents"].Remaining)
	assert.EqualValues(t, limits.DefaultMonthlyEntitlementMax-8, l["MonthlyPlatformEventsUsageEntitlement"].Remaining)
	assert.EqualValues(t, 1, l["StreamingApiConcurrentClients"].Max-l["StreamingApiConcurrentClients"].Remaining)

	e.clock.Advance(time.Hour)
	l = e.limits(auth)
	assert.EqualValues(t, limits.DefaultHourlyPublishedMax, l["HourlyPublishedPlatformEvents"].Remaining, "an hour later")
	assert.EqualValues(t, limits.DefaultDailyDeliveryMax-8, l["DailyDeliveredPlatformEvents"].Remaining)

	// epoch is 1 March 12:00 UTC: 31 days later is April, whose entitlement starts unused.
	e.clock.Advance(31 * 24 * time.Hour)
	l = e.limits(auth)
	assert.EqualValues(t, limits.DefaultMonthlyEntitlementMax, l["MonthlyPlatformEventsUsageEntitlement"].Remaining)
	assert.EqualValues(t, limits.DefaultDailyAPIRequestsMax-1, l["DailyApiRequests"].Remaining)
}
