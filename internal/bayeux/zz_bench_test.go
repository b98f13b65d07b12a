package bayeux

import (
	"testing"
	"github.com/valyala/fastjson"
)

func BenchmarkZZFastjsonFloor(b *testing.B) {
	body := cdcAnswer(1000)
	var p fastjson.Parser
	for b.Loop() {
		v, _ := p.ParseBytes(body)
		for _, e := range v.GetArray() {
			_ = e.GetInt64("data", "event", "replayId")
			_ = e.GetStringBytes("data", "payload", "ChangeEventHeader", "changeType")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/event")
}

func BenchmarkZZSplitOnly(b *testing.B) {
	body := cdcAnswer(1000)
	for b.Loop() {
		i := 1
		for i < len(body) {
			_, next, err := scanElement(body, i)
			if err != nil { b.Fatal(err) }
			i = skipWS(body, next) + 1
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/event")
}
