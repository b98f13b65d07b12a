package input

import (
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// The fields of checkpoint health and of the lease: names, spec, parsing and
// lint, in one place.
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

func checkpointHealthFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewDurationField(ssiFieldCheckpointGrace).
			Description("How long writes of a channel's checkpoint (or of the lease) may fail before the input stops reading and `/ready` answers 503 naming the channel and the cache. Until then events flow and acknowledged progress waits in memory; `salesforce_streaming_checkpoint_errors` counts every failed write and `salesforce_streaming_checkpoint_age_seconds` how long progress has waited. Reading resumes by itself once writes succeed.").
			Default(defaultCheckpointGrace).Advanced(),
		service.NewObjectField(ssiFieldLease,
			service.NewBoolField(ssiFieldLeaseEnabled).
				Description("Take a lease in `checkpoint_cache` (under `{checkpoint_cache_key}:lease`) before consuming, so that of several replicas with the same cache and `checkpoint_cache_key` only one consumes; the others stand by (and are ready) and take over within `ttl` plus a few seconds when it dies. A clean shutdown releases the lease at once.").
				Default(true),
			service.NewDurationField(ssiFieldLeaseTTL).
				Description("How long the lease lasts without renewal. The holder renews every third of it and stops reading a fifth of it before it runs out when it cannot renew. At least 2s.").
				Default(defaultLeaseTTL),
		).Description("One active subscriber per checkpoint key among replicas (see Delivery guarantees).").Advanced(),
	}
}

// parseCheckpointHealth reads checkpoint_grace_period and lease.
func parseCheckpointHealth(pConf *service.ParsedConfig, conf *ssiConfig) (errs []error) {
	grace, err := pConf.FieldDuration(ssiFieldCheckpointGrace)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("%s: %w", ssiFieldCheckpointGrace, err))
	case grace <= 0:
		errs = append(errs, fmt.Errorf("%s must be a positive duration, e.g. %s", ssiFieldCheckpointGrace, defaultCheckpointGrace))
	default:
		conf.CheckpointGrace = grace
	}
	ns := pConf.Namespace(ssiFieldLease)
	if conf.Lease.Enabled, err = ns.FieldBool(ssiFieldLeaseEnabled); err != nil {
		errs = append(errs, fmt.Errorf("lease.enabled: %w", err))
	}
	ttl, err := ns.FieldDuration(ssiFieldLeaseTTL)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("lease.ttl: %w", err))
	case ttl < minLeaseTTL:
		errs = append(errs, fmt.Errorf("lease.ttl %v is below its floor of %v: the holder must renew and stop well within it, e.g. %s", ttl, minLeaseTTL, defaultLeaseTTL))
	default:
		conf.Lease.TTL = ttl
	}
	return errs
}

// leaseLintRule is the part of the lint rule for these fields; lint.go joins
// its errors to the others.
const leaseLintRule = `
let grace = this.checkpoint_grace_period.or("` + defaultCheckpointGrace + `").string().parse_duration().catch(-1)
let grace_errs = if $grace <= 0 {
  ["checkpoint_grace_period must be a positive duration, e.g. ` + defaultCheckpointGrace + `"]
} else { [] }
let lease_obj = if this.lease.type() == "object" { this.lease } else { {} }
let lease_ttl = $lease_obj.ttl.or("` + defaultLeaseTTL + `").string().parse_duration().catch(-1)
let lease_errs = if $lease_ttl < 2000000000 {
  ["lease.ttl %v is below its floor of 2s: the holder must renew and stop well within it, e.g. ` + defaultLeaseTTL + `".format($lease_obj.ttl.or("` + defaultLeaseTTL + `"))]
} else { [] }
`
