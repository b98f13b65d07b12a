package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// FuzzDecodeAnswer feeds arbitrary server answers to the decoder. Seeds: testdata/fuzz/FuzzDecodeAnswer (real
// answer shapes of Salesforce and of standard CometD servers, and malformed ones). Each input is decoded twice: by a decoder that
// accepts every channel and by one configured with a single channel. Properties: no panic; an error hands on
// nothing; the body is not modified; per channel, the events' data are exactly what encoding/json sees as the
// messages' `data`, in order, except for messages the decoder reports as dropped (an unusable replayId, a channel
// not configured or missing), whose counts must add up.
func FuzzDecodeAnswer(f *testing.F) {
	f.Add([]byte(`[` + msg("/data/ChangeEvents", cdcData) + `,{"channel":"/meta/connect","id":"1","successful":true}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecode(t, body, nil)
		checkDecode(t, body, map[string]string{"/topic/T": "/topic/T?F=1"})
	})
}

func checkDecode(t *testing.T, body []byte, channelOf map[string]string) {
	orig := bytes.Clone(body)
	ans, err := newDecoder(channelOf).decode(body)
	if !bytes.Equal(orig, body) {
		t.Fatal("decode modified the body")
	}
	if err != nil {
		if ans.Events != 0 || len(ans.Batches) != 0 || len(ans.Replies) != 0 || len(ans.Dropped) != 0 {
			t.Fatalf("an error must hand on nothing: %v", err)
		}
		return
	}
	n := 0
	got := map[string][]string{}
	for _, b := range ans.Batches {
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
			if e.HasReplayID && e.ReplayID < 0 {
				t.Fatalf("negative replay id %d handed on", e.ReplayID)
			}
			got[b.Channel] = append(got[b.Channel], string(e.Data))
			n++
		}
	}
	if n != ans.Events {
		t.Fatalf("%d events in batches, %d counted", n, ans.Events)
	}
	drops := map[string]int{} // reason or "invalid_replay_id:<channel>"
	for _, d := range ans.Dropped {
		if d.N <= 0 {
			t.Fatalf("drop without count: %+v", d)
		}
		key := d.Reason
		if d.Reason == stream.DropInvalidReplayID {
			key += ":" + d.Channel
		}
		drops[key] += d.N
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
	unknown, missing := 0, 0
	for _, m := range msgs {
		data, hasData := m["data"]
		var ch string
		if raw, ok := m["channel"]; ok && json.Unmarshal(raw, &ch) != nil {
			return // not a string: the decoder errs
		}
		if strings.HasPrefix(ch, "/meta/") || !hasData {
			continue
		}
		if ch == "" {
			missing++
			continue
		}
		name := ch
		if channelOf != nil {
			if stream.ChannelKey(ch) != "/topic/T" {
				unknown++
				continue
			}
			name = "/topic/T?F=1"
		}
		want[name] = append(want[name], string(data))
	}
	if drops[stream.DropUnknownChannel] != unknown || drops[stream.DropMissingChannel] != missing {
		t.Fatalf("drops %v, encoding/json sees %d on unknown channels and %d without a channel", drops, unknown, missing)
	}
	for ch := range got {
		if _, ok := want[ch]; !ok {
			t.Fatalf("channel %q handed on, encoding/json does not see it", ch)
		}
	}
	for ch, w := range want {
		g := got[ch]
		if len(g)+drops[stream.DropInvalidReplayID+":"+ch] != len(w) {
			t.Fatalf("channel %q: got %d events and %d dropped, encoding/json sees %d", ch, len(g),
				drops[stream.DropInvalidReplayID+":"+ch], len(w))
		}
		k := 0 // got must be w in order with the dropped ones left out
		for _, d := range w {
			if k < len(g) && g[k] == d {
				k++
			}
		}
		if k != len(g) {
			t.Fatalf("channel %q: got %q is not %q in order", ch, g, w)
		}
	}
}
