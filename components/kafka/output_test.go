package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure" // the stream's defaults (tracer none, ...)
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

const testTopic = "events"

// newCluster starts an in-process broker on loopback with a 3-partition
// topic.
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, testTopic)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// newOutput parses a kafka_franz section and connects it.
func newOutput(t *testing.T, yaml string) (*output, error) {
	t.Helper()
	return newOutputWithin(t, yaml, 10*time.Second)
}

// newOutputWithin is newOutput with a bound on connecting.
func newOutputWithin(t *testing.T, yaml string, connectWithin time.Duration) (*output, error) {
	t.Helper()
	parsed, err := spec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	c, err := parseConfig(parsed)
	if err != nil {
		return nil, err
	}
	o := &output{conf: c, log: service.MockResources().Logger()}
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), connectWithin)
	defer cancel()
	return o, o.Connect(ctx)
}

func brokerYAML(c *kfake.Cluster, extra string) string {
	return fmt.Sprintf("seed_brokers: [ %q ]\ntopic: %s\n%s", c.ListenAddrs()[0], testTopic, extra)
}

// message returns a message with content and metadata.
func message(content string, meta map[string]string) *service.Message {
	m := service.NewMessage([]byte(content))
	for k, v := range meta {
		m.MetaSetMut(k, v)
	}
	return m
}

func write(t *testing.T, o *output, batch service.MessageBatch) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return o.WriteBatch(ctx, batch)
}

// consume reads n records of topic from the start.
func consume(t *testing.T, c *kfake.Cluster, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fetches := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed %d of %d records", len(out), n)
		out = append(out, fetches.Records()...)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].Value) < string(out[j].Value) })
	return out
}

func TestWritesRecordsWithKeyAndHeaders(t *testing.T) {
	c := newCluster(t)
	o, err := newOutput(t, brokerYAML(c, `
key: ${! @salesforce_event_uuid }
metadata:
  include_patterns: [ "^salesforce_" ]
`))
	require.NoError(t, err)
	require.NoError(t, write(t, o, service.MessageBatch{
		message(`{"n":1}`, map[string]string{"salesforce_event_uuid": "u-1", "salesforce_channel": "/event/A__e", "other": "x"}),
		message(`{"n":2}`, map[string]string{"salesforce_event_uuid": "u-2", "salesforce_channel": "/event/A__e"}),
	}))

	recs := consume(t, c, testTopic, 2)
	require.Len(t, recs, 2)
	for i, r := range recs {
		assert.Equal(t, fmt.Sprintf(`{"n":%d}`, i+1), string(r.Value))
		assert.Equal(t, fmt.Sprintf("u-%d", i+1), string(r.Key))
		headers := map[string]string{}
		for _, h := range r.Headers {
			headers[h.Key] = string(h.Value)
		}
		assert.Equal(t, map[string]string{"salesforce_event_uuid": fmt.Sprintf("u-%d", i+1), "salesforce_channel": "/event/A__e"}, headers,
			"only metadata matching include_patterns becomes headers")
	}
}

func TestTopicIsInterpolated(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "salesforce.order", "salesforce.shipment"))
	o, err := newOutput(t, fmt.Sprintf("seed_brokers: [ %q ]\ntopic: 'salesforce.${! @event }'\n", c.ListenAddrs()[0]))
	require.NoError(t, err)
	require.NoError(t, write(t, o, service.MessageBatch{
		message("o1", map[string]string{"event": "order"}),
		message("s1", map[string]string{"event": "shipment"}),
		message("o2", map[string]string{"event": "order"}),
	}))
	assert.Equal(t, []string{"o1", "o2"}, values(consume(t, c, "salesforce.order", 2)))
	assert.Equal(t, []string{"s1"}, values(consume(t, c, "salesforce.shipment", 1)))
}

func values(recs []*kgo.Record) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, string(r.Value))
	}
	return out
}

