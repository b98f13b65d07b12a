package input

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Change Data Capture convergence settings: the snapshot block and
// gap_events. The names and values are a contract with users' configs;
// cdcFields gives the spec, parseCDC the Go check, cdcLintRule the lint
// fragment, all from the values below.

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

// cdcFields are the spec fields of the snapshot block and gap_events.
func cdcFields() []*service.ConfigField {
	return []*service.ConfigField{
		service.NewObjectField(ssiFieldSnapshot,
			service.NewStringEnumField(ssiFieldSnapshotMode, string(snapshotNever), string(snapshotInitial), string(snapshotAlways)).
				Description("When the input reads the current records of `objects` before streaming: `never`; `initial`, when no channel has a stored checkpoint (a first start, or a snapshot that a crash interrupted, which resumes); `always`, at every start. Snapshot records are messages with `salesforce_change_type: SNAPSHOT`, shaped like a change event of the record. The channels then start no later than the snapshot's start, so no change made meanwhile is missed (some arrive twice).").
				Default(string(snapshotNever)),
			service.NewAnyField(ssiFieldSnapshotObjects).
				Description("The objects to snapshot, each with the fields to read: `{Account: [Name, Industry]}`. An empty list reads every field of the object's describe (compound address and location fields excepted: their parts are fields of their own). The same fields serve `gap_events: fetch`.").
				Example(map[string]any{"Account": []any{"Name", "Industry", "BillingCity"}, "Contact": []any{}}).
				Default(map[string]any{}),
			service.NewStringEnumField(ssiFieldSnapshotMethod, string(methodAuto), string(methodBulk), string(methodREST)).
				Description("How records are read: `rest` (SOQL query pages ordered by Id), `bulk` (a Bulk API 2.0 query job, read page by page) or `auto` (Bulk API 2.0 for an object above "+fmt.Sprint(bulkThreshold)+" records, REST below).").
				Default(string(methodAuto)).Advanced(),
		).Description("An initial load of the records Change Data Capture will then keep current (docs/cdc.md)."),
		service.NewStringEnumField(ssiFieldGapEvents, string(gapPass), string(gapFetch)).
			Description("What happens to Change Data Capture gap events (`GAP_CREATE`, `GAP_UPDATE`, `GAP_DELETE`, `GAP_UNDELETE`, `GAP_OVERFLOW`), which name changed records without their values: `pass` delivers them as received; `fetch` reads the current records (sObject Collections, 2,000 ids a request, with the snapshot's fields) and delivers them whole with `salesforce_gap_resolved: true`, a record that is gone as a delete, and answers an overflow by re-reading the entity's records changed since the event (docs/cdc.md).").
			Default(string(gapPass)),
	}
}

// parseCDC reads and checks the snapshot block and gap_events. dataChannels
// says whether a Change Data Capture channel (/data/) is configured.
func parseCDC(pConf *service.ParsedConfig, dataChannels bool) (cdcConfig, []error) {
	var conf cdcConfig
	var errs []error
	snap := pConf.Namespace(ssiFieldSnapshot)
	mode, err := snap.FieldString(ssiFieldSnapshotMode)
	switch m := snapshotMode(strings.TrimSpace(mode)); {
	case err != nil:
		errs = append(errs, fmt.Errorf("snapshot.mode: %w", err))
	case m == snapshotNever || m == snapshotInitial || m == snapshotAlways:
		conf.Mode = m
	default:
		errs = append(errs, fmt.Errorf("snapshot.mode %q is not supported: use never, initial or always", m))
	}
	method, err := snap.FieldString(ssiFieldSnapshotMethod)
	switch m := snapshotMethod(strings.TrimSpace(method)); {
	case err != nil:
		errs = append(errs, fmt.Errorf("snapshot.method: %w", err))
	case m == methodAuto || m == methodBulk || m == methodREST:
		conf.Method = m
	default:
		errs = append(errs, fmt.Errorf("snapshot.method %q is not supported: use auto, bulk or rest", m))
	}
	gaps, err := pConf.FieldString(ssiFieldGapEvents)
	switch g := gapMode(strings.TrimSpace(gaps)); {
	case err != nil:
		errs = append(errs, fmt.Errorf("gap_events: %w", err))
	case g == gapPass || g == gapFetch:
		conf.Gaps = g
	default:
		errs = append(errs, fmt.Errorf("gap_events %q is not supported: use pass or fetch", g))
	}

	objects, oerrs := parseSnapshotObjects(snap)
	conf.Objects = objects
	errs = append(errs, oerrs...)
	if conf.Mode != snapshotNever && conf.Mode != "" && len(conf.Objects) == 0 && len(oerrs) == 0 {
		errs = append(errs, fmt.Errorf("snapshot.objects must name at least one object when snapshot.mode is %s, e.g. {Account: [Name, Industry]}", conf.Mode))
	}
	if (conf.Mode == snapshotInitial || conf.Mode == snapshotAlways || conf.Gaps == gapFetch) && !dataChannels {
		errs = append(errs, errors.New("snapshot and gap_events: fetch need a Change Data Capture channel in channels (/data/...ChangeEvent or /data/ChangeEvents)"))
	}
	return conf, errs
}

