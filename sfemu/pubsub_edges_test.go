package sfemu

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
)

// Each Pub/Sub edge is checked against the figure and text Salesforce documents, read from the "Pub/Sub edges" table
// of docs/emulator.md: the documentation and the emulator cannot drift apart.

type docEdge struct {
	figure []string // backticked values of the "figure" cell
	answer []string // backticked values of the "Salesforce's answer" cell
}

var backticked = regexp.MustCompile("`([^`]+)`")

func readDocEdge(t *testing.T, name string) docEdge {
	t.Helper()
	b, err := os.ReadFile("../docs/emulator.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(b), "\n## Pub/Sub edges\n")
	require.True(t, ok, "docs/emulator.md has no Pub/Sub edges section")
	table, _, _ = strings.Cut(table, "\n## ")
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 5 || strings.TrimPrefix(cells[0], "| ") != name {
			continue
		}
		var e docEdge
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			e.figure = append(e.figure, m[1])
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			e.answer = append(e.answer, m[1])
		}
		return e
	}
	t.Fatalf("docs/emulator.md: no Pub/Sub edges row %q", name)
	return docEdge{}
}

func (e docEdge) duration(t *testing.T) time.Duration {
	t.Helper()
	require.NotEmpty(t, e.figure)
	d, err := time.ParseDuration(e.figure[0])
	require.NoError(t, err)
	return d
}

func (e docEdge) number(t *testing.T) int {
	t.Helper()
	require.NotEmpty(t, e.figure)
	n, err := strconv.Atoi(e.figure[0])
	require.NoError(t, err)
	return n
}

// streamEnd receives from a stream in the background; the channel yields the first error (io.EOF on a clean end).
func streamEnd[T any](recv func() (T, error)) <-chan error {
	ch := make(chan error, 1)
	go func() {
		for {
			if _, err := recv(); err != nil {
				ch <- err
				return
			}
		}
	}()
	return ch
}

// requireOpen checks that the stream has not ended by now (a premature close would show within the wait).
func requireOpen(t *testing.T, end <-chan error, what string) {
	t.Helper()
	select {
	case err := <-end:
		t.Fatalf("%s: the stream ended early: %v", what, err)
	case <-time.After(500 * time.Millisecond):
	}
}

func requireEnded(t *testing.T, end <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-end:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: the stream is still open", what)
		return nil
	}
}

func waitTimers(t *testing.T, c *FakeClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, c.WaitTimers(ctx, n), "waiting for %d timers", n)
}

func TestPubSubEdgeSubscribeIdleClose(t *testing.T) {
	idle := readDocEdge(t, "subscribe idle close").duration(t)
	e := startPubSubEmu(t, Config{}, true)
	stream, err := e.client.Subscribe(e.ctx(t))
	require.NoError(t, err)
	// Owes nothing from the start: the first FetchRequest asks for no event.
	require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", NumRequested: 0}))
	end := streamEnd(stream.Recv)
	waitTimers(t, e.clock, 2) // keepalive and idle
	e.clock.Advance(idle - time.Second)
	requireOpen(t, end, "1 s before the idle close")
	e.clock.Advance(time.Second)
	assert.ErrorIs(t, requireEnded(t, end, "at the idle close"), io.EOF, "the stream ends cleanly")

	// A stream that still owes events is not closed: it gets keepalives.
	stream, err = e.client.Subscribe(e.ctx(t))
	require.NoError(t, err)
	require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", NumRequested: 3}))
	waitTimers(t, e.clock, 1)
	e.clock.Advance(idle * 2)
	end = streamEnd(stream.Recv)
	requireOpen(t, end, "owing 3 events, after twice the idle time")
}

