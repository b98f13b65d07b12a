package pubsub

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// headerSchema is the ChangeEventHeader record as change event schemas carry it (field names from
// https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_event_fields_header.htm).
const headerSchema = `{"name":"ChangeEventHeader","type":{"type":"record","name":"ChangeEventHeader","fields":[
 {"name":"entityName","type":"string"},{"name":"recordIds","type":{"type":"array","items":"string"}},
 {"name":"changeType","type":{"type":"enum","name":"ChangeType","symbols":["CREATE","UPDATE","DELETE","UNDELETE","GAP_CREATE","GAP_UPDATE","GAP_DELETE","GAP_UNDELETE","GAP_OVERFLOW"]}},
 {"name":"changeOrigin","type":"string"},{"name":"transactionKey","type":"string"},{"name":"sequenceNumber","type":"int"},
 {"name":"commitTimestamp","type":"long"},{"name":"commitNumber","type":"long"},{"name":"commitUser","type":"string"},
 {"name":"nulledFields","type":{"type":"array","items":"string"}},{"name":"diffFields","type":{"type":"array","items":"string"}},
 {"name":"changedFields","type":{"type":"array","items":"string"}}]}}`

const addressSchema = `{"type":"record","name":"Address","fields":[{"name":"Street","type":["null","string"],"default":null},
 {"name":"City","type":["null","string"],"default":null},{"name":"State","type":["null","string"],"default":null},
 {"name":"PostalCode","type":["null","string"],"default":null},{"name":"Country","type":["null","string"],"default":null},
 {"name":"Latitude","type":["null","double"],"default":null},{"name":"Longitude","type":["null","double"],"default":null},
 {"name":"GeocodeAccuracy","type":["null","string"],"default":null}]}`

// accountFields is the field order of the AccountChangeEvent in Salesforce's enriched-event example
// (https://developer.salesforce.com/docs/atlas.en-us.252.0.change_data_capture.meta/change_data_capture/cdc_enrich_event_example.htm),
// after the header.
var accountFields = []string{"Name", "Type", "ParentId", "BillingAddress", "ShippingAddress", "Phone", "Fax",
	"AccountNumber", "Website", "Sic", "Industry", "AnnualRevenue", "NumberOfEmployees", "Ownership", "TickerSymbol",
	"Description", "Rating", "Site", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
	"Jigsaw", "JigsawCompanyId", "AccountSource", "SicDesc", "External_Account_ID__c"}

func accountSchema(t *testing.T) *avro.RecordSchema {
	t.Helper()
	parts := []string{headerSchema}
	for _, f := range accountFields {
		typ := `["null","string"]`
		switch f {
		case "BillingAddress":
			typ = `["null",` + addressSchema + `]`
		case "ShippingAddress":
			typ = `["null","Address"]`
		case "AnnualRevenue":
			typ = `["null","double"]`
		case "NumberOfEmployees":
			typ = `["null","int"]`
		case "CreatedDate", "LastModifiedDate":
			parts = append(parts, fmt.Sprintf(`{"name":%q,"type":["null","long"],"doc":"CreatedDate:DateTime","default":null}`, f))
			continue
		}
		parts = append(parts, fmt.Sprintf(`{"name":%q,"type":%s,"default":null}`, f, typ))
	}
	s, err := avro.Parse(`{"type":"record","name":"AccountChangeEvent","namespace":"com.sforce.eventbus","fields":[` + strings.Join(parts, ",") + `]}`)
	require.NoError(t, err)
	return s.(*avro.RecordSchema)
}

