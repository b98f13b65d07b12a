package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Samples from Salesforce's documentation (Streaming API Developer Guide, error and advice examples).
const (
	pushTopicData = `{"event":{"createdDate":"2016-03-29T16:40:08.208Z","replayId":13,"type":"created"},"sobject":{"Name":"INV-0001","Id":"a00D0000008o6y8IAA","Status__c":"Open"}}`
	genericData   = `{"event":{"createdDate":"2016-03-29T19:05:28.334Z","replayId":55},"payload":"This is a message."}`
	platformData  = `{"schema":"dffQ2QLzDNHqwB8_sHMxdA","payload":{"CreatedDate":"2023-04-09T18:31:40.517Z","CreatedById":"005D0000001cSZs","Printer_Model__c":"XZO-5","Serial_Number__c":"12345","Ink_Percentage__c":0.2},"event":{"EventUuid":"2ec0e371-1395-457f-9275-be1b527a72f7","replayId":2112}}`
	cdcData       = `{"schema":"IeRuaY6cbI_HsV8Rv1Mc5g","payload":{"ChangeEventHeader":{"entityName":"Account","recordIds":["001xx000003DGb2AAG","001xx000003DGb3AAG"],"changeType":"CREATE","changeOrigin":"com.salesforce.core","transactionKey":"001b7375-0086-250e-e6ca-b99bc3a8b69f","sequenceNumber":1,"isTransactionEnd":true,"commitTimestamp":1501010206653,"commitNumber":92847272780,"commitUser":"005xx000001SvAVAA0"},"Name":"Acme","CreatedDate":"2017-07-25T19:16:44Z"},"event":{"replayId":6421}}`
)

func msg(channel, data string) string {
	return `{"channel":"` + channel + `","data":` + data + `}`
}

// decoder is a Splitter with its Assembler, as the client pairs them.
type decoder struct {
	s *Splitter
	a *Assembler
}

func newDecoder(channelOf map[string]string) *decoder {
	s := NewSplitter(channelOf)
	return &decoder{s: s, a: s.Assembler()}
}

// decode is Split and Complete in one step.
func (d *decoder) decode(body []byte) (Answer, error) {
	ans, err := d.s.Split(body)
	if err != nil {
		return Answer{}, err
	}
	d.a.Complete(&ans)
	return ans, nil
}

func TestDecodeMetadataPerEventKind(t *testing.T) {
	tests := []struct {
		name    string
		channel string
		data    string
		replay  int64
		meta    stream.Metadata
	}{
		{"pushtopic", "/topic/Invoices", pushTopicData, 13, stream.Metadata{
			CreatedDate: "2016-03-29T16:40:08.208Z", EventType: "created"}},
		{"generic", "/u/Alerts", genericData, 55, stream.Metadata{CreatedDate: "2016-03-29T19:05:28.334Z"}},
		{"platform event", "/event/Low_Ink__e", platformData, 2112, stream.Metadata{
			CreatedDate: "2023-04-09T18:31:40.517Z", EventUUID: "2ec0e371-1395-457f-9275-be1b527a72f7",
			Schema: "dffQ2QLzDNHqwB8_sHMxdA"}},
		{"cdc", "/data/ChangeEvents", cdcData, 6421, stream.Metadata{
			CreatedDate: "2017-07-25T19:16:46.653Z", Schema: "IeRuaY6cbI_HsV8Rv1Mc5g", ChangeType: "CREATE",
			EntityName: "Account", TransactionKey: "001b7375-0086-250e-e6ca-b99bc3a8b69f",
			CommitUser: "005xx000001SvAVAA0", RecordIDs: []string{"001xx000003DGb2AAG", "001xx000003DGb3AAG"},
			CommitTimestamp: "2017-07-25T19:16:46.653Z"}},
		{"legacy +0000 offset rewritten", "/topic/Old",
			`{"event":{"createdDate":"2014-03-29T16:40:08.208+0000","replayId":1}}`, 1,
			stream.Metadata{CreatedDate: "2014-03-29T16:40:08.208Z"}},
		{"payload date with offset kept", "/event/E__e",
			`{"payload":{"CreatedDate":"2023-04-09T20:31:40+02:00"},"event":{"replayId":"77"}}`, 77,
			stream.Metadata{CreatedDate: "2023-04-09T20:31:40+02:00"}},
		{"unreadable date kept verbatim", "/event/E__e",
			`{"payload":{"CreatedDate":"yesterday"},"event":{"replayId":3}}`, 3, stream.Metadata{CreatedDate: "yesterday"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`[` + msg(tt.channel, tt.data) + `,{"channel":"/meta/connect","id":"4","successful":true}]`)
			ans, err := newDecoder(nil).decode(body)
			require.NoError(t, err)
			require.Len(t, ans.Batches, 1)
			require.Len(t, ans.Batches[0].Events, 1)
			ev := ans.Batches[0].Events[0]
			assert.Equal(t, tt.channel, ev.Channel)
			assert.Equal(t, tt.replay, ev.ReplayID)
			assert.True(t, ev.HasReplayID)
			assert.Equal(t, tt.data, string(ev.Data), "data must be handed on byte for byte")
			assert.Equal(t, tt.meta, ev.Meta)
			require.Len(t, ans.Replies, 1)
			assert.True(t, ans.Replies[0].Successful)
		})
	}
}

