package redis

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// go-redis logs through one process-wide logger, to stderr by default,
// outside Benthos' log format. Its lines (a failed dial, a pool retry) repeat
// what the cache's errors already say to the component that called it, so
// they go to Benthos' logger at debug level: the logger of the cache built
// last, since there is only one.
var clientLog atomic.Pointer[service.Logger]

type benthosLogging struct{}

func (benthosLogging) Printf(_ context.Context, format string, v ...any) {
	if l := clientLog.Load(); l != nil {
		l.Debugf("redis client: "+format, v...)
	}
}

func init() { redis.SetLogger(benthosLogging{}) }
