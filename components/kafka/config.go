// Package kafka registers the `kafka_franz` output: Salesforce events written
// to Kafka or Redpanda topics over github.com/twmb/franz-go, acknowledged only
// once the brokers have confirmed each record.
//
// Its name, and the names and defaults of the fields it implements, match
// Redpanda Connect's kafka_franz output, so a pipeline moves between our
// binary and a Connect build unchanged. A Connect field it does not implement
// (rack_id, timestamp_ms, metadata_max_age, ...) is an unknown field, which
// `benthos lint` and config loading reject by name.
package kafka

import (
	"fmt"
	"math"

	"github.com/dustin/go-humanize"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/salesforce-streaming/salesforce_streaming/components/internal/outputconf"
)

const (
	fieldSeedBrokers     = "seed_brokers"
	fieldTopic           = "topic"
	fieldKey             = "key"
	fieldPartitioner     = "partitioner"
	fieldPartition       = "partition"
	fieldClientID        = "client_id"
	fieldIdempotentWrite = "idempotent_write"
	fieldMetadata        = "metadata"
	fieldMaxInFlight     = "max_in_flight"
	fieldTimeout         = "timeout"
	fieldMaxMessageBytes = "max_message_bytes"
	fieldCompression     = "compression"
	fieldTLS             = "tls"
	fieldSASL            = "sasl"
	fieldSASLMechanism   = "mechanism"
	fieldSASLUsername    = "username"
	fieldSASLPassword    = "password"
)

// partitioner is a value of the `partitioner` field.
type partitioner string

const (
	partitionerMurmur2     partitioner = "murmur2_hash"
	partitionerRoundRobin  partitioner = "round_robin"
	partitionerLeastBackup partitioner = "least_backup"
	partitionerManual      partitioner = "manual"
)

// saslMechanism is a value of `sasl[].mechanism`.
type saslMechanism string

const (
	saslNone        saslMechanism = "none"
	saslPlain       saslMechanism = "PLAIN"
	saslScramSHA256 saslMechanism = "SCRAM-SHA-256"
	saslScramSHA512 saslMechanism = "SCRAM-SHA-512"
)

