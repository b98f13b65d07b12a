package bayeux

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeAnswer feeds arbitrary server answers to the decoder. Seeds: testdata/fuzz/FuzzDecodeAnswer (real
// answer shapes from protocol.md 2.4 and 2.7, and malformed ones). Properties: no panic; an error hands on
// nothing; the body is not modified; every event's data is exactly what encoding/json sees as the message's
// `data`, in order per channel.
func FuzzDecodeAnswer(f *testing.F) {
	f.Add([]byte(`[` + msg("/data/ChangeEvents", cdcData) + `,{"channel":"/meta/connect","id":"1","successful":true}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		d := newDecoder(map[string]string{"/topic/T": "/topic/T?F=1"})
		ans, err := d.decode(body)
		if !bytes.Equal(orig, body) {
			t.Fatal("decode modified the body")
		}
		if err != nil {
			if ans.events != 0 || len(ans.batches) != 0 || len(ans.replies) != 0 {
				t.Fatalf("an error must hand on nothing: %v", err)
			}
			return
		}
		n := 0
		got := map[string][]string{}
		for _, b := range ans.batches {
			if len(b.Events) == 0 {
				t.Fatal("empty batch")
			}
			for _, e := range b.Events {
				if e.Channel != b.Channel {
					t.Fatalf("event of %q in batch of %q", e.Channel, b.Channel)
				}
				if len(e.Data) == 0 || cap(e.Data) != len(e.Data) {
					t.Fatalf("data must be non-empty and capacity-limited: %q", e.Data)
				}
				got[b.Channel] = append(got[b.Channel], string(e.Data))
				n++
			}
		}
		if n != ans.events {
			t.Fatalf("%d events in batches, %d counted", n, ans.events)
		}
		// Differential check against encoding/json where both read the answer the same way.
		if !utf8.Valid(body) || !json.Valid(body) {
			return
		}
		var msgs []map[string]json.RawMessage
		if err := json.Unmarshal(body, &msgs); err != nil {
			var one map[string]json.RawMessage
			if json.Unmarshal(body, &one) != nil {
				return
			}
			msgs = []map[string]json.RawMessage{one}
		}
		want := map[string][]string{}
		for _, m := range msgs {
			var ch string
			if json.Unmarshal(m["channel"], &ch) != nil || ch == "" || strings.HasPrefix(ch, "/meta/") {
				continue
			}
			data, ok := m["data"]
			if !ok {
				continue
			}
			name := ch
			if channelKey(ch) == "/topic/T" {
				name = "/topic/T?F=1"
			}
			want[name] = append(want[name], string(data))
		}
		if len(want) != len(got) {
			t.Fatalf("channels: got %v, encoding/json sees %v", got, want)
		}
		for ch, w := range want {
			g := got[ch]
			if len(g) != len(w) {
				t.Fatalf("channel %q: got %d events, encoding/json sees %d", ch, len(g), len(w))
			}
			for i := range w {
				if g[i] != w[i] {
					t.Fatalf("channel %q event %d: got %q, encoding/json sees %q", ch, i, g[i], w[i])
				}
			}
		}
	})
}
