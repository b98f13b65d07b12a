package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// Targets of the issue, on a 2-core machine with the emulator on it.
const (
	targetRate       = 100000 // events/s, bin/benthos draining the backlog end to end
	targetPeerRatio  = 3.0    // bin/benthos over the faster Node peer
	targetFloorRatio = 0.5    // bin/benthos over the floor
	// bin/benthos over the faster Pub/Sub peer, over Pub/Sub.
	targetPubSubPeerRatio = 2.0
	targetPeakRSS         = 200e6 // bytes, bin/benthos during the drain
	targetP99             = 50 * time.Millisecond
)

// backlogRows turns the drains into table rows.
func (b *bench) backlogRows(emuCmd string, preload time.Duration, emu harness.ProcStat, ours drainResult, viaPubSub *drainResult, ceilings, peers, pubsubPeers []drainResult, floor, pubsubFloor *drainResult) {
	t := &b.table
	n := b.opts.events
	backlog := fmt.Sprintf("%s CDC events on %s, preloaded in %.1f s", thousands(int64(n)), b.opts.channel, preload.Seconds())
	if floor != nil && floor.bytes > 0 {
		backlog += fmt.Sprintf(", %s bytes per event on the wire", thousands(floor.bytes/int64(floor.events)))
	}
	t.info("Backlog (emulator)", backlog, emuCmd)

	t.check("Backlog drain, bin/benthos: events/s (start to last replay id checkpointed)",
		fmt.Sprintf("%s events/s (%.2f s)", thousands(int64(ours.rate())), ours.wall.Seconds()),
		fmt.Sprintf("≥ %s events/s", thousands(targetRate)), ours.rate() >= targetRate, ours.command)
	t.info("Backlog drain, bin/benthos: CPU per event",
		fmt.Sprintf("%.1f µs (%.2f CPU s; emulator meanwhile %.2f CPU s)", perEventMicros(ours.cpu, n), ours.cpu.Seconds(), ours.emuCPU.Seconds()),
		"/proc/<benthos pid>/stat utime+stime at the last checkpoint")
	t.check("Backlog drain, bin/benthos: peak RSS", mb(ours.peakRSS), fmt.Sprintf("< %s", mb(targetPeakRSS)),
		ours.peakRSS < targetPeakRSS, "/proc/<benthos pid>/status VmHWM at the last checkpoint")
	if ps := viaPubSub; ps != nil {
		t.info("Backlog drain, bin/benthos over Pub/Sub (api: pubsub): events/s, CPU per event, peak RSS",
			fmt.Sprintf("%s events/s (%.2f s; %.2f× the CometD drain); %.1f µs (%.2f CPU s; emulator meanwhile %.2f CPU s); %s",
				thousands(int64(ps.rate())), ps.wall.Seconds(), ps.rate()/ours.rate(), perEventMicros(ps.cpu, n), ps.cpu.Seconds(),
				ps.emuCPU.Seconds(), mb(ps.peakRSS)),
			ps.command)
	}

	for _, c := range ceilings {
		label := "Framework ceiling (generate → drop on bin/benthos: the drain's body size, batches and 10 metadata keys)"
		if c.name == "ceiling-bare" {
			label = "Framework ceiling, bare (the same without metadata)"
		}
		t.info(label+": events/s, CPU per event, peak RSS",
			fmt.Sprintf("%s events/s (%.2f s); %.1f µs (%.2f CPU s); %s", thousands(int64(c.rate())), c.wall.Seconds(),
				perEventMicros(c.cpu, c.events), c.cpu.Seconds(), mb(c.peakRSS)),
			c.command+"; getrusage of the exited process (utime+stime, ru_maxrss)")
		t.info("Ratio bin/benthos / "+c.name, ceilingShare(ours, c), "events/s and CPU rows above, same run")
		if viaPubSub != nil {
			t.info("Ratio bin/benthos over Pub/Sub / "+c.name, ceilingShare(*viaPubSub, c), "events/s and CPU rows above, same run")
		}
	}
	for _, p := range append(append([]drainResult{}, peers...), derefAll(floor)...) {
		label := "peer " + p.name
		if p.name == "floor" {
			label = "floor (Go, reads and discards answers)"
		}
		t.info(fmt.Sprintf("Backlog drain, %s: events/s", label),
			fmt.Sprintf("%s events/s (%.2f s; %.2f s from its handshake)", thousands(int64(p.rate())), p.wall.Seconds(), p.self.Seconds()),
			p.command)
		t.info(fmt.Sprintf("Backlog drain, %s: CPU per event, peak RSS", label),
			fmt.Sprintf("%.1f µs (%.2f CPU s; emulator meanwhile %.2f CPU s); %s", perEventMicros(p.cpu, n), p.cpu.Seconds(), p.emuCPU.Seconds(), mb(p.peakRSS)),
			"/proc/<pid>/stat, /proc/<pid>/status VmHWM")
	}
	if len(peers) > 0 {
		fastest := peers[0]
		for _, p := range peers[1:] {
			if p.rate() > fastest.rate() {
				fastest = p
			}
		}
		for _, p := range peers {
			if p.name == fastest.name {
				continue
			}
			t.info("Ratio bin/benthos / "+p.name, fmt.Sprintf("%.2f×", ours.rate()/p.rate()), "events/s rows above, same run")
		}
		ratio := ours.rate() / fastest.rate()
		t.check("Ratio bin/benthos / "+fastest.name+" (the faster peer)", fmt.Sprintf("%.2f×", ratio),
			fmt.Sprintf("≥ %.0f×", targetPeerRatio), ratio >= targetPeerRatio, "events/s rows above, same run")
	}
	if len(pubsubPeers) > 0 {
		for _, p := range pubsubPeers {
			t.info(fmt.Sprintf("Backlog drain over Pub/Sub, peer %s: events/s, CPU per event, peak RSS", p.name),
				fmt.Sprintf("%s events/s (%.2f s; %.2f s from its subscription); %.1f µs (%.2f CPU s; emulator meanwhile %.2f CPU s); %s",
					thousands(int64(p.rate())), p.wall.Seconds(), p.self.Seconds(), perEventMicros(p.cpu, n), p.cpu.Seconds(),
					p.emuCPU.Seconds(), mb(p.peakRSS)),
				p.command)
		}
		if viaPubSub != nil {
			fastest := pubsubPeers[0]
			for _, p := range pubsubPeers[1:] {
				if p.rate() > fastest.rate() {
					fastest = p
				}
			}
			ratio := viaPubSub.rate() / fastest.rate()
			t.check("Ratio bin/benthos over Pub/Sub / "+fastest.name+" (the faster Pub/Sub peer)", fmt.Sprintf("%.2f×", ratio),
				fmt.Sprintf("≥ %.0f×", targetPubSubPeerRatio), ratio >= targetPubSubPeerRatio, "events/s rows above, same run")
		}
	}
	if floor != nil {
		ratio := ours.rate() / floor.rate()
		t.check("Ratio bin/benthos / floor", fmt.Sprintf("%.0f%%", 100*ratio), fmt.Sprintf("≥ %.0f%%", 100*targetFloorRatio),
			ratio >= targetFloorRatio, "events/s rows above, same run")
	}
	if f := pubsubFloor; f != nil {
		t.info("Backlog drain over Pub/Sub, floor (Go, asks for 100 and discards responses): events/s, CPU per event, peak RSS",
			fmt.Sprintf("%s events/s (%.2f s; %.2f s from its subscription); %.1f µs (%.2f CPU s; emulator meanwhile %.2f CPU s, %.2f µs per event); %s",
				thousands(int64(f.rate())), f.wall.Seconds(), f.self.Seconds(), perEventMicros(f.cpu, n), f.cpu.Seconds(),
				f.emuCPU.Seconds(), perEventMicros(f.emuCPU, n), mb(f.peakRSS)),
			f.command)
		if viaPubSub != nil {
			t.info("Ratio bin/benthos over Pub/Sub / Pub/Sub floor", fmt.Sprintf("%.0f%%", 100*viaPubSub.rate()/f.rate()),
				"events/s rows above, same run")
		}
		if floor != nil {
			t.info("Ratio Pub/Sub floor / CometD floor", fmt.Sprintf("%.2f×", f.rate()/floor.rate()), "events/s rows above, same run")
		}
	}
	t.info("Emulator peak RSS (all backlog drains)", mb(emu.PeakRSS), "/proc/<sfemu pid>/status VmHWM")
}