func parseSnapshotObjects(snap *service.ParsedConfig) ([]snapshotObject, []error) {
	if !snap.Contains(ssiFieldSnapshotObjects) {
		return nil, nil
	}
	raw, err := snap.FieldAny(ssiFieldSnapshotObjects)
	if err != nil {
		return nil, []error{fmt.Errorf("snapshot.objects: %w", err)}
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, []error{errors.New("snapshot.objects must be an object of {Object: [Field, ...]}, e.g. {Account: [Name, Industry]}")}
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
			errs = append(errs, fmt.Errorf("snapshot.objects: %q is not an object API name: use letters, digits and _, e.g. Account or Invoice__c", name))
			continue
		}
		obj := snapshotObject{Name: name}
		var list []any
		switch v := m[name].(type) {
		case nil:
		case []any:
			list = v
		default:
			errs = append(errs, fmt.Errorf("snapshot.objects.%s must be a list of field names, e.g. [Name, Industry] ([] for every field)", name))
			continue
		}
		for _, f := range list {
			s, ok := f.(string)
			if !ok || !sobjectNameRE.MatchString(s) {
				errs = append(errs, fmt.Errorf("snapshot.objects.%s: %v is not a field API name: use letters, digits and _, e.g. Name or Amount__c", name, f))
				continue
			}
			if slices.ContainsFunc(obj.Fields, func(x string) bool { return strings.EqualFold(x, s) }) {
				errs = append(errs, fmt.Errorf("snapshot.objects.%s: %s is listed twice", name, s))
				continue
			}
			obj.Fields = append(obj.Fields, s)
		}
		out = append(out, obj)
	}
	return out, errs
}

// cdcLintRule is the lint fragment of the same checks; lint.go adds
// $snapshot_errs to its list. It reads $channel_list from the rule.
const cdcLintRule = `
let snap = if this.snapshot.type() == "object" { this.snapshot } else { {} }
let snap_mode = $snap.mode.or("never").string()
let snap_mode_errs = if ["never", "initial", "always"].contains($snap_mode) { [] } else {
  ["snapshot.mode %q is not supported: use never, initial or always".format($snap_mode)]
}
let snap_method = $snap.method.or("auto").string()
let snap_method_errs = if ["auto", "bulk", "rest"].contains($snap_method) { [] } else {
  ["snapshot.method %q is not supported: use auto, bulk or rest".format($snap_method)]
}
let gap_mode = this.gap_events.or("pass").string()
let gap_errs = if ["pass", "fetch"].contains($gap_mode) { [] } else {
  ["gap_events %q is not supported: use pass or fetch".format($gap_mode)]
}
let snap_objects = $snap.objects.or({})
let snap_object_errs = if $snap_objects.type() != "object" {
  ["snapshot.objects must be an object of {Object: [Field, ...]}, e.g. {Account: [Name, Industry]}"]
} else {
  $snap_objects.keys().sort().map_each(o -> if !o.re_match({{SOBJECT_RE}}) {
    ["snapshot.objects: %q is not an object API name: use letters, digits and _, e.g. Account or Invoice__c".format(o)]
  } else if ["array", "null"].contains($snap_objects.get(o).type()) {
    $snap_objects.get(o).or([]).filter(f -> if f.type() != "string" { true } else { !f.re_match({{SOBJECT_RE}}) }).map_each(f -> "snapshot.objects.%s: %v is not a field API name: use letters, digits and _, e.g. Name or Amount__c".format(o, f)).merge(
      $snap_objects.get(o).or([]).filter(f -> f.type() == "string").map_each(f -> f.lowercase()).fold({"seen": [], "dups": []}, acc -> if acc.tally.seen.contains(acc.value) { {"seen": acc.tally.seen, "dups": acc.tally.dups.append(acc.value)} } else { {"seen": acc.tally.seen.append(acc.value), "dups": acc.tally.dups} }).dups.unique().map_each(f -> "snapshot.objects.%s: %s is listed twice".format(o, f))
    )
  } else {
    ["snapshot.objects.%s must be a list of field names, e.g. [Name, Industry] ([] for every field)".format(o)]
  }).flatten()
}
let snap_empty_errs = if $snap_mode != "never" && ["initial", "always"].contains($snap_mode) && $snap_objects.type() == "object" && $snap_objects.keys().length() == 0 {
  ["snapshot.objects must name at least one object when snapshot.mode is %s, e.g. {Account: [Name, Industry]}".format($snap_mode)]
} else { [] }
let snap_channel_errs = if (["initial", "always"].contains($snap_mode) || $gap_mode == "fetch") && $channel_list.filter(c -> c.type() == "string" && c.has_prefix("/data/")).length() == 0 {
  ["snapshot and gap_events: fetch need a Change Data Capture channel in channels (/data/...ChangeEvent or /data/ChangeEvents)"]
} else { [] }
let resync_errs = if this.on_invalid_replay_id.or("").string() == "resync" && $snap_objects.type() == "object" && $snap_objects.keys().length() == 0 {
  [{{RESYNC_NEEDS_OBJECTS}}]
} else { [] }
let snapshot_errs = [$snap_mode_errs, $snap_method_errs, $gap_errs, $snap_object_errs, $snap_empty_errs, $snap_channel_errs, $resync_errs].flatten()
`

// resyncNeedsObjects is the error of on_invalid_replay_id: resync without objects to re-read.
const resyncNeedsObjects = "on_invalid_replay_id: resync needs snapshot.objects: name the objects to read again, e.g. {Account: [Name, Industry]}"

// isDataChannel reports whether channel is a Change Data Capture channel.
func isDataChannel(channel string) bool { return strings.HasPrefix(channel, "/data/") }

// bulkThreshold is the object size above which method auto reads with Bulk
// API 2.0: one job and a few result pages cost fewer API calls than a query
// page per 2,000 records, and the job's extra latency stops mattering.
const bulkThreshold = 100_000
