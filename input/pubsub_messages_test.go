package input

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// reparsedPubSubMeta is how the input read a Pub/Sub event's metadata before
// the decoder filled it: by parsing the decoded payload again. It is kept
// here as the reference the decoder's metadata must match.
func reparsedPubSubMeta(p *fastjson.Parser, channel, eventID string, body []byte) stream.Metadata {
	var m stream.Metadata
	v, err := p.ParseBytes(body)
	if err != nil {
		return m
	}
	if strings.HasPrefix(channel, "/event/") {
		m.EventUUID = eventID
	}
	m.CreatedDate = string(v.GetStringBytes("CreatedDate"))
	h := v.Get("ChangeEventHeader")
	if h == nil {
		return m
	}
	m.ChangeType = string(h.GetStringBytes("changeType"))
	m.EntityName = string(h.GetStringBytes("entityName"))
	m.TransactionKey = string(h.GetStringBytes("transactionKey"))
	m.CommitUser = string(h.GetStringBytes("commitUser"))
	for _, id := range h.GetArray("recordIds") {
		m.RecordIDs = append(m.RecordIDs, string(id.GetStringBytes()))
	}
	if ts := h.Get("commitTimestamp"); ts != nil {
		switch ts.Type() {
		case fastjson.TypeNumber:
			m.CommitTimestamp = time.UnixMilli(ts.GetInt64()).UTC().Format("2006-01-02T15:04:05.000Z")
		case fastjson.TypeString:
			m.CommitTimestamp = string(ts.GetStringBytes())
		}
	}
	if m.CreatedDate == "" {
		m.CreatedDate = m.CommitTimestamp
	}
	return m
}

// TestPubSubMetadataFromDecoder: for every kind of event the emulator
// publishes (platform events generated and published, change events of
// every change type, standard and custom objects, the all-changes channel),
// the metadata the decoder fills while decoding equals what parsing the
// decoded body again gives, key by key on the messages.
func TestPubSubMetadataFromDecoder(t *testing.T) {
	emu, url, addr := startPubSubEmulator(t, sfemu.Config{})
	publish := func(body string) {
		resp, err := http.Post(url+"/emulator/publish", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
	}
	channels := []string{"/event/Order__e", "/data/AccountChangeEvent", "/data/Widget__ChangeEvent", "/data/ChangeEvents"}
	total := 0
	for _, ch := range channels {
		_, _, err := emu.PublishN(ch, 20)
		require.NoError(t, err)
		total += 20
	}
	publish(`{"channel":"/event/Order__e","payloads":[{"Amount__c":12.5,"Note__c":"caf\u00e9 \"quoted\""}]}`)
	total++
	for _, ct := range sfemu.ChangeTypes {
		publish(fmt.Sprintf(`{"channel":"/data/AccountChangeEvent","count":2,"change_type":%q}`, ct))
		total += 2
	}

	c := newCollector()
	rs := startStreamWith(t, url, pubsubFields(addr, "")+"  channels: [ "+strings.Join(channels, ", ")+" ]\n  replay_preset: earliest\n", c,
		streamOpts{cacheYAML: "label: replay_ids\nmemory: {}\n"})
	c.waitFor(t, total)
	rs.stop(t)

	c.mu.Lock()
	defer c.mu.Unlock()
	var p fastjson.Parser
	seen := map[string]bool{}
	for k, got := range c.metas {
		channel := got[metaChannel].(string)
		eventID, _ := got[metaEventID].(string)
		schemaID, _ := got[metaSchemaID].(string)
		want := reparsedPubSubMeta(&p, channel, eventID, c.bodies[k])
		want.Schema = schemaID
		wantMsg := batchMessages(&stream.Batch{Channel: channel, Events: []stream.Event{{Channel: channel, Data: c.bodies[k], Meta: want}}})[0]
		wantMeta := map[string]any{}
		require.NoError(t, wantMsg.MetaWalkMut(func(key string, v any) error {
			wantMeta[key] = v
			return nil
		}))
		for _, key := range []string{metaReplayID, metaEventID, metaSchemaID} {
			delete(got, key)
		}
		assert.Equal(t, wantMeta, got, "event %d on %s: %s", k, channel, c.bodies[k])
		ct, _ := got[metaChangeType].(string)
		seen[channel+" "+ct] = true
	}
	for _, ct := range sfemu.ChangeTypes {
		assert.True(t, seen["/data/AccountChangeEvent "+string(ct)], "a %s event was compared", ct)
	}
	for _, ch := range channels[1:] {
		assert.True(t, seen[ch+" UPDATE"] || seen[ch+" CREATE"], "a change event of %s was compared", ch)
	}
	assert.True(t, seen["/event/Order__e "], "a platform event was compared")
	// The comparison is not vacuous: the fields it compares are filled.
	for k, m := range c.metas {
		if m[metaChannel] == "/data/AccountChangeEvent" {
			for _, key := range []string{metaCreatedDate, metaChangeType, metaEntityName, metaRecordIDs, metaCommitTimestamp, metaTransactionKey, metaCommitUser} {
				assert.Contains(t, m, key, "event %d", k)
			}
		}
	}
}
