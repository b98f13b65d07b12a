package sfemu

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/salesforce-streaming/salesforce_streaming/internal/pubsub"
	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/limits"
)

// pubsubEmu is an emulator serving both APIs on loopback, with a raw gRPC client (the generated stubs, not the
// project's Pub/Sub client, so the emulator is checked on its own).
type pubsubEmu struct {
	*testEmu
	client eventbusv1.PubSubClient
}

func startPubSubEmu(t *testing.T, cfg Config, fake bool) *pubsubEmu {
	t.Helper()
	return servePubSub(t, startEmu(t, cfg, fake))
}

// servePubSub serves the Pub/Sub API of a started emulator.
func servePubSub(t *testing.T, e *testEmu) *pubsubEmu {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := e.srv.NewPubSubServer()
	go func() { _ = g.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() {
		conn.Close()
		e.srv.Close() // ends the subscriptions, so Stop does not wait for them
		g.Stop()
	})
	return &pubsubEmu{testEmu: e, client: eventbusv1.NewPubSubClient(conn)}
}

// authCtx carries the three headers every Pub/Sub call needs.
func (e *pubsubEmu) authCtx(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "accesstoken", token, "instanceurl", e.url, "tenantid", DefaultOrgID)
}

func (e *pubsubEmu) ctx(t *testing.T) context.Context { return e.ctxWith(t, e.token()) }

func (e *pubsubEmu) ctxWith(t *testing.T, token string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return e.authCtx(ctx, token)
}

func (e *pubsubEmu) schema(t *testing.T, ctx context.Context, id string) *avro.RecordSchema {
	t.Helper()
	info, err := e.client.GetSchema(ctx, &eventbusv1.SchemaRequest{SchemaId: id})
	require.NoError(t, err)
	require.Equal(t, id, info.GetSchemaId())
	s, err := avro.Parse(info.GetSchemaJson())
	require.NoError(t, err)
	return s.(*avro.RecordSchema)
}

// cometdPayloads subscribes over CometD from the earliest retained event and returns the payloads of n events.
func (e *pubsubEmu) cometdPayloads(t *testing.T, channel string, n int) []json.RawMessage {
	t.Helper()
	c := e.loggedIn()
	c.handshake()
	c.subscribe(channel, map[string]any{channel: -2})
	var out []json.RawMessage
	for range 10 {
		events, _, _ := c.connect()
		for _, ev := range events {
			b, err := json.Marshal(ev["data"].(map[string]any)["payload"])
			require.NoError(t, err)
			out = append(out, b)
		}
		if len(out) >= n {
			break
		}
	}
	require.Len(t, out, n)
	return out
}

// normalised removes what only Pub/Sub carries (nulledFields, diffFields) and sorts changedFields, whose order
// CometD does not define, so the two APIs' payloads compare equal.
func normalised(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	if h, ok := m["ChangeEventHeader"].(map[string]any); ok {
		delete(h, "nulledFields")
		delete(h, "diffFields")
		if cf, ok := h["changedFields"].([]any); ok {
			sort.Slice(cf, func(i, j int) bool { return cf[i].(string) < cf[j].(string) })
		}
	}
	return m
}

func recvN(t *testing.T, stream eventbusv1.PubSub_SubscribeClient, n int) []*eventbusv1.FetchResponse {
	t.Helper()
	var out []*eventbusv1.FetchResponse
	got := 0
	for got < n {
		resp, err := stream.Recv()
		require.NoError(t, err)
		out = append(out, resp)
		got += len(resp.GetEvents())
	}
	require.Equal(t, n, got, "no more events than requested")
	return out
}

// TestPubSubServesTheCometDStore: events published through the control API are delivered by Subscribe, in
// the amounts requested, and decode to the payload CometD delivers for the same events.
func TestPubSubServesTheCometDStore(t *testing.T) {
	for _, channel := range []string{"/data/AccountChangeEvent", "/event/Order_Event__e", "/data/ChangeEvents"} {
		t.Run(channel, func(t *testing.T) {
			e := startPubSubEmu(t, Config{}, false)
			first, last := e.publish(channel, 5)
			ctx := e.ctx(t)

			stream, err := e.client.Subscribe(ctx)
			require.NoError(t, err)
			require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: channel, ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: 3}))
			resps := recvN(t, stream, 3)
			assert.Equal(t, int32(0), resps[len(resps)-1].GetPendingNumRequested())
			require.NoError(t, stream.Send(&eventbusv1.FetchRequest{NumRequested: 10}))
			resps = append(resps, recvN(t, stream, 2)...)

			comet := e.cometdPayloads(t, channel, 5)
			var ids []int64
			i := 0
			for _, r := range resps {
				for _, ev := range r.GetEvents() {
					id, ok := replayFromBytes(ev.GetReplayId())
					require.True(t, ok)
					ids = append(ids, id)
					got, err := pubsub.DecodePayload(e.schema(t, ctx, ev.GetEvent().GetSchemaId()), ev.GetEvent().GetPayload())
					require.NoError(t, err)
					assert.Equal(t, normalised(t, comet[i]), normalised(t, got), "event %d", i)
					assert.NotEmpty(t, ev.GetEvent().GetId())
					i++
				}
			}
			require.Len(t, ids, 5)
			assert.Equal(t, first, ids[0])
			assert.Equal(t, last, ids[4])
			assert.IsIncreasing(t, ids)
		})
	}
}