// ceilingShare says how close a drain comes to a framework ceiling: its rate as a share of the ceiling's, and
// how much more (or less) CPU per event it spends.
func ceilingShare(d, c drainResult) string {
	diff := perEventMicros(d.cpu, d.events) - perEventMicros(c.cpu, c.events)
	more := "more"
	if diff < 0 {
		diff, more = -diff, "less"
	}
	return fmt.Sprintf("%.0f%% of its events/s; %.1f µs %s CPU per event", 100*d.rate()/c.rate(), diff, more)
}

func derefAll(r *drainResult) []drainResult {
	if r == nil {
		return nil
	}
	return []drainResult{*r}
}

func perEventMicros(cpu time.Duration, events int) float64 {
	if events == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(events)
}

// liveRows adds the live stream's rows: latency percentiles against the p99 target, CPU and peak RSS.
func (b *bench) liveRows(emuCmd, command string, n int, window time.Duration, s latencySummary, cpu time.Duration, peak int64) {
	t := &b.table
	t.info("Live stream (emulator)", fmt.Sprintf("%g events/s generated on %s", b.opts.liveRate, b.opts.channel), emuCmd)
	method := fmt.Sprintf("%s events published in a %.0f s window; latency = output time − publish time in the payload (commitTimestamp, ms)",
		thousands(int64(n)), window.Seconds())
	t.info("Live latency: method", method, command)
	t.info("Live latency p50", fmt.Sprintf("%.1f ms", ms(s.p50)), command)
	t.check("Live latency p99", fmt.Sprintf("%.1f ms", ms(s.p99)), fmt.Sprintf("< %.0f ms", ms(targetP99)), s.p99 < targetP99, command)
	t.info("Live latency max", fmt.Sprintf("%.1f ms", ms(s.max)), command)
	t.info("Live: bin/benthos CPU and peak RSS", fmt.Sprintf("%.1f%% of one core (%.1f µs per event); %s", 100*cpu.Seconds()/window.Seconds(),
		perEventMicros(cpu, n), mb(peak)), "/proc/<benthos pid>/stat over the window, /proc/<benthos pid>/status VmHWM")
}

