package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// snapshotBench measures a Change Data Capture snapshot: bin/benthos reading every Account of an emulator that
// holds snapshotRecords of them through a Bulk API 2.0 query job, into drop, from its start to the snapshot's
// progress stored complete (every page acknowledged).
type snapshotBench struct{ *bench }

// Targets of the snapshot row, on a 2-core machine with the emulator on it.
const (
	targetSnapshotRate = 50000 // records/s
	targetSnapshotRSS  = 200e6 // bytes, bin/benthos' peak during the snapshot
)

// snapshotObject is the object the scenario snapshots, with every field of its describe.
const snapshotObject = "Account"

// snapshotPipeline reads the emulator's Accounts with a Bulk API 2.0 snapshot before streaming their change events,
// progress in the file cache of resources/replay_ids_file.yaml. Placeholders: HTTP address, org URL.
const snapshotPipeline = `# sfbench: a Bulk API 2.0 snapshot into drop (written by test/sfbench)
http:
  address: %s
logger:
  level: warn
input:
  salesforce_streaming:
    org_url: %s
    auth:
      grant_type: client_credentials
      client_id: ` + harness.EmulatorClientID + `
      client_secret: ` + harness.EmulatorClientSecret + `
    channels: [ "/data/` + snapshotObject + `ChangeEvent" ]
    checkpoint_cache: replay_ids
    checkpoint_cache_key: ` + checkpointKey + `
    snapshot:
      mode: initial
      method: bulk
      objects:
        ` + snapshotObject + `: []
output:
  drop: {}
`

// snapshotResult is one measured snapshot.
type snapshotResult struct {
	drainResult
	emuCmd string
	load   time.Duration // the emulator's start with its records
}

// snapshot starts an emulator holding the records, runs the snapshot and adds its rows.
func (b snapshotBench) snapshot(ctx context.Context, logf func(string, ...any)) error {
	o := b.opts
	dir := filepath.Join(b.dir, "snapshot")
	dataDir := filepath.Join(dir, "data")
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "replay_ids"), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dataDir, err)
	}
	records := fmt.Sprintf("%s=%d", snapshotObject, o.snapshotRecords)
	logf("starting the emulator with %s records", records)
	start := time.Now()
	emu, err := harness.StartEmulator(ctx, harness.EmulatorConfig{Dir: dir, Seed: 1, Args: []string{"-records", records},
		ReadyTimeout: o.timeout})
	if err != nil {
		return err
	}
	defer emu.Close()
	res := snapshotResult{emuCmd: "bin/sfemu -addr 127.0.0.1:0 -seed 1 -records " + records, load: time.Since(start)}

	resources, err := os.ReadFile(filepath.Join(b.root, "resources", "replay_ids_file.yaml"))
	if err != nil {
		return fmt.Errorf("reading the file cache resource: %w", err)
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return err
	}
	emuBefore, err := harness.ReadProcStat(emu.Proc.PID())
	if err != nil {
		return err
	}
	logf("snapshotting %d %s records over Bulk API 2.0 with bin/benthos", o.snapshotRecords, snapshotObject)
	start = time.Now()
	p, err := harness.StartBenthos(harness.BenthosConfig{Dir: dir, Name: "snapshot", Pipeline: fmt.Sprintf(snapshotPipeline, addr, emu.URL),
		Resources: []string{string(resources)}, Env: []string{"SALESFORCE_STREAMING_DATA_DIR=" + dataDir}})
	if err != nil {
		return err
	}
	defer p.Close()
	res.drainResult = drainResult{name: "snapshot", events: o.snapshotRecords,
		command: fmt.Sprintf("SALESFORCE_STREAMING_DATA_DIR=%s bin/benthos -r %s -c %s", b.rel(dataDir),
			b.rel(filepath.Join(dir, "snapshot.resources-1.yaml")), b.rel(filepath.Join(dir, "snapshot.pipeline.yaml")))}
	wctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := waitSnapshot(wctx, p, filepath.Join(dataDir, "replay_ids"), int64(o.snapshotRecords)); err != nil {
		return err
	}
	if err := res.measureEnd(start, p, emu, emuBefore); err != nil {
		return err
	}
	if err := p.Stop(harness.DefaultStopTimeout); err != nil {
		return fmt.Errorf("stopping bin/benthos after the snapshot: %w\n%s", err, p.Tail(20))
	}
	logf("snapshot: %.0f records/s, peak RSS %s", res.rate(), mb(res.peakRSS))
	b.snapshotRows(res)
	return nil
}

