package input

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
)

// leaseEnv is a file cache in a temp dir with n leases on one key; the
// outage cache variant can be made to fail.
func leaseResources(t *testing.T, cacheYAML string, env *service.Environment) *service.Resources {
	t.Helper()
	rb := env.NewResourceBuilder()
	require.NoError(t, rb.AddCacheYAML(cacheYAML))
	res, stop, err := rb.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop(context.Background()) })
	return res
}

func newTestLease(t *testing.T, res *service.Resources, ttl time.Duration) (*lease, *storeHealth) {
	t.Helper()
	m := newMetrics(res.Metrics())
	h := newStoreHealth("replay_ids", time.Minute, []string{"/event/A__e"}, res.Logger(), m, nil)
	t.Cleanup(h.close)
	l := newLease(res, "replay_ids", "k", ttl, res.Logger(), h, m.leaseHeld)
	t.Cleanup(func() { l.close(context.Background()) })
	return l, h
}

func waitHeld(t *testing.T, ls []*lease, within time.Duration) *lease {
	t.Helper()
	var holder *lease
	require.Eventually(t, func() bool {
		holder = nil
		n := 0
		for _, l := range ls {
			if l.Held() {
				holder = l
				n++
			}
		}
		require.LessOrEqual(t, n, 1, "two holders at once")
		return n == 1
	}, within, 20*time.Millisecond)
	return holder
}

// TestLeaseOneHolderAndRelease: of three leases on one file cache exactly
// one holds; a clean close hands over within a poll, not a ttl.
func TestLeaseOneHolderAndRelease(t *testing.T) {
	res := leaseResources(t, "label: replay_ids\nfile:\n  directory: "+t.TempDir()+"\n", service.NewEnvironment())
	const ttl = 10 * time.Second
	var ls []*lease
	for range 3 {
		l, _ := newTestLease(t, res, ttl)
		l.start()
		ls = append(ls, l)
	}
	first := waitHeld(t, ls, 5*time.Second)
	for range 10 { // stays with one holder over several renewals' worth of polls
		time.Sleep(50 * time.Millisecond)
		waitHeld(t, ls, time.Second)
	}
	began := time.Now()
	first.close(context.Background())
	assert.False(t, first.Held())
	var rest []*lease
	for _, l := range ls {
		if l != first {
			rest = append(rest, l)
		}
	}
	second := waitHeld(t, rest, ttl/2)
	assert.Less(t, time.Since(began), ttl/2, "a released lease is taken at once, not after its ttl")
	assert.NotSame(t, first, second)
}

// TestLeaseExpiresWithoutRenewal: a holder that stops renewing (it died) is
// replaced after its ttl, and not before.
func TestLeaseExpiresWithoutRenewal(t *testing.T) {
	dir := t.TempDir()
	res := leaseResources(t, "label: replay_ids\nfile:\n  directory: "+dir+"\n", service.NewEnvironment())
	const ttl = 2 * time.Second
	dead := checkpointfmt.Lease{Epoch: 4, Expires: time.Now().Add(ttl), Holder: "gone/1/00"}
	require.NoError(t, res.AccessCache(t.Context(), "replay_ids", func(c service.Cache) {
		require.NoError(t, c.Set(t.Context(), checkpointfmt.LeaseKey("k"), dead.Format(), nil))
	}))
	l, _ := newTestLease(t, res, ttl)
	began := time.Now()
	l.start()
	<-l.firstTried()
	assert.False(t, l.Held(), "the dead holder's lease has not run out yet")
	waitHeld(t, []*lease{l}, ttl+3*time.Second)
	assert.GreaterOrEqual(t, time.Since(began), ttl-200*time.Millisecond, "not before the ttl")
	l.mu.Lock()
	assert.Equal(t, int64(5), l.epoch, "the next epoch")
	l.mu.Unlock()
}

// TestLeaseLostWhenTheCacheFails: a holder that cannot renew stops before
// the value expires, calls onLose, and the fence refuses writes.
func TestLeaseLostWhenTheCacheFails(t *testing.T) {
	cache := &outageCache{values: map[string][]byte{}}
	env := service.NewEnvironment()
	require.NoError(t, env.RegisterCache("outage_lease", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Cache, error) { return cache, nil }))
	res := leaseResources(t, "label: replay_ids\noutage_lease: {}\n", env)
	const ttl = 3 * time.Second
	l, h := newTestLease(t, res, ttl)
	var lost atomic.Int32
	l.onLose = func() { lost.Add(1) }
	l.start()
	waitHeld(t, []*lease{l}, 5*time.Second)
	_, ok := l.writeDeadline()
	require.True(t, ok)

	cache.setDown(true)
	began := time.Now()
	require.Eventually(t, func() bool { return lost.Load() == 1 }, 2*ttl, 20*time.Millisecond)
	assert.Less(t, time.Since(began), ttl, "given up before the value could expire")
	assert.False(t, l.Held())
	_, ok = l.writeDeadline()
	assert.False(t, ok, "no checkpoint write without the lease")
	assert.False(t, h.healthy(), "the failing lease writes are reported")

	cache.setDown(false)
	waitHeld(t, []*lease{l}, 2*ttl)
	assert.True(t, h.healthy())
}
