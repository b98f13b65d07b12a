package input

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// eventMessage turns one event into a message, as batchMessages does.
func eventMessage(ev *stream.Event) *service.Message {
	return batchMessages(&stream.Batch{Channel: ev.Channel, Events: []stream.Event{*ev}})[0]
}

// Payload samples from Salesforce's documentation (PushTopic, platform event, CDC), with the metadata the decoder
// extracts.
func TestEventMessage(t *testing.T) {
	tests := []struct {
		name  string
		event stream.Event
		want  map[string]any
	}{
		{
			name: "pushtopic",
			event: stream.Event{
				Channel: "/topic/InvoiceStatementUpdates?Status__c=Open", ReplayID: 13, HasReplayID: true,
				Data: []byte(`{"event":{"createdDate":"2016-03-29T16:40:08.208Z","replayId":13,"type":"created"},"sobject":{"Name":"INV-0001","Id":"a00D0000008o6y8IAA","Status__c":"Open"}}`),
				Meta: stream.Metadata{CreatedDate: "2016-03-29T16:40:08.208Z", EventType: "created"},
			},
			want: map[string]any{
				metaChannel:     "/topic/InvoiceStatementUpdates",
				metaReplayID:    int64(13),
				metaCreatedDate: "2016-03-29T16:40:08.208Z",
				metaEventType:   "created",
			},
		},
		{
			name: "generic",
			event: stream.Event{
				Channel: "/u/TestStreaming", ReplayID: 55, HasReplayID: true,
				Data: []byte(`{"event":{"createdDate":"2016-03-29T19:05:28.334Z","replayId":55},"payload":"This is a message."}`),
				Meta: stream.Metadata{CreatedDate: "2016-03-29T19:05:28.334Z"},
			},
			want: map[string]any{
				metaChannel:     "/u/TestStreaming",
				metaReplayID:    int64(55),
				metaCreatedDate: "2016-03-29T19:05:28.334Z",
			},
		},
		{
			name: "platform event",
			event: stream.Event{
				Channel: "/event/Low_Ink__e", ReplayID: 2112, HasReplayID: true,
				Data: []byte(`{"schema":"dffQ2QLzDNHqwB8_sHMxdA","payload":{"CreatedDate":"2023-04-09T18:31:40.517Z","CreatedById":"005D0000001cSZs","Printer_Model__c":"XZO-5","Serial_Number__c":"12345","Ink_Percentage__c":0.2},"event":{"EventUuid":"2ec0e371-1395-457f-9275-be1b527a72f7","replayId":2112}}`),
				Meta: stream.Metadata{CreatedDate: "2023-04-09T18:31:40.517Z", EventUUID: "2ec0e371-1395-457f-9275-be1b527a72f7", Schema: "dffQ2QLzDNHqwB8_sHMxdA"},
			},
			want: map[string]any{
				metaChannel:     "/event/Low_Ink__e",
				metaReplayID:    int64(2112),
				metaCreatedDate: "2023-04-09T18:31:40.517Z",
				metaEventUUID:   "2ec0e371-1395-457f-9275-be1b527a72f7",
				metaSchema:      "dffQ2QLzDNHqwB8_sHMxdA",
			},
		},
		{
			name: "change data capture",
			event: stream.Event{
				Channel: "/data/ChangeEvents", ReplayID: 6421, HasReplayID: true,
				Data: []byte(`{"schema":"IeRuaY6cbI_HsV8Rv1Mc5g","payload":{"ChangeEventHeader":{"entityName":"Account","recordIds":["001a","001b"],"changeType":"CREATE","changeOrigin":"com.salesforce.core","transactionKey":"001b7375-0086-250e-e6ca-b99bc3a8b69f","sequenceNumber":1,"isTransactionEnd":true,"commitTimestamp":1501010206653,"commitNumber":92847272780,"commitUser":"005xx"},"Name":"Acme","CreatedDate":"2017-07-25T19:16:44Z"},"event":{"replayId":6421}}`),
				Meta: stream.Metadata{
					CreatedDate: "2017-07-25T19:16:46.653Z", Schema: "IeRuaY6cbI_HsV8Rv1Mc5g",
					ChangeType: "CREATE", EntityName: "Account", TransactionKey: "001b7375-0086-250e-e6ca-b99bc3a8b69f",
					CommitUser: "005xx", RecordIDs: []string{"001a", "001b"}, CommitTimestamp: "2017-07-25T19:16:46.653Z",
				},
			},
			want: map[string]any{
				metaChannel:         "/data/ChangeEvents",
				metaReplayID:        int64(6421),
				metaCreatedDate:     "2017-07-25T19:16:46.653Z",
				metaSchema:          "IeRuaY6cbI_HsV8Rv1Mc5g",
				metaChangeType:      "CREATE",
				metaEntityName:      "Account",
				metaRecordIDs:       []any{"001a", "001b"},
				metaCommitTimestamp: "2017-07-25T19:16:46.653Z",
				metaTransactionKey:  "001b7375-0086-250e-e6ca-b99bc3a8b69f",
				metaCommitUser:      "005xx",
			},
		},
		{
			name: "event without replay id",
			event: stream.Event{
				Channel: "/u/Plain",
				Data:    []byte(`"just a string"`),
			},
			want: map[string]any{metaChannel: "/u/Plain"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			msg := eventMessage(&test.event)

			body, err := msg.AsBytes()
			require.NoError(t, err)
			assert.Equal(t, test.event.Data, body, "the body is data byte for byte")

			got := map[string]any{}
			require.NoError(t, msg.MetaWalkMut(func(k string, v any) error {
				got[k] = v
				return nil
			}))
			assert.Equal(t, test.want, got)
		})
	}
}

