package wire

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// cdcAnswer builds a connect answer of n CDC events of about 1 KB each plus the /meta/connect reply, as
// Salesforce sends them.
func cdcAnswer(n int) []byte {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range n {
		fmt.Fprintf(&sb, `{"channel":"/data/ChangeEvents","data":{"schema":"IeRuaY6cbI_HsV8Rv1Mc5g","payload":{`+
			`"ChangeEventHeader":{"entityName":"Account","recordIds":["001xx000003D%05dAAG"],"changeType":"UPDATE",`+
			`"changeOrigin":"com/salesforce/api/soap/64.0;client=SfdcInternalAPI/","transactionKey":"001b7375-0086-250e-e6ca-%012d",`+
			`"sequenceNumber":1,"isTransactionEnd":true,"commitTimestamp":%d,"commitNumber":%d,`+
			`"commitUser":"005xx000001SvAVAA0","changedFields":["Name","Description","LastModifiedDate","Phone","Website"]},`+
			`"Name":"Acme Corporation %d","Description":"%s","Phone":"+1 415 555 %04d","Website":"https://acme.example.com/accounts/%d",`+
			`"LastModifiedDate":"2025-01-02T03:04:05.000Z","BillingCity":"San Francisco","BillingCountry":"USA","Industry":"Technology"},`+
			`"event":{"replayId":%d}}}`,
			i, i, 1735787045000+int64(i), 92847272780+int64(i), i, strings.Repeat("lorem ipsum ", 30), i%10000, i, 1000+i*3)
		sb.WriteString(",")
	}
	sb.WriteString(`{"clientId":"1cyu4thyxh3fgv1nqwcvebt3o9x","channel":"/meta/connect","id":"5","successful":true}]`)
	return []byte(sb.String())
}

func TestCDCAnswerShape(t *testing.T) {
	body := cdcAnswer(1000)
	ans, err := newDecoder(nil).decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Events != 1000 || len(ans.Replies) != 1 {
		t.Fatalf("got %d events, %d replies", ans.Events, len(ans.Replies))
	}
	per := len(body) / 1000
	if per < 900 || per > 1300 {
		t.Fatalf("events should be about 1 KB, got %d bytes each", per)
	}
	ev := ans.Batches[0].Events[999]
	if ev.ReplayID != 1000+999*3 || ev.Meta.ChangeType != "UPDATE" || len(ev.Meta.RecordIDs) != 1 ||
		ev.Meta.CommitTimestamp == "" {
		t.Fatalf("unexpected last event %+v", ev)
	}
}

// BenchmarkDecodeConnectAnswer measures the hot path: one connect answer of 1,000 CDC events of ~1 KB split into
// events with replay id, raw data and metadata. Reported per event.
func BenchmarkDecodeConnectAnswer(b *testing.B) {
	const n = 1000
	body := cdcAnswer(n)
	d := newDecoder(map[string]string{"/data/ChangeEvents": "/data/ChangeEvents"})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		ans, err := d.decode(body)
		if err != nil || ans.Events != n {
			b.Fatalf("decode: %v (%d events)", err, ans.Events)
		}
	}
	runtime.ReadMemStats(&after)
	events := float64(b.N) * n
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/events, "allocs/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/events, "B/event")
}