func TestPartitioners(t *testing.T) {
	const n = 12
	tests := []struct {
		name  string
		extra string
		check func(t *testing.T, byValue map[string]int32)
	}{
		{
			name:  "murmur2_hash by default: one key, one partition",
			extra: "key: ${! @k }\n",
			check: func(t *testing.T, byValue map[string]int32) {
				perKey := map[string]map[int32]bool{}
				for v, p := range byValue {
					k := keyOf(v)
					if perKey[k] == nil {
						perKey[k] = map[int32]bool{}
					}
					perKey[k][p] = true
				}
				for k, parts := range perKey {
					assert.Len(t, parts, 1, "key %s spread over partitions %v", k, parts)
				}
			},
		},
		{
			name:  "round_robin: every partition in turn, keys ignored",
			extra: "key: same\npartitioner: round_robin\n",
			check: func(t *testing.T, byValue map[string]int32) {
				count := map[int32]int{}
				for _, p := range byValue {
					count[p]++
				}
				assert.Equal(t, map[int32]int{0: n / 3, 1: n / 3, 2: n / 3}, count)
			},
		},
		{
			name:  "manual: the partition field decides",
			extra: "partitioner: manual\npartition: ${! @p }\n",
			check: func(t *testing.T, byValue map[string]int32) {
				for v, p := range byValue {
					assert.Equal(t, partOf(v), p, "record %s", v)
				}
			},
		},
		{
			name:  "least_backup: every record written",
			extra: "partitioner: least_backup\n",
			check: func(t *testing.T, byValue map[string]int32) {
				assert.Len(t, byValue, n)
			},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			c := newCluster(t)
			o, err := newOutput(t, brokerYAML(c, test.extra))
			require.NoError(t, err)
			var batch service.MessageBatch
			for i := range n {
				v := fmt.Sprintf("v%02d-k%d-p%d", i, i%4, i%3)
				batch = append(batch, message(v, map[string]string{"k": fmt.Sprintf("key-%d", i%4), "p": fmt.Sprint(i % 3)}))
			}
			require.NoError(t, write(t, o, batch))
			byValue := map[string]int32{}
			for _, r := range consume(t, c, testTopic, n) {
				byValue[string(r.Value)] = r.Partition
			}
			require.Len(t, byValue, n)
			test.check(t, byValue)
		})
	}
}

func keyOf(v string) string { return strings.Split(v, "-")[1] }

func partOf(v string) int32 {
	var p int32
	_, _ = fmt.Sscanf(strings.Split(v, "-")[2], "p%d", &p)
	return p
}

// TestFailedRecordsAreNamed: a batch where one message cannot be written
// (its topic does not exist and is not created) fails with a BatchError
// naming exactly that message; the others are in Kafka.
func TestFailedRecordsAreNamed(t *testing.T) {
	c := newCluster(t)
	o, err := newOutput(t, fmt.Sprintf("seed_brokers: [ %q ]\ntopic: ${! @topic }\ntimeout: 1s\n", c.ListenAddrs()[0]))
	require.NoError(t, err)
	batch := service.MessageBatch{
		message("a", map[string]string{"topic": testTopic}),
		message("b", map[string]string{"topic": "missing"}),
		message("c", map[string]string{"topic": testTopic}),
		message("d", map[string]string{"topic": ""}), // no topic at all
	}
	idx := batch.Index() // before the write: it tags the messages the error names
	err = write(t, o, batch)
	var batchErr *service.BatchError
	require.ErrorAs(t, err, &batchErr)
	var failed []int
	batchErr.WalkMessagesIndexedBy(idx, func(i int, _ *service.Message, err error) bool {
		if err != nil {
			failed = append(failed, i)
		}
		return true
	})
	assert.Equal(t, []int{1, 3}, failed)
	assert.Equal(t, []string{"a", "c"}, values(consume(t, c, testTopic, 2)))
}

// TestWriteWaitsForTheBroker: while the broker holds back its produce
// answer, WriteBatch does not return; an error answer is a failed write.
func TestWriteWaitsForTheBroker(t *testing.T) {
	c := newCluster(t)
	o, err := newOutput(t, brokerYAML(c, "idempotent_write: false\n"))
	require.NoError(t, err)
	release := make(chan struct{})
	var once sync.Once
	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		once.Do(func() { <-release })
		return nil, nil, false
	})
	done := make(chan error, 1)
	go func() { done <- write(t, o, service.MessageBatch{message("held", nil)}) }()
	select {
	case err := <-done:
		t.Fatalf("WriteBatch returned (%v) before the broker answered", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-done)

	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = 87 // INVALID_RECORD: not retriable
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	err = write(t, o, service.MessageBatch{message("rejected", nil)})
	var batchErr *service.BatchError
	require.ErrorAs(t, err, &batchErr)
	assert.Equal(t, 1, batchErr.IndexedErrors())
}