func TestPubSubEdgePublishStreamIdleClose(t *testing.T) {
	idle := readDocEdge(t, "publish stream idle close").duration(t)
	e := startPubSubEmu(t, Config{}, true)
	ctx := e.ctx(t)
	topic, err := e.client.GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: "/event/Order_Event__e"})
	require.NoError(t, err)
	schema := e.schema(t, ctx, topic.GetSchemaId())
	stream, err := e.client.PublishStream(ctx)
	require.NoError(t, err)
	send := func(events ...*eventbusv1.ProducerEvent) *eventbusv1.PublishResponse {
		require.NoError(t, stream.Send(&eventbusv1.PublishRequest{TopicName: "/event/Order_Event__e", Events: events}))
		resp, err := stream.Recv()
		require.NoError(t, err)
		return resp
	}
	resp := send(&eventbusv1.ProducerEvent{Id: "a", SchemaId: topic.GetSchemaId(), Payload: orderPayload(t, schema, "ORD-1")})
	require.Len(t, resp.GetResults(), 1)
	require.Nil(t, resp.GetResults()[0].GetError())
	waitTimers(t, e.clock, 1)
	e.clock.Advance(idle - 20*time.Second)
	assert.Empty(t, send().GetResults(), "a request without events is answered") // but it does not hold the stream
	end := streamEnd(stream.Recv)
	e.clock.Advance(20*time.Second - time.Second)
	requireOpen(t, end, "1 s before the idle close")
	e.clock.Advance(time.Second)
	assert.ErrorIs(t, requireEnded(t, end, "at the idle close"), io.EOF)
}

func TestPubSubEdgeKeepalivePosition(t *testing.T) {
	keepalive := readDocEdge(t, "keepalive").duration(t)
	require.Equal(t, keepalive, PubSubKeepalive)
	e := startPubSubEmu(t, Config{}, true)
	const topic = "/event/Never_Published__e"
	ctx := e.ctx(t)
	stream, err := e.client.Subscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: topic, NumRequested: 10}))
	waitTimers(t, e.clock, 1)
	e.clock.Advance(keepalive)
	resp, err := stream.Recv()
	require.NoError(t, err)
	assert.Empty(t, resp.GetEvents())
	position := resp.GetLatestReplayId()
	require.Len(t, position, 8, "a keepalive of a topic that never had an event carries a position")

	// Resuming from that position loses nothing: it lies before the first event.
	first, last := e.publish(topic, 3)
	resumed, err := e.client.Subscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, resumed.Send(&eventbusv1.FetchRequest{TopicName: topic, ReplayPreset: eventbusv1.ReplayPreset_CUSTOM, ReplayId: position, NumRequested: 10}))
	got := map[int64]bool{}
	for len(got) < 3 {
		r, err := resumed.Recv()
		require.NoError(t, err)
		for _, ev := range r.GetEvents() {
			id, _ := replayFromBytes(ev.GetReplayId())
			got[id] = true
		}
	}
	assert.True(t, got[first] && got[last], "the resumed subscription gets the events %d..%d: %v", first, last, got)
}

// orderPayload encodes an Order_Event__e with an order number of any size.
func orderPayload(t *testing.T, schema *avro.RecordSchema, order string) []byte {
	t.Helper()
	b, err := avro.Marshal(schema, map[string]any{"CreatedDate": int64(1772366400000), "CreatedById": DefaultUserID,
		"Order_Number__c": order, "Status__c": nil, "Amount__c": 12.5, "Account__c": nil})
	require.NoError(t, err)
	return b
}

