// Package redis registers the `redis` cache: the replay-id store that several
// Benthos instances share, over github.com/redis/go-redis/v9.
//
// Its name and the fields it implements (url, prefix, default_ttl, tls) match
// Redpanda Connect's redis cache, so a resource file moves between our binary
// and a Connect build unchanged.
package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	fieldURL        = "url"
	fieldPrefix     = "prefix"
	fieldDefaultTTL = "default_ttl"
	fieldTLS        = "tls"
)

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
				Description("The URL of the Redis server: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.").
				Example("redis://127.0.0.1:6379").
				Example("rediss://user:${REDIS_PASSWORD}@redis.example.com:6380/0"),
			service.NewStringField(fieldPrefix).
				Description("A prefix added to every key.").
				Optional().
				Advanced(),
			service.NewDurationField(fieldDefaultTTL).
				Description("An expiry for keys set without one. Empty means keys never expire, which is what a replay-id store needs.").
				Optional().
				Advanced(),
			service.NewTLSToggledField(fieldTLS),
		)
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
	client     *redis.Client
	prefix     string
	defaultTTL time.Duration

	closeOnce sync.Once
	closeErr  error
}

func newCache(conf *service.ParsedConfig) (*cache, error) {
	// Read as a string: FieldURL's parse error quotes the URL, password and
	// all. Errors here name the field, never the value.
	raw, err := conf.FieldString(fieldURL)
	if err != nil {
		return nil, err
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("field %s: not a valid redis:// or rediss:// URL", fieldURL)
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return nil, err
	}
	if tlsOn {
		opts.TLSConfig = tlsConf
	}
	c := &cache{}
	if conf.Contains(fieldPrefix) {
		if c.prefix, err = conf.FieldString(fieldPrefix); err != nil {
			return nil, err
		}
	}
	if conf.Contains(fieldDefaultTTL) {
		if c.defaultTTL, err = conf.FieldDuration(fieldDefaultTTL); err != nil {
			return nil, err
		}
	}
	// The client last, so that a field error leaves no client to close.
	c.client = redis.NewClient(opts)
	return c, nil
}

func (c *cache) ttl(ttl *time.Duration) time.Duration {
	if ttl != nil {
		return *ttl
	}
	return c.defaultTTL
}

func (c *cache) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := c.client.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, service.ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", key, err)
	}
	return b, nil
}

func (c *cache) Set(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	if err := c.client.Set(ctx, c.prefix+key, value, c.ttl(ttl)).Err(); err != nil {
		return fmt.Errorf("setting %s: %w", key, err)
	}
	return nil
}

func (c *cache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	// SET ... NX answers nil when the key exists.
	err := c.client.SetArgs(ctx, c.prefix+key, value, redis.SetArgs{Mode: "NX", TTL: c.ttl(ttl)}).Err()
	if errors.Is(err, redis.Nil) {
		return service.ErrKeyAlreadyExists
	}
	if err != nil {
		return fmt.Errorf("adding %s: %w", key, err)
	}
	return nil
}

func (c *cache) Delete(ctx context.Context, key string) error {
	if err := c.client.Del(ctx, c.prefix+key).Err(); err != nil {
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
