// Package pubsubapi is the emulator's Pub/Sub API surface (gRPC): authentication, GetTopic and GetSchema with
// Avro schemas, Subscribe and ManagedSubscribe with pull flow control and keepalives, Publish and PublishStream,
// the Tooling API records that configure managed subscriptions, and Salesforce's documented edges. It serves the
// event store's channels, encoding each event for Pub/Sub once and keeping the encoding with it. It is given the
// store, a token check, the fault set, the org's limits, the clock and a channel-exists check, and nothing else.
package pubsubapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
)

// Salesforce's Pub/Sub API (gRPC) over the same event store as the Streaming API: GetTopic, GetSchema,
// Subscribe with pull flow control and keepalives, Publish and PublishStream (docs/pubsub.md).

const (
	// PubSubKeepalive is how long a subscription waits with nothing to deliver before it sends an empty
	// FetchResponse carrying the latest replay id (Salesforce: "within 270 seconds").
	PubSubKeepalive = 270 * time.Second
	// PubSubIdleClose: a Subscribe stream that owes its client nothing and receives no FetchRequest for this
	// long is closed.
	PubSubIdleClose = 60 * time.Second
	// PubSubPublishIdle: a PublishStream that receives no PublishRequest with events for this long is closed.
	PubSubPublishIdle = 70 * time.Second
	// maxNumRequested caps what a subscription may owe its client: Salesforce's maximum num_requested,
	// across all outstanding FetchRequests of a Subscribe call.
	maxNumRequested = 100
	// maxPublishRequestBytes: a PublishRequest above it fails with UNAVAILABLE and closes the stream.
	maxPublishRequestBytes = 4 << 20
	// maxEventBytes: an event payload above it gets an error in its PublishResult.
	maxEventBytes = 1 << 20
	// maxStreamsPerConn: concurrent gRPC streams on one HTTP/2 connection.
	maxStreamsPerConn = 100
)

// Salesforce's documented text for a PublishRequest above 4 MB (the allocations page).
const errPublishTooLarge = "upstream connect error or disconnect/reset before headers. reset reason: remote reset"

// Salesforce's custom error codes, sent in the error-code trailer
// (https://developer.salesforce.com/docs/platform/pub-sub-api/guide/handling-errors.html).
const (
	errCodeAuth          = "sfdc.platform.eventbus.grpc.service.auth.error"
	errCodeReplayCorrupt = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
	errCodeLimitExceeded = "sfdc.platform.eventbus.grpc.subscription.limit.exceeded"
	pubsubTrailerCode    = "error-code"
	pubsubTrailerRPCID   = "rpc-id"
	pubsubHeaderToken    = "accesstoken"
	pubsubHeaderTenant   = "tenantid"
	pubsubHeaderInstance = "instanceurl"
)

// pubsubState is the Pub/Sub side of a Server: schemas, and the subscriptions to wake on publish.
type pubsubState struct {
	schemas *schemaRegistry
	reset   chan struct{}   // closed (and replaced) by ResetPubSubStreams; under the store's lock
	managed managedRegistry // ManagedEventSubscription records; under the store's lock
}

func newPubSubState() pubsubState {
	return pubsubState{schemas: newSchemaRegistry(), reset: make(chan struct{}), managed: managedRegistry{byID: map[string]*managedSubscription{}}}
}

// ResetPubSubStreams ends every open Subscribe stream with UNAVAILABLE, as a dropped connection or a server
// restart on Salesforce's side would; clients resubscribe.
func (s *Handler) ResetPubSubStreams() {
	s.deps.Store.Lock()
	close(s.pubsub.reset)
	s.pubsub.reset = make(chan struct{})
	s.deps.Store.Unlock()
}

// NewPubSubServer returns a gRPC server serving Salesforce's Pub/Sub API from s's event store; opts may add
// TLS credentials. Serve it on a listener; Server.Close ends its subscriptions.
//
// The server takes at most 100 concurrent streams per HTTP/2 connection, as Salesforce's, and receives messages up to
// 16 MB so that a PublishRequest above 4 MB gets Salesforce's answer rather than gRPC's own. Its codec sends
// Subscribe responses written from the events' kept wire bytes (pubsubServerOptions).
func (s *Handler) NewPubSubServer(opts ...grpc.ServerOption) *grpc.Server {
	opts = append(append([]grpc.ServerOption{grpc.MaxConcurrentStreams(maxStreamsPerConn), grpc.MaxRecvMsgSize(4 * maxPublishRequestBytes)},
		pubsubServerOptions()...), opts...)
	g := grpc.NewServer(opts...)
	eventbusv1.RegisterPubSubServer(g, &pubsubService{s: s})
	return g
}

type pubsubService struct {
	eventbusv1.UnimplementedPubSubServer // required by the generated code; every method is implemented
	s                                    *Handler
}

