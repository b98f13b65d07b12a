package kafka

import (
	"fmt"
	"slices"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/redpanda-data/benthos/v4/public/utils/netutil"

	"github.com/salesforce-streaming/salesforce_streaming/components/internal/outputconf"
)

// outputKind is one of the two names the engine registers under: Connect's
// kafka_franz and its successor, redpanda. They share every field; they
// differ in the default of max_in_flight and in whether seed_brokers may be
// left out in Connect (where redpanda then reads a top-level block).
type outputKind string

const (
	kindKafkaFranz outputKind = "kafka_franz"
	kindRedpanda   outputKind = "redpanda"
)

// maxInFlightDefault is Connect's default for each name.
func (k outputKind) maxInFlightDefault() int {
	if k == kindRedpanda {
		return 256
	}
	return 10
}

// Field names, as Redpanda Connect spells them.
const (
	fieldSeedBrokers            = "seed_brokers"
	fieldTopic                  = "topic"
	fieldKey                    = "key"
	fieldPartitioner            = "partitioner"
	fieldPartition              = "partition"
	fieldClientID               = "client_id"
	fieldRackID                 = "rack_id"
	fieldIdempotentWrite        = "idempotent_write"
	fieldAcks                   = "acks"
	fieldMetadata               = "metadata"
	fieldTimestamp              = "timestamp"
	fieldTimestampMs            = "timestamp_ms"
	fieldMaxInFlight            = "max_in_flight"
	fieldTimeout                = "timeout"
	fieldMaxMessageBytes        = "max_message_bytes"
	fieldBrokerWriteMaxBytes    = "broker_write_max_bytes"
	fieldMaxBufferedRecords     = "max_buffered_records"
	fieldMaxBufferedBytes       = "max_buffered_bytes"
	fieldMaxInFlightRequests    = "max_in_flight_requests"
	fieldRecordRetries          = "record_retries"
	fieldRecordDeliveryTimeout  = "record_delivery_timeout"
	fieldCompression            = "compression"
	fieldAllowAutoTopicCreation = "allow_auto_topic_creation"
	fieldMetadataMaxAge         = "metadata_max_age"
	fieldRequestTimeoutOverhead = "request_timeout_overhead"
	fieldConnIdleTimeout        = "conn_idle_timeout"
	fieldTCP                    = "tcp"
	fieldTLS                    = "tls"
	fieldSASL                   = "sasl"
	fieldSASLMechanism          = "mechanism"
	fieldSASLUsername           = "username"
	fieldSASLPassword           = "password"
	fieldSASLToken              = "token"
	fieldSASLExtensions         = "extensions"
	fieldSASLAWS                = "aws"
	fieldInjectTracingMap       = "inject_tracing_map"
)

// Defaults, as Redpanda Connect documents them (client_id aside: see docs/outputs.md).
const (
	defaultClientID            = "benthos"
	defaultMaxMessageBytes     = "1MiB"
	defaultBrokerWriteMaxBytes = "100MiB"
	defaultMaxBufferedRecords  = 10000
	defaultMaxBufferedBytes    = "0"
	defaultAcks                = "all"
)

// partitioner is a value of the `partitioner` field.
type partitioner string

const (
	partitionerMurmur2     partitioner = "murmur2_hash"
	partitionerRoundRobin  partitioner = "round_robin"
	partitionerLeastBackup partitioner = "least_backup"
	partitionerManual      partitioner = "manual"
)

var partitioners = []string{string(partitionerMurmur2), string(partitionerRoundRobin), string(partitionerLeastBackup), string(partitionerManual)}

var codecs = []string{"lz4", "snappy", "gzip", "none", "zstd"}

// saslMechanism is a value of `sasl[].mechanism`.
type saslMechanism string

const (
	saslNone        saslMechanism = "none"
	saslPlain       saslMechanism = "PLAIN"
	saslOAuthBearer saslMechanism = "OAUTHBEARER"
	saslScramSHA256 saslMechanism = "SCRAM-SHA-256"
	saslScramSHA512 saslMechanism = "SCRAM-SHA-512"
)

