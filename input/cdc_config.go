package input

import (
	"regexp"
	"strings"
)

// Change Data Capture convergence settings: the snapshot block and
// gap_events. The names and values are a contract with users' configs; the
// fields are entries of the configuration table (config_fields.go), their
// cross-field checks the snapshot rule (config_rules.go).

const (
	ssiFieldSnapshot        = "snapshot"
	ssiFieldSnapshotMode    = "mode"
	ssiFieldSnapshotObjects = "objects"
	ssiFieldSnapshotMethod  = "method"
	ssiFieldGapEvents       = "gap_events"
)

// snapshotMode is snapshot.mode.
type snapshotMode string

const (
	snapshotNever   snapshotMode = "never"
	snapshotInitial snapshotMode = "initial"
	snapshotAlways  snapshotMode = "always"
)

// snapshotMethod is snapshot.method.
type snapshotMethod string

const (
	methodAuto snapshotMethod = "auto"
	methodBulk snapshotMethod = "bulk"
	methodREST snapshotMethod = "rest"
)

// gapMode is gap_events.
type gapMode string

const (
	gapPass  gapMode = "pass"
	gapFetch gapMode = "fetch"
)

// sobjectNameRE is an object or field API name: a letter, then letters,
// digits and underscores (custom ones end in __c). Names go into SOQL, so
// nothing else is accepted.
var sobjectNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)

// snapshotObject is one object of snapshot.objects: its fields, empty for
// every field of describe.
type snapshotObject struct {
	Name   string
	Fields []string
}

// cdcConfig is the parsed snapshot block and gap_events.
type cdcConfig struct {
	Mode    snapshotMode
	Method  snapshotMethod
	Objects []snapshotObject // by name
	Gaps    gapMode
}

// fieldsOf answers the configured fields of object (nil: every field), and
// whether the object is configured.
func (c cdcConfig) fieldsOf(object string) ([]string, bool) {
	for _, o := range c.Objects {
		if strings.EqualFold(o.Name, object) {
			return o.Fields, true
		}
	}
	return nil, false
}

// isDataChannel reports whether channel is a Change Data Capture channel.
func isDataChannel(channel string) bool { return strings.HasPrefix(channel, "/data/") }

// bulkThreshold is the object size above which method auto reads with Bulk
// API 2.0: one job and a few result pages cost fewer API calls than a query
// page per 2,000 records, and the job's extra latency stops mattering.
const bulkThreshold = 100_000
