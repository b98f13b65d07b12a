package pubsub

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// stageEvents makes n change events with consecutive 8-byte replay ids from first, each naming its record.
func stageEvents(t *testing.T, schema *avro.RecordSchema, first, n int) []*eventbusv1.ConsumerEvent {
	t.Helper()
	out := make([]*eventbusv1.ConsumerEvent, n)
	for i := range n {
		id := first + i
		h := header("UPDATE", []string{"0x400080"}, nil)
		h["recordIds"] = []any{fmt.Sprintf("001ZM0000%09d", id)}
		p, err := avro.Marshal(schema, map[string]any{"ChangeEventHeader": h, "Name": fmt.Sprintf("Account %d", id)})
		require.NoError(t, err)
		out[i] = &eventbusv1.ConsumerEvent{ReplayId: binary.BigEndian.AppendUint64(nil, uint64(id)),
			Event: &eventbusv1.ProducerEvent{Id: fmt.Sprintf("evt-%d", id), SchemaId: "schema-1", Payload: p}}
	}
	return out
}

func stageSubscription() *Subscription {
	return &Subscription{c: testClient(), cfg: SubscribeConfig{Topic: "/data/AccountChangeEvent", MaxInFlight: 1 << 20},
		log: stream.NopLogger{}, notify: make(chan struct{}, 1), released: make(chan struct{}, 1)}
}

// TestDecodeStageQueuesInArrivalOrder: responses decoded on several goroutines are queued in the order they
// arrived, each event decoded as by one decoder alone, and every event submitted is counted in flight until it
// is queued.
func TestDecodeStageQueuesInArrivalOrder(t *testing.T) {
	schema := accountSchema(t)
	s := stageSubscription()
	d := newDecodeStage(context.Background(), s, 4)
	schemas := []eventSchema{{id: "schema-1", redacted: "schema-1", schema: schema}}
	next := 1
	for k := range 120 {
		n := 1 + k*37%100 // sizes 1 to 100, mixed, so that the workers finish out of order
		require.NoError(t, d.submit(context.Background(), &decodeJob{events: stageEvents(t, schema, next, n), schemas: schemas}))
		next += n
	}
	assert.True(t, d.close(false), "batches were handed on")

	s.mu.Lock()
	defer s.mu.Unlock()
	assert.Zero(t, s.decoding, "every event left the stage")
	assert.Equal(t, next-1, s.unreleased, "every event is queued")
	want := 1
	for _, b := range s.queue {
		require.NotEmpty(t, b.Events)
		for _, ev := range b.Events {
			require.Equal(t, uint64(want), binary.BigEndian.Uint64(ev.ReplayID), "events queued in arrival order")
			require.NoError(t, ev.DecodeErr)
			js, _, err := DecodeEvent(schema, ev.Payload)
			require.NoError(t, err)
			require.Equal(t, string(js), string(ev.JSON), "event %d", want)
			require.Equal(t, fmt.Sprintf("evt-%d", want), ev.EventID)
			want++
		}
		assert.Equal(t, b.Events[len(b.Events)-1].ReplayID, b.LatestReplayID)
	}
	assert.Equal(t, next, want)
	assert.Equal(t, s.queue[len(s.queue)-1].LatestReplayID, s.position, "the resubscribe position is the last event queued")
}

// TestDecodeStageCountsEventsInFlight: events in the stage count against MaxInFlight (credit) and as in flight (a
// keepalive is not taken) until they are queued.
func TestDecodeStageCountsEventsInFlight(t *testing.T) {
	schema := accountSchema(t)
	s := stageSubscription()
	s.cfg.MaxInFlight, s.window = 100, MaxNumRequested
	d := newDecodeStage(context.Background(), s, 1)
	d.cancel() // the workers decode nothing from here on: the job stays in the stage until close
	require.NoError(t, d.submit(context.Background(), &decodeJob{events: stageEvents(t, schema, 1, 60),
		schemas: []eventSchema{{id: "schema-1", redacted: "schema-1", schema: schema}}}))
	assert.Equal(t, 40, s.credit(0, 0), "60 of 100 are in the stage")
	assert.True(t, s.inFlight())
	assert.False(t, d.close(true), "an aborted stage hands nothing on")
	assert.Zero(t, s.decoding)
	assert.Zero(t, s.unreleased)
	assert.Empty(t, s.queue)
	assert.Nil(t, s.position, "the position stays where it was")
	assert.Equal(t, 100, s.credit(0, 0))
}

// TestDecodeStageKeepalive: a keepalive is taken only after the events before it are queued and released.
func TestDecodeStageKeepalive(t *testing.T) {
	schema := accountSchema(t)
	s := stageSubscription()
	d := newDecodeStage(context.Background(), s, 2)
	require.NoError(t, d.submit(context.Background(), &decodeJob{events: stageEvents(t, schema, 1, 5),
		schemas: []eventSchema{{id: "schema-1", redacted: "schema-1", schema: schema}}}))
	require.NoError(t, d.submit(context.Background(), &decodeJob{latest: []byte("k1"), quiet: time.Hour}))
	d.close(false)
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.queue, 1, "the keepalive behind unreleased events is not taken")
	assert.Len(t, s.queue[0].Events, 5)
}

// TestCreditCountsHeldAgainstMaxInFlightOnly: the events of a response just received count against the caller's
// MaxInFlight, not against the stream's 100 (the server owes them no more), so a full response is answered with
// a new FetchRequest at once, before it is decoded.
func TestCreditCountsHeldAgainstMaxInFlightOnly(t *testing.T) {
	for _, c := range []struct {
		name                      string
		maxInFlight, unreleased   int
		outstanding, held, credit int
	}{
		{"a full response just received", 1024, 0, 0, 100, 100},
		{"the caller's window bounds it", 150, 0, 0, 100, 50},
		{"what is still owed bounds it", 1024, 0, 60, 40, 40},
		{"a full window", 1024, 900, 0, 124, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := stageSubscription()
			s.cfg.MaxInFlight, s.window, s.unreleased = c.maxInFlight, MaxNumRequested, c.unreleased
			assert.Equal(t, c.credit, s.credit(c.outstanding, c.held))
		})
	}
}
