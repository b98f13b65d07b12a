package input

import "time"

// The names and values of checkpoint health's and the lease's fields; the
// fields are entries of the configuration table (config_fields.go).
const (
	ssiFieldCheckpointGrace = "checkpoint_grace_period"
	ssiFieldLease           = "lease"
	ssiFieldLeaseEnabled    = "enabled"
	ssiFieldLeaseTTL        = "ttl"

	defaultLeaseTTL = "15s"
	// minLeaseTTL: the holder renews every ttl/3 and stops ttl/5 (at least
	// 500 ms) before the value expires; below 2 s a cache round trip under
	// load no longer fits.
	minLeaseTTL = 2 * time.Second
)

// leaseConfig is the lease field.
type leaseConfig struct {
	Enabled bool
	TTL     time.Duration
}
