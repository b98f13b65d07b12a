package input

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// TestBodyField: the body under each api, set and unset.
func TestBodyField(t *testing.T) {
	for _, tt := range []struct {
		name, fields string
		want         bodyShape
		err          string
	}{
		{"streaming default", "", bodyData, ""},
		{"streaming data", "body: data\n", bodyData, ""},
		{"streaming payload", "body: payload\n", bodyPayload, ""},
		{"pubsub default", "api: pubsub\n", bodyPayload, ""},
		{"pubsub payload", "api: pubsub\nbody: payload\n", bodyPayload, ""},
		{"pubsub data", "api: pubsub\nbody: data\n", "", "body: data is the CometD message's data object, which api: pubsub does not have"},
		{"unknown", "body: record\n", "", `body "record" is not supported: use data or payload`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in, err := newTestInput(t, `org_url: https://acme.my.salesforce.com
auth: { grant_type: client_credentials, client_id: cid, client_secret: cs }
channels: [ /event/Order__e ]
checkpoint_cache: replay_ids
`+tt.fields)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, in.conf.Body)
		})
	}
}

// TestPayloadBody: body: payload takes data.payload, or a PushTopic's
// data.sobject, byte for byte; an event with neither keeps its data.
func TestPayloadBody(t *testing.T) {
	b := stream.Batch{Events: []stream.Event{
		{Data: []byte(`{"schema":"s1","payload":{"A":"x \"y\"","B":[1,2]},"event":{"replayId":1}}`)},
		{Data: []byte(`{"event":{"replayId":2,"type":"created"},"sobject":{"Id":"001","Name":"Acme"}}`)},
		{Data: []byte(`{"event":{"replayId":3},"payload":"plain text"}`)},
		{Data: []byte(`{"event":{"replayId":4},"other":{}}`)},
	}}
	payloadBody(&b)
	want := []string{`{"A":"x \"y\"","B":[1,2]}`, `{"Id":"001","Name":"Acme"}`, `"plain text"`, `{"event":{"replayId":4},"other":{}}`}
	for k, w := range want {
		assert.Equal(t, w, string(b.Events[k].Data), "event %d", k)
	}
}

// TestBodyPayloadSameOverBothAPIs: one pipeline with body: payload, run over
// CometD and then over Pub/Sub by changing api alone, delivers the same
// bodies and the same metadata event by event. The differences left are the
// ones docs/pubsub.md lists: the replay id's form, the Pub/Sub-only keys, the
// schema id, a change event header's nulledFields and diffFields (Pub/Sub
// only) and the order of its changedFields, and the null that Pub/Sub writes
// for a platform event field the publisher left out.
func TestBodyPayloadSameOverBothAPIs(t *testing.T) {
	emu, url, addr := startPubSubEmulator(t, sfemu.Config{})
	channels := []string{"/event/Order__e", "/data/AccountChangeEvent", "/data/ChangeEvents"}
	const perChannel = 15
	for _, ch := range channels {
		_, _, err := emu.PublishN(ch, perChannel)
		require.NoError(t, err)
	}
	_, _, err := emu.Publish("/event/Order__e", json.RawMessage(`{"Amount__c":12.5,"Note__c":"caf\u00e9 \"quoted\""}`))
	require.NoError(t, err)
	const pipeline = "  body: payload\n  channels: [ /event/Order__e, /data/AccountChangeEvent, /data/ChangeEvents ]\n  replay_preset: earliest\n"
	read := func(api string) *collector {
		c := newCollector()
		rs := startStreamWith(t, url, api+pipeline, c, streamOpts{cacheYAML: "label: replay_ids\nmemory: {}\n"})
		c.waitFor(t, len(channels)*perChannel+1)
		rs.stop(t)
		return c
	}
	cometd := read("")
	ps := read(pubsubFields(addr, ""))

	byChannel := func(c *collector) map[string][]int {
		out := map[string][]int{}
		for k, m := range c.metas {
			ch := m[metaChannel].(string)
			out[ch] = append(out[ch], k)
		}
		return out
	}
	cIdx, pIdx := byChannel(cometd), byChannel(ps)
	for _, ch := range channels {
		want := perChannel
		if ch == "/event/Order__e" {
			want++
		}
		require.Len(t, cIdx[ch], want, ch)
		require.Len(t, pIdx[ch], want, ch)
		for n := range want {
			cm, pm := cometd.metas[cIdx[ch][n]], ps.metas[pIdx[ch][n]]
			for _, k := range []string{metaReplayID, metaEventID, metaSchemaID, metaSchema} {
				delete(cm, k)
				delete(pm, k)
			}
			assert.Equal(t, cm, pm, "%s event %d: the same metadata", ch, n)
			var cBody, pBody map[string]any
			require.NoError(t, json.Unmarshal(cometd.bodies[cIdx[ch][n]], &cBody), "%s event %d: CometD body", ch, n)
			require.NoError(t, json.Unmarshal(ps.bodies[pIdx[ch][n]], &pBody), "%s event %d: Pub/Sub body", ch, n)
			if h, ok := pBody["ChangeEventHeader"].(map[string]any); ok {
				for _, k := range []string{"nulledFields", "diffFields"} {
					delete(h, k)
				}
				ch := cBody["ChangeEventHeader"].(map[string]any)
				assert.ElementsMatch(t, ch["changedFields"], h["changedFields"], "changedFields")
				delete(h, "changedFields")
				delete(ch, "changedFields")
			}
			for k, v := range pBody {
				if _, ok := cBody[k]; !ok && v == nil && ch == "/event/Order__e" {
					// A platform event field the publisher left out: Avro
					// writes every field of the schema, so Pub/Sub has null.
					delete(pBody, k)
				}
			}
			assert.NotContains(t, cBody, "event", "%s event %d: the CometD body is the payload, not data", ch, n)
			assert.Equal(t, cBody, pBody, "%s event %d: the same body", ch, n)
		}
	}
}