// waitSnapshot polls the snapshot progress in the file cache at dir until it is complete, and checks that it
// counted every record.
func waitSnapshot(ctx context.Context, p *harness.Process, dir string, records int64) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var seen checkpointfmt.SnapshotState
	for {
		if st, ok := readSnapshotProgress(dir); ok {
			seen = st
			if done, err := snapshotComplete(st, records); done || err != nil {
				return err
			}
		}
		if p.Exited() {
			return fmt.Errorf("bin/benthos exited before completing the snapshot (progress %+v): %v\n%s", seen.Objects, p.ExitErr(), p.Tail(30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the snapshot in %s to complete (progress %+v): %w\n%s", dir, seen.Objects, ctx.Err(), p.Tail(30))
		case <-tick.C:
		}
	}
}

// readSnapshotProgress reads the snapshot progress from the file cache at dir as the input reads it (the key and
// its shadow copy); none stored, or both copies mid-write, is none yet.
func readSnapshotProgress(dir string) (checkpointfmt.SnapshotState, bool) {
	get := func(_ context.Context, key string) ([]byte, bool, error) {
		b, err := os.ReadFile(filepath.Join(dir, key))
		return b, err == nil, nil
	}
	st, ok, err := checkpointfmt.ReadSnapshot(context.Background(), get, checkpointKey)
	return st, ok && err == nil
}

// snapshotComplete tells whether st is the end of a snapshot of records Accounts: false while it runs, an error when
// it completed with another count (a record lost or read twice would make the rate a lie).
func snapshotComplete(st checkpointfmt.SnapshotState, records int64) (bool, error) {
	if !st.Complete {
		return false, nil
	}
	for _, obj := range st.Objects {
		if obj.Object != snapshotObject {
			continue
		}
		if obj.Method != checkpointfmt.SnapshotBulk {
			return true, fmt.Errorf("the snapshot of %s used %q, not Bulk API 2.0", obj.Object, obj.Method)
		}
		if obj.Done != records || obj.Total != records {
			return true, fmt.Errorf("the snapshot of %s completed with %d records done of %d, the emulator holds %d", obj.Object, obj.Done, obj.Total, records)
		}
		return true, nil
	}
	return true, fmt.Errorf("the completed snapshot has no progress of %s: %+v", snapshotObject, st.Objects)
}

// snapshotRows adds the snapshot's rows: records/s and peak RSS against their targets.
func (b *bench) snapshotRows(r snapshotResult) {
	t := &b.table
	t.info("Snapshot (emulator)", fmt.Sprintf("%s %s records (every describe field), loaded in %.1f s", thousands(int64(r.events)),
		snapshotObject, r.load.Seconds()), r.emuCmd)
	t.check("Snapshot over Bulk API 2.0, bin/benthos: records/s (start to the snapshot stored complete)",
		fmt.Sprintf("%s records/s (%.2f s)", thousands(int64(r.rate())), r.wall.Seconds()),
		fmt.Sprintf("≥ %s records/s", thousands(targetSnapshotRate)), r.rate() >= targetSnapshotRate, r.command)
	t.check("Snapshot over Bulk API 2.0, bin/benthos: peak RSS", mb(r.peakRSS), fmt.Sprintf("< %s", mb(targetSnapshotRSS)),
		r.peakRSS < targetSnapshotRSS, "/proc/<benthos pid>/status VmHWM at the snapshot's end")
	t.info("Snapshot over Bulk API 2.0, bin/benthos: CPU per record",
		fmt.Sprintf("%.1f µs (%.2f CPU s; emulator meanwhile %.2f CPU s)", perEventMicros(r.cpu, r.events), r.cpu.Seconds(), r.emuCPU.Seconds()),
		"/proc/<benthos pid>/stat utime+stime at the snapshot's end")
}