func TestDecodeCDCTimesAreInstants(t *testing.T) {
	ans, err := newDecoder(nil).decode([]byte(`[` + msg("/data/ChangeEvents", cdcData) + `]`))
	require.NoError(t, err)
	ts, err := time.Parse(time.RFC3339, ans.Batches[0].Events[0].Meta.CommitTimestamp)
	require.NoError(t, err)
	assert.Equal(t, int64(1501010206653), ts.UnixMilli())
}

func TestDecodeSplitsPerChannelInOrder(t *testing.T) {
	channelOf := map[string]string{"/topic/Invoices": "/topic/Invoices?Status__c=Open", "/event/A__e": "/event/A__e"}
	body := `[
	  {"channel":"/topic/Invoices","data":{"event":{"replayId":1}}},
	  {"channel":"/event/A__e","data":{"event":{"replayId":10}}},
	  {"channel":"/topic/Invoices","data":{"event":{"replayId":2}}},
	  {"channel":"/meta/connect","clientId":"c1","id":"9","successful":true},
	  {"channel":"/event/A__e","data":{"event":{"replayId":11}}},
	  {"channel":"/u/Other","data":{"event":{"replayId":7}}}
	]`
	ans, err := newDecoder(channelOf).decode([]byte(body))
	require.NoError(t, err)
	assert.Equal(t, 4, ans.Events)
	require.Len(t, ans.Batches, 2)
	ids := func(b stream.Batch) (out []int64) {
		for _, e := range b.Events {
			assert.Equal(t, b.Channel, e.Channel)
			out = append(out, e.ReplayID)
		}
		return out
	}
	assert.Equal(t, "/topic/Invoices?Status__c=Open", ans.Batches[0].Channel, "configured name, query included")
	assert.Equal(t, []int64{1, 2}, ids(ans.Batches[0]))
	assert.Equal(t, "/event/A__e", ans.Batches[1].Channel)
	assert.Equal(t, []int64{10, 11}, ids(ans.Batches[1]))
	assert.Equal(t, []Drop{{Reason: stream.DropUnknownChannel, N: 1, Example: "/u/Other"}}, ans.Dropped,
		"a channel that is not subscribed is dropped")
}

func TestDecodeDataIsIsolatedPerEvent(t *testing.T) {
	body := []byte(`[{"channel":"/u/A","data":{"x":1}},{"channel":"/u/A","data":{"y":2}}]`)
	ans, err := newDecoder(nil).decode(body)
	require.NoError(t, err)
	evs := ans.Batches[0].Events
	first := append(evs[0].Data, ` trailing`...)
	assert.Equal(t, `{"x":1} trailing`, string(first))
	assert.Equal(t, `{"y":2}`, string(evs[1].Data), "appending to one event's data must not overwrite the next")
}

