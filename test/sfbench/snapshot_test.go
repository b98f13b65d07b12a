package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
)

func TestReadSnapshotProgress(t *testing.T) {
	dir := t.TempDir()
	_, ok := readSnapshotProgress(dir)
	assert.False(t, ok, "nothing stored")

	key := checkpointfmt.SnapshotKey(checkpointKey)
	keys := checkpointfmt.WriteOrder(key)
	older := checkpointfmt.SnapshotState{Seq: 3, Generation: 1, Objects: []checkpointfmt.ObjectProgress{{Object: "Account", Done: 10}}}
	newer := checkpointfmt.SnapshotState{Seq: 4, Generation: 1, Complete: true, Objects: []checkpointfmt.ObjectProgress{{Object: "Account", Done: 20}}}
	// The shadow holds the newer write, the key is still the older one: a crash between the two writes.
	require.NoError(t, os.WriteFile(filepath.Join(dir, keys[0]), newer.Format(), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, keys[1]), older.Format(), 0o600))
	got, ok := readSnapshotProgress(dir)
	require.True(t, ok)
	assert.Equal(t, int64(4), got.Seq)
	assert.True(t, got.Complete)

	for _, k := range keys {
		require.NoError(t, os.WriteFile(filepath.Join(dir, k), []byte("not json"), 0o600))
	}
	_, ok = readSnapshotProgress(dir)
	assert.False(t, ok, "a corrupt value is not progress")
}

func TestSnapshotComplete(t *testing.T) {
	account := func(method string, done, total int64) []checkpointfmt.ObjectProgress {
		return []checkpointfmt.ObjectProgress{{Object: "Account", Method: method, Done: done, Total: total, Complete: true}}
	}
	tests := []struct {
		name    string
		state   checkpointfmt.SnapshotState
		done    bool
		wantErr string
	}{
		{name: "running", state: checkpointfmt.SnapshotState{Objects: account(checkpointfmt.SnapshotBulk, 500, 1000)}},
		{name: "complete", state: checkpointfmt.SnapshotState{Complete: true, Objects: account(checkpointfmt.SnapshotBulk, 1000, 1000)}, done: true},
		{name: "complete with fewer records", state: checkpointfmt.SnapshotState{Complete: true, Objects: account(checkpointfmt.SnapshotBulk, 999, 1000)},
			done: true, wantErr: "999 records done of 1000"},
		{name: "total differs from the emulator", state: checkpointfmt.SnapshotState{Complete: true, Objects: account(checkpointfmt.SnapshotBulk, 900, 900)},
			done: true, wantErr: "the emulator holds 1000"},
		{name: "read over REST", state: checkpointfmt.SnapshotState{Complete: true, Objects: account(checkpointfmt.SnapshotREST, 1000, 1000)},
			done: true, wantErr: "not Bulk API 2.0"},
		{name: "no Account progress", state: checkpointfmt.SnapshotState{Complete: true}, done: true, wantErr: "no progress of Account"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done, err := snapshotComplete(tc.state, 1000)
			assert.Equal(t, tc.done, done)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestSnapshotRows(t *testing.T) {
	b := &bench{}
	r := snapshotResult{emuCmd: "bin/sfemu -records Account=1000", drainResult: drainResult{events: 100000, wall: 1e9, peakRSS: 250e6, command: "bin/benthos -c s.yaml"}}
	b.snapshotRows(r)
	require.Len(t, b.table.rows, 4)
	rate, rss := b.table.rows[1], b.table.rows[2]
	assert.Equal(t, "100,000 records/s (1.00 s)", rate.value)
	assert.Equal(t, "yes", rate.met)
	assert.Equal(t, "250 MB", rss.value)
	assert.Equal(t, "no", rss.met, "above the 200 MB target")
}

func TestParseSnapshotRecordsFlag(t *testing.T) {
	o, err := parseFlags([]string{"-snapshot-records", "20000"}, os.Stderr)
	require.NoError(t, err)
	assert.Equal(t, 20000, o.snapshotRecords)
	o, err = parseFlags(nil, os.Stderr)
	require.NoError(t, err)
	assert.Equal(t, 1000000, o.snapshotRecords, "make bench snapshots a million Accounts")
	_, err = parseFlags([]string{"-snapshot-records", "-1"}, os.Stderr)
	assert.ErrorContains(t, err, "-snapshot-records")
}
