package input

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
)

// Snapshot metrics, by object.
const (
	metricSnapshotRecords = "salesforce_streaming_snapshot_records"
	metricSnapshotTotal   = "salesforce_streaming_snapshot_total"
)

// snapshotLogEvery spaces the progress lines of a running snapshot.
const snapshotLogEvery = 10 * time.Second

// snapshotProgress follows a snapshot: it stores an object's progress once
// a page and every page before it are acknowledged (pages may be
// acknowledged out of order; the stored progress never passes an
// unacknowledged page), and logs and exports how far each object got.
type snapshotProgress struct {
	store func(context.Context, checkpointfmt.SnapshotState) error
	log   *service.Logger

	records *service.MetricCounter
	total   *service.MetricGauge

	mu      sync.Mutex
	state   checkpointfmt.SnapshotState // as last stored
	nextSeq uint64                      // of the next page handed out
	low     uint64                      // the first page not yet acknowledged
	acked   map[uint64]checkpointfmt.ObjectProgress
	stats   map[string]*objectStats
	order   []string
}

// objectStats is what a progress line says of one object.
type objectStats struct {
	sent, total, from int64 // from: records done when this run started
	started           time.Time
	complete          bool
}

func newSnapshotProgress(state checkpointfmt.SnapshotState, store func(context.Context, checkpointfmt.SnapshotState) error, res *service.Resources) *snapshotProgress {
	p := &snapshotProgress{store: store, state: state, acked: map[uint64]checkpointfmt.ObjectProgress{},
		stats: map[string]*objectStats{}}
	if res != nil {
		p.log = res.Logger()
		p.records = res.Metrics().NewCounter(metricSnapshotRecords, "object")
		p.total = res.Metrics().NewGauge(metricSnapshotTotal, "object")
	}
	return p
}

// begin tells that object's reading starts (or resumes) at prog.
func (p *snapshotProgress) begin(object string, prog checkpointfmt.ObjectProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.stats[object]
	if !ok {
		st = &objectStats{}
		p.stats[object] = st
		p.order = append(p.order, object)
	}
	st.sent, st.from, st.total, st.started = prog.Done, prog.Done, prog.Total, time.Now()
	if p.total != nil {
		p.total.Set(prog.Total, object)
	}
}

// sent registers a page handed to the pipeline and returns its
// acknowledgement.
func (p *snapshotProgress) sent(page snapshotPage) func(context.Context, error) error {
	p.mu.Lock()
	seq := p.nextSeq
	p.nextSeq++
	records := int64(0)
	for _, m := range page.msgs {
		if ct, _ := m.MetaGetMut(metaChangeType); ct == changeSnapshot {
			records++
		}
	}
	if st := p.stats[page.after.Object]; st != nil {
		st.sent += records
		st.complete = page.after.Complete
	}
	p.mu.Unlock()
	if p.records != nil && records > 0 {
		p.records.Incr(records, page.after.Object)
	}
	return func(ctx context.Context, _ error) error { return p.ack(ctx, seq, page.after) }
}

// ack records page seq as acknowledged and stores the progress of every
// page acknowledged without a gap before it. A failed nack counts as done, as
// for events: with auto_replay_nacks the framework redelivers before acking.
func (p *snapshotProgress) ack(ctx context.Context, seq uint64, after checkpointfmt.ObjectProgress) error {
	p.mu.Lock()
	p.acked[seq] = after
	moved := false
	for {
		prog, ok := p.acked[p.low]
		if !ok {
			break
		}
		delete(p.acked, p.low)
		p.low++
		p.setLocked(prog)
		moved = true
	}
	if !moved {
		p.mu.Unlock()
		return nil
	}
	p.state.Seq++
	p.state.Complete = true
	for _, o := range p.state.Objects {
		p.state.Complete = p.state.Complete && o.Complete
	}
	state := p.state
	state.Objects = append([]checkpointfmt.ObjectProgress(nil), p.state.Objects...)
	p.mu.Unlock()
	if err := p.store(ctx, state); err != nil {
		// The next acknowledged page stores again; a restart before it
		// repeats pages, which at-least-once allows.
		if p.log != nil {
			p.log.With("reason", "snapshot_store_failed").Errorf("storing the snapshot's progress failed (pages since the last stored one are read again after a restart): %v", err)
		}
		return nil
	}
	return nil
}

func (p *snapshotProgress) setLocked(prog checkpointfmt.ObjectProgress) {
	for k := range p.state.Objects {
		if p.state.Objects[k].Object == prog.Object {
			p.state.Objects[k] = prog
			return
		}
	}
	p.state.Objects = append(p.state.Objects, prog)
}

// stored is the progress as last stored.
func (p *snapshotProgress) stored() checkpointfmt.SnapshotState {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.state
	s.Objects = append([]checkpointfmt.ObjectProgress(nil), p.state.Objects...)
	return s
}

// lines are the progress lines of the objects being read: records sent of
// the total, the rate of this run and the time left at that rate.
func (p *snapshotProgress) lines(now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, name := range p.order {
		st := p.stats[name]
		if st.complete {
			continue
		}
		secs := now.Sub(st.started).Seconds()
		rate := 0.0
		if secs > 0 {
			rate = float64(st.sent-st.from) / secs
		}
		line := fmt.Sprintf("snapshot of %s: %d of %d records", name, st.sent, st.total)
		if st.total > 0 {
			line += fmt.Sprintf(" (%d%%)", min(100, st.sent*100/st.total))
		}
		line += fmt.Sprintf(", %.0f records/s", rate)
		if rate > 0 && st.total > st.sent {
			line += ", about " + time.Duration(float64(st.total-st.sent)/rate*float64(time.Second)).Round(time.Second).String() + " left"
		}
		out = append(out, line)
	}
	return out
}

// logLoop logs the progress lines every snapshotLogEvery until ctx ends.
func (p *snapshotProgress) logLoop(ctx context.Context) {
	t := time.NewTicker(snapshotLogEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if p.log == nil {
				continue
			}
			for _, l := range p.lines(now) {
				p.log.Info(l)
			}
		}
	}
}
