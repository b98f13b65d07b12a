package eventstore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/clock"
)

// stepClock is a clock moved by hand; the store reads only Now.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time                     { return c.now }
func (c *stepClock) NewTimer(time.Duration) clock.Timer { panic("the store sets no timers") }

func newStore(t *testing.T, gap int) (*Store, *stepClock) {
	t.Helper()
	c := &stepClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return New(Config{Clock: c, TopicRetention: time.Hour, GenericRetention: time.Hour, PlatformEventRetention: 2 * time.Hour,
		CDCRetention: 2 * time.Hour, MaxReplayGap: gap, UserID: "005000000000000AAA", APIVersion: "66.0", Seed: 9}, Hooks{}), c
}

func TestKindOf(t *testing.T) {
	for name, want := range map[string]Kind{
		"/topic/Invoices":                     KindPushTopic,
		"/u/Notifications":                    KindGeneric,
		"/u/notifications/ExampleUserChannel": KindGeneric,
		"/event/Order_Event__e":               KindPlatformEvent,
		"/data/AccountChangeEvent":            KindCDC,
		"/data/ChangeEvents":                  KindCDC,
		"/topic/":                             KindUnknown,
		"/u//x":                               KindUnknown,
		"/event/a/b":                          KindUnknown,
		"/meta/handshake":                     KindUnknown,
		"/data/*":                             KindUnknown,
	} {
		assert.Equal(t, want, KindOf(name), name)
	}
}

func TestReplayIDsIncreaseWithBoundedGaps(t *testing.T) {
	for _, gap := range []int{-1, 3} {
		s, _ := newStore(t, gap)
		first, last, err := s.PublishN("/event/Order_Event__e", 200)
		require.NoError(t, err)
		s.Lock()
		r := s.LookupLocked("/event/Order_Event__e").Retained()
		s.Unlock()
		require.Len(t, r, 200)
		assert.Equal(t, first, r[0].ID)
		assert.Equal(t, last, r[199].ID)
		maxStep := int64(1)
		if gap > 0 {
			maxStep = int64(1 + gap)
		}
		for i := 1; i < len(r); i++ {
			step := r[i].ID - r[i-1].ID
			assert.True(t, step >= 1 && step <= maxStep, "gap setting %d: step %d", gap, step)
		}
	}
}

func TestRetentionDropsOldEventsAndIDsAreNotReused(t *testing.T) {
	s, c := newStore(t, 3)
	_, last, err := s.PublishN("/topic/Invoices", 5)
	require.NoError(t, err)
	c.now = c.now.Add(time.Hour + time.Second)
	first, _, err := s.PublishN("/topic/Invoices", 1)
	require.NoError(t, err)
	s.Lock()
	defer s.Unlock()
	ch := s.LookupLocked("/topic/Invoices")
	require.Len(t, ch.Retained(), 1, "the five events older than the hour of retention are gone")
	assert.Greater(t, first, last)
	assert.False(t, s.ReplayValidLocked(ch, last), "an expired id is no longer a start")
	assert.True(t, s.ReplayValidLocked(ch, first))
	assert.Equal(t, int64(6), ch.Published())
}

func TestPositionBeforeTheFirstEvent(t *testing.T) {
	s, _ := newStore(t, 3)
	s.Lock()
	ch, err := s.ChannelLocked("/event/Order_Event__e")
	require.NoError(t, err)
	pos := s.PositionLocked(ch)
	assert.Positive(t, pos)
	assert.True(t, s.PositionValidLocked(ch, pos), "the reserved position is a start while the channel holds every event")
	s.Unlock()

	first, _, err := s.PublishN("/event/Order_Event__e", 3)
	require.NoError(t, err)
	assert.Greater(t, first, pos, "the first event comes after the position handed out")
	s.Lock()
	defer s.Unlock()
	assert.True(t, s.PositionValidLocked(ch, pos))
	ch.PurgeLocked(first)
	assert.False(t, s.PositionValidLocked(ch, pos), "an event after the position is gone: resuming from it would skip it")
}

type countingSubscriber struct{ n int }

func (c *countingSubscriber) Notify() { c.n++ }

func TestPublishWakesSubscribersAndWatchers(t *testing.T) {
	s, _ := newStore(t, 3)
	sub := &countingSubscriber{}
	w := make(chan struct{}, 1)
	s.Lock()
	ch, err := s.ChannelLocked("/data/AccountChangeEvent")
	require.NoError(t, err)
	ch.AddSubscriberLocked(sub)
	ch.WatchLocked(w)
	s.Unlock()

	_, _, err = s.PublishN("/data/AccountChangeEvent", 3)
	require.NoError(t, err)
	assert.Equal(t, 1, sub.n, "one wake per publish")
	assert.Len(t, w, 1)

	s.Lock()
	ch.RemoveSubscriberLocked(sub)
	<-w
	ch.UnwatchLocked(w)
	assert.Zero(t, ch.Subscribers())
	assert.Zero(t, ch.Watchers())
	s.Unlock()
	_, _, err = s.PublishN("/data/AccountChangeEvent", 1)
	require.NoError(t, err)
	assert.Equal(t, 1, sub.n)
}

func TestPushTopicFilterFieldsTravelWithTheEvent(t *testing.T) {
	s, _ := newStore(t, 3)
	_, _, err := s.Publish(Spec{Channel: "/topic/Invoices", Payloads: []json.RawMessage{
		json.RawMessage(`{"Id":"a00000000000001AAA","Status__c":"Open","Amount__c":12.5}`),
		json.RawMessage(`{"Id":"a00000000000002AAA","Status__c":"Closed"}`),
	}})
	require.NoError(t, err)
	_, filters, err := SplitChannel("/topic/Invoices?Status__c=Closed")
	require.NoError(t, err)
	s.Lock()
	defer s.Unlock()
	r := s.LookupLocked("/topic/Invoices").Retained()
	require.Len(t, r, 2)
	assert.Equal(t, "12.5", r[0].Field("Amount__c"))
	assert.False(t, r[0].Matches(filters))
	assert.True(t, r[1].Matches(filters))
	var msg map[string]any
	require.NoError(t, json.Unmarshal(r[1].Msg, &msg), "the stored message is the Bayeux message alone")
	assert.Equal(t, "/topic/Invoices", msg["channel"])
}

func TestABadPayloadLeavesNoGap(t *testing.T) {
	s, _ := newStore(t, -1)
	_, last, err := s.PublishN("/event/Order_Event__e", 1)
	require.NoError(t, err)
	_, _, err = s.Publish(Spec{Channel: "/event/Order_Event__e", Payloads: []json.RawMessage{json.RawMessage(`[1]`)}})
	require.Error(t, err)
	next, _, err := s.PublishN("/event/Order_Event__e", 1)
	require.NoError(t, err)
	assert.Equal(t, last+1, next)
}