// TestPubSubUpdateBitmaps: an update's changed and nulled fields travel as bitmaps and decode to names.
func TestPubSubUpdateBitmaps(t *testing.T) {
	e := startPubSubEmu(t, Config{}, false)
	e.control(http.MethodPost, "/emulator/publish", `{"channel":"/data/AccountChangeEvent","change_type":"UPDATE",`+
		`"payloads":[{"Phone":"(415) 555-0100","Website":null,"LastModifiedDate":"2026-03-01T12:00:00.000Z"}]}`, &PublishResponse{})
	ctx := e.ctx(t)
	stream, err := e.client.Subscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/data/AccountChangeEvent", ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: 1}))
	ev := recvN(t, stream, 1)[0].GetEvents()[0]
	schema := e.schema(t, ctx, ev.GetEvent().GetSchemaId())

	var raw map[string]any
	require.NoError(t, avro.Unmarshal(schema, ev.GetEvent().GetPayload(), &raw))
	h := raw["ChangeEventHeader"].(map[string]any)
	assert.Equal(t, []any{"0x0200C0"}, h["changedFields"], "Phone (6), Website (7) and LastModifiedDate (17), positions counted with the header at 0")
	assert.Equal(t, []any{"0x80"}, h["nulledFields"], "Website (7)")

	got, err := pubsub.DecodePayload(schema, ev.GetEvent().GetPayload())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(got, &m))
	hdr := m["ChangeEventHeader"].(map[string]any)
	assert.Equal(t, []any{"Phone", "Website", "LastModifiedDate"}, hdr["changedFields"], "a field set to null is a changed field too")
	assert.Equal(t, []any{"Website"}, hdr["nulledFields"])
	assert.Equal(t, "2026-03-01T12:00:00.000Z", m["LastModifiedDate"])
	assert.NotContains(t, m, "Name", "unchanged fields are left out, as CometD leaves them out")
}

