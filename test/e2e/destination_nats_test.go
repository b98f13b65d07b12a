package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestDestinationNATS runs the destination scenario against a real
// nats-server with JetStream; the outage is a graceful stop and a restart on
// the same address and store directory.
func TestDestinationNATS(t *testing.T) {
	runDestination(t, func(t *testing.T, e *env) destination {
		return newNATSDest(t, e)
	})
}

const (
	natsDestStream  = "SALESFORCE"
	natsDestSubject = "salesforce.events"
)

// natsDest is a nats-server with one stream capturing salesforce.>.
type natsDest struct {
	e   *env
	srv *harness.NATS
}

func newNATSDest(t *testing.T, e *env) *natsDest {
	t.Helper()
	srv, err := harness.StartNATS(e.ctx, e.path("nats"))
	if errors.Is(err, harness.ErrNATSNotInstalled) {
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	d := &natsDest{e: e, srv: srv}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nats-server at %s:\n%s", d.srv.Addr, d.srv.Proc.Tail(20))
		}
		_ = d.srv.Close()
	})
	d.withStream(t, func(ctx context.Context, js jetstream.JetStream) {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: natsDestStream, Subjects: []string{"salesforce.>"}})
		require.NoError(t, err)
	})
	return d
}

// output publishes each Record line to one subject, with the salesforce_*
// metadata as headers. No Nats-Msg-Id: the scenario counts the duplicates a
// restart causes, which a duplicate window would hide.
func (d *natsDest) output(*testing.T) map[string]any {
	return map[string]any{"nats_jetstream": map[string]any{
		"urls":          []string{d.srv.URL},
		"subject":       natsDestSubject,
		"metadata":      map[string]any{"include_prefixes": []string{"salesforce_"}},
		"max_in_flight": 4,
		"batching":      map[string]any{"count": 50, "period": "50ms"},
	}}
}

func (d *natsDest) withStream(t *testing.T, fn func(ctx context.Context, js jetstream.JetStream)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(d.e.ctx, 20*time.Second)
	defer cancel()
	nc, err := nats.Connect(d.srv.URL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	fn(ctx, js)
}

// records reads the stream from its first message to its last with an
// ordered consumer.
func (d *natsDest) records(t *testing.T) []harness.Record {
	t.Helper()
	var out []harness.Record
	d.withStream(t, func(ctx context.Context, js jetstream.JetStream) {
		s, err := js.Stream(ctx, natsDestStream)
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		total := int(info.State.Msgs)
		if total == 0 {
			return
		}
		cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		require.NoError(t, err)
		for len(out) < total {
			batch, err := cons.Fetch(min(total-len(out), 500), jetstream.FetchMaxWait(2*time.Second))
			require.NoError(t, err)
			n := 0
			for m := range batch.Messages() {
				var r harness.Record
				require.NoError(t, json.Unmarshal(m.Data(), &r), "message %q", m.Data())
				out = append(out, r)
				n++
			}
			require.NoError(t, batch.Error())
			require.NotZero(t, n, "reading %s: %d of %d messages, then nothing", natsDestStream, len(out), total)
		}
	})
	return out
}

func (d *natsDest) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, d.srv.Close())
}

func (d *natsDest) start(t *testing.T) {
	t.Helper()
	srv, err := harness.StartNATSAt(d.e.ctx, d.e.path("nats"), d.srv.Addr)
	require.NoError(t, err)
	d.srv = srv
}
