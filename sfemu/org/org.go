// Package org is the emulated Salesforce org beneath sfemu's protocol surfaces: the schema (standard objects and
// custom objects declared at start-up, with describe metadata), records with Salesforce ids and audit fields, a
// recycle bin, the SOQL engine, Bulk API 2.0 query jobs and the change log: a transaction per request, which
// the surfaces drain in commit order and turn into change events. It has no HTTP in it; every method is safe for concurrent use.
package org

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config configures an org.
type Config struct {
	OrgID  string // 18-character organization id
	UserID string // the one user's id: CreatedById, LastModifiedById, OwnerId
	// Username, and the user's name, fill the User record of UserID.
	Username string
	Now      func() time.Time // nil: time.Now
	Seed     uint64
	Custom   []ObjectSpec
}

// Org holds the schema and the records.
type Org struct {
	cfg Config

	mu      sync.Mutex
	rng     *rand.Rand
	objects map[string]*Object // lower-case name -> object
	order   []*Object          // describe order
	tables  map[*Object]*table
	byID    map[string]*record
	serial  map[string]uint64 // key prefix -> last serial
	commits int64
	jobs    bulkJobs
	// committed holds transactions not yet taken by Drain: the change log the surfaces turn into events.
	committed []*Transaction
	stamp     stampCache
}

// table is an object's records in creation order (ids ascend with it).
type table struct {
	rows []*record
	live int // rows not deleted
	// unique maps a unique field's lower-case value to its record (PushTopic and StreamingChannel Name).
	unique map[string]*record
	// bin is the recycle bin (records deleted, not undeleted), binAt each one's position, for picking one at
	// random without a scan.
	bin   []*record
	binAt map[*record]int
}

func (t *table) toBin(r *record) {
	t.binAt[r] = len(t.bin)
	t.bin = append(t.bin, r)
}

func (t *table) fromBin(r *record) {
	i, ok := t.binAt[r]
	if !ok {
		return
	}
	last := t.bin[len(t.bin)-1]
	t.bin[i], t.binAt[last] = last, i
	t.bin = t.bin[:len(t.bin)-1]
	delete(t.binAt, r)
}

// record is one row. vals is never changed in place: an update swaps in a new slice, so a query result holding
// the old slice stays consistent.
type record struct {
	obj  *Object
	vals []string // one per field in obj.Fields; "" is null
}

func (r *record) id() string    { return r.vals[fID] }
func (r *record) deleted() bool { return r.vals[fIsDeleted] == "true" }

// New builds an org with the standard objects, the declared custom objects and the user's User record.
func New(cfg Config) (*Org, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	o := &Org{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		objects: map[string]*Object{}, tables: map[*Object]*table{}, byID: map[string]*record{}, serial: map[string]uint64{}}
	o.jobs.jobs = map[string]*BulkJob{}
	for _, obj := range standardObjects() {
		o.add(obj)
	}
	for i, spec := range cfg.Custom {
		if _, dup := o.objects[strings.ToLower(spec.Name)]; dup {
			return nil, fmt.Errorf("custom object %s declared twice", spec.Name)
		}
		o.add(customObject(spec, i))
	}
	user := o.objects["user"]
	name := cfg.Username
	if name == "" {
		name = "emulator@example.com"
	}
	vals := make([]string, len(user.Fields))
	o.setSystem(vals, cfg.UserID, o.cfg.Now())
	for k, v := range map[string]string{"Username": name, "Email": name, "FirstName": "Emulated", "LastName": "User", "Alias": "emu",
		"IsActive": "true", "TimeZoneSidKey": "America/Los_Angeles"} {
		_, i, _ := user.Field(k)
		vals[i] = v
	}
	o.insert(&record{obj: user, vals: vals})
	return o, nil
}

func (o *Org) add(obj *Object) {
	o.objects[strings.ToLower(obj.Name)] = obj
	o.order = append(o.order, obj)
	o.tables[obj] = &table{unique: map[string]*record{}, binAt: map[*record]int{}}
}

// Object looks an object up by name, case-insensitively.
func (o *Org) Object(name string) (*Object, bool) {
	obj, ok := o.objects[strings.ToLower(name)]
	return obj, ok
}

// Objects lists every object, standard ones first.
func (o *Org) Objects() []*Object { return o.order }

// ObjectOfID names the object a record id belongs to, by its key prefix.
func (o *Org) ObjectOfID(id string) (*Object, bool) {
	if len(id) < 3 {
		return nil, false
	}
	for _, obj := range o.order {
		if obj.KeyPrefix == id[:3] {
			return obj, true
		}
	}
	return nil, false
}

// Count returns how many live (not deleted) records an object has.
func (o *Org) Count(obj *Object) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tables[obj].live
}

// newIDLocked assigns the next id of an object.
func (o *Org) newIDLocked(obj *Object) string {
	o.serial[obj.KeyPrefix]++
	return MakeID(obj.KeyPrefix, o.serial[obj.KeyPrefix])
}

// DateTimeLayout is how REST and SOQL write datetimes (and how the org stores them, so text order is time order).
const DateTimeLayout = "2006-01-02T15:04:05.000-0700"

// stampCache formats the commit time once per second: audit fields have whole-second precision.
type stampCache struct {
	sec  int64
	text string
}

func (o *Org) stampLocked(now time.Time) string {
	if s := now.Unix(); s != o.stamp.sec || o.stamp.text == "" {
		o.stamp.sec, o.stamp.text = s, now.UTC().Truncate(time.Second).Format(DateTimeLayout)
	}
	return o.stamp.text
}

func (o *Org) setSystem(vals []string, id string, now time.Time) {
	stamp := o.stampLocked(now)
	vals[fID], vals[fIsDeleted] = id, "false"
	vals[fCreatedDate], vals[fCreatedByID] = stamp, o.cfg.UserID
	vals[fLastModifiedDate], vals[fLastModifiedByID], vals[fSystemModstamp] = stamp, o.cfg.UserID, stamp
}

func (o *Org) insert(r *record) {
	t := o.tables[r.obj]
	t.rows = append(t.rows, r)
	t.live++
	o.byID[r.id()] = r
	if f, i, ok := r.obj.Field("Name"); ok && f.Unique {
		t.unique[strings.ToLower(r.vals[i])] = r
	}
}

// Record is a copy of a record's values, by field, for the surfaces.
type Record struct {
	Object *Object
	Values []string // one per Object.Fields; "" is null
}

// ID returns the record's 18-character id.
func (r Record) ID() string { return r.Values[fID] }

// Deleted reports whether the record is in the recycle bin.
func (r Record) Deleted() bool { return r.Values[fIsDeleted] == "true" }

// Get returns a record by id (15 or 18 characters); deleted records are returned with Deleted() true.
func (o *Org) Get(id string) (Record, bool) {
	full, ok := NormalizeID(id)
	if !ok {
		return Record{}, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.byID[full]
	if !ok {
		return Record{}, false
	}
	return Record{Object: r.obj, Values: r.vals}, true
}

// Records returns the live records of an object in id order (for streaming definitions and tests).
func (o *Org) Records(obj *Object) []Record {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tables[obj]
	out := make([]Record, 0, t.live)
	for _, r := range t.rows {
		if !r.deleted() {
			out = append(out, Record{Object: obj, Values: r.vals})
		}
	}
	return out
}

// sortedKeys returns a map's keys in order, for deterministic iteration.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