func TestDecodeReplies(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, ans Answer)
	}{
		{"handshake success with replay ext", `[{"ext":{"replay":true,"payload.format":true},"minimumVersion":"1.0","clientId":"1cyu4thyxh3fgv1nqwcvebt3o9x","supportedConnectionTypes":["long-polling"],"channel":"/meta/handshake","id":"1","version":"1.0","successful":true}]`,
			func(t *testing.T, ans Answer) {
				r, ok := FindReply(ans.Replies, ChannelHandshake, "1")
				require.True(t, ok)
				assert.True(t, r.Successful)
				assert.True(t, r.ExtReplay)
				assert.Equal(t, "1cyu4thyxh3fgv1nqwcvebt3o9x", r.ClientID)
			}},
		{"handshake denied 401", `[{"ext":{"sfdc":{"failureReason":"401::Authentication invalid"},"replay":true,"payload.format":true},"advice":{"reconnect":"none"},"channel":"/meta/handshake","id":"2x","error":"403::Handshake denied","successful":false}]`,
			func(t *testing.T, ans Answer) {
				r, ok := FindReply(ans.Replies, ChannelHandshake, "2x")
				require.True(t, ok)
				assert.False(t, r.Successful)
				assert.Equal(t, "none", r.Advice.Reconnect)
				assert.Equal(t, "403::Handshake denied", r.Error)
				assert.Equal(t, "401::Authentication invalid", r.FailureReason)
			}},
		{"revoked token: server disconnect then 401", `[{"channel":"/meta/disconnect"},{"clientId":"qzyabiswk9lddtqmjz","advice":{"interval":0,"reconnect":"none"},"channel":"/meta/connect","id":"1j3","error":"401::Authentication invalid","successful":false}]`,
			func(t *testing.T, ans Answer) {
				assert.True(t, ans.Disconnect)
				r, ok := FindReply(ans.Replies, ChannelConnect, "1j3")
				require.True(t, ok)
				assert.Equal(t, "401::Authentication invalid", r.Error)
			}},
		{"unknown client without channel and id", `[{"advice":{"interval":0,"reconnect":"handshake"},"error":"403::Unknown client","successful":false}]`,
			func(t *testing.T, ans Answer) {
				r, ok := FindReply(ans.Replies, ChannelConnect, "5")
				require.True(t, ok)
				assert.Equal(t, "403::Unknown client", r.Error)
				assert.Equal(t, "handshake", r.Advice.Reconnect)
				assert.True(t, r.Advice.hasInterval)
			}},
		{"first connect advice", `[{"clientId":"c","advice":{"interval":0,"timeout":110000,"reconnect":"retry"},"channel":"/meta/connect","id":"4","successful":true}]`,
			func(t *testing.T, ans Answer) {
				r, _ := FindReply(ans.Replies, ChannelConnect, "4")
				assert.Equal(t, 110*time.Second, r.Advice.Timeout)
				assert.Equal(t, time.Duration(0), r.Advice.Interval)
				assert.Equal(t, "retry", r.Advice.Reconnect)
			}},
		{"numeric id and escaped channel", `[{"channel":"\/meta\/connect","id":7,"successful":true}]`,
			func(t *testing.T, ans Answer) {
				_, ok := FindReply(ans.Replies, ChannelConnect, "7")
				assert.True(t, ok)
			}},
		{"single object, not an array", `{"channel":"/meta/subscribe","id":"3","subscription":"/topic/X","successful":true}`,
			func(t *testing.T, ans Answer) {
				r, ok := FindReply(ans.Replies, ChannelSubscribe, "3")
				require.True(t, ok)
				assert.Equal(t, "/topic/X", r.Subscription)
			}},
		{"service reply and data-less broadcast ignored", `[{"channel":"/service/x","successful":true},{"channel":"/u/A","id":"1"}]`,
			func(t *testing.T, ans Answer) {
				assert.Empty(t, ans.Replies)
				assert.Zero(t, ans.Events)
			}},
		{"empty array", `[ ]`, func(t *testing.T, ans Answer) { assert.Zero(t, ans.Events) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, err := newDecoder(nil).decode([]byte(tt.body))
			require.NoError(t, err)
			tt.check(t, ans)
		})
	}
}