// stallRows adds a run's rows. Pub/Sub's flow control is the promise under test: its memory must stay within
// stallBound of the RSS once checkpoint_limit events are in flight, it must not receive more than that, and it
// must move on once released; any miss fails the run. CometD's figures are reported beside it for comparison.
func (b *bench) stallRows(r stallResult) {
	o := b.opts
	t := &b.table
	label := fmt.Sprintf("Stalled output (%v), %s", o.stall, r.tr.label())
	full := "never"
	ratio := 0.0
	if r.fullAt >= 0 {
		full = fmt.Sprintf("%s after %.0f s", mb(r.fullRSS), r.fullAt.Seconds())
		ratio = float64(r.peakRSS) / float64(r.fullRSS)
	}
	value := fmt.Sprintf("at the stall's start %s; once %s events received (checkpoint_limit) %s; peak during the stall %s (%.2f×); VmHWM %s; events received by the input %s; after release: %s",
		mb(r.startRSS), thousands(int64(o.stallLimit)), full, mb(r.peakRSS), ratio, mb(r.hwm), thousands(r.received),
		map[bool]string{true: "checkpoints again", false: "no checkpoint within 1 minute"}[r.resumed])
	cmd := r.command + "; VmRSS every second, " + b.rel(filepath.Join(b.dir, "stall", "stall-"+string(r.tr.api)+".rss.tsv"))
	if r.tr.api != apiPubSub {
		t.info(label+": RSS", value, cmd)
		return
	}
	bounded := r.fullAt >= 0 && ratio <= o.stallBound
	t.check(label+": RSS", value, fmt.Sprintf("peak ≤ %g× the RSS once checkpoint_limit events are in flight", o.stallBound), bounded, cmd)
	within := r.received >= 0 && r.received <= int64(o.stallLimit)
	t.check(label+": events received while nothing is acknowledged", thousands(r.received),
		fmt.Sprintf("≤ checkpoint_limit (%s)", thousands(int64(o.stallLimit))), within, "salesforce_streaming_events_received on /metrics")
	if !bounded {
		b.fails = append(b.fails, fmt.Sprintf("%s: peak RSS %s is not within %g× of %s", label, mb(r.peakRSS), o.stallBound, full))
	}
	if !within {
		b.fails = append(b.fails, fmt.Sprintf("%s: the input received %d events with none acknowledged, checkpoint_limit is %d", label, r.received, o.stallLimit))
	}
	if !r.resumed {
		b.fails = append(b.fails, label+": no checkpoint within 1 minute of releasing the output")
	}
}
