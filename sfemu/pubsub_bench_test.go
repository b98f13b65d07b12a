package sfemu

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
)

// BenchmarkPubSubEncode measures what a Pub/Sub delivery costs the emulator per event: reading the stored
// CometD message and encoding it with its schema.
func BenchmarkPubSubEncode(b *testing.B) {
	s := New(Config{Seed: 1})
	defer s.Close()
	if _, _, err := s.PublishN("/data/AccountChangeEvent", 1000); err != nil {
		b.Fatal(err)
	}
	s.store.Lock()
	evs := append([]eventstore.Event(nil), s.store.LookupLocked("/data/AccountChangeEvent").Retained()...)
	s.store.Unlock()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := evs[i%len(evs)]
		if _, err := s.encodePubSub("/data/AccountChangeEvent", KindCDC, ev.Msg, ev.ID); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPubSubServe measures what serving a Pub/Sub backlog costs the emulator per event, in process: the
// subscription loop taking events from the store, wrapping their kept encodings in responses, and marshalling
// each response as the server does, in wire form from the kept encodings (without the HTTP/2 transport, which the
// drain in `make bench` includes).
func BenchmarkPubSubServe(b *testing.B) {
	const topic, n = "/data/AccountChangeEvent", 20000
	s := New(Config{Seed: 1, PubSubEncodeAtPublish: true})
	defer s.Close()
	if _, _, err := s.PublishN(topic, n); err != nil {
		b.Fatal(err)
	}
	token := s.tokens.Issue()
	s.store.Lock()
	ch := s.store.LookupLocked(topic)
	s.store.Unlock()
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(pubsubHeaderToken, token))
	errDone := errors.New("drained")
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	bytes := 0
	for b.Loop() {
		reqs := make(chan int32, 1)
		got := 0
		st := &eventStream{topic: topic, kind: KindCDC, ch: ch, requested: maxNumRequested,
			recv: func() (fetch, error) {
				num, ok := <-reqs
				if !ok {
					return fetch{}, io.EOF
				}
				return fetch{num: num}, nil
			},
			send: func(d delivery) error {
				// What the server's send does: the response in wire form, from the kept encodings, handed to gRPC's
				// codec, which returns the buffer once written.
				w := encodeFetchResponse(d.events, d.latest, "", d.pending)
				out, err := newPubSubCodec().Marshal(w)
				if err != nil {
					return err
				}
				bytes += out.Len()
				out.Free()
				if got += len(d.events); got >= n {
					return errDone
				}
				if d.pending == 0 {
					reqs <- maxNumRequested
				}
				return nil
			},
			setTrailer: func(metadata.MD) {},
		}
		if err := s.serveStream(ctx, st); !errors.Is(err, errDone) {
			b.Fatal(err)
		}
		close(reqs)
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/event")
	b.ReportMetric(float64(bytes)/float64(b.N*n), "bytes/event")
}

// BenchmarkPubSubServeLoopback drains the same backlog over loopback gRPC with a client that only asks for more
// (100 at a time, as the input does) and lets gRPC unmarshal the responses: what the HTTP/2 transport adds to
// serving. The process CPU (server and client) per event is reported as cpu-ns/event; a CPU profile
// (-cpuprofile) tells the two apart.
func BenchmarkPubSubServeLoopback(b *testing.B) {
	const topic, n = "/data/AccountChangeEvent", 20000
	s := New(Config{Seed: 1, PubSubEncodeAtPublish: true})
	defer s.Close()
	if _, _, err := s.PublishN(topic, n); err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	g := s.NewPubSubServer()
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := eventbusv1.NewPubSubClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), pubsubHeaderToken, s.tokens.Issue(), pubsubHeaderTenant, DefaultOrgID)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		sctx, cancel := context.WithCancel(ctx)
		stream, err := client.Subscribe(sctx)
		if err != nil {
			b.Fatal(err)
		}
		req := &eventbusv1.FetchRequest{TopicName: topic, ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: maxNumRequested}
		if err := stream.Send(req); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < n; {
			resp, err := stream.Recv()
			if err != nil {
				b.Fatal(err)
			}
			got += len(resp.GetEvents())
			if resp.GetPendingNumRequested() == 0 && got < n {
				if err := stream.Send(&eventbusv1.FetchRequest{NumRequested: maxNumRequested}); err != nil {
					b.Fatal(err)
				}
			}
		}
		cancel()
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/event")
}
