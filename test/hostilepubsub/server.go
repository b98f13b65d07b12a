// Package hostilepubsub is a Pub/Sub API server (the generated gRPC service) that misbehaves on purpose, the
// way broken servers and proxies do: a schema service failing after Subscribe works, UNAUTHENTICATED on
// GetSchema, the access token echoed into status messages, trailers and event ids, flooding past num_requested,
// a keepalive naming a position ahead of delivery, a lying pending_num_requested, a 60 MB event, and duplicate
// replay ids. It serves one topic of numbered events on plaintext loopback gRPC and records what the client
// did (subscribes, the largest number of events it had requested and not received, the events sent), so tests
// can hold the client to its bounds.
//
// Replay ids are the event's number as 8 bytes big-endian, as the emulator's are, so the end-to-end helpers
// read them the same way.
package hostilepubsub

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
)

// Mode is how the server misbehaves.
type Mode string

// The modes. Every mode but the ones named otherwise delivers the topic's events honestly.
const (
	Honest                Mode = "honest"
	SchemaFails           Mode = "schema_fails"           // Subscribe works, GetSchema answers INTERNAL
	SchemaUnauthenticated Mode = "schema_unauthenticated" // Subscribe works, GetSchema answers UNAUTHENTICATED
	TokenEcho             Mode = "token_echo"             // every stream ends after a few events with the token echoed
	Flood                 Mode = "flood"                  // sends every event at once, ignoring num_requested
	KeepaliveAhead        Mode = "keepalive_ahead"        // after the first events, a keepalive naming the last event
	LyingPending          Mode = "lying_pending"          // batches of 5, pending_num_requested always 0, a keepalive after each
	HugeEvent             Mode = "huge_event"             // the first event is 60 MB
	Duplicates            Mode = "duplicates"             // each batch repeats the previous batch's last events
)

// Modes lists the hostile modes (not Honest).
var Modes = []Mode{SchemaFails, SchemaUnauthenticated, TokenEcho, Flood, KeepaliveAhead, LyingPending, HugeEvent, Duplicates}

// Config configures a Server. Zero values take the defaults.
type Config struct {
	Mode   Mode
	Topic  string // default /event/Hostile__e
	Events int    // the events the topic holds, default 200
	// HugeBytes is the size of the HugeEvent mode's first event (default 60 MB).
	HugeBytes int
	// AheadPause is how long KeepaliveAhead waits after its keepalive before it delivers the rest (default 3 s).
	AheadPause time.Duration
	// Pace, when set, is a wait before each response with events: a slow server, so a test can act mid-stream.
	Pace time.Duration
}

// aheadSettle is how long KeepaliveAhead waits after its first events before the keepalive ahead of them.
const aheadSettle = 700 * time.Millisecond

// Batch is the most events the server puts in one response.
const Batch = 50

// TokenEchoEvents is how many events a TokenEcho stream delivers before it fails.
const TokenEchoEvents = 5

// SchemaID is the id of the topic's one schema.
const SchemaID = "HostileSchema1"

// Schema is the topic's Avro schema.
const Schema = `{"type":"record","name":"Hostile__e","namespace":"com.sforce.eventbus","fields":[` +
	`{"name":"CreatedDate","type":"long","doc":"CreatedDate:DateTime"},` +
	`{"name":"CreatedById","type":"string"},` +
	`{"name":"Seq__c","type":"long"},` +
	`{"name":"Blob__c","type":"string"}]}`

// Server is a running hostile Pub/Sub server.
type Server struct {
	eventbusv1.UnimplementedPubSubServer
	cfg    Config
	schema avro.Schema
	lis    net.Listener
	grpc   *grpc.Server

	hugeOnce sync.Once
	huge     []byte

	mu             sync.Mutex
	subscribes     int
	getSchemas     int
	maxOutstanding int
	sentThrough    int64 // the highest event number sent
	tokens         map[string]bool
}