// produceBatches records the first record batch header of each produce
// request the broker receives.
func produceBatches(c *kfake.Cluster) func() []kmsg.RecordBatch {
	var mu sync.Mutex
	var seen []kmsg.RecordBatch
	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, rt := range req.(*kmsg.ProduceRequest).Topics {
			for _, rp := range rt.Partitions {
				var rb kmsg.RecordBatch
				if rb.ReadFrom(rp.Records) == nil {
					mu.Lock()
					seen = append(seen, rb)
					mu.Unlock()
				}
			}
		}
		return nil, nil, false
	})
	return func() []kmsg.RecordBatch {
		mu.Lock()
		defer mu.Unlock()
		return append([]kmsg.RecordBatch(nil), seen...)
	}
}

func TestProducerSettingsReachTheBroker(t *testing.T) {
	tests := []struct {
		extra      string
		codec      int16 // low 3 bits of the batch attributes
		idempotent bool
	}{
		{extra: "", codec: -1, idempotent: true},
		{extra: "idempotent_write: false\n", codec: -1, idempotent: false},
		{extra: "compression: none\n", codec: 0, idempotent: true},
		{extra: "compression: gzip\n", codec: 1, idempotent: true},
		{extra: "compression: snappy\n", codec: 2, idempotent: true},
		{extra: "compression: lz4\n", codec: 3, idempotent: true},
		{extra: "compression: zstd\n", codec: 4, idempotent: true},
	}
	for _, test := range tests {
		t.Run(strings.TrimSpace(test.extra), func(t *testing.T) {
			c := newCluster(t)
			seen := produceBatches(c)
			o, err := newOutput(t, brokerYAML(c, "key: k\n"+test.extra))
			require.NoError(t, err)
			require.NoError(t, write(t, o, service.MessageBatch{message(strings.Repeat("compress me ", 50), nil)}))
			batches := seen()
			require.NotEmpty(t, batches)
			rb := batches[0]
			assert.Equal(t, test.idempotent, rb.ProducerID >= 0, "producer id %d", rb.ProducerID)
			if test.codec >= 0 {
				assert.Equal(t, test.codec, rb.Attributes&0x07, "compression codec")
			}
		})
	}
}

func TestSASL(t *testing.T) {
	const secret = "s3cret-Passw0rd"
	tests := []struct {
		mechanism string
		password  string
		ok        bool
	}{
		{mechanism: "PLAIN", password: secret, ok: true},
		{mechanism: "SCRAM-SHA-256", password: secret, ok: true},
		{mechanism: "SCRAM-SHA-512", password: secret, ok: true},
		{mechanism: "SCRAM-SHA-256", password: "wrong-" + secret, ok: false},
	}
	for _, test := range tests {
		t.Run(fmt.Sprintf("%s ok=%v", test.mechanism, test.ok), func(t *testing.T) {
			c := newCluster(t, kfake.EnableSASL(), kfake.Superuser(test.mechanism, "sf", secret))
			o, err := newOutput(t, brokerYAML(c, fmt.Sprintf(`
sasl:
  - mechanism: %s
    username: sf
    password: %s
`, test.mechanism, test.password)))
			if !test.ok {
				require.Error(t, err)
				assert.NotContains(t, err.Error(), secret, "the error holds no password")
				return
			}
			require.NoError(t, err)
			require.NoError(t, write(t, o, service.MessageBatch{message("authenticated", nil)}))
			assert.Equal(t, []string{"authenticated"}, values(consume(t, c, testTopic, 1, kgo.SASL(mechanism(test.mechanism, "sf", secret)))))
		})
	}
}