// TestPubSubErrors: the status codes, messages and error-code trailers Salesforce answers.
func TestPubSubErrors(t *testing.T) {
	e := startPubSubEmu(t, Config{}, false)
	first, _ := e.publish("/event/Order_Event__e", 3)
	good := e.ctx(t)

	subscribeErr := func(ctx context.Context, req *eventbusv1.FetchRequest) (metadata.MD, error) {
		stream, err := e.client.Subscribe(ctx)
		require.NoError(t, err)
		// A server that refuses the call before reading (a bad token) may have ended the stream already: Send then
		// reports io.EOF, and the status is what Recv returns (grpc's ClientStream contract).
		if err := stream.Send(req); !errors.Is(err, io.EOF) {
			require.NoError(t, err)
		}
		_, err = stream.Recv()
		return stream.Trailer(), err
	}
	tests := []struct {
		name      string
		ctx       context.Context
		req       *eventbusv1.FetchRequest
		code      codes.Code
		errorCode string
		msg       string
	}{
		{"bad token", e.ctxWith(t, "00D!forged"), &eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", NumRequested: 1},
			codes.Unauthenticated, "sfdc.platform.eventbus.grpc.service.auth.error", "expired or is invalid"},
		{"unknown topic", good, &eventbusv1.FetchRequest{TopicName: "/topic/InvoiceUpdates", NumRequested: 1},
			codes.NotFound, "", "topic /topic/InvoiceUpdates not found"},
		{"corrupted replay id", good, &eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", ReplayPreset: eventbusv1.ReplayPreset_CUSTOM, ReplayId: []byte("xx"), NumRequested: 1},
			codes.InvalidArgument, "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted", "Replay ID validation failed"},
		{"replay id never assigned", good, &eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", ReplayPreset: eventbusv1.ReplayPreset_CUSTOM, ReplayId: replayBytes(first + 1_000_000), NumRequested: 1},
			codes.InvalidArgument, "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted", "Replay ID validation failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trailer, err := subscribeErr(tc.ctx, tc.req)
			require.Error(t, err)
			st := status.Convert(err)
			assert.Equal(t, tc.code, st.Code())
			assert.Contains(t, st.Message(), tc.msg)
			assert.Contains(t, st.Message(), "rpcId: ")
			if tc.errorCode != "" {
				assert.Equal(t, []string{tc.errorCode}, trailer.Get("error-code"))
			}
			assert.Len(t, trailer.Get("rpc-id"), 1)
		})
	}

	t.Run("expired replay id", func(t *testing.T) {
		_, err := e.srv.Purge("/event/Order_Event__e", &first)
		require.NoError(t, err)
		trailer, err := subscribeErr(good, &eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", ReplayPreset: eventbusv1.ReplayPreset_CUSTOM, ReplayId: replayBytes(first), NumRequested: 1})
		assert.Equal(t, codes.InvalidArgument, status.Code(err))
		assert.Equal(t, []string{"sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"}, trailer.Get("error-code"))
	})

	t.Run("unary calls check the token", func(t *testing.T) {
		_, err := e.client.GetTopic(e.ctxWith(t, "nope"), &eventbusv1.TopicRequest{TopicName: "/event/Order_Event__e"})
		assert.Equal(t, codes.Unauthenticated, status.Code(err))
		_, err = e.client.GetSchema(good, &eventbusv1.SchemaRequest{SchemaId: "unknown"})
		assert.Equal(t, codes.NotFound, status.Code(err))
	})

	t.Run("revoked token ends an open subscription", func(t *testing.T) {
		stream, err := e.client.Subscribe(good)
		require.NoError(t, err)
		require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", NumRequested: 1}))
		e.fault(`{"fault":"revoke_tokens"}`)
		_, err = stream.Recv()
		assert.Equal(t, codes.Unauthenticated, status.Code(err))
	})
}

// TestPubSubCustomReplayStartsAfter: CUSTOM starts after the given id; LATEST sees only new events.
func TestPubSubCustomReplayStartsAfter(t *testing.T) {
	e := startPubSubEmu(t, Config{MaxReplayGap: -1}, false)
	first, last := e.publish("/event/Order_Event__e", 4)
	ctx := e.ctx(t)

	stream, err := e.client.Subscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", ReplayPreset: eventbusv1.ReplayPreset_CUSTOM, ReplayId: replayBytes(first + 1), NumRequested: 10}))
	evs := recvN(t, stream, 2)
	id, _ := replayFromBytes(evs[0].GetEvents()[0].GetReplayId())
	assert.Equal(t, first+2, id)

	latest, err := e.client.Subscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, latest.Send(&eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", NumRequested: 10}))
	// The subscription is set up once the server waits for events; publish after it watches the channel.
	require.Eventually(t, func() bool {
		e.srv.store.Lock()
		defer e.srv.store.Unlock()
		return countWatchers(e.srv) > 0 && countWatchers(e.srv) >= 2
	}, 5*time.Second, 2*time.Millisecond)
	newFirst, _ := e.publish("/event/Order_Event__e", 1)
	r := recvN(t, latest, 1)
	id, _ = replayFromBytes(r[0].GetEvents()[0].GetReplayId())
	assert.Equal(t, newFirst, id)
	assert.Greater(t, id, last)
}

func countWatchers(s *Server) int { return s.store.WatchersLocked() }

// TestPubSubKeepalive: with nothing to deliver, an empty FetchResponse every 270 s (fake clock) carries the
// newest replay id.
func TestPubSubKeepalive(t *testing.T) {
	e := startPubSubEmu(t, Config{}, true)
	_, last := e.publish("/data/AccountChangeEvent", 2)
	ctx := e.ctx(t)
	stream, err := e.client.Subscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/data/AccountChangeEvent", NumRequested: 5}))
	wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, e.clock.WaitTimers(wctx, 1))
	e.clock.Advance(PubSubKeepalive)
	resp, err := stream.Recv()
	require.NoError(t, err)
	assert.Empty(t, resp.GetEvents())
	assert.Equal(t, replayBytes(last), resp.GetLatestReplayId())
	assert.Equal(t, int32(5), resp.GetPendingNumRequested())
}

