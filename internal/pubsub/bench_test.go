package pubsub

import (
	"encoding/json"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// BenchmarkDecodePayload decodes the documented enriched account update (decode_test.go) to CometD-shaped JSON.
func BenchmarkDecodePayload(b *testing.B) {
	t := &testing.T{}
	schema := accountSchema(t)
	payload, err := avro.Marshal(schema, map[string]any{
		"ChangeEventHeader": header("UPDATE", []string{"0x400080"}, nil),
		"BillingAddress": map[string]any{"com.sforce.eventbus.Address": map[string]any{
			"Street": "415 Mission Street", "City": "San Francisco", "State": "CA", "PostalCode": "94105", "Country": "United States"}},
		"Fax": "4155551212", "Industry": "Biotechnology", "LastModifiedDate": int64(1714172795000), "External_Account_ID__c": "1ABC",
	})
	require.NoError(b, err)
	b.Run("one-off", func(b *testing.B) { // DecodePayload: a fresh decoder each time
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodePayload(schema, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("subscription", func(b *testing.B) { // one decoder for every event, as a Subscription decodes
		dec := newEventDecoder()
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := dec.decode(schema, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSubscribeBacklog drains a retained backlog from the emulator over loopback gRPC, releasing every
// batch as it arrives: the stream's round trips, the server's encoding and the client's decoding together, per
// event. Each iteration is a new subscription from the earliest event.
func BenchmarkSubscribeBacklog(b *testing.B) {
	const topic, events = "/data/AccountChangeEvent", 20000
	env := startEnv(b, sfemu.Config{Preload: []sfemu.ChannelCount{{Channel: topic, Count: events}}, PubSubEncodeAtPublish: true}, false)
	ctx := testCtx(b)
	b.ResetTimer()
	for b.Loop() {
		sub, err := env.client.Subscribe(ctx, SubscribeConfig{Topic: topic, Preset: ReplayEarliest, MaxInFlight: 1024})
		require.NoError(b, err)
		for n := 0; n < events; {
			batch, err := sub.Next(ctx)
			require.NoError(b, err)
			n += len(batch.Events)
			sub.Release(len(batch.Events))
		}
		require.NoError(b, sub.Close())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}

// FuzzDecodeBitmapFields: no bitmap text makes the decoder panic; it either names fields or says why not.
func FuzzDecodeBitmapFields(f *testing.F) {
	for _, seed := range []string{"0x400080", "4-0x10", "0x650004E0", "7-0x06", "", "-", "0x", "4-", "99-0x1", "0xFFFFFFFFFFFF"} {
		f.Add(seed)
	}
	schema := accountSchema(&testing.T{})
	f.Fuzz(func(t *testing.T, bm string) {
		names, err := decodeBitmapFields(schema, []string{bm})
		if err == nil {
			for _, n := range names {
				if n == "" {
					t.Fatalf("empty field name for %q", bm)
				}
			}
		}
	})
}

// FuzzDecodePayload: no payload makes the decoder panic, loop or return invalid JSON.
func FuzzDecodePayload(f *testing.F) {
	schema := accountSchema(&testing.T{})
	payload, err := avro.Marshal(schema, map[string]any{"ChangeEventHeader": header("UPDATE", []string{"0x400080", "4-0x3"}, nil), "Fax": "1"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(payload)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		out, err := DecodePayload(schema, p)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON %q", out)
		}
	})
}