func spec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Writes messages to Kafka (or Redpanda) topics and acknowledges them once the brokers confirmed the write.").
		Description(`
Each message becomes one record: its content is the value, `+"`key`"+` its key, and the metadata
selected by `+"`metadata`"+` its headers. A batch is acknowledged only when every record of it is
acknowledged by the partition leaders (acks=all); records that failed are named by their index in
the batch error, so that Benthos retries just those. With the salesforce_streaming input this keeps
delivery at least once from Salesforce into Kafka: a replay id is checkpointed only after its record
is in Kafka.

The idempotent producer (on by default) stops the producer's own retries from writing a record twice;
duplicates after a crash of the pipeline remain possible (at least once), so consumers de-duplicate
on a key such as the event's `+"`EventUuid`"+`.`).
		Fields(
			service.NewStringListField(fieldSeedBrokers).
				Description("Addresses of Kafka brokers to connect to first. An entry may hold several addresses separated by commas.").
				Example([]string{"localhost:9092"}).
				Example([]string{"foo:9092", "bar:9092"}).
				Example([]string{"foo:9092,bar:9092"}),
			service.NewInterpolatedStringField(fieldTopic).
				Description("The topic to write each message to."),
			service.NewInterpolatedStringField(fieldKey).
				Description("A key for each record. Records with the same key go to the same partition (with the hash partitioners), which keeps their order.").
				Optional(),
			service.NewStringAnnotatedEnumField(fieldPartitioner, map[string]string{
				string(partitionerMurmur2):     "Kafka's default: the murmur2 hash of the key picks the partition (keyless records stick to one partition per batch). Used when the field is not set.",
				string(partitionerRoundRobin):  "Records go to each partition in turn, ignoring keys.",
				string(partitionerLeastBackup): "Records go to the partition with the fewest records waiting to be written, ignoring keys.",
				string(partitionerManual):      "The `partition` field names the partition of each record.",
			}).
				Description("How records are spread over the partitions of a topic.").
				Optional().
				Advanced(),
			service.NewInterpolatedStringField(fieldPartition).
				Description("The partition of each record, as an integer. Only with `partitioner: manual`, where it is required.").
				Example(`${! @kafka_partition }`).
				Optional().
				Advanced(),
			service.NewStringField(fieldClientID).
				Description("The client id the brokers see (logs, quotas).").
				Default("benthos").
				Advanced(),
			service.NewBoolField(fieldIdempotentWrite).
				Description("Use the idempotent producer: retries inside the client never write a record twice or out of order. Requires the IDEMPOTENT_WRITE permission on the cluster; turn it off only where that cannot be granted.").
				Default(true).
				Advanced(),
			service.NewMetadataFilterField(fieldMetadata).
				Description("Which metadata keys become record headers. Nothing is sent unless a prefix or pattern matches.").
				Optional(),
			service.NewOutputMaxInFlightField().Default(10),
			service.NewDurationField(fieldTimeout).
				Description("How long one produce request may take before the client abandons it and retries.").
				Default("10s").
				Advanced(),
			service.NewBatchPolicyField(outputconf.FieldBatching),
			service.NewStringField(fieldMaxMessageBytes).
				Description("The largest record batch sent to a partition, in bytes (e.g. `1MB`, `512KiB`). It must not exceed the broker's `message.max.bytes`.").
				Default("1MB").
				Example("100MB").
				Example("50mib").
				Advanced(),
			service.NewStringEnumField(fieldCompression, "lz4", "snappy", "gzip", "none", "zstd").
				Description("Compression of record batches. Unset lets the client choose (it prefers snappy).").
				Optional().
				Advanced(),
			service.NewTLSToggledField(fieldTLS),
			service.NewObjectListField(fieldSASL,
				service.NewStringAnnotatedEnumField(fieldSASLMechanism, map[string]string{
					string(saslNone):        "No authentication.",
					string(saslPlain):       "Plain text user name and password (use it with TLS).",
					string(saslScramSHA256): "SCRAM with SHA-256.",
					string(saslScramSHA512): "SCRAM with SHA-512.",
				}).Description("The SASL mechanism."),
				service.NewStringField(fieldSASLUsername).Description("The user name.").Default(""),
				service.NewStringField(fieldSASLPassword).Description("The password.").Default("").Secret(),
			).
				Description("SASL authentication, tried in order until the broker accepts one mechanism.").
				Example([]any{map[string]any{"mechanism": "SCRAM-SHA-512", "username": "salesforce", "password": "${KAFKA_PASSWORD}"}}).
				Optional().
				Advanced(),
		).
		Example("Platform events by event name",
			"One topic per platform event, keyed by the event's EventUuid, with the Salesforce metadata as headers.",
			`
output:
  kafka_franz:
    seed_brokers: [ "${KAFKA_BROKERS:localhost:9092}" ]
    topic: 'salesforce.${! @salesforce_channel.trim_prefix("/event/").lowercase() }'
    key: ${! @salesforce_event_uuid }
    metadata:
      include_prefixes: [ salesforce_ ]
    batching:
      count: 500
      period: 100ms
`)
}

// config is a parsed kafka_franz section.
type config struct {
	clientOpts  []kgo.Opt
	topic       *service.InterpolatedString
	key         *service.InterpolatedString // nil: records have no key
	partition   *service.InterpolatedString // set with partitionerManual only
	metadata    *service.MetadataFilter     // nil: no headers
	maxInFlight int
	batching    service.BatchPolicy
}

