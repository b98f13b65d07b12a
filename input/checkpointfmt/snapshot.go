package checkpointfmt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// A snapshot's progress lives under SnapshotKey(prefix) as one JSON value,
// SnapshotState, written like a position: to the shadow key first, then the
// key (WriteOrder). Each write carries a higher Seq, and a read takes the
// valid value of the two with the higher Seq, so a write cut short by a crash
// leaves the previous progress readable. The key cannot meet a channel's:
// those are `<prefix>:` followed by an escaped channel, which starts with
// %2F.

// SnapshotKey is the cache key of the snapshot progress under prefix.
func SnapshotKey(prefix string) string { return prefix + ":snapshot" }

// Snapshot methods as stored.
const (
	SnapshotREST = "rest"
	SnapshotBulk = "bulk"
)

// SnapshotState is a snapshot's acknowledged progress.
type SnapshotState struct {
	// Seq grows with every write.
	Seq int64 `json:"seq"`
	// Generation numbers the snapshots of this prefix, from 1. Every message
	// of a snapshot carries it; a mirror drops what an earlier generation
	// wrote and the current one did not see (docs/cdc.md).
	Generation int64 `json:"generation"`
	// Started is when this generation's snapshot started.
	Started time.Time `json:"started"`
	// Reason is why it runs: initial, always or resync.
	Reason string `json:"reason"`
	// Complete is set once every object is done and acknowledged.
	Complete bool             `json:"complete"`
	Objects  []ObjectProgress `json:"objects"`
}

// ObjectProgress is how far one object's snapshot got: every record up to it
// is acknowledged.
type ObjectProgress struct {
	Object string `json:"object"`
	Method string `json:"method"` // SnapshotREST or SnapshotBulk
	// LastID (rest): the records are read ordered by Id, and those up to
	// LastID are done.
	LastID string `json:"last_id,omitempty"`
	// Job and Locator (bulk): the query job and the locator of its first
	// results page not yet done ("" with a Job: the first page).
	Job     string `json:"job,omitempty"`
	Locator string `json:"locator,omitempty"`
	// Done counts the records acknowledged; Total is the count the
	// snapshot expects (COUNT() or the job's records).
	Done     int64 `json:"done"`
	Total    int64 `json:"total"`
	Complete bool  `json:"complete"`
}

// Format writes s as stored.
func (s SnapshotState) Format() []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // only strings, numbers, booleans and a time
	}
	return b
}

// ParseSnapshot reads a stored value.
func ParseSnapshot(value []byte) (SnapshotState, error) {
	var s SnapshotState
	if err := json.Unmarshal(value, &s); err != nil {
		return SnapshotState{}, fmt.Errorf("not a snapshot state: %w", err)
	}
	if s.Generation < 1 {
		return SnapshotState{}, fmt.Errorf("snapshot state without a generation")
	}
	return s, nil
}

// ReadSnapshot returns the snapshot progress stored under prefix; found is
// false when none was ever fully written. Both keys holding something that is
// not a state is a *CorruptError.
func ReadSnapshot(ctx context.Context, get GetFunc, prefix string) (state SnapshotState, found bool, err error) {
	key := SnapshotKey(prefix)
	var best SnapshotState
	var bad []byte
	for _, k := range WriteOrder(key) {
		v, ok, err := get(ctx, k)
		if err != nil {
			return SnapshotState{}, false, err
		}
		if !ok {
			continue
		}
		s, perr := ParseSnapshot(v)
		if perr != nil {
			bad = v
			continue
		}
		if !found || s.Seq > best.Seq {
			best, found = s, true
		}
	}
	if !found && bad != nil {
		return SnapshotState{}, false, &CorruptError{Key: key, Value: string(bad)}
	}
	return best, found, nil
}
