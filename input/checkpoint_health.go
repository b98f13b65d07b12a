package input

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	// defaultCheckpointGrace is checkpoint_grace_period's default.
	defaultCheckpointGrace = "30s"
	// leaseSubject is the health subject of the lease, which every channel's
	// checkpoint depends on.
	leaseSubject = "lease"
	// ageTick is how often the checkpoint_age_seconds gauges are refreshed.
	ageTick = time.Second
)

// storeHealth follows whether the checkpoint cache takes the input's writes:
// each channel's checkpoint writes, the start probe and the lease. One error
// line when writes start failing, one info line when all succeed again (with
// how many failed), never a line per attempt; checkpoint_errors counts every
// failed write. Past the grace period, unhealthy names the failing channel
// and the cache, and the input stops reading until it recovers.
type storeHealth struct {
	cache    string
	grace    time.Duration
	channels []string // configured channels, without filter
	log      *service.Logger
	errors   *service.MetricCounter
	age      *service.MetricGauge
	now      func() time.Time

	mu       sync.Mutex
	failing  map[string]*failure  // subject (channel or leaseSubject) -> its current failure
	unstored map[string]time.Time // channel -> since when acknowledged progress waits to be stored
	streak   int                  // writes failed since the last healthy moment
	// overGrace is called once per failure streak when it outlasts the
	// grace period (the input wakes a ReadBatch waiting for events).
	overGrace func()
	told      bool
	stop      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once
}

type failure struct {
	since time.Time
	err   error
}

func newStoreHealth(cache string, grace time.Duration, channels []string, log *service.Logger, m *ssiMetrics, overGrace func()) *storeHealth {
	h := &storeHealth{
		cache: cache, grace: grace, channels: channels, log: log, overGrace: overGrace,
		errors: m.checkpointErrors, age: m.checkpointAge, now: time.Now,
		failing:  map[string]*failure{},
		unstored: map[string]time.Time{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for _, ch := range channels {
		h.age.Set(0, ch)
	}
	go h.run()
	return h
}

// run refreshes the age gauges until close.
func (h *storeHealth) run() {
	defer close(h.done)
	t := time.NewTicker(ageTick)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.reportAges()
			h.checkGrace()
		}
	}
}

func (h *storeHealth) reportAges() {
	h.mu.Lock()
	now := h.now()
	ages := make(map[string]int64, len(h.channels))
	for _, ch := range h.channels {
		ages[ch] = 0
	}
	for ch, since := range h.unstored {
		ages[ch] = int64(now.Sub(since) / time.Second)
	}
	h.mu.Unlock()
	for ch, a := range ages {
		h.age.Set(a, ch)
	}
}

// checkGrace calls overGrace once when a failure outlasts the grace period.
func (h *storeHealth) checkGrace() {
	over := h.unhealthy() != nil
	h.mu.Lock()
	tell := over && !h.told && h.overGrace != nil
	if over {
		h.told = true
	} else if len(h.failing) == 0 {
		h.told = false
	}
	h.mu.Unlock()
	if tell {
		h.overGrace()
	}
}

func (h *storeHealth) close() {
	h.stopOnce.Do(func() { close(h.stop) })
	<-h.done
}

// pending notes that channel has acknowledged progress not stored yet.
func (h *storeHealth) pending(channel string) {
	h.mu.Lock()
	if _, ok := h.unstored[channel]; !ok {
		h.unstored[channel] = h.now()
	}
	h.mu.Unlock()
}

// settled notes that channel's stored checkpoint caught up with (or, the
// lease lost, no longer owes) its acknowledged progress.
func (h *storeHealth) settled(channel string) {
	h.mu.Lock()
	delete(h.unstored, channel)
	h.mu.Unlock()
	h.age.Set(0, channel)
}

// failed records a failed write of subject. A lease or probe failure holds
// back every channel's checkpoint, so it counts for each.
func (h *storeHealth) failed(subject string, err error) {
	h.mu.Lock()
	first := len(h.failing) == 0
	if f, ok := h.failing[subject]; ok {
		f.err = err
	} else {
		h.failing[subject] = &failure{since: h.now(), err: err}
	}
	h.streak++
	h.mu.Unlock()
	if subject == leaseSubject {
		for _, ch := range h.channels {
			h.errors.Incr(1, ch)
		}
	} else {
		h.errors.Incr(1, subject)
	}
	if first {
		h.log.Errorf("Storing checkpoints in checkpoint_cache %q is failing (%s): acknowledged progress waits in memory, a restart would replay from the last stored checkpoint; retrying quietly, and after %v the input stops reading and reports not ready: %v",
			h.cache, h.subjectText(subject), h.grace, err)
	}
}

// ok records a successful write of subject.
func (h *storeHealth) ok(subject string) {
	h.mu.Lock()
	_, was := h.failing[subject]
	delete(h.failing, subject)
	recovered := was && len(h.failing) == 0
	streak := h.streak
	if recovered {
		h.streak = 0
	}
	h.mu.Unlock()
	if recovered {
		h.log.Infof("Storing checkpoints in checkpoint_cache %q works again; %d writes had failed", h.cache, streak)
	}
}

// drop forgets channel's progress and failure without a write: the lease
// went to another instance, which stores its own.
func (h *storeHealth) drop(channel string) {
	h.mu.Lock()
	_, was := h.failing[channel]
	delete(h.failing, channel)
	delete(h.unstored, channel)
	quiet := was && len(h.failing) == 0
	streak := h.streak
	if quiet {
		h.streak = 0
	}
	h.mu.Unlock()
	h.age.Set(0, channel)
	if quiet {
		h.log.Infof("Checkpoints in checkpoint_cache %q are no longer this instance's to store (it does not hold the lease); %d writes had failed", h.cache, streak)
	}
}

// healthy reports whether no write is failing.
func (h *storeHealth) healthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.failing) == 0
}

// unhealthy returns an error naming the cache and the first subject whose
// writes have failed for longer than the grace period; nil when none has.
func (h *storeHealth) unhealthy() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	subjects := make([]string, 0, len(h.failing))
	for s := range h.failing {
		subjects = append(subjects, s)
	}
	slices.Sort(subjects)
	for _, s := range subjects {
		f := h.failing[s]
		if d := now.Sub(f.since); d > h.grace {
			return fmt.Errorf("%s in checkpoint_cache %q has failed to store for %v (longer than checkpoint_grace_period %v); not reading until it can: %w",
				h.subjectText(s), h.cache, d.Round(time.Second), h.grace, f.err)
		}
	}
	return nil
}

func (h *storeHealth) subjectText(subject string) string {
	if subject == leaseSubject {
		return "the lease of channels " + strings.Join(h.channels, ", ")
	}
	return "the checkpoint of channel " + subject
}
