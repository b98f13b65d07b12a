package input

import (
	"context"
	"errors"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// migrationInput is an input on agreementBase's config (three channels) with
// the given policy, whose instance query answers *instance.
func migrationInput(t *testing.T, policy string, instance *string) *ssiInput {
	t.Helper()
	in, err := newTestInput(t, agreementBase+"on_invalid_replay_id: "+policy+"\n")
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.Close(context.Background()) })
	in.instanceName = func(context.Context) (string, error) {
		if *instance == "" {
			return "", errors.New("query refused")
		}
		return *instance, nil
	}
	return in
}

// TestOrgMigrationDetection walks the org record through its states: first
// start, same instance, a migration with one channel checkpointed, a crash
// before that channel wrote a checkpoint of the new sequence (the next start
// treats it again), a checkpoint of the new sequence (resumed from), and a
// query that fails (nothing detected, the start goes on).
func TestOrgMigrationDetection(t *testing.T) {
	ctx := t.Context()
	instance := "NA1"
	in := migrationInput(t, "earliest", &instance)
	store := in.org.(cacheStore)

	migrated, err := in.checkOrgMigration(ctx)
	require.NoError(t, err)
	assert.Empty(t, migrated, "first start: nothing to compare with")
	rec, found, err := store.LoadOrg(ctx)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, checkpointfmt.OrgRecord{InstanceName: "NA1"}, rec, "the instance is recorded")

	require.NoError(t, store.Store(ctx, "/event/Order__e", stream.Position{Seq: 900}))
	migrated, err = in.checkOrgMigration(ctx)
	require.NoError(t, err)
	assert.Empty(t, migrated, "same instance")

	// The org moves while down: a new process starts on the same store.
	instance = "NA2"
	in2 := migrationInput(t, "earliest", &instance)
	in2.org = store
	in2.cp.store = store
	migrated, err = in2.checkOrgMigration(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"/event/Order__e": true}, migrated, "the checkpointed channel predates the migration")
	rec, _, err = store.LoadOrg(ctx)
	require.NoError(t, err)
	assert.Equal(t, checkpointfmt.OrgRecord{InstanceName: "NA2", MigratedEpochs: map[string]int64{"/event/Order__e": 1}}, rec)

	// A crash before the channel wrote a checkpoint of the new sequence.
	in3 := migrationInput(t, "earliest", &instance)
	in3.org, in3.cp.store = store, store
	migrated, err = in3.checkOrgMigration(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"/event/Order__e": true}, migrated, "still the old sequence's checkpoint: treated again, not resumed")

	// The first checkpoint of the new sequence (epoch 1, a lower id).
	require.NoError(t, store.Store(ctx, "/event/Order__e", stream.Position{Epoch: 1, Seq: 12}))
	in4 := migrationInput(t, "earliest", &instance)
	in4.org, in4.cp.store = store, store
	migrated, err = in4.checkOrgMigration(ctx)
	require.NoError(t, err)
	assert.Empty(t, migrated, "a checkpoint of the new sequence is resumed from")

	// The query fails: no detection, no error.
	instance = ""
	in5 := migrationInput(t, "earliest", &instance)
	in5.org, in5.cp.store = store, store
	migrated, err = in5.checkOrgMigration(ctx)
	require.NoError(t, err)
	assert.Empty(t, migrated)
}

// Under on_invalid_replay_id: fail a migration stops the start, naming the
// checkpoint keys, and keeps the old record so every start refuses until an
// operator acts; with no checkpoint left, the new instance is recorded.
func TestOrgMigrationFail(t *testing.T) {
	ctx := t.Context()
	instance := "NA1"
	in := migrationInput(t, "fail", &instance)
	store := in.org.(cacheStore)
	_, err := in.checkOrgMigration(ctx)
	require.NoError(t, err)
	require.NoError(t, store.Store(ctx, "/event/Order__e", stream.Position{Seq: 900}))

	instance = "NA2"
	for range 2 {
		next := migrationInput(t, "fail", &instance)
		next.org, next.cp.store = store, store
		_, err = next.checkOrgMigration(ctx)
		var om *orgMigrationError
		require.ErrorAs(t, err, &om)
		assert.Contains(t, err.Error(), "from instance NA1 to NA2")
		assert.Contains(t, err.Error(), checkpointfmt.CheckpointKey("salesforce_streaming", "/event/Order__e"))
		rec, _, lerr := store.LoadOrg(ctx)
		require.NoError(t, lerr)
		assert.Equal(t, "NA1", rec.InstanceName, "the old record stays")
	}

	// The operator deletes the checkpoint: nothing to protect, the new
	// instance is recorded and the start goes on.
	for _, k := range checkpointfmt.WriteOrder(checkpointfmt.CheckpointKey("salesforce_streaming", "/event/Order__e")) {
		require.NoError(t, store.res.AccessCache(ctx, store.cache, func(c service.Cache) { require.NoError(t, c.Delete(ctx, k)) }))
	}
	fixed := migrationInput(t, "fail", &instance)
	fixed.org, fixed.cp.store = store, store
	migrated, err := fixed.checkOrgMigration(ctx)
	require.NoError(t, err)
	assert.Empty(t, migrated)
	rec, _, err := store.LoadOrg(ctx)
	require.NoError(t, err)
	assert.Equal(t, "NA2", rec.InstanceName)
}