func (s *Handler) rpcID() string {
	s.deps.Store.Lock()
	defer s.deps.Store.Unlock()
	return eventstore.UUID(s.rng)
}

// rpcError is a Pub/Sub error as Salesforce shapes it: the rpc id appended to the message after "rpcId: ",
// the custom code (when one is documented) and the rpc id in the trailers.
func (s *Handler) rpcError(setTrailer func(metadata.MD), code codes.Code, errorCode, msg string) error {
	id := s.rpcID()
	md := metadata.Pairs(pubsubTrailerRPCID, id)
	if errorCode != "" {
		md.Append(pubsubTrailerCode, errorCode)
	}
	setTrailer(md)
	return status.Error(code, msg+" rpcId: "+id)
}

func unaryTrailer(ctx context.Context) func(metadata.MD) {
	return func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) }
}

// authenticate checks the accesstoken and tenantid headers of a call.
func (s *Handler) authenticate(ctx context.Context, setTrailer func(metadata.MD)) error {
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	token, tenant := first(pubsubHeaderToken), first(pubsubHeaderTenant)
	valid := s.deps.Tokens.Valid(token)
	org := s.cfg.OrgID
	switch {
	case token == "" || !valid:
		s.deps.Logf("pubsub: refused a call with a missing or invalid access token")
		return s.rpcError(setTrailer, codes.Unauthenticated, errCodeAuth, "The session ID or OAuth token used has expired or is invalid.")
	case tenant != org && (len(org) < 15 || tenant != org[:15]):
		return s.rpcError(setTrailer, codes.Unauthenticated, errCodeAuth, fmt.Sprintf("The tenant ID %q does not match the org of the access token.", tenant))
	}
	return nil
}

func (s *Handler) topicNotFound(setTrailer func(metadata.MD), topic string) error {
	// The text Salesforce answers for a topic that does not exist (observed; no custom code documented).
	return s.rpcError(setTrailer, codes.NotFound, "", fmt.Sprintf("The topic information for org CORE/prod/%s and topic %s not found. "+
		"Ensure the topic name is correct and that the topic exists.", s.cfg.OrgID, topic))
}

// pubsubTopic checks that a topic is one Pub/Sub serves: a platform event or change event channel.
func pubsubTopic(topic string) (eventstore.Kind, bool) {
	k := eventstore.KindOf(topic)
	return k, k == eventstore.KindPlatformEvent || k == eventstore.KindCDC
}

func (p *pubsubService) GetTopic(ctx context.Context, req *eventbusv1.TopicRequest) (*eventbusv1.TopicInfo, error) {
	s := p.s
	if err := s.authenticate(ctx, unaryTrailer(ctx)); err != nil {
		return nil, err
	}
	kind, ok := pubsubTopic(req.GetTopicName())
	if !ok || !s.topicDefined(req.GetTopicName()) {
		return nil, s.topicNotFound(unaryTrailer(ctx), req.GetTopicName())
	}
	info := &eventbusv1.TopicInfo{TopicName: req.GetTopicName(), TenantGuid: s.cfg.OrgID, CanSubscribe: true,
		CanPublish: kind == eventstore.KindPlatformEvent, RpcId: s.rpcID()}
	var name string
	switch {
	case kind == eventstore.KindPlatformEvent:
		name = recordNameOf(req.GetTopicName())
	case req.GetTopicName() != "/data/ChangeEvents" && !isCustomChannel(req.GetTopicName()):
		name = strings.TrimPrefix(req.GetTopicName(), "/data/")
	}
	if name != "" { // a multi-entity channel has no single schema: each event names its own
		ts, err := s.pubsub.schemas.schemaFor(name, kind == eventstore.KindCDC)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		info.SchemaId = ts.id
	}
	return info, nil
}

func isCustomChannel(topic string) bool { return strings.HasSuffix(topic, "__chn") }

func (p *pubsubService) GetSchema(ctx context.Context, req *eventbusv1.SchemaRequest) (*eventbusv1.SchemaInfo, error) {
	s := p.s
	if err := s.authenticate(ctx, unaryTrailer(ctx)); err != nil {
		return nil, err
	}
	ts, ok := s.pubsub.schemas.byIDLookup(req.GetSchemaId())
	if !ok {
		return nil, s.rpcError(unaryTrailer(ctx), codes.NotFound, "", fmt.Sprintf("The schema ID %q was not found.", req.GetSchemaId()))
	}
	return &eventbusv1.SchemaInfo{SchemaJson: ts.json, SchemaId: ts.id, RpcId: s.rpcID()}, nil
}