func header(changeType string, changed, nulled []string) map[string]any {
	return map[string]any{
		"entityName": "Account", "recordIds": []any{"001ZM000001QkdOYAS"}, "changeType": changeType,
		"changeOrigin": "com/salesforce/api/soap/61.0;client=SfdcInternalAPI/", "transactionKey": "00097360-44a0-7c2e-a172-97381ae22f82",
		"sequenceNumber": 1, "commitTimestamp": int64(1714172795000), "commitNumber": int64(72657170033),
		"commitUser": "005ZM000000M6o1YAC", "nulledFields": toAny(nulled), "diffFields": []any{}, "changedFields": toAny(changed),
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// TestDecodeEnrichedAccountUpdate decodes Salesforce's documented Pub/Sub change event: an account update whose
// changedFields bitmap 0x400080 means "only the Fax field and the LastModifiedDate system field changed"
// (cdc_enrich_event_example.htm above), with BillingAddress, Industry and External_Account_ID__c enriched.
func TestDecodeEnrichedAccountUpdate(t *testing.T) {
	schema := accountSchema(t)
	event := map[string]any{
		"ChangeEventHeader": header("UPDATE", []string{"0x400080"}, nil),
		"BillingAddress": map[string]any{"com.sforce.eventbus.Address": map[string]any{
			"Street": "415 Mission Street", "City": "San Francisco", "State": "CA", "PostalCode": "94105", "Country": "United States"}},
		"Fax": "4155551212", "Industry": "Biotechnology", "LastModifiedDate": int64(1714172795000), "External_Account_ID__c": "1ABC",
	}
	payload, err := avro.Marshal(schema, event)
	require.NoError(t, err)

	got, err := DecodePayload(schema, payload)
	require.NoError(t, err)

	want := `{"ChangeEventHeader":{"entityName":"Account","recordIds":["001ZM000001QkdOYAS"],"changeType":"UPDATE",` +
		`"changeOrigin":"com/salesforce/api/soap/61.0;client=SfdcInternalAPI/","transactionKey":"00097360-44a0-7c2e-a172-97381ae22f82",` +
		`"sequenceNumber":1,"commitTimestamp":1714172795000,"commitNumber":72657170033,"commitUser":"005ZM000000M6o1YAC",` +
		`"nulledFields":[],"diffFields":[],"changedFields":["Fax","LastModifiedDate"]},` +
		`"BillingAddress":{"Street":"415 Mission Street","City":"San Francisco","State":"CA","PostalCode":"94105","Country":"United States"},` +
		`"Fax":"4155551212","Industry":"Biotechnology","LastModifiedDate":"2024-04-26T23:06:35.000Z","External_Account_ID__c":"1ABC"}`
	assert.JSONEq(t, want, string(got))
	assert.True(t, strings.HasPrefix(string(got), `{"ChangeEventHeader":`), "fields keep schema order")

	// The same walk reads the metadata: the header's fields, the commit time as CometD text, and the created
	// date falling back to it (a change event has no CreatedDate of its own here: the record's is null).
	_, meta, err := DecodeEvent(schema, payload)
	require.NoError(t, err)
	assert.Equal(t, Metadata{CreatedDate: "2024-04-26T23:06:35.000Z", ChangeType: "UPDATE", EntityName: "Account",
		TransactionKey: "00097360-44a0-7c2e-a172-97381ae22f82", CommitUser: "005ZM000000M6o1YAC",
		CommitTimestamp: "2024-04-26T23:06:35.000Z", RecordIDs: []string{"001ZM000001QkdOYAS"}}, meta)
}

// TestDecodeBitmapFields checks the bitmap forms of the deserialization page
// (https://developer.salesforce.com/docs/platform/pub-sub-api/guide/event-deserialization-considerations.html):
// its example 'changedFields': ['0x650004E0','4-0x10','7-0x06'] is decoded against a schema built for it, whose
// positions 4 and 7 are compound fields (the page gives the bitmaps, not the schema).
func TestDecodeBitmapFields(t *testing.T) {
	account := accountSchema(t)
	var parts []string
	for i := range 31 {
		typ := `["null","string"]`
		switch i {
		case 4:
			typ = `["null",` + addressSchema + `]`
		case 7:
			typ = `["null",{"type":"record","name":"Name","fields":[{"name":"Salutation","type":["null","string"]},` +
				`{"name":"FirstName","type":["null","string"]},{"name":"LastName","type":["null","string"]}]}]`
		}
		parts = append(parts, fmt.Sprintf(`{"name":"F%d","type":%s}`, i, typ))
	}
	s, err := avro.Parse(`{"type":"record","name":"Wide","fields":[` + strings.Join(parts, ",") + `]}`)
	require.NoError(t, err)
	wide := s.(*avro.RecordSchema)

	tests := []struct {
		name    string
		schema  *avro.RecordSchema
		bitmaps []string
		want    []string
		wantErr string
	}{
		{"documented example with compound fields", wide, []string{"0x650004E0", "4-0x10", "7-0x06"},
			[]string{"F5", "F6", "F7", "F10", "F24", "F26", "F29", "F30", "F4.Country", "F7.FirstName", "F7.LastName"}, ""},
		{"enriched account update", account, []string{"0x400080"}, []string{"Fax", "LastModifiedDate"}, ""},
		{"account billing city and street", account, []string{"0x400000", "4-0x3"}, []string{"LastModifiedDate", "BillingAddress.Street", "BillingAddress.City"}, ""},
		{"bit 0 is the header itself", account, []string{"0x1"}, []string{"ChangeEventHeader"}, ""},
		{"empty", account, nil, nil, ""},
		{"position past the schema", account, []string{"0x100000000000"}, nil, "has 29 fields"},
		{"not hex", account, []string{"0xZZ"}, nil, "not a hex digit"},
		{"no prefix", account, []string{"400080"}, nil, "not 0x"},
		{"nested under a plain field", account, []string{"7-0x1"}, nil, "not a compound field"},
		{"bad parent", account, []string{"x-0x1"}, nil, "not a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeBitmapFields(tc.schema, tc.bitmaps)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestDecodePlatformEvent: a platform event keeps its null fields (CometD sends them) and its CreatedDate
// becomes CometD's date-time text.
func TestDecodePlatformEvent(t *testing.T) {
	s, err := avro.Parse(`{"type":"record","name":"Order_Event__e","namespace":"com.sforce.eventbus","fields":[
	 {"name":"CreatedDate","type":"long","doc":"CreatedDate:DateTime"},{"name":"CreatedById","type":"string"},
	 {"name":"Order_Number__c","type":["null","string"],"default":null},{"name":"Amount__c","type":["null","double"],"default":null},
	 {"name":"Paid__c","type":["null","boolean"],"default":null}]}`)
	require.NoError(t, err)
	schema := s.(*avro.RecordSchema)
	payload, err := avro.Marshal(schema, map[string]any{"CreatedDate": int64(1714172795123), "CreatedById": "005xx", "Amount__c": 12.5, "Paid__c": true})
	require.NoError(t, err)
	got, err := DecodePayload(schema, payload)
	require.NoError(t, err)
	assert.Equal(t, `{"CreatedDate":"2024-04-26T23:06:35.123Z","CreatedById":"005xx","Order_Number__c":null,"Amount__c":12.5,"Paid__c":true}`, string(got))
	_, meta, err := DecodeEvent(schema, payload)
	require.NoError(t, err)
	assert.Equal(t, Metadata{CreatedDate: "2024-04-26T23:06:35.123Z"}, meta, "a platform event's metadata: its CreatedDate")

	_, err = DecodePayload(schema, payload[:3])
	assert.Error(t, err, "a truncated payload is an error")
}

// TestDecodeTypes: every Avro type a schema may use, and payloads that are not what the schema says.
func TestDecodeTypes(t *testing.T) {
	s, err := avro.Parse(`{"type":"record","name":"All","fields":[
	 {"name":"b","type":"boolean"},{"name":"i","type":"int"},{"name":"l","type":"long"},{"name":"f","type":"float"},
	 {"name":"d","type":"double"},{"name":"s","type":"string"},{"name":"by","type":"bytes"},
	 {"name":"fx","type":{"type":"fixed","name":"F2","size":2}},{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
	 {"name":"a","type":{"type":"array","items":["null","long"]}},{"name":"m","type":{"type":"map","values":"string"}},
	 {"name":"day","type":{"type":"int","logicalType":"date"}},{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
	 {"name":"u","type":["null","string","long"]},{"name":"n","type":"null"}]}`)
	require.NoError(t, err)
	schema := s.(*avro.RecordSchema)
	payload, err := avro.Marshal(schema, map[string]any{"b": true, "i": -3, "l": int64(1) << 40, "f": float32(1.5), "d": -0.25,
		"s": "quote \" slash \\ tab \t é \x01", "by": []byte{0, 255}, "fx": [2]byte{1, 2}, "e": "B", "a": []any{int64(1), nil},
		"m": map[string]any{"k": "v"}, "day": time.Date(2024, 4, 27, 0, 0, 0, 0, time.UTC),
		"ts": time.UnixMilli(1714172795123).UTC(), "u": map[string]any{"long": int64(7)}, "n": nil})
	require.NoError(t, err)
	got, err := DecodePayload(schema, payload)
	require.NoError(t, err)
	assert.Equal(t, `{"b":true,"i":-3,"l":1099511627776,"f":1.5,"d":-0.25,"s":"quote \" slash \\ tab \t é \u0001",`+
		`"by":"AP8=","fx":"AQI=","e":"B","a":[1,null],"m":{"k":"v"},"day":"2024-04-27","ts":"2024-04-26T23:06:35.123Z","u":7,"n":null}`, string(got))
	var v map[string]any
	require.NoError(t, json.Unmarshal(got, &v), "valid JSON")

	bad := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"trailing bytes", append(append([]byte{}, payload...), 0), "bytes left"},
		{"truncated", payload[:len(payload)-1], "ends early"},
		{"empty", nil, "ends early"},
	}
	for _, tc := range bad {
		_, err := DecodePayload(schema, tc.payload)
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}

	u, err := avro.Parse(`{"type":"record","name":"U","fields":[{"name":"u","type":["null","string"]},{"name":"e","type":{"type":"enum","name":"E2","symbols":["A"]}}]}`)
	require.NoError(t, err)
	_, err = DecodePayload(u.(*avro.RecordSchema), []byte{4, 0})
	assert.ErrorContains(t, err, "union branch 2 of 2")
	_, err = DecodePayload(u.(*avro.RecordSchema), []byte{0, 2})
	assert.ErrorContains(t, err, "enum index 1 of 1")
	arr, err := avro.Parse(`{"type":"record","name":"A","fields":[{"name":"a","type":{"type":"array","items":"null"}}]}`)
	require.NoError(t, err)
	_, err = DecodePayload(arr.(*avro.RecordSchema), []byte{0xfe, 0xff, 0xff, 0xff, 0x0f})
	assert.ErrorContains(t, err, "block of", "a corrupt count cannot make the decoder loop for ever")
}

func TestIsDateTimeDoc(t *testing.T) {
	for doc, want := range map[string]bool{
		"CreatedDate:DateTime":          true,
		"Data:DateTime:00N5g00000ABCDE": true,
		"Data:DateTime":                 true,
		"Data:Date:00N5g00000ABCDE":     false,
		"CreatedBy:EntityId":            false,
		"Data:DateTimeX":                false,
		"DateTime":                      false,
		"":                              false,
	} {
		assert.Equal(t, want, isDateTimeDoc(doc), doc)
	}
}

// TestDecodeCustomDateTime: a custom date-time field's doc carries its field id after the marker
// ("Data:DateTime:00N..."), as in schemas of live orgs; it is still sent as CometD's date-time text.
func TestDecodeCustomDateTime(t *testing.T) {
	s, err := avro.Parse(`{"type":"record","name":"Order_Event__e","namespace":"com.sforce.eventbus","fields":[
	 {"name":"Shipped_At__c","type":["null","long"],"doc":"Data:DateTime:00N5g00000ABCDE","default":null},
	 {"name":"Count__c","type":["null","long"],"doc":"Data:Double:00N5g00000ABCDF","default":null}]}`)
	require.NoError(t, err)
	schema := s.(*avro.RecordSchema)
	payload, err := avro.Marshal(schema, map[string]any{"Shipped_At__c": int64(1714172795123), "Count__c": int64(7)})
	require.NoError(t, err)
	got, err := DecodePayload(schema, payload)
	require.NoError(t, err)
	assert.Equal(t, `{"Shipped_At__c":"2024-04-26T23:06:35.123Z","Count__c":7}`, string(got))
}

// TestDateTimesMatchFormat: the date-time writer gives what time.Time.AppendFormat gives, on day boundaries,
// across days in either order, and outside the fast range (before the epoch, past the year 9999).
func TestDateTimesMatchFormat(t *testing.T) {
	cases := []int64{0, 1, 999, 1000, msPerDay - 1, msPerDay, 1714172795000, 1714172795001, 1714089600000, 1714089599999,
		951782400000 /* 2000-02-29 */, maxFastMillis - 1, maxFastMillis, -1, -msPerDay, -62135596800000, math.MaxInt64 / 1000}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		cases = append(cases, rng.Int64N(maxFastMillis))
	}
	var dt dateTimes
	for _, ms := range cases {
		assert.Equal(t, time.UnixMilli(ms).UTC().Format(cometdTime), string(dt.append(nil, ms)), "%d", ms)
	}
}

// TestDecoderReuse: one decoder decoding many events in turn (its plans, bitmap cache, shared JSON chunks and
// repeated metadata texts at work) gives each event what a fresh decoding gives, and an event's JSON is not
// changed by decoding the next ones nor reaches past its own end.
func TestDecoderReuse(t *testing.T) {
	schema := accountSchema(t)
	type decoded struct {
		json []byte
		meta Metadata
	}
	var payloads [][]byte
	var want []decoded
	for i := range 300 {
		h := header([]string{"UPDATE", "CREATE", "DELETE"}[i%3], [][]string{{"0x400080"}, {"0x400080", "4-0x3"}, {"0x1"}, nil}[i%4],
			[][]string{nil, {"0x40"}}[i%2])
		h["commitTimestamp"] = int64(1714172795000 + int64(i/7)*86400000/3)
		h["transactionKey"] = fmt.Sprintf("tx-%d", i/5)
		h["recordIds"] = []any{fmt.Sprintf("001ZM0000%09d", i)}
		for k := range i % 12 { // up to 11 ids: some events' ids outgrow what is left of the shared slice
			h["recordIds"] = append(h["recordIds"].([]any), fmt.Sprintf("001ZM0001%09d", k))
		}
		p, err := avro.Marshal(schema, map[string]any{"ChangeEventHeader": h, "Fax": strings.Repeat("f", i%50),
			"LastModifiedDate": int64(1714172795000 + int64(i)*1000), "Name": fmt.Sprintf("Account \u00e9 %d", i)})
		require.NoError(t, err)
		payloads = append(payloads, p)
		js, meta, err := DecodeEvent(schema, p)
		require.NoError(t, err)
		want = append(want, decoded{js, meta})
	}
	dec := newEventDecoder()
	var got []decoded
	for _, p := range payloads {
		js, meta, err := dec.decode(schema, p)
		require.NoError(t, err)
		require.Equal(t, len(js), cap(js), "an event's JSON ends at its capacity")
		got = append(got, decoded{js, meta})
	}
	for i := range want {
		assert.JSONEq(t, string(want[i].json), string(got[i].json), "event %d", i)
		assert.Equal(t, string(want[i].json), string(got[i].json), "event %d", i)
		assert.Equal(t, want[i].meta, got[i].meta, "event %d", i)
	}
}
