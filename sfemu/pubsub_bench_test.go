package sfemu

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
)

// fetchSize is what each FetchRequest asks for: Salesforce's maximum num_requested, as the input asks.
const fetchSize = 100

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
	ctx := metadata.AppendToOutgoingContext(context.Background(), "accesstoken", s.tokens.Issue(), "tenantid", DefaultOrgID)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		sctx, cancel := context.WithCancel(ctx)
		stream, err := client.Subscribe(sctx)
		if err != nil {
			b.Fatal(err)
		}
		req := &eventbusv1.FetchRequest{TopicName: topic, ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: fetchSize}
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
				if err := stream.Send(&eventbusv1.FetchRequest{NumRequested: fetchSize}); err != nil {
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
