package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/redpanda-data/benthos/v4/public/utils/netutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// nonEmpty tells whether an optional field is set to something other than
// the empty string (which `benthos create` writes for "unset").
func nonEmpty(conf *service.ParsedConfig, field string) (bool, error) {
	if !conf.Contains(field) {
		return false, nil
	}
	s, err := conf.FieldString(field)
	if err != nil {
		return false, err
	}
	return s != "", nil
}

// parseTimestamp reads timestamp_ms, or the deprecated timestamp (seconds).
func (c *config) parseTimestamp(conf *service.ParsedConfig) error {
	for _, f := range []struct {
		name string
		unit time.Duration
	}{{fieldTimestampMs, time.Millisecond}, {fieldTimestamp, time.Second}} {
		set, err := nonEmpty(conf, f.name)
		if err != nil {
			return err
		}
		if !set {
			continue
		}
		if c.timestamp != nil {
			return fmt.Errorf("fields %s and %s: give one of them", fieldTimestamp, fieldTimestampMs)
		}
		if c.timestamp, err = conf.FieldInterpolatedString(f.name); err != nil {
			return err
		}
		c.tsUnit = f.unit
	}
	return nil
}

// producerOptions reads the fields that tune the producer: acks, the
// idempotent producer, compression, topic creation, buffering and retries.
func producerOptions(conf *service.ParsedConfig) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	idempotent, err := conf.FieldBool(fieldIdempotentWrite)
	if err != nil {
		return nil, err
	}
	acks, err := conf.FieldString(fieldAcks)
	if err != nil {
		return nil, err
	}
	inflight, err := conf.FieldInt(fieldMaxInFlightRequests)
	if err != nil {
		return nil, err
	}
	if inflight < 1 {
		return nil, fmt.Errorf("field %s: %d is not at least 1", fieldMaxInFlightRequests, inflight)
	}
	if idempotent {
		if acks != "all" {
			return nil, fmt.Errorf("field %s: idempotent_write needs acks: all", fieldAcks)
		}
		if inflight != 1 {
			return nil, fmt.Errorf("field %s: idempotent_write needs 1 request in flight per broker", fieldMaxInFlightRequests)
		}
	} else {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(inflight))
	}
	switch acks {
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	default:
		return nil, fmt.Errorf("field %s: %q is not one of all, leader, none", fieldAcks, acks)
	}
	if codec, err := conf.FieldString(fieldCompression); err == nil && codec != "" {
		cc, err := compression(codec)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.ProducerBatchCompression(cc))
	}
	autoCreate, err := conf.FieldBool(fieldAllowAutoTopicCreation)
	if err != nil {
		return nil, err
	}
	if autoCreate {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	maxRecords, err := conf.FieldInt(fieldMaxBufferedRecords)
	if err != nil {
		return nil, err
	}
	if maxRecords < 1 {
		return nil, fmt.Errorf("field %s: %d is not at least 1", fieldMaxBufferedRecords, maxRecords)
	}
	opts = append(opts, kgo.MaxBufferedRecords(maxRecords))
	maxBytes, err := byteSize(conf, fieldMaxBufferedBytes, true)
	if err != nil {
		return nil, err
	}
	if maxBytes > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(int(maxBytes)))
	}
	retries, err := conf.FieldInt(fieldRecordRetries)
	if err != nil {
		return nil, err
	}
	if retries < 0 {
		return nil, fmt.Errorf("field %s: %d is negative", fieldRecordRetries, retries)
	}
	if retries > 0 {
		opts = append(opts, kgo.RecordRetries(retries))
	}
	deliveryTimeout, err := conf.FieldDuration(fieldRecordDeliveryTimeout)
	if err != nil {
		return nil, err
	}
	if deliveryTimeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(deliveryTimeout))
	}
	return opts, nil
}

// connectionOptions reads the fields of the connections to the brokers:
// metadata age, timeouts, the TCP dialer, TLS and SASL.
func connectionOptions(conf *service.ParsedConfig) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	for _, d := range []struct {
		field string
		opt   func(time.Duration) kgo.Opt
	}{
		{fieldMetadataMaxAge, kgo.MetadataMaxAge},
		{fieldRequestTimeoutOverhead, kgo.RequestTimeoutOverhead},
		{fieldConnIdleTimeout, kgo.ConnIdleTimeout},
	} {
		v, err := conf.FieldDuration(d.field)
		if err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, fmt.Errorf("field %s: %s is not positive", d.field, v)
		}
		opts = append(opts, d.opt(v))
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return nil, err
	}
	if !tlsOn {
		tlsConf = nil
	}
	if conf.Contains(fieldTCP) {
		dialerConf, err := netutil.DialerConfigFromParsed(conf.Namespace(fieldTCP))
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", fieldTCP, err)
		}
		nd := &net.Dialer{}
		if err := netutil.DecorateDialer(nd, dialerConf); err != nil {
			return nil, fmt.Errorf("field %s: %w", fieldTCP, err)
		}
		// kgo.Dialer excludes kgo.DialTLSConfig: TLS goes over our dialer.
		opts = append(opts, kgo.Dialer(dialFunc(nd, tlsConf)))
	} else if tlsConf != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsConf))
	}
	mechs, err := saslMechanisms(conf)
	if err != nil {
		return nil, err
	}
	if len(mechs) > 0 {
		opts = append(opts, kgo.SASL(mechs...))
	}
	return opts, nil
}

// dialFunc dials with nd, and TLS over it when tlsConf is set.
func dialFunc(nd *net.Dialer, tlsConf *tls.Config) func(ctx context.Context, network, host string) (net.Conn, error) {
	if tlsConf == nil {
		return nd.DialContext
	}
	td := &tls.Dialer{NetDialer: nd, Config: tlsConf}
	return td.DialContext
}
