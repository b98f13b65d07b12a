package input

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
)

// lease makes one instance among replicas that share a checkpoint_cache_key
// the active subscriber. It lives in the checkpoint cache
// (checkpointfmt.LeaseKey) and only uses what every Benthos cache has:
//
//   - acquire: Add (set if absent) of `<epoch>;<expires>;<holder>` with the
//     TTL; a value whose expiry has passed is deleted first (a cache without
//     TTL keeps it). Add of Benthos' file cache creates the file exclusively.
//     After an Add the holder reads the value back once more after
//     leaseVerifyDelay before it starts: two standbys that both deleted an
//     expired value can both Add in turn, and the earlier one then sees the
//     later one's value and stands back.
//   - renew, every ttl/3: Get, check holder and epoch, Set with a new expiry.
//   - fence: the holder counts its lease from the moment it sent the last
//     successful write, minus leaseMargin, so it stops before any standby
//     can see the value expire; checkpoint writes carry that deadline, and
//     none is started without the lease (checkpointer.fence).
//   - release on Close: Delete, when the value is still this holder's.
type lease struct {
	res    *service.Resources
	cache  string
	key    string
	ttl    time.Duration
	holder string
	log    *service.Logger
	health *storeHealth
	gauge  *service.MetricGauge
	// onAcquire runs before the lease reports held; onLose after it stopped.
	onAcquire, onLose func()

	mu       sync.Mutex
	held     bool
	epoch    int64
	deadline time.Time     // held: the lease is ours until then
	changed  chan struct{} // closed and replaced at every change of held

	// tried is closed after the first attempt to acquire: the first
	// Connect waits for it, so that a lone instance consumes at once.
	tried     chan struct{}
	startOnce sync.Once
	started   bool // under startOnce/stopOnce ordering: set by start
	stop      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once
}

const leaseVerifyDelay = 300 * time.Millisecond