// Start listens on a free loopback port and serves.
func Start(cfg Config) (*Server, error) {
	if cfg.Topic == "" {
		cfg.Topic = "/event/Hostile__e"
	}
	if cfg.Events <= 0 {
		cfg.Events = 200
	}
	if cfg.HugeBytes <= 0 {
		cfg.HugeBytes = 60 << 20
	}
	if cfg.AheadPause <= 0 {
		cfg.AheadPause = 3 * time.Second
	}
	if cfg.Mode == "" {
		cfg.Mode = Honest
	}
	schema, err := avro.Parse(Schema)
	if err != nil {
		return nil, fmt.Errorf("parsing the schema: %w", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	s := &Server{cfg: cfg, schema: schema, lis: lis, grpc: grpc.NewServer(), tokens: map[string]bool{}}
	eventbusv1.RegisterPubSubServer(s.grpc, s)
	go func() { _ = s.grpc.Serve(lis) }()
	return s, nil
}

// Addr is the host:port to dial.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Topic is the topic the server serves.
func (s *Server) Topic() string { return s.cfg.Topic }

// Close stops the server at once.
func (s *Server) Close() { s.grpc.Stop() }

// Stats is what the client did.
type Stats struct {
	Subscribes int
	GetSchemas int
	// MaxOutstanding is the largest number of events the client had requested in one stream and not yet received,
	// counted by the server from the client's FetchRequests.
	MaxOutstanding int
	SentThrough    int64    // the highest event number sent
	Tokens         []string // the access tokens the client presented
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Subscribes: s.subscribes, GetSchemas: s.getSchemas, MaxOutstanding: s.maxOutstanding, SentThrough: s.sentThrough}
	for t := range s.tokens {
		st.Tokens = append(st.Tokens, t)
	}
	return st
}

// ReplayID is event n's replay id.
func ReplayID(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

// Seq is the event number of a replay id; ok is false for an id this server never made.
func Seq(id []byte) (int64, bool) {
	if len(id) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(id)), true
}

// token checks the accesstoken header and records it.
func (s *Server) token(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get("accesstoken")
	if len(v) == 0 || v[0] == "" {
		return "", status.Error(codes.Unauthenticated, "missing accesstoken")
	}
	s.mu.Lock()
	s.tokens[v[0]] = true
	s.mu.Unlock()
	return v[0], nil
}

// GetTopic answers every topic it serves as subscribable.
func (s *Server) GetTopic(ctx context.Context, req *eventbusv1.TopicRequest) (*eventbusv1.TopicInfo, error) {
	if _, err := s.token(ctx); err != nil {
		return nil, err
	}
	if req.GetTopicName() != s.cfg.Topic {
		return nil, status.Error(codes.NotFound, "no such topic")
	}
	return &eventbusv1.TopicInfo{TopicName: s.cfg.Topic, CanSubscribe: true, SchemaId: SchemaID}, nil
}

// GetSchema answers the schema, or fails as the mode says.
func (s *Server) GetSchema(ctx context.Context, req *eventbusv1.SchemaRequest) (*eventbusv1.SchemaInfo, error) {
	s.mu.Lock()
	s.getSchemas++
	s.mu.Unlock()
	if _, err := s.token(ctx); err != nil {
		return nil, err
	}
	switch s.cfg.Mode {
	case SchemaFails:
		return nil, status.Error(codes.Internal, "the schema service is unavailable")
	case SchemaUnauthenticated:
		_ = grpc.SetTrailer(ctx, metadata.Pairs("error-code", "sfdc.platform.eventbus.grpc.service.auth.error"))
		return nil, status.Error(codes.Unauthenticated, "the access token is not valid")
	}
	if req.GetSchemaId() != SchemaID {
		return nil, status.Error(codes.NotFound, "no such schema")
	}
	return &eventbusv1.SchemaInfo{SchemaJson: Schema, SchemaId: SchemaID}, nil
}

// echo is the token in the forms a server or proxy may write it.
func echo(tok string) string {
	return "accesstoken=" + tok + " Authorization: Bearer " + tok + " q=" + url.QueryEscape(tok) +
		` json={"accesstoken":"` + strings.ReplaceAll(tok, `"`, `\"`) + `"}`
}

// stream is one Subscribe call's state: the client's requests as the server counts them.
type stream struct {
	s    *Server
	srv  eventbusv1.PubSub_SubscribeServer
	mu   sync.Mutex
	owed int           // requested and not yet sent
	more chan struct{} // a request arrived
}

func (st *stream) add(n int) {
	st.mu.Lock()
	st.owed += n
	owed := st.owed
	st.mu.Unlock()
	st.s.mu.Lock()
	st.s.maxOutstanding = max(st.s.maxOutstanding, owed)
	st.s.mu.Unlock()
	select {
	case st.more <- struct{}{}:
	default:
	}
}

// take waits until something is owed and takes up to n of it; honest is false in the modes that ignore requests.
func (st *stream) take(ctx context.Context, n int, honest bool) (int, error) {
	for {
		st.mu.Lock()
		if !honest {
			st.owed = max(st.owed-n, 0)
			st.mu.Unlock()
			return n, nil
		}
		if st.owed > 0 {
			k := min(st.owed, n)
			st.owed -= k
			st.mu.Unlock()
			return k, nil
		}
		st.mu.Unlock()
		select {
		case <-st.more:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (st *stream) pending() int32 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return int32(st.owed)
}

// Subscribe serves the topic from the first request's position, misbehaving as the mode says.
func (s *Server) Subscribe(srv eventbusv1.PubSub_SubscribeServer) error {
	ctx := srv.Context()
	tok, err := s.token(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.subscribes++
	s.mu.Unlock()
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	if first.GetTopicName() != s.cfg.Topic {
		return status.Error(codes.NotFound, "no such topic")
	}
	next := int64(1)
	switch first.GetReplayPreset() {
	case eventbusv1.ReplayPreset_CUSTOM:
		n, ok := Seq(first.GetReplayId())
		if !ok {
			srv.SetTrailer(metadata.Pairs("error-code", "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"))
			return status.Error(codes.InvalidArgument, "The Replay ID validation failed.")
		}
		next = n + 1
	case eventbusv1.ReplayPreset_LATEST:
		next = int64(s.cfg.Events) + 1
	}
	st := &stream{s: s, srv: srv, more: make(chan struct{}, 1)}
	st.add(int(first.GetNumRequested()))
	go func() { // further requests
		for {
			req, err := srv.Recv()
			if err != nil {
				return
			}
			st.add(int(req.GetNumRequested()))
		}
	}()
	return s.serve(ctx, st, tok, next)
}

func (s *Server) serve(ctx context.Context, st *stream, tok string, next int64) error {
	last := int64(s.cfg.Events)
	honest := s.cfg.Mode != Flood
	sentInStream := 0
	var prev []*eventbusv1.ConsumerEvent
	aheadDone := false
	for next <= last {
		want := Batch
		switch s.cfg.Mode {
		case TokenEcho:
			if sentInStream >= TokenEchoEvents {
				st.srv.SetTrailer(metadata.Pairs("error-code", "echo "+tok, "rpc-id", tok, "x-echo", echo(tok)))
				return status.Error(codes.Unavailable, "upstream refused the request: "+echo(tok))
			}
			want = TokenEchoEvents - sentInStream
		case LyingPending:
			want = 5 // less than requested, claiming nothing more is owed
		case KeepaliveAhead:
			if !aheadDone && next > 10 {
				aheadDone = true
				select { // long enough for the client to hand the first events on and see them acknowledged
				case <-time.After(aheadSettle):
				case <-ctx.Done():
					return ctx.Err()
				}
				if err := st.srv.Send(&eventbusv1.FetchResponse{LatestReplayId: ReplayID(last), PendingNumRequested: st.pending()}); err != nil {
					return err
				}
				select {
				case <-time.After(s.cfg.AheadPause):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if !aheadDone {
				want = int(10 - next + 1)
			}
		}
		k, err := st.take(ctx, int(min(int64(want), last-next+1)), honest)
		if err != nil {
			return err
		}
		if s.cfg.Pace > 0 {
			select {
			case <-time.After(s.cfg.Pace):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		events := make([]*eventbusv1.ConsumerEvent, 0, k+3)
		if s.cfg.Mode == Duplicates && len(prev) > 0 && k > 3 {
			events = append(events, prev[len(prev)-3:]...) // repeats, within what was requested
			k -= 3
		}
		fresh := make([]*eventbusv1.ConsumerEvent, 0, k)
		for range k {
			ev, err := s.event(next, tok)
			if err != nil {
				return err
			}
			fresh = append(fresh, ev)
			next++
		}
		events = append(events, fresh...)
		prev = fresh
		resp := &eventbusv1.FetchResponse{Events: events, LatestReplayId: events[len(events)-1].GetReplayId(),
			PendingNumRequested: st.pending()}
		if s.cfg.Mode == LyingPending {
			resp.PendingNumRequested = 0
		}
		if err := st.srv.Send(resp); err != nil {
			return err
		}
		s.mu.Lock()
		s.sentThrough = max(s.sentThrough, next-1)
		s.mu.Unlock()
		sentInStream += len(fresh)
		if s.cfg.Mode == LyingPending {
			if err := st.srv.Send(&eventbusv1.FetchResponse{LatestReplayId: ReplayID(next - 1)}); err != nil {
				return err
			}
		}
	}
	<-ctx.Done() // caught up: hold the stream open, as a server with nothing to deliver does
	return ctx.Err()
}

// event builds event n.
func (s *Server) event(n int64, tok string) (*eventbusv1.ConsumerEvent, error) {
	id := fmt.Sprintf("hostile-%d", n)
	if s.cfg.Mode == TokenEcho {
		id = "evt-" + tok
	}
	var payload []byte
	if s.cfg.Mode == HugeEvent && n == 1 {
		var err error
		s.hugeOnce.Do(func() {
			s.huge, err = s.payload(n, strings.Repeat("x", s.cfg.HugeBytes))
		})
		if err != nil || s.huge == nil {
			return nil, errors.Join(errors.New("building the huge event"), err)
		}
		payload = s.huge
	} else {
		var err error
		if payload, err = s.payload(n, ""); err != nil {
			return nil, err
		}
	}
	return &eventbusv1.ConsumerEvent{Event: &eventbusv1.ProducerEvent{Id: id, SchemaId: SchemaID, Payload: payload},
		ReplayId: ReplayID(n)}, nil
}

func (s *Server) payload(n int64, blob string) ([]byte, error) {
	return avro.Marshal(s.schema, map[string]any{
		"CreatedDate": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() + n, "CreatedById": "005000000000001AAA",
		"Seq__c": n, "Blob__c": blob,
	})
}