// mechanism is the consumer's side of a SASL mechanism (the broker picks the
// first it supports, so the test client offers one).
func mechanism(name, user, pass string) sasl.Mechanism {
	switch name {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	}
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

func TestPasswordIsASecret(t *testing.T) {
	var field bool
	for _, line := range strings.Split(string(mustJSON(t)), "\n") {
		field = field || strings.Contains(line, `"is_secret":true`)
	}
	assert.True(t, field, "sasl password is marked secret (scrubbed from `benthos echo` and config dumps)")
}

func mustJSON(t *testing.T) []byte {
	t.Helper()
	var buf []byte
	env := service.NewEmptyEnvironment()
	require.NoError(t, env.RegisterBatchOutput("kafka_franz", spec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			return nil, service.BatchPolicy{}, 1, errors.New("unused")
		}))
	env.WalkOutputs(func(name string, cfg *service.ConfigView) {
		b, err := cfg.FormatJSON()
		require.NoError(t, err)
		buf = b
	})
	return []byte(strings.ReplaceAll(string(buf), `"is_secret": true`, `"is_secret":true`))
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"a field Connect does not have is a lint error", "seed_brokers: [ x ]\ntopic: t\nrack: a\n", "rack"},
		{"manual needs a partition", "seed_brokers: [ x ]\ntopic: t\npartitioner: manual\n", "partition"},
		{"a partition needs manual", "seed_brokers: [ x ]\ntopic: t\npartition: '1'\n", "partition"},
		{"unknown partitioner", "seed_brokers: [ x ]\ntopic: t\npartitioner: sticky\n", "sticky"},
		{"unknown compression", "seed_brokers: [ x ]\ntopic: t\ncompression: brotli\n", "brotli"},
		{"unknown sasl mechanism", "seed_brokers: [ x ]\ntopic: t\nsasl: [ { mechanism: GSSAPI } ]\n", "GSSAPI"},
		{"AWS IAM cannot apply", "seed_brokers: [ x ]\ntopic: t\nsasl: [ { mechanism: AWS_MSK_IAM } ]\n", "field sasl: mechanism AWS_MSK_IAM is not supported: AWS IAM signing"},
		{"Redpanda Cloud accounts cannot apply", "seed_brokers: [ x ]\ntopic: t\nsasl: [ { mechanism: REDPANDA_CLOUD_SERVICE_ACCOUNT } ]\n", "field sasl: mechanism REDPANDA_CLOUD_SERVICE_ACCOUNT is not supported: it authenticates"},
		{"sasl aws block cannot apply", "seed_brokers: [ x ]\ntopic: t\nsasl: [ { mechanism: PLAIN, aws: { region: eu-west-1 } } ]\n", "field sasl[].aws"},
		{"timestamp and timestamp_ms", "seed_brokers: [ x ]\ntopic: t\ntimestamp: '1'\ntimestamp_ms: '1000'\n", "timestamp_ms"},
		{"idempotent needs acks all", "seed_brokers: [ x ]\ntopic: t\nacks: leader\n", "field acks"},
		{"idempotent needs one request in flight", "seed_brokers: [ x ]\ntopic: t\nmax_in_flight_requests: 5\n", "field max_in_flight_requests"},
		{"unknown acks", "seed_brokers: [ x ]\ntopic: t\nacks: most\n", "most"},
		{"write bound below the batch bound", "seed_brokers: [ x ]\ntopic: t\nbroker_write_max_bytes: 512KiB\n", "broker_write_max_bytes"},
		{"bad max_buffered_bytes", "seed_brokers: [ x ]\ntopic: t\nmax_buffered_bytes: heaps\n", "max_buffered_bytes"},
		{"bad max_message_bytes", "seed_brokers: [ x ]\ntopic: t\nmax_message_bytes: lots\n", "max_message_bytes"},
		{"no brokers", "seed_brokers: [ '' ]\ntopic: t\n", "seed_brokers"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			// Lint first, as `benthos lint` and config loading do; then
			// what only the constructor can check.
			err := service.NewStreamBuilder().AddOutputYAML("kafka_franz:\n" + indent(test.yaml))
			if err == nil {
				parsed, perr := spec().ParseYAML(test.yaml, nil)
				require.NoError(t, perr)
				_, err = parseConfig(parsed)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), test.want)
		})
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestStreamAcksAfterWrite runs the output inside a Benthos stream: the
// producer's call returns nil only once the record is in Kafka.
func TestStreamAcksAfterWrite(t *testing.T) {
	c := newCluster(t)
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: off"))
	produce, err := b.AddProducerFunc()
	require.NoError(t, err)
	require.NoError(t, b.AddOutputYAML("kafka_franz:\n"+indent(brokerYAML(c, "max_in_flight: 2\n"))))
	stream, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- stream.Run(ctx) }()
	for i := range 5 {
		require.NoError(t, produce(ctx, message(fmt.Sprintf("m%d", i), nil)))
		assert.Len(t, consume(t, c, testTopic, i+1), i+1, "acknowledged message %d is in Kafka", i)
	}
	require.NoError(t, stream.Stop(ctx))
	<-runErr
}