func TestEventMessageStringMetadata(t *testing.T) {
	msg := eventMessage(&stream.Event{
		Channel: "/data/ChangeEvents", ReplayID: 9, HasReplayID: true, Data: []byte(`{}`),
		Meta: stream.Metadata{RecordIDs: []string{"001a"}},
	})
	id, ok := msg.MetaGet(metaReplayID)
	assert.True(t, ok)
	assert.Equal(t, "9", id, "string form for meta(), interpolation and outputs' headers")
	ids, ok := msg.MetaGet(metaRecordIDs)
	assert.True(t, ok)
	assert.Equal(t, `["001a"]`, ids)
}

// Messages of one batch share the interface form of repeated values, never anything mutable: each has its own
// metadata and its own record id list.
func TestBatchMessagesAreIndependent(t *testing.T) {
	batch := cdcBatch(30)
	msgs := batchMessages(&batch)
	require.Len(t, msgs, 30)
	for k, msg := range msgs {
		single := eventMessage(&batch.Events[k])
		want := map[string]any{}
		require.NoError(t, single.MetaWalkMut(func(key string, v any) error { want[key] = v; return nil }))
		got := map[string]any{}
		require.NoError(t, msg.MetaWalkMut(func(key string, v any) error { got[key] = v; return nil }))
		assert.Equal(t, want, got, "message %d", k)
		assert.Len(t, got, 10, "every CDC key but event type and uuid")
	}
	ids, ok := msgs[0].MetaGetMut(metaRecordIDs)
	require.True(t, ok)
	list := ids.([]any)
	list[0] = "changed"
	_ = append(list, "grown")
	next, _ := msgs[1].MetaGetMut(metaRecordIDs)
	assert.Equal(t, []any{batch.Events[1].Meta.RecordIDs[0]}, next)
	msgs[0].MetaSetMut(metaSchema, "changed")
	schema, _ := msgs[1].MetaGetMut(metaSchema)
	assert.Equal(t, batch.Events[1].Meta.Schema, schema)
}

// A Pub/Sub batch's messages carry each event's metadata as a message of the event alone would, plus the replay
// id as base64 text, the event id, the schema id and, for a payload that did not decode, the decode error: the
// values the builder shares between messages or cuts from one text for the batch are each message's own.
func TestPubSubBatchMessages(t *testing.T) {
	batch := pubsubBatch(12, false)
	ev := batch.Events
	ev[3].Opaque.ReplayID = nil     // an empty replay id and event id are still set
	ev[3].Opaque.EventID = ""       //
	ev[4].Opaque.SchemaID = "other" // a schema id that is not the schema field's
	ev[5].Opaque.ReplayID = []byte{0xff, 0xfe, 0x01}
	for _, k := range []int{6, 7} {
		ev[k].Opaque.DecodeErr = errors.New("unknown schema " + ev[k].Opaque.SchemaID)
		ev[k].Meta = stream.Metadata{Schema: ev[k].Opaque.SchemaID}
	}
	ev[8].Opaque.SchemaID, ev[8].Meta.Schema = "", "" // an empty schema id is still set
	ev[10].Channel = "/event/Order_Placed__e"         // a platform event's uuid is its event id
	ev[10].Meta = stream.Metadata{EventUUID: ev[10].Opaque.EventID, Schema: ev[10].Opaque.SchemaID}
	ev[11].HasReplayID, ev[11].ReplayID = true, 99 // the opaque id wins

	msgs := batchMessages(&batch)
	require.Len(t, msgs, len(ev))
	for k := range ev {
		alone := ev[k]
		alone.Opaque = nil
		want := map[string]any{}
		require.NoError(t, eventMessage(&alone).MetaWalkMut(func(key string, v any) error { want[key] = v; return nil }))
		o := ev[k].Opaque
		want[metaReplayID] = base64.StdEncoding.EncodeToString(o.ReplayID)
		want[metaEventID] = o.EventID
		want[metaSchemaID] = o.SchemaID
		if o.DecodeErr != nil {
			want[metaDecodeError] = o.DecodeErr.Error()
		}
		got := map[string]any{}
		require.NoError(t, msgs[k].MetaWalkMut(func(key string, v any) error { got[key] = v; return nil }))
		assert.Equal(t, want, got, "message %d", k)
		body, err := msgs[k].AsBytes()
		require.NoError(t, err)
		assert.Equal(t, ev[k].Data, body, "message %d", k)
	}
	// A change to one message's values reaches no other message.
	for _, key := range []string{metaReplayID, metaEventID, metaSchemaID, metaSchema} {
		msgs[0].MetaSetMut(key, "changed")
	}
	for k := 1; k < len(msgs); k++ {
		for _, key := range []string{metaReplayID, metaEventID, metaSchemaID} {
			v, _ := msgs[k].MetaGetMut(key)
			assert.NotEqual(t, "changed", v, "message %d, %s", k, key)
		}
	}
}
