package checkpointfmt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The lease: one input instance at a time consumes the channels of a
// checkpoint_cache_key. It lives in the checkpoint cache beside the
// checkpoints, under LeaseKey(prefix), as `<epoch>;<expires>;<holder>`:
// epoch counts the holders that took it one after the other, expires is the
// instant (Unix milliseconds) after which a standby may take it, holder
// names the instance. The expiry is in the value because not every cache
// honours a TTL (Benthos' file cache ignores it); a cache that does (Redis)
// is given the same TTL, so its key vanishes at about the same time.
//
// Every channel key is `<prefix>:` followed by a path-escaped channel, which
// starts with `%2F`: `<prefix>:lease` and `<prefix>:probe` can be no
// channel's key.

// LeaseKey is the cache key of the lease of checkpoint keys under prefix.
func LeaseKey(prefix string) string { return prefix + ":lease" }

// ProbeKey is the cache key the input writes to find out whether the cache
// takes writes before it subscribes a channel that has no checkpoint yet.
func ProbeKey(prefix string) string { return prefix + ":probe" }

// Lease is the value stored under LeaseKey.
type Lease struct {
	Epoch   int64
	Expires time.Time
	Holder  string
}

// Format writes l as stored: `<epoch>;<expires, Unix ms>;<holder>`.
func (l Lease) Format() []byte {
	return []byte(strconv.FormatInt(l.Epoch, 10) + ";" + strconv.FormatInt(l.Expires.UnixMilli(), 10) + ";" + l.Holder)
}

// ParseLease reads a stored lease. A value a crash cut short (a file cache
// writes after creating the file) fails to parse; the caller decides how long
// to respect it.
func ParseLease(value []byte) (Lease, error) {
	parts := strings.SplitN(string(value), ";", 3)
	if len(parts) != 3 || parts[2] == "" {
		return Lease{}, errors.New("not <epoch>;<expires>;<holder>")
	}
	epoch, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || epoch < 1 {
		return Lease{}, fmt.Errorf("invalid lease epoch %q", parts[0])
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || ms < 0 {
		return Lease{}, fmt.Errorf("invalid lease expiry %q", parts[1])
	}
	return Lease{Epoch: epoch, Expires: time.UnixMilli(ms), Holder: parts[2]}, nil
}
