package e2e

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// runEventsToKafka: config/platform_events_to_kafka.yaml against an
// in-process broker: each platform event becomes one record on the topic
// named for its event, keyed by its EventUuid, with the Salesforce metadata
// as headers.
func runEventsToKafka(t *testing.T, s *shippedRun) {
	e := s.e
	topics := map[string]string{"/event/Order__e": "salesforce.order", "/event/Shipment__e": "salesforce.shipment"}
	broker := newKafkaDest(t, e.path("kafka-data"), 1, topics["/event/Order__e"], topics["/event/Shipment__e"])

	proc := s.start("shipped-kafka", "KAFKA_BROKERS="+broker.addr)
	// replay_preset: latest, so publish once both channels are subscribed.
	for ch := range topics {
		e.stateWait(ch+" subscribed", func(st harness.State) bool { return st.Subscribed(ch) })
	}

	ledger := harness.NewLedger()
	const perChannel = 50
	for ch := range topics {
		ids, err := e.emu.PublishIDs(e.ctx, ch, perChannel, 1)
		require.NoError(t, err)
		ledger.Add(ch, ids...)
	}
	want := ledger.Published()

	// Read each topic until it holds every event of its channel.
	type value struct {
		EventUuid string
		ReplayId  int64
	}
	var recs []harness.Record
	waitDestination(t, e, recordsFunc(func(t *testing.T) []harness.Record {
		recs = recs[:0]
		for ch, topic := range topics {
			for _, r := range readTopic(t, broker.addr, topic, 1) {
				var v value
				require.NoError(t, json.Unmarshal(r.Value, &v), "record value %s", r.Value)
				headers := map[string]string{}
				for _, h := range r.Headers {
					headers[h.Key] = string(h.Value)
				}
				assert.Equal(t, ch, headers["salesforce_channel"], "the channel header of a record on %s", topic)
				assert.Equal(t, fmt.Sprint(v.ReplayId), headers["salesforce_replay_id"], "the replay id header")
				assert.NotEmpty(t, v.EventUuid, "the value carries the EventUuid")
				assert.Equal(t, v.EventUuid, string(r.Key), "the record is keyed by its EventUuid")
				recs = append(recs, harness.Record{Channel: ch, ReplayID: v.ReplayId})
			}
		}
		return recs
	}), "every event on its topic", func(got []harness.Record) bool {
		return harness.Check(want, got).Complete()
	}, proc)
	e.stop(proc)
	report := harness.Check(want, recs)
	t.Logf("%d records on %d topics; %s", len(recs), len(topics), report)
	assert.True(t, report.OK(), "%s", report)
	assert.Empty(t, report.Duplicates, "one record per event: %s", report)
}

// recordsFunc is a destination that is only read.
type recordsFunc func(t *testing.T) []harness.Record

func (f recordsFunc) output(*testing.T) map[string]any      { return nil }
func (f recordsFunc) records(t *testing.T) []harness.Record { return f(t) }
func (f recordsFunc) stop(t *testing.T)                     { t.Fatal("recordsFunc cannot stop") }
func (f recordsFunc) start(t *testing.T)                    { t.Fatal("recordsFunc cannot start") }