// Hostile or broken servers: every shape of replayId and data. An event whose replayId cannot be placed in the
// channel's order is dropped (and reported) while the rest of the answer is kept; data that is not an object is
// handed on as is, without a replay id.
func TestDecodeReplayIDShapes(t *testing.T) {
	tests := []struct {
		data    string
		id      int64
		has     bool
		dropped string // the replayId as reported when the event is dropped
	}{
		{data: `{"event":{"replayId":42}}`, id: 42, has: true},
		{data: `{"event":{"replayId":"42"}}`, id: 42, has: true},
		{data: `{"event":{"replayId":0}}`, id: 0, has: true},
		{data: `{"event":{"replayId":null}}`},
		{data: `{"event":{}}`},
		{data: `{"event":"not an object"}`},
		{data: `{"payload":"no event member"}`},
		{data: `"a string as data"`},
		{data: `["an","array","as","data"]`},
		{data: `12`},
		{data: `null`},
		{data: `{"event":{"replayId":1.5}}`, dropped: `1.5`},
		{data: `{"event":{"replayId":1e3}}`, dropped: `1e3`},
		{data: `{"event":{"replayId":"abc"}}`, dropped: `"abc"`},
		{data: `{"event":{"replayId":""}}`, dropped: `""`},
		{data: `{"event":{"replayId":true}}`, dropped: `true`},
		{data: `{"event":{"replayId":{"id":1}}}`, dropped: `{"id":1}`},
		{data: `{"event":{"replayId":[1]}}`, dropped: `[1]`},
		{data: `{"event":{"replayId":-1}}`, dropped: `-1`},
		{data: `{"event":{"replayId":"-2"}}`, dropped: `"-2"`},
		{data: `{"event":{"replayId":99999999999999999999}}`, dropped: `99999999999999999999`},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			body := `[` + msg("/u/A", tt.data) + `,` + msg("/u/A", `{"event":{"replayId":100}}`) +
				`,{"channel":"/meta/connect","id":"1","successful":true}]`
			ans, err := newDecoder(map[string]string{"/u/A": "/u/A"}).decode([]byte(body))
			require.NoError(t, err, "one bad event does not make the Answer malformed")
			require.Len(t, ans.Replies, 1)
			require.Len(t, ans.Batches, 1)
			evs := ans.Batches[0].Events
			if tt.dropped != "" {
				assert.Equal(t, []Drop{{Channel: "/u/A", Reason: stream.DropInvalidReplayID, N: 1, Example: tt.dropped}}, ans.Dropped)
				require.Len(t, evs, 1)
				assert.Equal(t, int64(100), evs[0].ReplayID, "the rest of the Answer is kept")
				assert.Equal(t, 1, ans.Events)
				return
			}
			assert.Empty(t, ans.Dropped)
			require.Len(t, evs, 2)
			assert.Equal(t, tt.data, string(evs[0].Data))
			assert.Equal(t, tt.id, evs[0].ReplayID)
			assert.Equal(t, tt.has, evs[0].HasReplayID)
		})
	}
}

// Messages the client cannot route are dropped and reported, the rest of the answer is kept; a flood of meta
// messages (which would cost far more memory than the answer) is a malformed answer.
func TestDecodeHostileMessages(t *testing.T) {
	channelOf := map[string]string{"/event/A__e": "/event/A__e"}
	good := msg("/event/A__e", `{"event":{"replayId":5}}`)
	tests := []struct {
		name    string
		body    string
		events  int
		dropped []Drop
		wantErr string
	}{
		{"data without channel", `[{"data":{"event":{"replayId":1}}},` + good + `]`, 1,
			[]Drop{{Reason: stream.DropMissingChannel, N: 1}}, ""},
		{"data with an empty channel", `[{"channel":"","data":{}},` + good + `]`, 1,
			[]Drop{{Reason: stream.DropMissingChannel, N: 1}}, ""},
		{"unknown channels counted together", `[` + msg("/event/B__e", `{}`) + `,` + good + `,` + msg("/service/x", `{}`) + `]`, 1,
			[]Drop{{Reason: stream.DropUnknownChannel, N: 2, Example: "/event/B__e"}}, ""},
		{"long unknown channel name shortened", `[` + msg("/u/"+strings.Repeat("x", 500), `{}`) + `]`, 0,
			[]Drop{{Reason: stream.DropUnknownChannel, N: 1, Example: "/u/" + strings.Repeat("x", 97)}}, ""},
		{"channel as a number", `[{"channel":7,"data":{}}]`, 0, nil, "channel is not a string"},
		{"channel as an object", `[{"channel":{"a":1},"data":{}}]`, 0, nil, "channel is not a string"},
		{"data truncated", `[{"channel":"/event/A__e","data":{"event":{"replayId":5}`, 0, nil, "unexpected end"},
		{"too many meta messages", `[` + strings.Repeat(`{},`, maxReplies) + `{}]`, 0, nil, "more than 64 meta messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, err := newDecoder(channelOf).decode([]byte(tt.body))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Zero(t, ans.Events)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.events, ans.Events)
			assert.Equal(t, tt.dropped, ans.Dropped)
		})
	}
}

