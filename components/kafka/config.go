// Package kafka registers the `kafka_franz` and `redpanda` outputs: one
// engine writing Salesforce events to Kafka or Redpanda topics over
// github.com/twmb/franz-go, acknowledged only once the brokers have confirmed
// each record.
//
// Their names, fields and defaults are Redpanda Connect's, so a pipeline moves
// between our binary and a Connect build unchanged. A Connect value that
// cannot work here (an AWS or Redpanda Cloud SASL mechanism, redpanda without
// seed_brokers) is a lint error naming the field and the reason.
package kafka

import (
	"fmt"
	"math"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/salesforce-streaming/salesforce_streaming/components/internal/outputconf"
)

// config is a parsed kafka_franz or redpanda section.
type config struct {
	clientOpts  []kgo.Opt
	topic       *service.InterpolatedString
	key         *service.InterpolatedString // nil: records have no key
	partition   *service.InterpolatedString // set with partitionerManual only
	timestamp   *service.InterpolatedString // nil: the time of writing
	tsUnit      time.Duration               // of timestamp: time.Second or time.Millisecond
	metadata    *service.MetadataFilter     // nil: no headers
	maxInFlight int
	batching    service.BatchPolicy
}

func parseConfig(conf *service.ParsedConfig) (*config, error) {
	c := &config{}
	var err error
	brokers, err := outputconf.AddressList(conf, fieldSeedBrokers, "broker address")
	if err != nil {
		// Connect's redpanda output may leave the list out and read a
		// top-level redpanda block; say why that does not work here.
		return nil, fmt.Errorf("%w (this distribution has no top-level redpanda block to fall back on)", err)
	}
	if c.topic, err = conf.FieldInterpolatedString(fieldTopic); err != nil {
		return nil, err
	}
	if conf.Contains(fieldKey) {
		if c.key, err = conf.FieldInterpolatedString(fieldKey); err != nil {
			return nil, err
		}
	}
	if err := c.parseTimestamp(conf); err != nil {
		return nil, err
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
	if c.batching, err = conf.FieldBatchPolicy(outputconf.FieldBatching); err != nil {
		return nil, err
	}
	if c.maxInFlight, err = conf.FieldInt(fieldMaxInFlight); err != nil {
		return nil, err
	}
	if c.maxInFlight < 1 {
		return nil, fmt.Errorf("field %s: %d is not at least 1", fieldMaxInFlight, c.maxInFlight)
	}
	clientID, err := conf.FieldString(fieldClientID)
	if err != nil {
		return nil, err
	}
	timeout, err := conf.FieldDuration(fieldTimeout)
	if err != nil {
		return nil, err
	}
	maxBytes, err := byteSize(conf, fieldMaxMessageBytes, false)
	if err != nil {
		return nil, err
	}
	writeMaxBytes, err := byteSize(conf, fieldBrokerWriteMaxBytes, false)
	if err != nil {
		return nil, err
	}
	if writeMaxBytes < maxBytes {
		return nil, fmt.Errorf("field %s: %d bytes is less than %s (%d)", fieldBrokerWriteMaxBytes, writeMaxBytes, fieldMaxMessageBytes, maxBytes)
	}
	c.clientOpts = []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.RecordPartitioner(part),
		kgo.ProduceRequestTimeout(timeout),
		kgo.ProducerBatchMaxBytes(maxBytes),
		kgo.BrokerMaxWriteBytes(writeMaxBytes),
		// Without a linger the client sends as soon as it can: batching is
		// the batch policy's job, and a batch is waited for as a whole.
		kgo.ProducerLinger(0),
	}
	producerOpts, err := producerOptions(conf)
	if err != nil {
		return nil, err
	}
	c.clientOpts = append(c.clientOpts, producerOpts...)
	connOpts, err := connectionOptions(conf)
	if err != nil {
		return nil, err
	}
	c.clientOpts = append(c.clientOpts, connOpts...)
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
	if name == "" { // what `benthos create` writes for "unset"
		name = partitionerMurmur2
	}
	hasPartition, err := nonEmpty(conf, fieldPartition)
	if err != nil {
		return nil, err
	}
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

// byteSize reads a size such as "1MiB" or "100MB"; zeroOK allows 0.
func byteSize(conf *service.ParsedConfig, field string, zeroOK bool) (int32, error) {
	s, err := conf.FieldString(field)
	if err != nil {
		return 0, err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("field %s: %w", field, err)
	}
	if (n == 0 && !zeroOK) || n > math.MaxInt32 {
		return 0, fmt.Errorf("field %s: %d bytes is not between 1 and %d", field, n, math.MaxInt32)
	}
	return int32(n), nil
}

func compression(s string) (kgo.CompressionCodec, error) {
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
		if why, ok := unsupportedMechanisms[mech]; ok {
			return nil, fmt.Errorf("field %s[%d].%s: %s is not supported: %s", fieldSASL, i, fieldSASLMechanism, mech, why)
		}
		switch saslMechanism(mech) {
		case saslNone:
			continue
		case saslOAuthBearer:
			token, err := sc.FieldString(fieldSASLToken)
			if err != nil {
				return nil, err
			}
			auth := oauth.Auth{Token: token}
			if sc.Contains(fieldSASLExtensions) {
				if auth.Extensions, err = sc.FieldStringMap(fieldSASLExtensions); err != nil {
					return nil, err
				}
			}
			mechs = append(mechs, auth.AsMechanism())
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
