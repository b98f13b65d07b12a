// Package redis registers the `redis` cache: the replay-id store that several
// Benthos instances share, over github.com/redis/go-redis/v9.
//
// Its name, fields and defaults (url, kind, master, client_name, tls, prefix,
// default_ttl, retries) are Redpanda Connect's redis cache's, so a resource
// file moves between our binary and a Connect build unchanged.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redis/go-redis/v9"
	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	fieldURL        = "url"
	fieldKind       = "kind"
	fieldMaster     = "master"
	fieldClientName = "client_name"
	fieldPrefix     = "prefix"
	fieldDefaultTTL = "default_ttl"
	fieldTLS        = "tls"
	fieldRetries    = "retries"
)

// kind is a value of the `kind` field: the server topology.
type kind string

const (
	kindSimple   kind = "simple"   // one server
	kindCluster  kind = "cluster"  // Redis Cluster: url lists seed nodes
	kindFailover kind = "failover" // Sentinel: url lists sentinels, master names the group
)

// defaultClientName is what CLIENT LIST shows (Connect: redpanda-connect; we
// name our own binary, as kafka_franz's client_id does).
const defaultClientName = "benthos"

// retriesDefaults are Connect's: 500ms doubling to 1s, giving up after 5s.
func retriesDefaults() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 500 * time.Millisecond
	b.MaxInterval = time.Second
	b.MaxElapsedTime = 5 * time.Second
	return b
}

func spec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Use a Redis instance as a cache.").
		Description("Keys are written with `SET` (with an expiry when a TTL applies), added with `SET NX`, "+
			"read with `GET` and removed with `DEL`. The salesforce_streaming input stores one replay id per "+
			"channel here; instances that share the server share their positions.").
		Fields(
			service.NewURLField(fieldURL).
				Description("The URL of the Redis server: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. "+
					"With `kind: cluster` or `failover`, several URLs separated by commas: cluster nodes, or sentinels.").
				Example("redis://127.0.0.1:6379").
				Example("rediss://user:${REDIS_PASSWORD}@redis.example.com:6380/0").
				Example("redis://sentinel-1:26379,redis://sentinel-2:26379"),
			service.NewStringAnnotatedEnumField(fieldKind, map[string]string{
				string(kindSimple):   "One server.",
				string(kindCluster):  "A Redis Cluster; `url` lists one or more of its nodes.",
				string(kindFailover): "A primary watched by Redis Sentinel; `url` lists the sentinels and `master` names the group.",
			}).
				Description("The server topology.").
				Default(string(kindSimple)).
				Advanced(),
			service.NewStringField(fieldMaster).
				Description("The name of the primary's group, with `kind: failover` (required there).").
				Default("").
				Example("mymaster").
				Advanced(),
			service.NewStringField(fieldClientName).
				Description("The connection name the server shows (CLIENT LIST).").
				Default(defaultClientName).
				Advanced(),
			service.NewStringField(fieldPrefix).
				Description("A prefix added to every key.").
				Optional().
				Advanced(),
			service.NewDurationField(fieldDefaultTTL).
				Description("An expiry for keys set without one. Empty means keys never expire, which is what a replay-id store needs.").
				Optional().
				Advanced(),
			service.NewTLSToggledField(fieldTLS),
			service.NewBackOffField(fieldRetries, false, retriesDefaults()).
				Description("How a failed command (a lost connection, a failover in progress) is retried before the "+
					"cache reports the error.").
				Advanced(),
		).
		LintRule(`root = if this.kind.or("simple") == "failover" && this.master.or("") == "" { "field master: required with kind: failover" } else if this.kind.or("simple") != "failover" && this.master.or("") != "" { "field master: only used with kind: failover" }`)
}

func init() {
	service.MustRegisterCache("redis", spec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.Cache, error) {
		c, err := newCache(conf)
		if err != nil {
			return nil, err
		}
		clientLog.Store(mgr.Logger())
		return c, nil
	})
}

// cache is a service.Cache over one go-redis client.
type cache struct {
	client     redis.UniversalClient
	prefix     string
	defaultTTL time.Duration
	retries    *backoff.ExponentialBackOff // a template, copied per call

	closeOnce sync.Once
	closeErr  error
}

func newCache(conf *service.ParsedConfig) (*cache, error) {
	// Read as a string: FieldURL's parse error quotes the URL, password and
	// all. Errors here name the field, never the value.
	opts, k, err := clientOptions(conf)
	if err != nil {
		return nil, err
	}
	c := &cache{}
	if c.retries, err = conf.FieldBackOff(fieldRetries); err != nil {
		return nil, err
	}
	if conf.Contains(fieldPrefix) {
		if c.prefix, err = conf.FieldString(fieldPrefix); err != nil {
			return nil, err
		}
	}
	// "" is no expiry, as in Connect (whose documented block writes it).
	if s, _ := conf.FieldString(fieldDefaultTTL); s != "" {
		if c.defaultTTL, err = conf.FieldDuration(fieldDefaultTTL); err != nil {
			return nil, err
		}
	}
	// The client last, so that a field error leaves no client to close.
	switch k {
	case kindCluster:
		c.client = redis.NewClusterClient(opts.Cluster())
	case kindFailover:
		c.client = redis.NewFailoverClient(opts.Failover())
	default:
		c.client = redis.NewClient(opts.Simple())
	}
	return c, nil
}

