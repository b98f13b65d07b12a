package input

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Org-migration detection. When Salesforce moves an org to another instance
// it restarts the replay ids. A running input notices (its stored ids are
// refused as invalid, and on_invalid_replay_id applies), but while the
// pipeline is down the new sequence can pass a stored id, and resuming there
// would silently skip the events between. So every start compares the org's
// instance name with the one recorded beside the checkpoints
// (checkpointfmt.OrgRecord): when it changed, every stored position is one
// of the old sequence and is treated as an invalid replay id under
// on_invalid_replay_id, loudly. The record names, per channel, the first
// checkpoint epoch of the new sequence, so a crash before a channel wrote
// one does not make the next start resume from the old position.

// orgStore reads and writes the org record beside the checkpoints.
type orgStore interface {
	LoadOrg(ctx context.Context) (checkpointfmt.OrgRecord, bool, error)
	StoreOrg(ctx context.Context, rec checkpointfmt.OrgRecord) error
}

// orgMigrationError stops a start under on_invalid_replay_id: fail.
type orgMigrationError struct {
	from, to string   // instance names; from is "" when detected at an earlier start
	keys     []string // the checkpoint keys of the old sequence
}

func (e *orgMigrationError) Error() string {
	detected := "the org moved to instance " + e.to
	if e.from != "" {
		detected = fmt.Sprintf("the org moved from instance %s to %s", e.from, e.to)
	}
	return fmt.Sprintf("org migration: %s since the checkpoints were written, and Salesforce restarts replay ids when it moves an org, "+
		"so the stored replay ids may be past events never delivered; on_invalid_replay_id is fail, so the input does not consume "+
		"until those checkpoints (%s and their .shadow copies) are deleted or on_invalid_replay_id is changed",
		detected, strings.Join(e.keys, ", "))
}

// checkOrgMigration returns the channels (without filter) whose stored
// position belongs to the replay-id sequence before an org migration, to be
// started under on_invalid_replay_id. Under fail it returns an
// *orgMigrationError instead. When the org's instance cannot be read, it
// warns and returns none: detection must not stop a pipeline that works.
func (i *ssiInput) checkOrgMigration(ctx context.Context) (map[string]bool, error) {
	if i.org == nil || i.instanceName == nil {
		return nil, nil
	}
	name, err := i.instanceName(ctx)
	if err != nil {
		i.log.Warnf("Reading the org's instance failed, so this start cannot detect an org migration (after one, a restart may skip events): %v", err)
		return nil, nil
	}
	// The positions first: a cache outage fails the start as it always did,
	// naming a channel's checkpoint.
	positions := map[string]stream.Position{}
	for _, ch := range i.conf.Channels {
		base := stream.ChannelKey(ch)
		pos, have, err := i.cp.Resume(ctx, base)
		if err != nil {
			return nil, fmt.Errorf("loading the checkpoint of %s: %w", base, err)
		}
		if have {
			positions[base] = pos
		}
	}
	rec, found, err := i.org.LoadOrg(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the org record: %w", err)
	}
	if !found {
		return nil, i.org.StoreOrg(ctx, checkpointfmt.OrgRecord{InstanceName: name})
	}
	if rec.InstanceName != name {
		if rec, err = i.recordMigration(ctx, rec, name, positions); err != nil {
			return nil, err
		}
	}
	migrated := map[string]bool{}
	var keys []string
	for _, ch := range i.conf.Channels {
		base := stream.ChannelKey(ch)
		first, ok := rec.MigratedEpochs[base]
		pos, have := positions[base]
		if ok && have && pos.Epoch < first {
			migrated[base] = true
			keys = append(keys, i.recovery.key(base))
		}
	}
	if len(migrated) > 0 && i.conf.OnInvalidReplayID == onInvalidFail {
		return nil, &orgMigrationError{to: name, keys: keys}
	}
	return migrated, nil
}