func TestPubSubEdgePublishValidation(t *testing.T) {
	eventMax := readDocEdge(t, "event size").number(t)
	req := readDocEdge(t, "request size")
	requestMax, err := strconv.Atoi(req.figure[0])
	require.NoError(t, err)
	require.Len(t, req.answer, 2, "the request size row names the status and the text")
	e := startPubSubEmu(t, Config{}, false)
	ctx := e.ctx(t)
	const topicName = "/event/Order_Event__e"
	topic, err := e.client.GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: topicName})
	require.NoError(t, err)
	schema := e.schema(t, ctx, topic.GetSchemaId())
	valid := orderPayload(t, schema, "ORD-1")
	// An order number that makes the payload exactly n bytes (the string's length prefix is 3 bytes here).
	sized := func(n int) []byte {
		l := n - len(valid) + len("ORD-1")
		for {
			b := orderPayload(t, schema, strings.Repeat("x", l))
			if len(b) == n {
				return b
			}
			l -= len(b) - n
		}
	}

	cases := []struct {
		name    string
		payload []byte
		errText string // "" for published
	}{
		{"valid", valid, ""},
		{"empty", []byte{}, "empty"},
		{"truncated", valid[:len(valid)-3], "truncated"},
		{"trailing junk", append(append([]byte{}, valid...), 0, 1, 2), "3 bytes follow the last field"},
		{"bad union branch", append(append([]byte{}, valid[:len(valid)-1]...), 4), "union branch 2"},
		{"at the event maximum", sized(eventMax), ""},
		{"1 byte above the event maximum", sized(eventMax + 1), "maximum event size"},
		{"1.2 MB", sized(eventMax * 6 / 5), "maximum event size"},
	}
	events := make([]*eventbusv1.ProducerEvent, len(cases))
	for i, tc := range cases {
		events[i] = &eventbusv1.ProducerEvent{Id: tc.name, SchemaId: topic.GetSchemaId(), Payload: tc.payload}
	}
	before := e.srv.State().Channels[topicName].Retained
	resp, err := e.client.Publish(ctx, &eventbusv1.PublishRequest{TopicName: topicName, Events: events})
	require.NoError(t, err)
	require.Len(t, resp.GetResults(), len(cases))
	published := 0
	for i, tc := range cases {
		res := resp.GetResults()[i]
		assert.Equal(t, tc.name, res.GetCorrelationKey())
		if tc.errText == "" {
			assert.Nil(t, res.GetError(), tc.name)
			assert.Len(t, res.GetReplayId(), 8, tc.name)
			published++
			continue
		}
		if assert.NotNil(t, res.GetError(), tc.name) {
			assert.Equal(t, eventbusv1.ErrorCode_PUBLISH, res.GetError().GetCode(), tc.name)
			assert.Contains(t, res.GetError().GetMsg(), tc.errText, tc.name)
		}
		assert.Empty(t, res.GetReplayId(), tc.name)
	}
	assert.Equal(t, before+published, e.srv.State().Channels[topicName].Retained, "only the valid events are stored")

	// A request above the request maximum: Salesforce's status and text, on Publish and on a PublishStream
	// (which it ends).
	n := requestMax/eventMax + 1
	big := make([]*eventbusv1.ProducerEvent, n)
	for i := range big {
		big[i] = &eventbusv1.ProducerEvent{Id: strconv.Itoa(i), SchemaId: topic.GetSchemaId(), Payload: sized(eventMax)}
	}
	wantCode := req.answer[0]
	_, err = e.client.Publish(ctx, &eventbusv1.PublishRequest{TopicName: topicName, Events: big})
	assert.Equal(t, wantCode, strings.ToUpper(status.Code(err).String()), "Publish above %d bytes: %v", requestMax, err)
	assert.Equal(t, req.answer[1], status.Convert(err).Message())
	ps, err := e.client.PublishStream(ctx)
	require.NoError(t, err)
	require.NoError(t, ps.Send(&eventbusv1.PublishRequest{TopicName: topicName, Events: big}))
	_, err = ps.Recv()
	assert.Equal(t, wantCode, strings.ToUpper(status.Code(err).String()), "PublishStream above %d bytes: %v", requestMax, err)
	assert.Equal(t, req.answer[1], status.Convert(err).Message())
	// Just below the maximum is fine.
	justBelow := big[:requestMax/eventMax-1]
	resp, err = e.client.Publish(ctx, &eventbusv1.PublishRequest{TopicName: topicName, Events: justBelow})
	require.NoError(t, err)
	for _, r := range resp.GetResults() {
		assert.Nil(t, r.GetError())
	}
}

