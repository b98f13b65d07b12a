package pubsubapi

import (
	"context"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/clock"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/limits"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/tokens"
)

// BenchmarkPubSubEncode measures what a Pub/Sub delivery costs the emulator per event: reading the stored
// CometD message and encoding it with its schema.
func BenchmarkPubSubEncode(b *testing.B) {
	s, _ := benchHandler(b, false)
	if _, _, err := s.deps.Store.PublishN("/data/AccountChangeEvent", 1000); err != nil {
		b.Fatal(err)
	}
	s.deps.Store.Lock()
	evs := append([]eventstore.Event(nil), s.deps.Store.LookupLocked("/data/AccountChangeEvent").Retained()...)
	s.deps.Store.Unlock()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := evs[i%len(evs)]
		if _, err := s.encodePubSub("/data/AccountChangeEvent", eventstore.KindCDC, ev.Msg, ev.ID); err != nil {
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
	s, token := benchHandler(b, true)
	if _, _, err := s.deps.Store.PublishN(topic, n); err != nil {
		b.Fatal(err)
	}
	s.deps.Store.Lock()
	ch := s.deps.Store.LookupLocked(topic)
	s.deps.Store.Unlock()
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(pubsubHeaderToken, token))
	errDone := errors.New("drained")
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	bytes := 0
	for b.Loop() {
		reqs := make(chan int32, 1)
		got := 0
		st := &eventStream{topic: topic, kind: eventstore.KindCDC, ch: ch, requested: maxNumRequested,
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

// wallClock is the wall clock (package sfemu's RealClock, which this package cannot import).
type wallClock struct{}

func (wallClock) Now() time.Time                       { return time.Now() }
func (wallClock) NewTimer(d time.Duration) clock.Timer { return wallTimer{time.NewTimer(d)} }

type wallTimer struct{ t *time.Timer }

func (w wallTimer) C() <-chan time.Time { return w.t.C }
func (w wallTimer) Stop() bool          { return w.t.Stop() }

// benchHandler is the Pub/Sub surface on an event store of its own, as the emulator builds them (default
// retention, seed 1), and an access token it accepts; atPublish: events are encoded for Pub/Sub when published.
func benchHandler(tb testing.TB, atPublish bool) (*Handler, string) {
	tb.Helper()
	clk := wallClock{}
	store := eventstore.New(eventstore.Config{Clock: clk, TopicRetention: 24 * time.Hour, GenericRetention: 24 * time.Hour,
		PlatformEventRetention: 72 * time.Hour, CDCRetention: 72 * time.Hour, MaxReplayGap: 3, UserID: "0055e000001SfEmUAA",
		APIVersion: "66.0", Seed: 1}, eventstore.Hooks{})
	tok := tokens.New("00D5e000000SfEmUAQ", 1)
	f := faults.New()
	closed := make(chan struct{})
	tb.Cleanup(func() { close(closed) })
	s := New(Config{OrgID: "00D5e000000SfEmUAQ", Seed: 1}, Deps{Store: store, Tokens: tok, Faults: f,
		Limits: limits.New(limits.Config{}, clk, f), Clock: clk, Closed: closed, Logf: func(string, ...any) {},
		ChannelDefined: func(string) bool { return true }})
	if atPublish {
		store.SetEncoder(s.Encode)
	}
	return s, tok.Issue()
}
