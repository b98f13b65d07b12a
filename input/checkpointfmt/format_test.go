package checkpointfmt

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckpointKey(t *testing.T) {
	tests := []struct{ prefix, channel, want string }{
		{"salesforce_streaming", "/event/Order__e", "salesforce_streaming:%2Fevent%2FOrder__e"},
		{"orders", "/topic/Invoices?Status__c=Open", "orders:%2Ftopic%2FInvoices"},
		{"p", "/u/notifications/X", "p:%2Fu%2Fnotifications%2FX"},
	}
	for _, test := range tests {
		assert.Equal(t, test.want, CheckpointKey(test.prefix, test.channel))
	}
	assert.Equal(t, []string{"k.shadow", "k"}, WriteOrder("k"), "the shadow is written first")
}

func TestPositionFormat(t *testing.T) {
	for _, pos := range []Position{{ID: 1}, {ID: 981}, {Epoch: 1, ID: 5}, {Epoch: 12, ID: 1 << 40}} {
		back, err := CometD.Parse(CometD.Format(pos))
		require.NoError(t, err)
		assert.Equal(t, pos, back)
	}
	assert.Equal(t, "981", string(CometD.Format(Position{ID: 981})), "epoch 0 is the bare id")
	assert.Equal(t, "5@2", string(CometD.Format(Position{Epoch: 2, ID: 5})))
	for _, bad := range []string{"", " ", "x", "5@", "5@0", "5@-1", "5@x", "@3"} {
		_, err := CometD.Parse([]byte(bad))
		assert.Error(t, err, bad)
	}
	// Whole values that name no event: Salesforce reads -1 as latest and -2
	// as earliest. No crash leaves them, so they are never taken for torn.
	for _, notEvent := range []string{"0", "-1", "-2", "-1@3", " -1\n", "-9223372036854775808"} {
		_, err := CometD.Parse([]byte(notEvent))
		var np *NotPositionError
		assert.ErrorAs(t, err, &np, notEvent)
	}
	assert.True(t, Position{Epoch: 1, ID: 1}.After(Position{ID: 900}), "a later epoch is past any id of an earlier one")
	assert.False(t, Position{ID: 5}.After(Position{ID: 5}))
}

func TestReadPosition(t *testing.T) {
	const key = "p:%2Fu%2FA"
	tests := []struct {
		name            string
		primary, shadow *string
		want            Stored
		corrupt         bool
		corruptKey      string // the key the error names; "" = key
	}{
		{name: "nothing stored", want: Stored{}},
		{name: "key only", primary: ptr("12"), want: Stored{Pos: Position{ID: 12}, Found: true}},
		{name: "shadow only: crash after the first shadow write", shadow: ptr("9"), want: Stored{Pos: Position{ID: 9}, Found: true}},
		{name: "the later of the two", primary: ptr("12"), shadow: ptr("1234"), want: Stored{Pos: Position{ID: 1234}, Found: true}},
		{name: "epoch wins over a higher id", primary: ptr("900"), shadow: ptr("3@1"), want: Stored{Pos: Position{Epoch: 1, ID: 3}, Found: true}},
		{name: "key torn", primary: ptr(" "), shadow: ptr("501"),
			want: Stored{Pos: Position{ID: 501}, Found: true, TornKey: key, TornValue: " "}},
		{name: "shadow torn", primary: ptr("400"), shadow: ptr("4"), want: Stored{Pos: Position{ID: 400}, Found: true}},
		{name: "shadow torn to nothing", primary: ptr("400"), shadow: ptr(""),
			want: Stored{Pos: Position{ID: 400}, Found: true, TornKey: key + ShadowSuffix}},
		{name: "first shadow write torn", shadow: ptr(" "), want: Stored{TornKey: key + ShadowSuffix, TornValue: " "}},
		{name: "both torn", primary: ptr("x"), shadow: ptr(" "), corrupt: true},
		{name: "key corrupt, no shadow", primary: ptr("not-a-number"), corrupt: true},
		{name: "key -1, no shadow", primary: ptr("-1"), corrupt: true},
		{name: "key 0, shadow -1", primary: ptr("0"), shadow: ptr("-1"), corrupt: true},
		{name: "key -1, shadow torn", primary: ptr("-1"), shadow: ptr(" "), corrupt: true},
		{name: "shadow -1, no key: not a first write cut short", shadow: ptr("-1"), corrupt: true, corruptKey: key + ShadowSuffix},
		{name: "key -1, shadow valid: the shadow is used", primary: ptr("-1"), shadow: ptr("77"),
			want: Stored{Pos: Position{ID: 77}, Found: true, TornKey: key, TornValue: "-1", NotPosition: "replay id -1 names no event; Salesforce reads -1 as the latest event and -2 as the earliest"}},
		{name: "shadow 0, key valid", primary: ptr("80@2"), shadow: ptr("0@2"),
			want: Stored{Pos: Position{Epoch: 2, ID: 80}, Found: true, TornKey: key + ShadowSuffix, TornValue: "0@2", NotPosition: "replay id 0 names no event; Salesforce reads -1 as the latest event and -2 as the earliest"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			values := map[string]*string{key: test.primary, key + ShadowSuffix: test.shadow}
			get := func(_ context.Context, k string) ([]byte, bool, error) {
				v := values[k]
				if v == nil {
					return nil, false, nil
				}
				return []byte(*v), true, nil
			}
			got, err := Read(t.Context(), get, CometD, key)
			if test.corrupt {
				var corrupt *CorruptError
				require.ErrorAs(t, err, &corrupt)
				wantKey := key
				if test.corruptKey != "" {
					wantKey = test.corruptKey
				}
				assert.Equal(t, wantKey, corrupt.Key)
				assert.Contains(t, err.Error(), wantKey)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, test.want, got)

			pos, ok, err := ReadPosition(t.Context(), get, CometD, "p", "/u/A")
			require.NoError(t, err)
			assert.Equal(t, test.want.Found, ok)
			assert.Equal(t, test.want.Pos, pos)
		})
	}

	t.Run("a failed get is returned", func(t *testing.T) {
		boom := errors.New("boom")
		_, _, err := ReadPosition(t.Context(), func(context.Context, string) ([]byte, bool, error) { return nil, false, boom }, CometD, "p", "/u/A")
		assert.ErrorIs(t, err, boom)
	})
}

