package input

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPubSubPlaintextOnlyOnLoopbackWithoutTLS(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		tls      bool
		want     bool
	}{
		{"127.0.0.1:7443", false, true},
		{"127.9.9.9:1", false, true},
		{"localhost:7443", false, true},
		{"[::1]:7443", false, true},
		{"127.0.0.1:7443", true, false},
		{"api.pubsub.salesforce.com:7443", false, false},
		{"10.0.0.1:7443", false, false},
		{"localhost.evil.example:7443", false, false},
	} {
		assert.Equal(t, tt.want, pubsubPlaintext(tt.endpoint, tt.tls), "%s tls=%v", tt.endpoint, tt.tls)
	}
}

func TestPubSubConfig(t *testing.T) {
	in, err := newTestInput(t, `org_url: https://acme.my.salesforce.com
api: pubsub
auth: { grant_type: client_credentials, client_id: cid, client_secret: cs }
channels: [ /event/Order__e, /data/ChangeEvents ]
initial_replay_ids: { /event/Order__e: "AAAAAAAAJ/Y=", /data/ChangeEvents: -2 }
checkpoint_cache: replay_ids
`)
	require.NoError(t, err)
	assert.Equal(t, apiPubSub, in.conf.API)
	assert.Equal(t, defaultPubSubEndpoint, in.conf.PubSubEndpoint)
	assert.False(t, in.conf.PubSubPlaintext)
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0x27, 0xf6}, in.conf.InitialPubSubIDs["/event/Order__e"])
	assert.Equal(t, int64(replayEarliest), in.conf.InitialReplayIDs["/data/ChangeEvents"])
}
