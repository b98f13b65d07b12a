package main

import (
	"fmt"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// Targets of the issue, on a 2-core machine with the emulator on it.
const (
	targetRate       = 100000 // events/s, bin/benthos draining the backlog end to end
	targetPeerRatio  = 3.0    // bin/benthos over the faster Node peer
	targetFloorRatio = 0.5    // bin/benthos over the floor
	targetPeakRSS    = 200e6  // bytes, bin/benthos during the drain
	targetP99        = 50 * time.Millisecond
)

// backlogRows turns the drains into table rows.
func (b *bench) backlogRows(emuCmd string, preload time.Duration, emu harness.ProcStat, ours drainResult, viaPubSub *drainResult, peers []drainResult, floor *drainResult) {
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
	if floor != nil {
		ratio := ours.rate() / floor.rate()
		t.check("Ratio bin/benthos / floor", fmt.Sprintf("%.0f%%", 100*ratio), fmt.Sprintf("≥ %.0f%%", 100*targetFloorRatio),
			ratio >= targetFloorRatio, "events/s rows above, same run")
	}
	t.info("Emulator peak RSS (all backlog drains)", mb(emu.PeakRSS), "/proc/<sfemu pid>/status VmHWM")
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