func (p *pubsubService) Publish(ctx context.Context, req *eventbusv1.PublishRequest) (*eventbusv1.PublishResponse, error) {
	s := p.s
	if err := s.authenticate(ctx, unaryTrailer(ctx)); err != nil {
		return nil, err
	}
	if proto.Size(req) > maxPublishRequestBytes {
		return nil, status.Error(codes.Unavailable, errPublishTooLarge)
	}
	return s.publishBatch(unaryTrailer(ctx), req.GetTopicName(), req.GetEvents())
}

// PublishStream publishes each request's events and answers each with a PublishResponse. The stream closes when no
// request with events arrives for PubSubPublishIdle (the Server's clock), and on a request above 4 MB.
func (p *pubsubService) PublishStream(stream eventbusv1.PubSub_PublishStreamServer) error {
	s := p.s
	ctx := stream.Context()
	if err := s.authenticate(ctx, stream.SetTrailer); err != nil {
		return err
	}
	type received struct {
		req *eventbusv1.PublishRequest
		err error
	}
	reqs := make(chan received)
	done := make(chan struct{})
	defer close(done)
	go func() { // ends when the stream does: Recv fails once the handler has returned
		for {
			req, err := stream.Recv()
			select {
			case reqs <- received{req, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	idle := s.deps.Clock.NewTimer(PubSubPublishIdle)
	defer func() { idle.Stop() }()
	topic := ""
	for {
		var req *eventbusv1.PublishRequest
		select {
		case r := <-reqs:
			if errors.Is(r.err, io.EOF) {
				return nil
			}
			if r.err != nil {
				return r.err
			}
			req = r.req
		case <-idle.C():
			s.deps.Logf("pubsub: closing a PublishStream: no PublishRequest with events for %s", PubSubPublishIdle)
			return nil
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.deps.Closed:
			return status.Error(codes.Unavailable, "the emulator is shutting down")
		}
		if proto.Size(req) > maxPublishRequestBytes {
			return status.Error(codes.Unavailable, errPublishTooLarge)
		}
		switch {
		case topic == "":
			topic = req.GetTopicName()
		case req.GetTopicName() != "" && req.GetTopicName() != topic:
			return s.rpcError(stream.SetTrailer, codes.InvalidArgument, "",
				fmt.Sprintf("The topic %s differs from the topic %s of the first PublishRequest of the stream.", req.GetTopicName(), topic))
		}
		if len(req.GetEvents()) > 0 { // only a request with events holds on to the stream
			idle.Stop()
			idle = s.deps.Clock.NewTimer(PubSubPublishIdle)
		}
		resp, err := s.publishBatch(stream.SetTrailer, topic, req.GetEvents())
		if err != nil {
			return err
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// publishBatch publishes Avro-encoded platform events into the store, one result per event in order.
func (s *Handler) publishBatch(setTrailer func(metadata.MD), topic string, events []*eventbusv1.ProducerEvent) (*eventbusv1.PublishResponse, error) {
	kind, ok := pubsubTopic(topic)
	if !ok || !s.topicDefined(topic) {
		return nil, s.topicNotFound(setTrailer, topic)
	}
	if kind != eventstore.KindPlatformEvent {
		return nil, s.rpcError(setTrailer, codes.PermissionDenied, "", fmt.Sprintf("Publishing to %s is not allowed: only platform events can be published.", topic))
	}
	current, err := s.pubsub.schemas.schemaFor(recordNameOf(topic), false)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	resp := &eventbusv1.PublishResponse{SchemaId: current.id, RpcId: s.rpcID()}
	for _, ev := range events {
		res := &eventbusv1.PublishResult{CorrelationKey: ev.GetId()}
		fail := func(msg string) { res.Error = &eventbusv1.Error{Code: eventbusv1.ErrorCode_PUBLISH, Msg: msg} }
		ts, ok := s.pubsub.schemas.byIDLookup(ev.GetSchemaId())
		switch {
		case len(ev.GetPayload()) > maxEventBytes:
			fail(fmt.Sprintf("The event payload of %d bytes is above the maximum event size of %d bytes (1 MB).", len(ev.GetPayload()), maxEventBytes))
		case !ok || ts.name != current.name:
			fail(fmt.Sprintf("The schema ID %q is not a schema of %s.", ev.GetSchemaId(), topic))
		default:
			payload, err := publishedPayload(ts, ev.GetPayload())
			if err != nil {
				fail(err.Error())
				break
			}
			id, _, err := s.deps.Store.Publish(eventstore.Spec{Channel: topic, Payloads: []json.RawMessage{payload}})
			if err != nil {
				fail(err.Error())
				break
			}
			s.deps.Limits.CountPublished(1)
			res.ReplayId = replayBytes(id)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

// tokenOf is the access token header of a call.
func tokenOf(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(pubsubHeaderToken); len(v) > 0 {
		return v[0]
	}
	return ""
}
