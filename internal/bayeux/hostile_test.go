package bayeux

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Hostile and broken server answers, from a scripted generic server that speaks the replay extension (so it
// looks like Salesforce): what the client hands on, drops, reports and how it recovers.

const (
	chA = "/event/A__e"
	chB = "/event/B__e"
)

func hostileClient(t *testing.T, g *genericServer, cfg Config) *harness {
	t.Helper()
	g.replayExt = true
	if cfg.Channels == nil {
		cfg.Channels = []string{chA, chB}
	}
	return genericClient(t, g, cfg)
}

// collectIDs takes events until n arrived and returns their replay ids per channel.
func (h *harness) collectIDs(n int) map[string][]int64 {
	h.t.Helper()
	out := map[string][]int64{}
	for _, ev := range h.collect(n, 5*time.Second) {
		out[ev.Channel] = append(out[ev.Channel], ev.ReplayID)
	}
	return out
}

// subscribedFrom lists the replay id of channel in each subscribe the generic server received.
func (g *genericServer) subscribedFrom(t *testing.T, channel string) []int64 {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []int64
	for _, raw := range g.subscribeExts {
		var ext struct {
			Replay map[string]int64 `json:"replay"`
		}
		require.NoError(t, json.Unmarshal(raw, &ext))
		if id, ok := ext.Replay[channel]; ok {
			out = append(out, id)
		}
	}
	return out
}

// A replay id that repeats or goes backwards within a channel is never handed on: the input's checkpoints assume
// increasing ids. It is dropped with a warning and counted; the session carries on.
func TestHostileReplayIDsNotIncreasing(t *testing.T) {
	tests := []struct {
		name    string
		start   map[string]int64
		answers [][]string
		want    map[string][]int64
		drops   map[string]int
	}{
		{
			name:    "repeated and backwards within one answer",
			answers: [][]string{{event(chA, 10, 100), event(chA, 11, 100), event(chA, 11, 100), event(chA, 9, 100), event(chA, 12, 100)}},
			want:    map[string][]int64{chA: {10, 11, 12}},
			drops:   map[string]int{stream.DropReplayIDNotIncreasing + " " + chA: 2},
		},
		{
			name:    "repeated and backwards across answers",
			answers: [][]string{{event(chA, 10, 100), event(chA, 11, 100)}, {event(chA, 11, 100), event(chA, 5, 100), event(chA, 12, 100)}},
			want:    map[string][]int64{chA: {10, 11, 12}},
			drops:   map[string]int{stream.DropReplayIDNotIncreasing + " " + chA: 2},
		},
		{
			name:    "at or below the stored start point",
			start:   map[string]int64{chA: 50},
			answers: [][]string{{event(chA, 49, 100), event(chA, 50, 100), event(chA, 51, 100)}},
			want:    map[string][]int64{chA: {51}},
			drops:   map[string]int{stream.DropReplayIDNotIncreasing + " " + chA: 2},
		},
		{
			name:    "channels are independent",
			answers: [][]string{{event(chA, 10, 100), event(chB, 3, 100), event(chA, 10, 100), event(chB, 2, 100), event(chB, "4", 100)}},
			want:    map[string][]int64{chA: {10}, chB: {3, 4}},
			drops:   map[string]int{stream.DropReplayIDNotIncreasing + " " + chA: 1, stream.DropReplayIDNotIncreasing + " " + chB: 1},
		},
		{
			name:    "a preset start accepts any first id",
			start:   map[string]int64{chA: ReplayEarliest},
			answers: [][]string{{event(chA, 3, 100), event(chA, 1, 100), event(chA, 4, 100)}},
			want:    map[string][]int64{chA: {3, 4}},
			drops:   map[string]int{stream.DropReplayIDNotIncreasing + " " + chA: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGeneric(t)
			for _, a := range tt.answers {
				g.raw = append(g.raw, rawAnswer{body: rawEvents(a...)})
			}
			h := hostileClient(t, g, Config{ReplayIDs: tt.start})
			h.start()
			n := 0
			for _, ids := range tt.want {
				n += len(ids)
			}
			assert.Equal(t, tt.want, h.collectIDs(n))
			h.quiet(100 * time.Millisecond)
			assert.Equal(t, tt.drops, h.obs.dropped())
			for ch, ids := range tt.want {
				assert.Equal(t, ids[len(ids)-1], h.c.replayIDs()[ch], "the position is the last id handed on")
			}
			assert.True(t, h.log.has("WARN", "dropped", "not above the last one handed on"), "the drop is logged")
			assert.Empty(t, h.obs.reasons(), "dropping needs no reconnect")
		})
	}
}

// Messages of the wrong shape: the ones that cannot be routed or placed are dropped and reported (never a crash,
// never a stalled session), data that is merely not an object is handed on as is.
func TestHostileMessageShapes(t *testing.T) {
	tests := []struct {
		name  string
		msgs  []string
		want  []string // data handed on, in order (all on chA)
		drops map[string]int
		log   string // fragment of the WARN line
	}{
		{
			name:  "data on a channel not subscribed",
			msgs:  []string{event("/event/Evil__e", 1, 50), `{"channel":"/service/x","data":{"a":1}}`, `{"channel":"/event/A__e","data":{"event":{"replayId":7}}}`},
			want:  []string{`{"event":{"replayId":7}}`},
			drops: map[string]int{stream.DropUnknownChannel: 2},
			log:   `did not subscribe to (first: "/event/Evil__e")`,
		},
		{
			name:  "data without a channel",
			msgs:  []string{`{"data":{"event":{"replayId":3}}}`, `{"channel":"/event/A__e","data":{"event":{"replayId":7}}}`},
			want:  []string{`{"event":{"replayId":7}}`},
			drops: map[string]int{stream.DropMissingChannel: 1},
			log:   "without a channel",
		},
		{
			name: "replayId of the wrong type",
			msgs: []string{
				`{"channel":"/event/A__e","data":{"event":{"replayId":{"id":1}}}}`,
				`{"channel":"/event/A__e","data":{"event":{"replayId":"twelve"}}}`,
				`{"channel":"/event/A__e","data":{"event":{"replayId":2.5}}}`,
				`{"channel":"/event/A__e","data":{"event":{"replayId":-3}}}`,
				`{"channel":"/event/A__e","data":{"event":{"replayId":"8"}}}`,
			},
			want:  []string{`{"event":{"replayId":"8"}}`},
			drops: map[string]int{stream.DropInvalidReplayID + " " + chA: 4},
			log:   `whose replayId is not a non-negative integer (first: {"id":1})`,
		},
		{
			name: "data that is not an object",
			msgs: []string{`{"channel":"/event/A__e","data":"just text"}`, `{"channel":"/event/A__e","data":[1,2]}`,
				`{"channel":"/event/A__e","data":{"event":"no object"}}`},
			want: []string{`"just text"`, `[1,2]`, `{"event":"no object"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGeneric(t)
			g.raw = []rawAnswer{{body: rawEvents(tt.msgs...)}}
			h := hostileClient(t, g, Config{})
			h.start()
			var got []string
			for _, ev := range h.collect(len(tt.want), 5*time.Second) {
				assert.Equal(t, chA, ev.Channel)
				got = append(got, string(ev.Data))
			}
			assert.Equal(t, tt.want, got)
			h.quiet(100 * time.Millisecond)
			assert.Equal(t, orEmpty(tt.drops), h.obs.dropped())
			if tt.log != "" {
				assert.True(t, h.log.has("WARN", "dropped", tt.log), "log: %s", h.log.all())
			}
			assert.Empty(t, h.obs.reasons(), "no reconnect")
		})
	}
}

func orEmpty(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

// A broken answer (truncated JSON, a connection cut mid-answer, not JSON at all, too many meta messages) hands on
// nothing from it and ends the session: the client reconnects and resubscribes from the last id it handed on, so a
// real server replays what the broken answer held.
func TestHostileBrokenAnswers(t *testing.T) {
	good := rawEvents(event(chA, 10, 100), event(chA, 11, 100))
	tests := []struct {
		name   string
		broken rawAnswer
		log    string
	}{
		{"truncated JSON", rawAnswer{body: good[:len(good)/2]}, "unexpected end of JSON"},
		{"connection cut mid-answer", rawAnswer{body: good, cutAt: len(good) / 2}, "EOF"},
		{"not JSON", rawAnswer{body: "<html><body>502 Bad Gateway</body></html>"}, "expected a JSON array"},
		{"empty body", rawAnswer{body: " "}, "empty body"},
		{"a meta flood", rawAnswer{body: "[" + strings.Repeat(`{"channel":"/meta/x"},`, 100) + connectOK + "]", chunked: true},
			"more than 64 meta messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGeneric(t)
			g.raw = []rawAnswer{{body: good}, tt.broken, {body: rawEvents(event(chA, 20, 100))}}
			h := hostileClient(t, g, Config{Channels: []string{chA}})
			h.start()
			assert.Equal(t, map[string][]int64{chA: {10, 11, 20}}, h.collectIDs(3))
			assert.Equal(t, []string{"connection_error"}, h.obs.reasons())
			assert.True(t, h.log.has("WARN", tt.log), "log: %s", h.log.all())
			assert.Equal(t, []int64{ReplayLatest, 11}, g.subscribedFrom(t, chA),
				"resubscribed from the last id handed on")
			assert.Equal(t, 2, g.count(func(g *genericServer) int { return g.handshakes }), "one reconnect")
		})
	}
}

// An answer of more than 10 MB (thousands of events, as Salesforce sends under load) is processed whole, sized by
// Content-Length or streamed in chunks.
func TestHugeAnswer(t *testing.T) {
	const events, size = 12000, 1000
	msgs := make([]string, events)
	for i := range msgs {
		msgs[i] = event(chA, i+1, size)
	}
	body := rawEvents(msgs...)
	require.Greater(t, len(body), 12_000_000)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%t", chunked), func(t *testing.T) {
			g := startGeneric(t)
			g.raw = []rawAnswer{{body: body, chunked: chunked}}
			h := hostileClient(t, g, Config{Channels: []string{chA}, MaxBufferedEvents: 2 * events})
			h.start()
			ids := h.collectIDs(events)[chA]
			assertSequence(t, ids, 1, events, events)
			assert.Empty(t, h.obs.reasons())
		})
	}
}

// An answer above MaxAnswerBytes is not read into memory: the client logs an error, reconnects and resubscribes
// from the last id handed on.
func TestAnswerTooLarge(t *testing.T) {
	msgs := make([]string, 2000)
	for i := range msgs {
		msgs[i] = event(chA, i+11, 1000)
	}
	big := rawEvents(msgs...) // about 2 MB
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%t", chunked), func(t *testing.T) {
			g := startGeneric(t)
			g.raw = []rawAnswer{{body: rawEvents(event(chA, 10, 100))}, {body: big, chunked: chunked},
				{body: rawEvents(event(chA, 5000, 100))}}
			h := hostileClient(t, g, Config{Channels: []string{chA}, MaxAnswerBytes: 1 << 20})
			h.start()
			assert.Equal(t, map[string][]int64{chA: {10, 5000}}, h.collectIDs(2))
			assert.Equal(t, []string{"answer_too_large"}, h.obs.reasons())
			assert.True(t, h.log.has("ERROR", "answer too large", "limit of 1048576 bytes", "MaxAnswerBytes"),
				"log: %s", h.log.all())
			assert.Equal(t, []int64{ReplayLatest, 10}, g.subscribedFrom(t, chA))
		})
	}
}

// Peak memory while reading and decoding a large answer stays within its size plus a fixed cost per event. The
// bound is checked on the bytes allocated (runtime.MemStats.TotalAlloc), which bounds the heap's growth from
// above. (That the decoder lets go of scratch grown by a large answer is checked in package wire.)
func TestAnswerMemoryBound(t *testing.T) {
	tests := []struct {
		name          string
		events, size  int
		maxAllocRatio float64 // allocated / answer size
	}{
		{"1 KB events", 11000, 1000, 2},
		{"100 B events", 110000, 100, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := make([]string, tt.events)
			for i := range msgs {
				msgs[i] = event(chA, i+1, tt.size)
			}
			body := []byte(rawEvents(msgs...))
			require.Greater(t, len(body), 10<<20)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b := body
				if r.URL.Path == "/warmup" {
					b = []byte(rawEvents(event(chA, 1, tt.size)))
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(b)))
				_, _ = w.Write(b)
			}))
			t.Cleanup(srv.Close)
			tr, err := newTransport(nil, wire.DefaultMaxAnswerBytes, redact.New())
			require.NoError(t, err)
			split := wire.NewSplitter(map[string]string{chA: chA})
			asm := split.Assembler()
			decode := func(raw []byte) (wire.Answer, error) {
				ans, err := split.Split(raw)
				if err == nil {
					asm.Complete(&ans)
				}
				return ans, err
			}
			// Warm up the connection and the decoder on a small answer.
			raw, err := tr.post(context.Background(), srv.URL+"/warmup", "t", []byte("[]"), 5*time.Second)
			require.NoError(t, err)
			_, err = decode(raw)
			require.NoError(t, err)

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			raw, err = tr.post(context.Background(), srv.URL, "t", []byte("[]"), 10*time.Second)
			require.NoError(t, err)
			ans, err := decode(raw)
			require.NoError(t, err)
			runtime.ReadMemStats(&after)
			require.Equal(t, tt.events, ans.Events)

			alloc := float64(after.TotalAlloc - before.TotalAlloc)
			ratio := alloc / float64(len(body))
			t.Logf("answer %d bytes, %d events: %.0f bytes allocated (%.2fx, %.0f B/event above the answer)",
				len(body), tt.events, alloc, ratio, (alloc-float64(len(body)))/float64(tt.events))
			assert.Less(t, ratio, tt.maxAllocRatio)
			assert.Less(t, (alloc-float64(len(body)))/float64(tt.events), 1000.0, "per-event overhead")
			runtime.KeepAlive(ans)
		})
	}
}
