package checkpointfmt

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSnapshotStateRoundTripAndTornWrites(t *testing.T) {
	older := SnapshotState{Seq: 4, Generation: 2, Started: time.Unix(1700000000, 0).UTC(), Reason: "initial",
		Objects: []ObjectProgress{{Object: "Account", Method: SnapshotREST, LastID: "001x", Done: 10, Total: 20}}}
	newer := older
	newer.Seq = 5
	newer.Objects = []ObjectProgress{{Object: "Account", Method: SnapshotREST, LastID: "001y", Done: 20, Total: 20, Complete: true}}
	key := SnapshotKey("mirror")
	assert.Equal(t, "mirror:snapshot", key)
	assert.NotEqual(t, CheckpointKey("mirror", "/data/AccountChangeEvent"), key)
	full, cut := string(newer.Format()), string(newer.Format()[:20])
	tests := []struct {
		name   string
		stored map[string]string
		want   *SnapshotState
		err    bool
	}{
		{"nothing", map[string]string{}, nil, false},
		{"both written", map[string]string{key + ShadowSuffix: full, key: full}, &newer, false},
		{"key cut short after the shadow", map[string]string{key + ShadowSuffix: full, key: cut}, &newer, false},
		{"shadow cut short, key older", map[string]string{key + ShadowSuffix: cut, key: string(older.Format())}, &older, false},
		{"both garbage", map[string]string{key + ShadowSuffix: "x", key: "y"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			get := func(_ context.Context, k string) ([]byte, bool, error) {
				v, ok := tc.stored[k]
				return []byte(v), ok, nil
			}
			got, found, err := ReadSnapshot(t.Context(), get, "mirror")
			if tc.err {
				var ce *CorruptError
				require.ErrorAs(t, err, &ce)
				return
			}
			require.NoError(t, err)
			if tc.want == nil {
				assert.False(t, found)
				return
			}
			require.True(t, found)
			assert.Equal(t, *tc.want, got)
		})
	}
}
