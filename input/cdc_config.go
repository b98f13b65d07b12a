package input

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
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

// parseSnapshotObjects reads snapshot.objects, sorted by name.
func parseSnapshotObjects(snap *service.ParsedConfig) ([]snapshotObject, []error) {
	if !snap.Contains(ssiFieldSnapshotObjects) {
		return nil, nil
	}
	raw, err := snap.FieldAny(ssiFieldSnapshotObjects)
	if err != nil {
		return nil, []error{fmt.Errorf("%s.%s: %w", ssiFieldSnapshot, ssiFieldSnapshotObjects, err)}
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, []error{msgObjectsNotMap.err()}
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	var out []snapshotObject
	for _, name := range names {
		if !sobjectNameRE.MatchString(name) {
			errs = append(errs, msgObjectName.err(name))
			continue
		}
		obj := snapshotObject{Name: name}
		var list []any
		switch v := m[name].(type) {
		case nil:
		case []any:
			list = v
		default:
			errs = append(errs, msgObjectNotList.err(name))
			continue
		}
		for _, f := range list {
			s, ok := f.(string)
			if !ok || !sobjectNameRE.MatchString(s) {
				errs = append(errs, msgObjectFieldName.err(name, f))
				continue
			}
			if slices.ContainsFunc(obj.Fields, func(x string) bool { return strings.EqualFold(x, s) }) {
				errs = append(errs, msgObjectFieldTwice.err(name, s))
				continue
			}
			obj.Fields = append(obj.Fields, s)
		}
		out = append(out, obj)
	}
	return out, errs
}

// isDataChannel reports whether channel is a Change Data Capture channel.
func isDataChannel(channel string) bool { return strings.HasPrefix(channel, "/data/") }

// bulkThreshold is the object size above which method auto reads with Bulk
// API 2.0: one job and a few result pages cost fewer API calls than a query
// page per 2,000 records, and the job's extra latency stops mattering.
const bulkThreshold = 100_000