// TestTLS: a broker that speaks only TLS is reached with `tls` and the
// certificate's CA, and not without them.
func TestTLS(t *testing.T) {
	files, err := harness.WriteSelfSignedCert(t.TempDir())
	require.NoError(t, err)
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	require.NoError(t, err)
	c := newCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))

	_, err = newOutputWithin(t, brokerYAML(c, "timeout: 1s\n"), 3*time.Second)
	require.Error(t, err, "plain text to a TLS broker")

	o, err := newOutput(t, brokerYAML(c, fmt.Sprintf("tls:\n  enabled: true\n  root_cas_file: %s\n", files.CertFile)))
	require.NoError(t, err)
	require.NoError(t, write(t, o, service.MessageBatch{message("over tls", nil)}))
	pem, err := os.ReadFile(files.CertFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	assert.Equal(t, []string{"over tls"}, values(consume(t, c, testTopic, 1, kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))))
}

// Connect's default max_message_bytes is 1MiB: a record of 1,020,000 bytes
// (over 1MB, under 1MiB and kfake's message.max.bytes) is written with the
// defaults.
func TestRecordOf1020000BytesWithDefaults(t *testing.T) {
	c := newCluster(t)
	o, err := newOutput(t, brokerYAML(c, "compression: none\n"))
	require.NoError(t, err)
	big := strings.Repeat("x", 1_020_000)
	require.NoError(t, write(t, o, service.MessageBatch{message(big, nil)}))
	recs := consume(t, c, testTopic, 1)
	require.Len(t, recs, 1)
	assert.Len(t, recs[0].Value, 1_020_000)

	// The former default, 1MB (10^6 bytes), refuses it.
	small, err := newOutput(t, brokerYAML(c, "compression: none\nmax_message_bytes: 1MB\n"))
	require.NoError(t, err)
	assert.Error(t, write(t, small, service.MessageBatch{message(big, nil)}))
}

// The redpanda output without seed_brokers names the field and why.
func TestRedpandaNeedsSeedBrokers(t *testing.T) {
	parsed, err := redpandaSpec().ParseYAML("topic: t\n", nil)
	if err == nil {
		_, err = parseConfig(parsed)
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "field seed_brokers")
	assert.Contains(t, err.Error(), "no top-level redpanda block")
}

// allow_auto_topic_creation defaults to true: a broker that allows it creates
// the missing topic on the first write; with false the write fails.
func TestMissingTopicIsCreatedWhenTheBrokerAllows(t *testing.T) {
	for _, test := range []struct {
		extra string
		ok    bool
	}{{extra: "", ok: true}, {extra: "allow_auto_topic_creation: false\ntimeout: 2s\nrecord_delivery_timeout: 3s\n", ok: false}} {
		t.Run(fmt.Sprintf("ok=%v", test.ok), func(t *testing.T) {
			c := newCluster(t, kfake.AllowAutoTopicCreation())
			o, err := newOutput(t, fmt.Sprintf("seed_brokers: [ %q ]\ntopic: brand_new\n%s", c.ListenAddrs()[0], test.extra))
			require.NoError(t, err)
			err = write(t, o, service.MessageBatch{message("first", nil)})
			if !test.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{"first"}, values(consume(t, c, "brand_new", 1)))
		})
	}
}