func ptr(s string) *string { return &s }

func TestOrgRecord(t *testing.T) {
	assert.Equal(t, "p:@org", CometD.OrgKey("p"))
	assert.Equal(t, "p:@org@pubsub", PubSub.OrgKey("p"))
	assert.NotEqual(t, CometD.OrgKey("p"), CheckpointKey("p", "/event/A__e"))

	rec := OrgRecord{InstanceName: "NA135", MigratedEpochs: map[string]int64{"/event/A__e": 2}}
	whole := string(rec.Format())
	older := string(OrgRecord{InstanceName: "NA99"}.Format())
	tests := []struct {
		name        string
		key, shadow *string
		want        OrgRecord
		found       bool
	}{
		{name: "none"},
		{name: "both", key: &older, shadow: &whole, want: rec, found: true},
		{name: "key only", key: &whole, want: rec, found: true},
		{name: "shadow cut short", key: &older, shadow: ptr(whole[:len(whole)-3]), want: OrgRecord{InstanceName: "NA99"}, found: true},
		{name: "key cut short, no shadow", key: ptr(whole[:10])},
		{name: "no instance name", key: ptr(`{"instance_name":""}`)},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			get := func(_ context.Context, k string) ([]byte, bool, error) {
				v := test.key
				if k == "k"+ShadowSuffix {
					v = test.shadow
				}
				if v == nil {
					return nil, false, nil
				}
				return []byte(*v), true, nil
			}
			got, found, err := ReadOrg(t.Context(), get, "k")
			require.NoError(t, err)
			assert.Equal(t, test.found, found)
			assert.Equal(t, test.want, got)
		})
	}
}

func TestStartMarker(t *testing.T) {
	for _, pos := range []Position{{ID: 1, Start: true}, {ID: 7556, Start: true}, {Epoch: 3, ID: 20051, Start: true}} {
		back, err := CometD.Parse(CometD.Format(pos))
		require.NoError(t, err)
		assert.Equal(t, pos, back)
	}
	assert.Equal(t, "start:7556", string(CometD.Format(Position{ID: 7556, Start: true})))
	assert.Equal(t, "start:7556@2", string(CometD.Format(Position{Epoch: 2, ID: 7556, Start: true})))
	// Every form written before the marker reads back byte for byte as before.
	for value, want := range map[string]Position{"981": {ID: 981}, "5@2": {Epoch: 2, ID: 5}, " 12\n": {ID: 12}} {
		got, err := CometD.Parse([]byte(value))
		require.NoError(t, err)
		assert.Equal(t, want, got, value)
		assert.False(t, got.Start)
	}
	// A marker cut short by a crash fails to parse (torn) or names a lower F.
	for _, torn := range []string{"s", "start", "start:", "start:@2", "start:x"} {
		_, err := CometD.Parse([]byte(torn))
		require.Error(t, err, torn)
		var np *NotPositionError
		assert.False(t, errors.As(err, &np), "%q is a write cut short", torn)
	}
	_, err := CometD.Parse([]byte("start:0"))
	var np *NotPositionError
	assert.ErrorAs(t, err, &np, "a whole marker naming no event")

	marker := Position{ID: 7556, Start: true}
	assert.True(t, Position{ID: 1}.After(marker), "a position of the marker's epoch is past it, whatever its id")
	assert.False(t, marker.After(Position{ID: 1}))
	assert.True(t, marker.After(Position{ID: 1, Start: true}), "a longer marker is past one cut short")
	assert.True(t, Position{Epoch: 1, ID: 1, Start: true}.After(Position{ID: 900}), "epochs first")
}

func TestReadStartMarker(t *testing.T) {
	const key = "p:%2Fu%2FA"
	tests := []struct {
		name            string
		primary, shadow *string
		want            Position
	}{
		{"marker written", ptr("start:7556"), ptr("start:7556"), Position{ID: 7556, Start: true}},
		{"first ack's shadow written over the marker", ptr("start:7556"), ptr("20051"), Position{ID: 20051}},
		{"first ack's key torn", ptr("2"), ptr("20051"), Position{ID: 20051}},
		{"marker's key cut short", ptr("start:75"), ptr("start:7556"), Position{ID: 7556, Start: true}},
		{"marker's key torn", ptr("star"), ptr("start:7556@1"), Position{Epoch: 1, ID: 7556, Start: true}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			values := map[string]*string{key: test.primary, key + ShadowSuffix: test.shadow}
			get := func(_ context.Context, k string) ([]byte, bool, error) {
				if v := values[k]; v != nil {
					return []byte(*v), true, nil
				}
				return nil, false, nil
			}
			got, err := Read(t.Context(), get, CometD, key)
			require.NoError(t, err)
			assert.True(t, got.Found)
			assert.Equal(t, test.want, got.Pos)
		})
	}
	// Only a torn marker's shadow: the first write was cut short.
	got, err := Read(t.Context(), func(_ context.Context, k string) ([]byte, bool, error) {
		if k == key+ShadowSuffix {
			return []byte("start:"), true, nil
		}
		return nil, false, nil
	}, CometD, key)
	require.NoError(t, err)
	assert.False(t, got.Found)
}