// TestPubSubPublish: events published with Publish and PublishStream are stored once and seen on both APIs.
func TestPubSubPublish(t *testing.T) {
	e := startPubSubEmu(t, Config{}, false)
	ctx := e.ctx(t)
	topic, err := e.client.GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: "/event/Order_Event__e"})
	require.NoError(t, err)
	assert.True(t, topic.GetCanPublish())
	assert.Equal(t, DefaultOrgID, topic.GetTenantGuid())
	schema := e.schema(t, ctx, topic.GetSchemaId())

	encode := func(order string) []byte {
		b, err := avro.Marshal(schema, map[string]any{"CreatedDate": int64(1772366400000), "CreatedById": DefaultUserID,
			"Order_Number__c": order, "Status__c": nil, "Amount__c": 12.5, "Account__c": nil})
		require.NoError(t, err)
		return b
	}
	resp, err := e.client.Publish(ctx, &eventbusv1.PublishRequest{TopicName: "/event/Order_Event__e", Events: []*eventbusv1.ProducerEvent{
		{Id: "k1", SchemaId: topic.GetSchemaId(), Payload: encode("ORD-1")},
		{Id: "k2", SchemaId: "not-a-schema", Payload: encode("ORD-X")},
	}})
	require.NoError(t, err)
	require.Len(t, resp.GetResults(), 2)
	assert.Nil(t, resp.GetResults()[0].GetError())
	assert.Equal(t, "k1", resp.GetResults()[0].GetCorrelationKey())
	assert.Equal(t, eventbusv1.ErrorCode_PUBLISH, resp.GetResults()[1].GetError().GetCode())

	ps, err := e.client.PublishStream(ctx)
	require.NoError(t, err)
	require.NoError(t, ps.Send(&eventbusv1.PublishRequest{TopicName: "/event/Order_Event__e", Events: []*eventbusv1.ProducerEvent{{Id: "k3", SchemaId: topic.GetSchemaId(), Payload: encode("ORD-2")}}}))
	sresp, err := ps.Recv()
	require.NoError(t, err)
	require.Len(t, sresp.GetResults(), 1)
	assert.Nil(t, sresp.GetResults()[0].GetError())
	require.NoError(t, ps.CloseSend())

	comet := e.cometdPayloads(t, "/event/Order_Event__e", 2)
	assert.JSONEq(t, `{"CreatedDate":"2026-03-01T12:00:00.000Z","CreatedById":"`+DefaultUserID+`","Order_Number__c":"ORD-1","Amount__c":12.5}`, string(comet[0]))
	assert.Contains(t, string(comet[1]), `"ORD-2"`)

	_, err = e.client.Publish(ctx, &eventbusv1.PublishRequest{TopicName: "/data/AccountChangeEvent"})
	assert.Equal(t, codes.PermissionDenied, status.Code(err))
}

// TestPubSubSchemaGrows: a payload with a new field gives a new schema version; old ids stay served.
func TestPubSubSchemaGrows(t *testing.T) {
	e := startPubSubEmu(t, Config{}, false)
	e.publishPayloads("/event/Alert__e", `{"Message__c":"disk full","Severity__c":3,"Acked__c":false}`)
	ctx := e.ctx(t)
	before, err := e.client.GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: "/event/Alert__e"})
	require.NoError(t, err)
	stream, err := e.client.Subscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/event/Alert__e", ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: 1}))
	ev := recvN(t, stream, 1)[0].GetEvents()[0]
	got, err := pubsub.DecodePayload(e.schema(t, ctx, ev.GetEvent().GetSchemaId()), ev.GetEvent().GetPayload())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(got, &m))
	assert.Equal(t, "disk full", m["Message__c"])
	assert.Equal(t, 3.0, m["Severity__c"])
	assert.Equal(t, false, m["Acked__c"])
	assert.NotEqual(t, before.GetSchemaId(), ev.GetEvent().GetSchemaId(), "the topic's first schema lacked the new fields")
	e.schema(t, ctx, before.GetSchemaId())
}

// TestUserInfo: the OpenID Connect user info answers the org and user of a valid token only.
func TestUserInfo(t *testing.T) {
	e := startEmu(t, Config{}, false)
	req, err := http.NewRequest(http.MethodGet, e.url+"/services/oauth2/userinfo", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.token())
	resp := e.do(req, nil)
	require.Equal(t, http.StatusOK, resp.status, resp.String())
	var info map[string]any
	require.NoError(t, json.Unmarshal(resp.body, &info))
	assert.Equal(t, DefaultOrgID, info["organization_id"])
	assert.Equal(t, DefaultUserID, info["user_id"])
	assert.Equal(t, DefaultUsername, info["preferred_username"])

	req.Header.Set("Authorization", "Bearer forged")
	assert.Equal(t, http.StatusUnauthorized, e.do(req, nil).status)
}

