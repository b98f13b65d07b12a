package e2e

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestDestinationKafka runs the destination scenario against kfake, an
// in-process Kafka broker on loopback that keeps its log in the test's temp
// dir, so that a stop and start is a broker restart with its data.
func TestDestinationKafka(t *testing.T) {
	runDestination(t, func(t *testing.T, e *env) destination {
		return newKafkaDest(t, e.path("kafka-data"), 3, "salesforce.events")
	})
}

// kafkaDest is a one-broker kfake cluster; the output writes to its first
// topic.
type kafkaDest struct {
	addr       string
	port       int
	dataDir    string
	topic      string
	topics     []string // all topics, created with the cluster
	partitions int32
	cluster    *kfake.Cluster
}

func newKafkaDest(t *testing.T, dataDir string, partitions int32, topics ...string) *kafkaDest {
	t.Helper()
	addr, err := harness.FreeAddr()
	require.NoError(t, err)
	_, portText, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	port, err := strconv.Atoi(portText)
	require.NoError(t, err)
	require.NotEmpty(t, topics)
	d := &kafkaDest{addr: addr, port: port, dataDir: dataDir, topic: topics[0], topics: topics, partitions: partitions}
	d.start(t)
	t.Cleanup(func() {
		if d.cluster != nil {
			d.cluster.Close()
		}
	})
	return d
}

// output writes each Record line as a record value to the topic, keyed by
// channel (one channel, one partition: per-channel order as Kafka keeps it),
// with the salesforce_* metadata as headers.
func (d *kafkaDest) output(*testing.T) map[string]any {
	return map[string]any{"kafka_franz": map[string]any{
		"seed_brokers":  []string{d.addr},
		"topic":         d.topic,
		"key":           "${! @salesforce_channel }",
		"metadata":      map[string]any{"include_prefixes": []string{"salesforce_"}},
		"max_in_flight": 4,
		"batching":      map[string]any{"count": 50, "period": "50ms"},
	}}
}

func (d *kafkaDest) records(t *testing.T) []harness.Record {
	t.Helper()
	var out []harness.Record
	for _, r := range readTopic(t, d.addr, d.topic, d.partitions) {
		var rec harness.Record
		require.NoError(t, json.Unmarshal(r.Value, &rec), "record value %q", r.Value)
		out = append(out, rec)
	}
	return out
}

func (d *kafkaDest) stop(t *testing.T) {
	t.Helper()
	require.NotNil(t, d.cluster, "stopping a stopped broker")
	d.cluster.Close() // persists the log to dataDir
	d.cluster = nil
}

func (d *kafkaDest) start(t *testing.T) {
	t.Helper()
	require.Nil(t, d.cluster, "starting a running broker")
	opts := []kfake.Opt{
		kfake.Ports(d.port),
		kfake.DataDir(d.dataDir),
		kfake.SyncWrites(),
		kfake.SeedTopics(d.partitions, d.topics...), // only when dataDir holds no cluster yet
	}
	var err error
	// The port was free a moment ago; after a stop the old listener may
	// linger briefly, so retry a few times.
	for range 20 {
		d.cluster, err = kfake.NewCluster(opts...)
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, "starting kfake on port %d with its data in %s", d.port, filepath.Base(d.dataDir))
}

// readTopic reads every record of a topic, from the start of each partition
// to its end offset at the time of the call, with a client of its own.
func readTopic(t *testing.T, addr, topic string, partitions int32) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	defer admin.Close()
	ends := endOffsets(ctx, t, admin, topic, partitions)

	start := map[int32]kgo.Offset{}
	total := int64(0)
	for p, end := range ends {
		start[p] = kgo.NewOffset().AtStart()
		total += end
	}
	if total == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchMaxWait(200*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	var out []*kgo.Record
	next := map[int32]int64{}
	for !caughtUp(next, ends) {
		fetches := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "reading %s: %d of %d records", topic, len(out), total)
		fetches.EachError(func(_ string, p int32, err error) {
			require.NoError(t, err, "fetching %s/%d", topic, p)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] {
				out = append(out, r)
			}
			next[r.Partition] = r.Offset + 1
		})
	}
	return out
}

func caughtUp(next, ends map[int32]int64) bool {
	for p, end := range ends {
		if next[p] < end {
			return false
		}
	}
	return true
}

// endOffsets lists the end offset (high watermark) of each partition.
func endOffsets(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = -1 // the end
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err, "listing end offsets of %s", topic)
	ends := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			require.NoError(t, kerr.ErrorForCode(rp.ErrorCode), "end offset of %s/%d", topic, rp.Partition)
			ends[rp.Partition] = rp.Offset
		}
	}
	require.Len(t, ends, int(partitions), "end offsets of %s", topic)
	return ends
}