// recordMigration handles an instance change seen now: the channels with a
// stored position get the next epoch as their first of the new sequence,
// and the record is rewritten, unless on_invalid_replay_id is fail (then
// the old record stays, so every start refuses until an operator acts).
func (i *ssiInput) recordMigration(ctx context.Context, old checkpointfmt.OrgRecord, name string, positions map[string]stream.Position) (checkpointfmt.OrgRecord, error) {
	rec := checkpointfmt.OrgRecord{InstanceName: name, MigratedEpochs: maps.Clone(old.MigratedEpochs)}
	if rec.MigratedEpochs == nil {
		rec.MigratedEpochs = map[string]int64{}
	}
	var keys []string
	for _, ch := range i.conf.Channels {
		base := stream.ChannelKey(ch)
		if pos, have := positions[base]; have {
			rec.MigratedEpochs[base] = pos.Epoch + 1
			keys = append(keys, i.recovery.key(base))
		}
	}
	slices.Sort(keys)
	i.metrics.orgMigrations.Incr(1)
	if len(keys) > 0 && i.conf.OnInvalidReplayID == onInvalidFail {
		return rec, &orgMigrationError{from: old.InstanceName, to: name, keys: keys}
	}
	i.log.Errorf("Org migration detected: the org moved from instance %s to %s since the checkpoints were written. Salesforce restarts replay ids when it moves an org, "+
		"so the stored replay ids may be past events never delivered: they are treated as invalid replay ids (on_invalid_replay_id: %s) for %d checkpoint(s): %s",
		old.InstanceName, name, i.conf.OnInvalidReplayID, len(keys), strings.Join(keys, ", "))
	if err := i.org.StoreOrg(ctx, rec); err != nil {
		return rec, fmt.Errorf("recording the org migration: %w", err)
	}
	return rec, nil
}

// noteLiveMigration runs after a replay-id fallback of channel, which started
// checkpoint epoch epoch: if the org's instance changed, the fallback was
// this process meeting an org migration live, and the record must say so,
// or the next start would take the new sequence's checkpoints for old ones.
// Every other channel's next epoch becomes its first of the new sequence
// (its old replay id will be refused live, or treated at the next start).
// Failures here only warn: the next start checks again.
func (i *ssiInput) noteLiveMigration(ctx context.Context, channel string, epoch int64) {
	if i.org == nil || i.instanceName == nil {
		return
	}
	name, err := i.instanceName(ctx)
	if err != nil {
		i.log.Warnf("Reading the org's instance after the replay-id fallback of %s failed: %v", channel, err)
		return
	}
	old, found, err := i.org.LoadOrg(ctx)
	switch {
	case err != nil:
		i.log.Warnf("Loading the org record after the replay-id fallback of %s failed: %v", channel, err)
		return
	case found && old.InstanceName == name:
		return // a fallback for another reason (events purged)
	}
	rec := checkpointfmt.OrgRecord{InstanceName: name, MigratedEpochs: maps.Clone(old.MigratedEpochs)}
	if found {
		if rec.MigratedEpochs == nil {
			rec.MigratedEpochs = map[string]int64{}
		}
		for _, ch := range i.conf.Channels {
			base := stream.ChannelKey(ch)
			if base == channel {
				rec.MigratedEpochs[base] = epoch
			} else if next, ok := i.cp.NextEpoch(base); ok {
				rec.MigratedEpochs[base] = next
			}
		}
		i.metrics.orgMigrations.Incr(1)
		i.log.Errorf("Org migration detected while running: the org moved from instance %s to %s, and Salesforce restarted replay ids; on_invalid_replay_id (%s) applies to every channel whose stored replay id it refuses",
			old.InstanceName, name, i.conf.OnInvalidReplayID)
	}
	if err := i.org.StoreOrg(ctx, rec); err != nil {
		i.log.Warnf("Recording the org's instance failed: %v", err)
	}
}

// migratedStart is where a channel whose stored position predates an org
// migration starts: the policy's preset, in a new checkpoint epoch. It logs
// the error and counts the fallback, as for a replay id Salesforce refused.
func (i *ssiInput) migratedStart(channel string) int64 {
	i.cp.NewEpoch(channel)
	i.metrics.replayFallbacks.Incr(1, channel)
	preset := replayEarliest
	if i.conf.OnInvalidReplayID == onInvalidLatest {
		preset = replayLatest
	}
	i.log.Errorf("Not resuming %s from its checkpoint %q: it predates an org migration (replay ids restarted); on_invalid_replay_id is %s, so it resubscribes from the %s event",
		channel, i.recovery.key(channel), i.conf.OnInvalidReplayID, presetText(preset))
	return preset
}

func presetText(preset int64) string {
	if preset == replayEarliest {
		return presetEarliest
	}
	return presetLatest
}

// LoadOrg reads the org record of this store's checkpoints.
func (s cacheStore) LoadOrg(ctx context.Context) (checkpointfmt.OrgRecord, bool, error) {
	return checkpointfmt.ReadOrg(ctx, s.get, s.format().OrgKey(s.prefix))
}

// StoreOrg writes the org record, the shadow first.
func (s cacheStore) StoreOrg(ctx context.Context, rec checkpointfmt.OrgRecord) error {
	return s.set(ctx, s.format().OrgKey(s.prefix), rec.Format())
}