// TestPubSubStreamFaults: the daily_limit fault and a reset end open subscriptions with the errors a client
// must react to; deliveries count against the daily allocation CometD shares.
func TestPubSubStreamFaults(t *testing.T) {
	e := startPubSubEmu(t, Config{}, false)
	e.publish("/event/Order_Event__e", 2)
	ctx := e.ctx(t)
	open := func() eventbusv1.PubSub_SubscribeClient {
		stream, err := e.client.Subscribe(ctx)
		require.NoError(t, err)
		require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: 2}))
		recvN(t, stream, 2)
		return stream
	}

	stream := open()
	e.srv.ResetPubSubStreams()
	_, err := stream.Recv()
	assert.Equal(t, codes.Unavailable, status.Code(err))

	e.srv.store.Lock()
	delivered := e.srv.limits.Delivered(limits.PlatformEvents)
	e.srv.store.Unlock()
	assert.Equal(t, int64(2), delivered)

	stream = open()
	e.fault(`{"fault":"daily_limit"}`)
	_, err = stream.Recv()
	assert.Equal(t, codes.ResourceExhausted, status.Code(err))
	assert.Equal(t, []string{"sfdc.platform.eventbus.grpc.subscription.limit.exceeded"}, stream.Trailer().Get("error-code"))
}

// TestPubSubControlFaults: the control API's subscribe_error, drop_connection and slow_response faults apply to
// Pub/Sub streams too.
func TestPubSubControlFaults(t *testing.T) {
	e := startPubSubEmu(t, Config{}, false)
	e.publish("/event/Order_Event__e", 3)
	ctx := e.ctx(t)
	// Each stream ends with the test step that opened it, so a counted fault reaches the stream meant.
	subscribe := func(n int32) eventbusv1.PubSub_SubscribeClient {
		sctx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		stream, err := e.client.Subscribe(sctx)
		require.NoError(t, err)
		require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/event/Order_Event__e", ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: n}))
		return stream
	}

	refusals := []struct {
		text string
		code codes.Code
	}{
		{"403::Restricted channel", codes.PermissionDenied},
		{"403::Subscription limit exceeded for this topic", codes.ResourceExhausted},
		{"404::Unknown channel", codes.NotFound},
		{"400::The channel you requested to subscribe to doesn’t exist {channel}", codes.NotFound},
	}
	for _, r := range refusals {
		e.fault(`{"fault":"subscribe_error","channel":"/event/Order_Event__e","count":1,"error":"` + r.text + `"}`)
		_, err := subscribe(1).Recv()
		assert.Equal(t, r.code, status.Code(err), r.text)
	}
	ok := subscribe(3)
	recvN(t, ok, 3) // each fault was consumed once
	require.NoError(t, ok.CloseSend())
	_, err := ok.Recv()
	require.Error(t, err, "the stream ended")

	stream := subscribe(1)
	recvN(t, stream, 1)
	e.fault(`{"fault":"drop_connection"}`)
	_, err = stream.Recv()
	assert.Equal(t, codes.Unavailable, status.Code(err))

	stream = subscribe(1)
	recvN(t, stream, 1)
	e.fault(`{"fault":"server_disconnect"}`)
	_, err = stream.Recv()
	assert.ErrorIs(t, err, io.EOF, "a clean end of the stream")

	e.fault(`{"fault":"slow_response","delay":"10ms"}`)
	recvN(t, subscribe(3), 3)
	assert.Zero(t, e.state().Faults.SlowResponse, "the delay was spent on the stream")
}

// TestPubSubLargeEventsSplitResponses: responses stay under the 4 MB a gRPC client accepts by default, however
// many large events are owed.
func TestPubSubLargeEventsSplitResponses(t *testing.T) {
	e := startPubSubEmu(t, Config{}, false)
	big := json.RawMessage(`{"Note__c":"` + strings.Repeat("x", 900_000) + `"}`)
	_, _, err := e.srv.Publish("/event/Big__e", big, big, big, big, big)
	require.NoError(t, err)
	ctx := e.ctx(t)
	stream, err := e.client.Subscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: "/event/Big__e", ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: 5}))
	resps := recvN(t, stream, 5)
	assert.GreaterOrEqual(t, len(resps), 2, "split into several responses")
}