func TestPubSubEdgeStreamsPerConnection(t *testing.T) {
	limit := readDocEdge(t, "streams per connection").number(t)
	e := startPubSubEmu(t, Config{}, false)
	token := e.token()
	ctx, cancel := context.WithTimeout(e.authCtx(context.Background(), token), 60*time.Second)
	defer cancel()
	_, err := e.client.GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: "/event/Order_Event__e"}) // the connection and its settings
	require.NoError(t, err)
	cancels := make([]context.CancelFunc, limit)
	for i := range limit {
		sctx, scancel := context.WithCancel(ctx)
		cancels[i] = scancel
		stream, err := e.client.Subscribe(sctx)
		require.NoError(t, err, "stream %d", i+1)
		require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", NumRequested: 1}))
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	require.Eventually(t, func() bool { return lockedWatchers(e.srv) == limit }, 20*time.Second, 20*time.Millisecond)

	// One more stream on the same connection is not served while the others are open.
	e.publish("/event/Order_Event__e", 1)
	extra := func(timeout time.Duration) error {
		sctx, scancel := context.WithTimeout(ctx, timeout)
		defer scancel()
		stream, err := e.client.Subscribe(sctx)
		if err != nil {
			return err
		}
		// EARLIEST: the retained event proves the stream is served.
		if err := stream.Send(&eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: 1}); err != nil {
			return err
		}
		_, err = stream.Recv()
		return err
	}
	err = extra(2 * time.Second)
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err), "stream %d: %v", limit+1, err)
	assert.Equal(t, limit, lockedWatchers(e.srv), "the server never served stream %d", limit+1)

	// Once one ends, the next one is served.
	cancels[0]()
	require.NoError(t, extra(20*time.Second), "stream %d after one ended", limit+1)
}

func TestPubSubEdgeSchemaIDsAndDocs(t *testing.T) {
	algo := readDocEdge(t, "schema id").figure
	require.Equal(t, []string{"MD5"}, algo)
	docs := readDocEdge(t, "field docs").figure
	require.NotEmpty(t, docs)
	e := startPubSubEmu(t, Config{}, false)
	ctx := e.ctx(t)
	e.publish("/data/AccountChangeEvent", 1)
	seenDocs := map[string]bool{}
	for _, topicName := range []string{"/event/Order_Event__e", "/data/AccountChangeEvent"} {
		topic, err := e.client.GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: topicName})
		require.NoError(t, err)
		info, err := e.client.GetSchema(ctx, &eventbusv1.SchemaRequest{SchemaId: topic.GetSchemaId()})
		require.NoError(t, err)
		parsed, err := avro.Parse(info.GetSchemaJson())
		require.NoError(t, err)
		// The id is the MD5 of the Parsing Canonical Form (hamba's String()), base64url unpadded: 22 characters.
		sum := md5.Sum([]byte(parsed.String()))
		assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), topic.GetSchemaId(), topicName)
		assert.Len(t, topic.GetSchemaId(), 22)
		var raw struct {
			Fields []struct {
				Name string `json:"name"`
				Doc  string `json:"doc"`
			} `json:"fields"`
		}
		require.NoError(t, json.Unmarshal([]byte(info.GetSchemaJson()), &raw))
		for _, f := range raw.Fields {
			seenDocs[f.Doc] = true
			if strings.HasSuffix(f.Name, "__c") {
				assert.Empty(t, f.Doc, "a custom platform event field has no doc: %s", f.Name)
			}
		}
	}
	for _, d := range docs {
		assert.True(t, seenDocs[d], "no field carries the documented doc %q", d)
	}
}

func lockedWatchers(s *Server) int {
	s.store.Lock()
	defer s.store.Unlock()
	return countWatchers(s)
}