func TestDecodeMalformedAnswers(t *testing.T) {
	for _, body := range []string{
		``, `   `, `null`, `"x"`, `[`, `[{`, `[{"channel":"/u/A","data":{"a":1}}`, `[{"channel":"/u/A","data":{"a":1}]`,
		`[{"channel":"/u/A","data":{"a":}}]`, `[{"channel":1}]`, `[1]`, `[{"channel":"/u/A"}}`, `[]x`,
		`<html>503 Service Unavailable</html>`, `[{"channel":"/meta/connect","successful":tru}]`,
		`[{"channel":"/u/A","data":{"event":{"replayId":1}}},{"channel":"/u/A","data":{"event":{"replayId":2}]`,
		`[{"channel":"/u/A" "data":1}]`, `[{"channel":"/u/A","data":"unterminated}]`,
	} {
		t.Run(body, func(t *testing.T) {
			ans, err := newDecoder(nil).decode([]byte(body))
			require.Error(t, err)
			assert.Zero(t, ans.Events)
			assert.Empty(t, ans.Batches)
		})
	}
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	body := []byte("[\n " + msg("/u/A", pushTopicData) + " ,\t" + msg("/event/B__e", platformData) + "\r\n]")
	ans, err := newDecoder(nil).decode(body)
	require.NoError(t, err)
	var ref []struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &ref))
	var got []string
	for _, b := range ans.Batches {
		for _, e := range b.Events {
			got = append(got, string(e.Data))
		}
	}
	assert.Equal(t, []string{string(ref[0].Data), string(ref[1].Data)}, got)
}

func TestLooksRFC3339(t *testing.T) {
	for s, want := range map[string]bool{
		"2016-03-29T16:40:08.208Z":      true,
		"2016-03-29T16:40:08Z":          true,
		"2016-03-29T16:40:08.2+02:00":   true,
		"2016-03-29T16:40:08.208+0000":  false,
		"2016-03-29 16:40:08Z":          false,
		"2016-03-29T16:40:08.Z":         false,
		"2016-03-29":                    false,
		"2016-03-29T16:40:08.208Zjunk":  false,
		"2016-03-29T16:40:08.208+02:0x": false,
	} {
		assert.Equal(t, want, looksRFC3339([]byte(s)), s)
	}
}

// The splitter skips strings eight bytes at a time: escaped quotes and backslash runs at every offset must not
// end a string early or late.
func TestDecodeEscapesAtEveryOffset(t *testing.T) {
	for pad := range 20 {
		for _, tricky := range []string{`\"`, `\\`, `\\\"`, `\\\\`, `\u0022`, `\/`} {
			value := strings.Repeat("x", pad) + tricky + `}]{,:` + strings.Repeat("y", pad)
			data := `{"s":"` + value + `","event":{"replayId":` + fmt.Sprint(pad+1) + `}}`
			body := []byte(`[` + msg("/u/A", data) + `,{"channel":"/meta/connect","id":"1","successful":true}]`)
			ans, err := newDecoder(nil).decode(body)
			require.NoError(t, err, "%s", body)
			require.Equal(t, 1, ans.Events)
			assert.Equal(t, data, string(ans.Batches[0].Events[0].Data))
			assert.Equal(t, int64(pad+1), ans.Batches[0].Events[0].ReplayID)
			require.Len(t, ans.Replies, 1)
		}
	}
}

// The Assembler lets go of scratch grown by a large answer, so a burst does not pin its peak memory.
func TestDecodeReleasesLargeScratch(t *testing.T) {
	for _, events := range []int{11000, 110000} {
		msgs := make([]string, events)
		for i := range msgs {
			msgs[i] = msg("/u/A", `{"event":{"replayId":`+strconv.Itoa(i+1)+`},"payload":"x"}`)
		}
		d := newDecoder(map[string]string{"/u/A": "/u/A"})
		ans, err := d.decode([]byte("[" + strings.Join(msgs, ",") + "]"))
		require.NoError(t, err)
		require.Equal(t, events, ans.Events)
		assert.LessOrEqual(t, cap(d.a.pending), maxKeptPending, "the decoder lets go of scratch grown by a large answer")
	}
}