func parseConfig(conf *service.ParsedConfig) (*config, error) {
	c := &config{}
	var err error
	brokers, err := outputconf.AddressList(conf, fieldSeedBrokers, "broker address")
	if err != nil {
		return nil, err
	}
	if c.topic, err = conf.FieldInterpolatedString(fieldTopic); err != nil {
		return nil, err
	}
	if conf.Contains(fieldKey) {
		if c.key, err = conf.FieldInterpolatedString(fieldKey); err != nil {
			return nil, err
		}
	}
	part, err := c.parsePartitioner(conf)
	if err != nil {
		return nil, err
	}
	if conf.Contains(fieldMetadata) {
		if c.metadata, err = conf.FieldMetadataFilter(fieldMetadata); err != nil {
			return nil, err
		}
	}
	if c.batching, c.maxInFlight, err = outputconf.Delivery(conf); err != nil {
		return nil, err
	}
	clientID, err := conf.FieldString(fieldClientID)
	if err != nil {
		return nil, err
	}
	timeout, err := conf.FieldDuration(fieldTimeout)
	if err != nil {
		return nil, err
	}
	maxBytes, err := maxMessageBytes(conf)
	if err != nil {
		return nil, err
	}
	c.clientOpts = []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.RecordPartitioner(part),
		kgo.ProduceRequestTimeout(timeout),
		kgo.ProducerBatchMaxBytes(maxBytes),
		// Without a linger the client sends as soon as it can: batching is
		// the batch policy's job, and a batch is waited for as a whole.
		kgo.ProducerLinger(0),
	}
	idempotent, err := conf.FieldBool(fieldIdempotentWrite)
	if err != nil {
		return nil, err
	}
	if !idempotent {
		c.clientOpts = append(c.clientOpts, kgo.DisableIdempotentWrite())
	}
	if conf.Contains(fieldCompression) {
		codec, err := compression(conf)
		if err != nil {
			return nil, err
		}
		c.clientOpts = append(c.clientOpts, kgo.ProducerBatchCompression(codec))
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return nil, err
	}
	if tlsOn {
		c.clientOpts = append(c.clientOpts, kgo.DialTLSConfig(tlsConf))
	}
	mechs, err := saslMechanisms(conf)
	if err != nil {
		return nil, err
	}
	if len(mechs) > 0 {
		c.clientOpts = append(c.clientOpts, kgo.SASL(mechs...))
	}
	return c, nil
}

func (c *config) parsePartitioner(conf *service.ParsedConfig) (kgo.Partitioner, error) {
	name := partitionerMurmur2
	if conf.Contains(fieldPartitioner) {
		s, err := conf.FieldString(fieldPartitioner)
		if err != nil {
			return nil, err
		}
		name = partitioner(s)
	}
	hasPartition := conf.Contains(fieldPartition)
	if hasPartition != (name == partitionerManual) {
		return nil, fmt.Errorf("field %s is required with %s: %s, and only then", fieldPartition, fieldPartitioner, partitionerManual)
	}
	switch name {
	case partitionerMurmur2:
		// nil: Kafka's murmur2 hash, as the Java client's default partitioner.
		return kgo.StickyKeyPartitioner(nil), nil
	case partitionerRoundRobin:
		return kgo.RoundRobinPartitioner(), nil
	case partitionerLeastBackup:
		return kgo.LeastBackupPartitioner(), nil
	case partitionerManual:
		var err error
		if c.partition, err = conf.FieldInterpolatedString(fieldPartition); err != nil {
			return nil, err
		}
		return kgo.ManualPartitioner(), nil
	}
	return nil, fmt.Errorf("field %s: unknown partitioner %q", fieldPartitioner, name)
}

func maxMessageBytes(conf *service.ParsedConfig) (int32, error) {
	s, err := conf.FieldString(fieldMaxMessageBytes)
	if err != nil {
		return 0, err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("field %s: %w", fieldMaxMessageBytes, err)
	}
	if n == 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("field %s: %d bytes is not between 1 and %d", fieldMaxMessageBytes, n, math.MaxInt32)
	}
	return int32(n), nil
}

func compression(conf *service.ParsedConfig) (kgo.CompressionCodec, error) {
	s, err := conf.FieldString(fieldCompression)
	if err != nil {
		return kgo.CompressionCodec{}, err
	}
	switch s {
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("field %s: unknown codec %q", fieldCompression, s)
}

func saslMechanisms(conf *service.ParsedConfig) ([]sasl.Mechanism, error) {
	if !conf.Contains(fieldSASL) {
		return nil, nil
	}
	list, err := conf.FieldObjectList(fieldSASL)
	if err != nil {
		return nil, err
	}
	var mechs []sasl.Mechanism
	for i, sc := range list {
		mech, err := sc.FieldString(fieldSASLMechanism)
		if err != nil {
			return nil, err
		}
		user, err := sc.FieldString(fieldSASLUsername)
		if err != nil {
			return nil, err
		}
		pass, err := sc.FieldString(fieldSASLPassword)
		if err != nil {
			return nil, err
		}
		switch saslMechanism(mech) {
		case saslNone:
			continue
		case saslPlain:
			mechs = append(mechs, plain.Auth{User: user, Pass: pass}.AsMechanism())
		case saslScramSHA256:
			mechs = append(mechs, scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())
		case saslScramSHA512:
			mechs = append(mechs, scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())
		default:
			return nil, fmt.Errorf("field %s[%d].%s: unknown mechanism %q", fieldSASL, i, fieldSASLMechanism, mech)
		}
	}
	return mechs, nil
}
