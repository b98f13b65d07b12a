package input

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCDCConfigParses(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want cdcConfig
	}{
		{"defaults", "", cdcConfig{Mode: snapshotNever, Method: methodAuto, Gaps: gapPass}},
		{"a mirror", "snapshot: { mode: initial, method: bulk, objects: { Contact: [], Account: [ Name, Industry ] } }\ngap_events: fetch",
			cdcConfig{Mode: snapshotInitial, Method: methodBulk, Gaps: gapFetch, Objects: []snapshotObject{
				{Name: "Account", Fields: []string{"Name", "Industry"}}, {Name: "Contact"}}}},
		{"always over rest", "snapshot: { mode: always, method: rest, objects: { Invoice__c: [ Amount__c ] } }",
			cdcConfig{Mode: snapshotAlways, Method: methodREST, Gaps: gapPass, Objects: []snapshotObject{{Name: "Invoice__c", Fields: []string{"Amount__c"}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := add("channels: [ /data/AccountChangeEvent ]")(agreementBase) + tc.yaml + "\n"
			assert.Empty(t, lintInput(t, conf))
			in, err := newTestInput(t, conf)
			require.NoError(t, err)
			assert.Equal(t, tc.want, in.conf.CDC)
			fields, ok := in.conf.CDC.fieldsOf("account")
			if len(tc.want.Objects) > 0 && tc.want.Objects[0].Name == "Account" {
				assert.True(t, ok)
				assert.Equal(t, []string{"Name", "Industry"}, fields)
			}
		})
	}
}