// unsupportedMechanisms are Connect's mechanisms that cannot work here, with
// the reason the lint error gives.
var unsupportedMechanisms = map[string]string{
	"AWS_MSK_IAM":                    "AWS IAM signing is not built into this distribution; use SCRAM-SHA-512 with MSK's SASL/SCRAM instead",
	"REDPANDA_CLOUD_SERVICE_ACCOUNT": "it authenticates with the credentials of a pipeline running inside Redpanda Cloud, which this binary never is",
}

// optionalEnum is a string field whose value must be one of options, where
// the empty string means "not set": that is what `benthos create` writes
// for an optional field without default, and the skeleton must lint.
func optionalEnum(name string, options []string) *service.ConfigField {
	quoted := make([]string, len(options))
	for i, o := range options {
		quoted[i] = fmt.Sprintf("%q", o)
	}
	return service.NewStringField(name).
		LintRule(fmt.Sprintf(`root = if this != "" && ![%s].contains(this) { "field %s: %%q is not one of %s".format(this) }`,
			strings.Join(quoted, ", "), name, strings.Join(options, ", "))).
		Optional()
}

// lintRule holds the checks that span fields, each error naming its field.
func lintRule() string {
	mechs := sortedKeys(unsupportedMechanisms)
	var b strings.Builder
	b.WriteString(`let p = this.partitioner.or("")
let part = this.partition.or("")
root = [
  if $p == "manual" && $part == "" { "field partition: required with partitioner: manual" } else { null },
  if $p != "manual" && $part != "" { "field partition: only used with partitioner: manual" } else { null },
  if this.timestamp.or("") != "" && this.timestamp_ms.or("") != "" { "fields timestamp and timestamp_ms: give one of them" } else { null },
  if this.idempotent_write.or(true) && this.acks.or("all") != "all" { "field acks: idempotent_write needs acks: all (set idempotent_write: false for fewer acks)" } else { null },
  if this.idempotent_write.or(true) && this.max_in_flight_requests.or(1) != 1 { "field max_in_flight_requests: idempotent_write needs 1 request in flight per broker (set idempotent_write: false for more)" } else { null },
`)
	for _, m := range mechs {
		fmt.Fprintf(&b, "  if this.sasl.or([]).any(s -> s.mechanism.or(\"\") == %q) { %q } else { null },\n",
			m, fmt.Sprintf("field sasl: mechanism %s is not supported: %s", m, unsupportedMechanisms[m]))
	}
	b.WriteString(`  if this.sasl.or([]).any(s -> s.aws != null) { "field sasl[].aws: only used by mechanism AWS_MSK_IAM, which is not supported here" } else { null },
`)
	b.WriteString(`].filter(e -> e != null)`)
	return b.String()
}

func spec() *service.ConfigSpec { return outputSpec(kindKafkaFranz) }

func redpandaSpec() *service.ConfigSpec { return outputSpec(kindRedpanda) }