func newLease(res *service.Resources, cache, prefix string, ttl time.Duration, log *service.Logger, health *storeHealth, gauge *service.MetricGauge) *lease {
	return &lease{
		res: res, cache: cache, key: checkpointfmt.LeaseKey(prefix), ttl: ttl,
		holder: holderID(), log: log, health: health, gauge: gauge,
		onAcquire: func() {}, onLose: func() {},
		changed: make(chan struct{}),
		tried:   make(chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// holderID names this instance: host, process and a random part, so that
// two instances on one host, or a restarted one, never share it.
func holderID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// margin is how long before the value's expiry the holder stops.
func (l *lease) margin() time.Duration { return max(l.ttl/5, 500*time.Millisecond) }

// poll is how often a standby looks at the lease.
func (l *lease) poll() time.Duration { return min(max(l.ttl/10, 100*time.Millisecond), time.Second) }

// start starts the lease's goroutine once; close stops it.
func (l *lease) start() {
	l.startOnce.Do(func() {
		select {
		case <-l.stop:
			return // closed before it started
		default:
		}
		l.mu.Lock()
		l.started = true
		l.mu.Unlock()
		go l.run()
	})
}

// firstTried returns a channel closed once the first attempt to acquire
// the lease is over, whatever its outcome.
func (l *lease) firstTried() <-chan struct{} { return l.tried }

// Held reports whether this instance holds the lease now.
func (l *lease) Held() bool {
	_, ok := l.writeDeadline()
	return ok
}

// writeDeadline is the fence of checkpoint writes: until when this instance
// may write, and whether it may at all.
func (l *lease) writeDeadline() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline, l.held && time.Now().Before(l.deadline)
}

// wait returns a channel closed at the next change of held.
func (l *lease) wait() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *lease) setHeld(held bool, epoch int64, deadline time.Time) {
	l.mu.Lock()
	changed := l.held != held
	l.held, l.epoch, l.deadline = held, epoch, deadline
	if changed {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	l.mu.Unlock()
	if held {
		l.gauge.Set(1)
	} else {
		l.gauge.Set(0)
	}
}

func (l *lease) run() {
	defer close(l.done)
	l.gauge.Set(0)
	var seen leaseSeen
	first := true
	for {
		var pause time.Duration
		l.mu.Lock()
		held := l.held // past its deadline too: renew gives it up
		l.mu.Unlock()
		if held {
			pause = l.renew()
		} else {
			pause = l.tryAcquire(&seen)
		}
		if first {
			first = false
			close(l.tried)
		}
		select {
		case <-l.stop:
			return
		case <-time.After(pause):
		}
	}
}

// leaseSeen is what a standby last saw under the key, to treat a value that
// never parses (a write cut short) as expired after ttl, and to number the
// next epoch when the key vanished with its TTL.
type leaseSeen struct {
	raw       string
	since     time.Time
	lastEpoch int64
	holder    string
}

func (l *lease) ctx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// tryAcquire makes one attempt to take the lease and returns how long to
// wait before the next step.
func (l *lease) tryAcquire(seen *leaseSeen) time.Duration {
	ctx, cancel := l.ctx(max(l.ttl/2, time.Second))
	defer cancel()
	value, found, err := l.get(ctx)
	if err != nil {
		l.health.failed(leaseSubject, err)
		return l.poll()
	}
	now := time.Now()
	takeover := ""
	if found {
		cur, perr := checkpointfmt.ParseLease(value)
		switch {
		case perr != nil:
			// A file cache truncates before it writes: a renewal in progress
			// reads as empty or cut short. Only a value that stays the same
			// and unreadable for a whole ttl is a holder that died mid-write.
			if seen.since.IsZero() || seen.raw != string(value) {
				seen.raw, seen.since = string(value), now
			}
			if now.Sub(seen.since) < l.ttl {
				l.health.ok(leaseSubject)
				return l.poll()
			}
			takeover = fmt.Sprintf("an unreadable lease value %q", shorten(string(value)))
		case cur.Expires.After(now):
			seen.lastEpoch, seen.holder = cur.Epoch, cur.Holder
			seen.raw, seen.since = "", time.Time{}
			l.health.ok(leaseSubject)
			return l.poll()
		default:
			seen.lastEpoch = cur.Epoch
			takeover = fmt.Sprintf("holder %s (epoch %d), whose lease expired at %s", cur.Holder, cur.Epoch, cur.Expires.UTC().Format(time.RFC3339Nano))
		}
		if err := l.del(ctx); err != nil {
			l.health.failed(leaseSubject, err)
			return l.poll()
		}
	} else if seen.holder != "" {
		takeover = fmt.Sprintf("holder %s (epoch %d), whose lease expired", seen.holder, seen.lastEpoch)
	}

	mine := checkpointfmt.Lease{Epoch: seen.lastEpoch + 1, Expires: now.Add(l.ttl), Holder: l.holder}
	err = l.add(ctx, mine.Format())
	switch {
	case errors.Is(err, service.ErrKeyAlreadyExists):
		l.health.ok(leaseSubject)
		return l.poll()
	case err != nil:
		l.health.failed(leaseSubject, err)
		return l.poll()
	}
	l.health.ok(leaseSubject)
	time.Sleep(leaseVerifyDelay)
	value, found, err = l.get(ctx)
	if err != nil {
		l.health.failed(leaseSubject, err)
		return l.poll()
	}
	if !found || string(value) != string(mine.Format()) {
		return l.poll() // another standby's value replaced ours
	}
	*seen = leaseSeen{lastEpoch: mine.Epoch}
	l.onAcquire()
	l.setHeld(true, mine.Epoch, now.Add(l.ttl-l.margin()))
	if takeover != "" {
		l.log.Infof("Took over the lease %q in checkpoint_cache %q from %s; this instance (%s, epoch %d) now consumes", l.key, l.cache, takeover, l.holder, mine.Epoch)
	} else {
		l.log.Infof("Acquired the lease %q in checkpoint_cache %q; this instance (%s, epoch %d) consumes, other replicas stand by", l.key, l.cache, l.holder, mine.Epoch)
	}
	return l.ttl / 3
}

// renew extends a held lease and returns how long to wait before the next
// step; when the lease cannot be renewed before its deadline, or is found
// taken, it is given up.
func (l *lease) renew() time.Duration {
	l.mu.Lock()
	epoch, deadline := l.epoch, l.deadline
	l.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	value, found, err := l.get(ctx)
	if err == nil {
		cur, perr := checkpointfmt.ParseLease(value)
		if !found || perr != nil || cur.Holder != l.holder || cur.Epoch != epoch {
			holder := "nobody"
			if found && perr == nil {
				holder = cur.Holder
			}
			l.lose(fmt.Sprintf("it is held by %s now", holder))
			return 0
		}
		next := checkpointfmt.Lease{Epoch: epoch, Expires: start.Add(l.ttl), Holder: l.holder}
		if err = l.set(ctx, next.Format()); err == nil {
			l.health.ok(leaseSubject)
			l.setHeld(true, epoch, start.Add(l.ttl-l.margin()))
			return l.ttl / 3
		}
	}
	l.health.failed(leaseSubject, err)
	if !time.Now().Before(deadline) {
		l.lose(fmt.Sprintf("it could not be renewed before it ran out: %v", err))
		return 0
	}
	return min(l.poll(), time.Until(deadline))
}

func (l *lease) lose(why string) {
	l.setHeld(false, 0, time.Time{})
	l.onLose()
	l.log.Warnf("Lost the lease %q in checkpoint_cache %q: %s; stopped reading, standing by", l.key, l.cache, why)
}

// close stops the lease and releases it when held. Idempotent.
func (l *lease) close(ctx context.Context) {
	l.stopOnce.Do(func() {
		close(l.stop)
		l.mu.Lock()
		started := l.started
		l.mu.Unlock()
		if started {
			<-l.done
		}
		l.mu.Lock()
		held, epoch := l.held, l.epoch
		l.mu.Unlock()
		if !held {
			return
		}
		l.setHeld(false, 0, time.Time{})
		value, found, err := l.get(ctx)
		if err == nil && found {
			if cur, perr := checkpointfmt.ParseLease(value); perr == nil && cur.Holder == l.holder && cur.Epoch == epoch {
				err = l.del(ctx)
			}
		}
		if err != nil {
			l.log.Warnf("Releasing the lease %q in checkpoint_cache %q failed (a standby takes over when it expires): %v", l.key, l.cache, err)
			return
		}
		l.log.Infof("Released the lease %q in checkpoint_cache %q", l.key, l.cache)
	})
}

func (l *lease) access(ctx context.Context, what string, fn func(service.Cache) error) error {
	var opErr error
	if err := l.res.AccessCache(ctx, l.cache, func(c service.Cache) { opErr = fn(c) }); err != nil {
		return fmt.Errorf("accessing checkpoint_cache %q: %w", l.cache, err)
	}
	if opErr != nil && !errors.Is(opErr, service.ErrKeyAlreadyExists) {
		return fmt.Errorf("%s lease %q in checkpoint_cache %q: %w", what, l.key, l.cache, opErr)
	}
	return opErr
}

func (l *lease) get(ctx context.Context) ([]byte, bool, error) {
	var value []byte
	err := l.access(ctx, "reading", func(c service.Cache) error {
		var err error
		value, err = c.Get(ctx, l.key)
		return err
	})
	if errors.Is(err, service.ErrKeyNotFound) || errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	return value, err == nil, err
}

func (l *lease) add(ctx context.Context, value []byte) error {
	return l.access(ctx, "adding", func(c service.Cache) error { return c.Add(ctx, l.key, value, &l.ttl) })
}

func (l *lease) set(ctx context.Context, value []byte) error {
	return l.access(ctx, "renewing", func(c service.Cache) error { return c.Set(ctx, l.key, value, &l.ttl) })
}

func (l *lease) del(ctx context.Context) error {
	err := l.access(ctx, "deleting", func(c service.Cache) error { return c.Delete(ctx, l.key) })
	if errors.Is(err, service.ErrKeyNotFound) || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