// timestamp_ms (and the deprecated timestamp, in seconds) set the record's
// timestamp.
func TestRecordTimestamp(t *testing.T) {
	for _, test := range []struct{ extra, meta string }{
		{extra: "timestamp_ms: ${! @ts }\n", meta: "1700000000123"},
		{extra: "timestamp: ${! @ts }\n", meta: "1700000000"},
	} {
		t.Run(test.extra, func(t *testing.T) {
			c := newCluster(t)
			o, err := newOutput(t, brokerYAML(c, test.extra))
			require.NoError(t, err)
			require.NoError(t, write(t, o, service.MessageBatch{message("stamped", map[string]string{"ts": test.meta})}))
			recs := consume(t, c, testTopic, 1)
			require.Len(t, recs, 1)
			want := time.UnixMilli(1700000000123)
			if strings.HasPrefix(test.extra, "timestamp:") {
				want = time.Unix(1700000000, 0)
			}
			assert.Equal(t, want.UnixMilli(), recs[0].Timestamp.UnixMilli())
			bad := service.MessageBatch{message("bad", map[string]string{"ts": "soon"})}
			idx := bad.Index()
			var batchErr *service.BatchError
			require.ErrorAs(t, write(t, o, bad), &batchErr)
			batchErr.WalkMessagesIndexedBy(idx, func(_ int, _ *service.Message, err error) bool {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "computing the timestamp")
				return true
			})
		})
	}
}

// The redpanda output is the same engine under Connect's newer name, with
// its max_in_flight default; a stream writes through it.
func TestRedpandaOutput(t *testing.T) {
	parsed, err := redpandaSpec().ParseYAML("seed_brokers: [ x ]\ntopic: t\n", nil)
	require.NoError(t, err)
	c, err := parseConfig(parsed)
	require.NoError(t, err)
	assert.Equal(t, 256, c.maxInFlight)

	cluster := newCluster(t)
	sb := service.NewStreamBuilder()
	require.NoError(t, sb.SetLoggerYAML("level: none"))
	require.NoError(t, sb.AddInputYAML("generate:\n  count: 3\n  interval: ''\n  mapping: root = \"rp\"\n"))
	require.NoError(t, sb.AddOutputYAML(fmt.Sprintf("redpanda:\n  seed_brokers: [ %q ]\n  topic: %s\n  acks: all\n  timestamp_ms: ${! 1700000000000 }\n", cluster.ListenAddrs()[0], testTopic)))
	stream, err := sb.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, stream.Run(ctx))
	recs := consume(t, cluster, testTopic, 3)
	assert.Equal(t, []string{"rp", "rp", "rp"}, values(recs))
	assert.Equal(t, int64(1700000000000), recs[0].Timestamp.UnixMilli())
}

// Producer and connection fields reach the client: acks leader without the
// idempotent producer, several requests in flight, a TCP block, OAUTHBEARER
// is accepted by the parser.
func TestAdvancedFieldsParseAndWrite(t *testing.T) {
	c := newCluster(t)
	o, err := newOutput(t, brokerYAML(c, `
idempotent_write: false
acks: leader
max_in_flight_requests: 5
max_buffered_records: 100
max_buffered_bytes: 10MB
record_retries: 3
record_delivery_timeout: 30s
metadata_max_age: 30s
request_timeout_overhead: 5s
conn_idle_timeout: 30s
broker_write_max_bytes: 64MiB
rack_id: ignored
tcp:
  connect_timeout: 5s
`))
	require.NoError(t, err)
	require.NoError(t, write(t, o, service.MessageBatch{message("tuned", nil)}))
	assert.Equal(t, []string{"tuned"}, values(consume(t, c, testTopic, 1)))

	parsed, err := spec().ParseYAML("seed_brokers: [ x ]\ntopic: t\nsasl: [ { mechanism: OAUTHBEARER, token: tok, extensions: { a: b } } ]\n", nil)
	require.NoError(t, err)
	_, err = parseConfig(parsed)
	require.NoError(t, err)
}