// clientOptions reads url (one or several, comma-separated), kind, master,
// client_name and tls.
func clientOptions(conf *service.ParsedConfig) (*redis.UniversalOptions, kind, error) {
	// Read as a string: FieldURL's parse error quotes the URL, password and
	// all. Errors here name the field, never the value.
	raw, err := conf.FieldString(fieldURL)
	if err != nil {
		return nil, "", err
	}
	ks, err := conf.FieldString(fieldKind)
	if err != nil {
		return nil, "", err
	}
	k := kind(ks)
	master, err := conf.FieldString(fieldMaster)
	if err != nil {
		return nil, "", err
	}
	switch {
	case k != kindSimple && k != kindCluster && k != kindFailover:
		return nil, "", fmt.Errorf("field %s: %q is not one of simple, cluster, failover", fieldKind, ks)
	case k == kindFailover && master == "":
		return nil, "", fmt.Errorf("field %s: required with %s: %s", fieldMaster, fieldKind, kindFailover)
	case k != kindFailover && master != "":
		return nil, "", fmt.Errorf("field %s: only used with %s: %s", fieldMaster, fieldKind, kindFailover)
	}
	opts := &redis.UniversalOptions{MasterName: master}
	urls := strings.Split(raw, ",")
	if k == kindSimple && len(urls) > 1 {
		return nil, "", fmt.Errorf("field %s: several URLs need %s: cluster or failover", fieldURL, fieldKind)
	}
	for i, u := range urls {
		// Connect also takes tcp:// for redis://.
		u = strings.TrimSpace(u)
		if rest, ok := strings.CutPrefix(u, "tcp://"); ok {
			u = "redis://" + rest
		}
		one, err := redis.ParseURL(u)
		if err != nil {
			return nil, "", fmt.Errorf("field %s: URL %d is not a valid redis:// or rediss:// URL", fieldURL, i+1)
		}
		opts.Addrs = append(opts.Addrs, one.Addr)
		// The credentials, database and TLS of the last URL apply, as in Connect.
		opts.Username, opts.Password, opts.DB, opts.TLSConfig = one.Username, one.Password, one.DB, one.TLSConfig
	}
	if k == kindCluster && opts.DB != 0 {
		return nil, "", fmt.Errorf("field %s: a Redis Cluster has only database 0", fieldURL)
	}
	if opts.ClientName, err = conf.FieldString(fieldClientName); err != nil {
		return nil, "", err
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return nil, "", err
	}
	if tlsOn {
		opts.TLSConfig = tlsConf
	}
	return opts, k, nil
}

// retry runs op until it succeeds, answers a final error (final reports
// which: a missing key, an existing key), or the retries policy gives up.
func (c *cache) retry(ctx context.Context, op func() error, final func(error) bool) error {
	b := *c.retries
	b.Reset()
	for {
		err := op()
		if err == nil || final(err) {
			return err
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }

func (c *cache) ttl(ttl *time.Duration) time.Duration {
	if ttl != nil {
		return *ttl
	}
	return c.defaultTTL
}

func (c *cache) Get(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := c.retry(ctx, func() (err error) {
		b, err = c.client.Get(ctx, c.prefix+key).Bytes()
		return err
	}, isNil)
	if errors.Is(err, redis.Nil) {
		return nil, service.ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", key, err)
	}
	return b, nil
}

func (c *cache) Set(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	err := c.retry(ctx, func() error {
		return c.client.Set(ctx, c.prefix+key, value, c.ttl(ttl)).Err()
	}, func(error) bool { return false })
	if err != nil {
		return fmt.Errorf("setting %s: %w", key, err)
	}
	return nil
}

func (c *cache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	// SET ... NX answers nil when the key exists.
	err := c.retry(ctx, func() error {
		return c.client.SetArgs(ctx, c.prefix+key, value, redis.SetArgs{Mode: "NX", TTL: c.ttl(ttl)}).Err()
	}, isNil)
	if errors.Is(err, redis.Nil) {
		return service.ErrKeyAlreadyExists
	}
	if err != nil {
		return fmt.Errorf("adding %s: %w", key, err)
	}
	return nil
}

func (c *cache) Delete(ctx context.Context, key string) error {
	err := c.retry(ctx, func() error {
		return c.client.Del(ctx, c.prefix+key).Err()
	}, func(error) bool { return false })
	if err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	return nil
}

// Close closes the client's connections. It is idempotent: go-redis answers a
// second Close with an error.
func (c *cache) Close(ctx context.Context) error {
	c.closeOnce.Do(func() { c.closeErr = c.client.Close() })
	return c.closeErr
}