func outputSpec(kind outputKind) *service.ConfigSpec {
	mechs := []string{string(saslNone), string(saslPlain), string(saslOAuthBearer), string(saslScramSHA256), string(saslScramSHA512)}
	s := service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Writes messages to Kafka (or Redpanda) topics and acknowledges them once the brokers confirmed the write.").
		Description(`
Each message becomes one record: its content is the value, `+"`key`"+` its key, and the metadata
selected by `+"`metadata`"+` its headers. A batch is acknowledged only when every record of it is
acknowledged by the partition leaders (acks=all by default); records that failed are named by their
index in the batch error, so that Benthos retries just those. With the salesforce_streaming input this
keeps delivery at least once from Salesforce into Kafka: a replay id is checkpointed only after its
record is in Kafka.

The idempotent producer (on by default) stops the producer's own retries from writing a record twice;
duplicates after a crash of the pipeline remain possible (at least once), so consumers de-duplicate
on a key such as the event's `+"`EventUuid`"+`.

`+"`kafka_franz`"+` and `+"`redpanda`"+` are the same output under Redpanda Connect's two names (Connect
deprecated the first for the second in 4.68); only the default of `+"`max_in_flight`"+` differs.`).
		LintRule(lintRule()).
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
			optionalEnum(fieldPartitioner, partitioners).
				Description("How records are spread over the partitions of a topic: `murmur2_hash` (Kafka's default, used when unset: "+
					"the murmur2 hash of the key; keyless records stick to one partition per batch), `round_robin`, `least_backup` "+
					"(the partition with the fewest records waiting) or `manual` (the `partition` field).").
				Advanced(),
			service.NewInterpolatedStringField(fieldPartition).
				Description("The partition of each record, as an integer, e.g. `${! @kafka_partition }`. Only with `partitioner: manual`, where it is required.").
				Optional(),
			service.NewStringField(fieldClientID).
				Description("The client id the brokers see (logs, quotas).").
				Default(defaultClientID).
				Advanced(),
			service.NewStringField(fieldRackID).
				Description("Ignored: a producer has no use for a rack (Connect deprecated the field too).").
				Deprecated().
				Optional(),
			service.NewBoolField(fieldIdempotentWrite).
				Description("Use the idempotent producer: retries inside the client never write a record twice or out of order. Requires the IDEMPOTENT_WRITE permission on the cluster; turn it off only where that cannot be granted.").
				Default(true).
				Advanced(),
			service.NewStringAnnotatedEnumField(fieldAcks, map[string]string{
				"all":    "Every in-sync replica stored the record (acks=-1). Required by idempotent_write.",
				"leader": "The partition leader stored the record (acks=1); it is lost if the leader fails before replicating it.",
				"none":   "No acknowledgement (acks=0): the output cannot know the record arrived. Breaks at-least-once delivery.",
			}).
				Description("What the brokers confirm before a record counts as written.").
				Default(defaultAcks).
				Advanced(),
			service.NewMetadataFilterField(fieldMetadata).
				Description("Which metadata keys become record headers. Nothing is sent unless a prefix or pattern matches.").
				Optional(),
			service.NewInterpolatedStringField(fieldTimestamp).
				Description("The record's timestamp in Unix seconds. Empty: the time of writing. Deprecated: use `timestamp_ms`.").
				Optional().
				Advanced().
				Deprecated(),
			service.NewInterpolatedStringField(fieldTimestampMs).
				Description("The record's timestamp in Unix milliseconds. Empty: the time of writing.").
				Example(`${! timestamp_unix_milli() }`).
				Example(`${! @salesforce_event_date.ts_parse("2006-01-02T15:04:05.999Z07:00").ts_unix_milli() }`).
				Optional().
				Advanced(),
			service.NewIntField(fieldMaxInFlight).
				Description("The most batches written at once.").
				Default(kind.maxInFlightDefault()),
			service.NewBatchPolicyField(outputconf.FieldBatching),
			service.NewInjectTracingSpanMappingField(),
			optionalEnum(fieldCompression, codecs).
				Description("Compression of record batches: `lz4`, `snappy`, `gzip`, `none` or `zstd`. Unset lets the client choose (snappy where the broker supports it).").
				Advanced(),
			service.NewBoolField(fieldAllowAutoTopicCreation).
				Description("Let brokers that allow it create a missing topic when the client asks for its metadata.").
				Default(true).
				Advanced(),
			service.NewDurationField(fieldTimeout).
				Description("How long one produce request may take before the client abandons it and retries.").
				Default("10s").
				Advanced(),
			service.NewStringField(fieldMaxMessageBytes).
				Description("The largest record batch sent to a partition (e.g. `1MiB`, `512KiB`, `100MB`). It must not exceed the broker's `message.max.bytes`.").
				Default(defaultMaxMessageBytes).
				Example("100MB").
				Example("50mib").
				Advanced(),
			service.NewStringField(fieldBrokerWriteMaxBytes).
				Description("The most bytes written to a broker connection in one write (Kafka's `socket.request.max.bytes`).").
				Default(defaultBrokerWriteMaxBytes).
				Example("128MB").
				Advanced(),
			service.NewIntField(fieldMaxBufferedRecords).
				Description("The most records the client holds in memory before a write waits.").
				Default(defaultMaxBufferedRecords).
				Advanced(),
			service.NewStringField(fieldMaxBufferedBytes).
				Description("The most record bytes the client holds in memory before a write waits; `0`: no limit in bytes.").
				Default(defaultMaxBufferedBytes).
				Example("256MB").
				Advanced(),
			service.NewIntField(fieldMaxInFlightRequests).
				Description("Produce requests in flight per broker connection. Must be 1 with idempotent_write.").
				Default(1).
				Advanced(),
			service.NewIntField(fieldRecordRetries).
				Description("How often the client retries a record before failing it (and Benthos retries the message); 0: no limit.").
				Default(0).
				Advanced(),
			service.NewDurationField(fieldRecordDeliveryTimeout).
				Description("The longest a record may wait in the client before it fails (Kafka's `delivery.timeout.ms`); `0s`: no limit.").
				Default("0s").
				Advanced(),
			service.NewDurationField(fieldMetadataMaxAge).
				Description("How old the client's cluster metadata may get before it is refreshed.").
				Default("1m").
				Advanced(),
			service.NewDurationField(fieldRequestTimeoutOverhead).
				Description("Time added to a request's own timeout before the client gives up on it (about Kafka's `request.timeout.ms`).").
				Default("10s").
				Advanced(),
			service.NewDurationField(fieldConnIdleTimeout).
				Description("How long a broker connection may idle before it is closed.").
				Default("20s").
				Advanced(),
			netutil.DialerConfigSpec(),
			service.NewTLSToggledField(fieldTLS),
			service.NewObjectListField(fieldSASL,
				service.NewStringField(fieldSASLMechanism).
					Description("The SASL mechanism: `none`, `PLAIN`, `OAUTHBEARER`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.").
					LintRule(fmt.Sprintf(`root = if ![%s].contains(this) && ![%s].contains(this) { "field mechanism: %%q is not one of %s".format(this) }`,
						quoteAll(mechs), quoteAll(sortedKeys(unsupportedMechanisms)), strings.Join(mechs, ", "))),
				service.NewStringField(fieldSASLUsername).Description("The user name (PLAIN, SCRAM).").Default(""),
				service.NewStringField(fieldSASLPassword).Description("The password (PLAIN, SCRAM).").Default("").Secret(),
				service.NewStringField(fieldSASLToken).Description("The bearer token (OAUTHBEARER).").Default("").Secret(),
				service.NewStringMapField(fieldSASLExtensions).Description("Key/value pairs sent with an OAUTHBEARER request.").Optional(),
				service.NewAnyField(fieldSASLAWS).Description("Not supported here (AWS_MSK_IAM only).").Optional(),
			).
				Description("SASL authentication, tried in order until the broker accepts one mechanism.").
				Example([]any{map[string]any{"mechanism": "SCRAM-SHA-512", "username": "salesforce", "password": "${KAFKA_PASSWORD}"}}).
				Optional().
				Advanced(),
		).
		Example("Platform events by event name",
			"One topic per platform event, keyed by the event's EventUuid, with the Salesforce metadata as headers.",
			fmt.Sprintf(`
output:
  %s:
    seed_brokers: [ "${KAFKA_BROKERS:localhost:9092}" ]
    topic: 'salesforce.${! @salesforce_channel.trim_prefix("/event/").lowercase() }'
    key: ${! @salesforce_event_uuid }
    metadata:
      include_prefixes: [ salesforce_ ]
    batching:
      count: 500
      period: 100ms
`, kind))
	return s
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
