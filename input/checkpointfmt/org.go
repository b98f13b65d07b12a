package checkpointfmt

import (
	"context"
	"encoding/json"
	"errors"
)

// The org record. Beside a prefix's checkpoints the input keeps the instance
// (Salesforce's "pod") the org lived on when they were written, to notice an
// org migration: Salesforce restarts replay ids when it moves an org, and a
// new sequence that passed a stored id while the pipeline was down would
// otherwise make a start skip the events between. The org's URL cannot tell
// (a My Domain URL stays the same); its instance name does.
//
// The record is JSON under OrgKey (and its shadow, written first like every
// checkpoint): a write cut short is invalid JSON, so a read takes the shadow
// when it is whole, else the key.

// orgKeySuffix ends the org record's key. `@` is neither in
// checkpoint_cache_key's alphabet nor in a path-escaped channel.
const orgKeySuffix = ":@org"

// OrgKey is the cache key of the org record of the checkpoints under prefix,
// one per API (the two APIs' checkpoints never mix): Codec.OrgKey.

// OrgRecord is the org record.
type OrgRecord struct {
	// InstanceName is the instance the org was on at the last start.
	InstanceName string `json:"instance_name"`
	// MigratedEpochs maps a channel (as passed to CheckpointKey) to the first
	// checkpoint epoch written after the last org migration the input saw: a
	// stored position of a lower epoch predates the migration, and is not
	// resumed from.
	MigratedEpochs map[string]int64 `json:"migrated_epochs,omitempty"`
}

// Format writes r as stored.
func (r OrgRecord) Format() []byte {
	out, _ := json.Marshal(r) // strings and integers only: cannot fail
	return out
}

// ParseOrgRecord reads a stored org record; one without an instance name is
// invalid.
func ParseOrgRecord(value []byte) (OrgRecord, error) {
	var r OrgRecord
	if err := json.Unmarshal(value, &r); err != nil {
		return OrgRecord{}, err
	}
	if r.InstanceName == "" {
		return OrgRecord{}, errors.New("no instance_name")
	}
	return r, nil
}

// ReadOrg returns the org record under key (an OrgKey); found is false when
// neither the key nor its shadow holds a whole one.
func ReadOrg(ctx context.Context, get GetFunc, key string) (rec OrgRecord, found bool, err error) {
	for _, k := range WriteOrder(key) { // the shadow is the newer one
		value, ok, err := get(ctx, k)
		if err != nil {
			return OrgRecord{}, false, err
		}
		if !ok {
			continue
		}
		if rec, err := ParseOrgRecord(value); err == nil {
			return rec, true, nil
		}
	}
	return OrgRecord{}, false, nil
}
