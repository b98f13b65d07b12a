package org

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// OpKind is what an operation does to a record.
type OpKind int

// Operations.
const (
	OpCreate OpKind = iota + 1
	OpUpdate
	OpDelete
	OpUndelete
)

// Op is one record operation of a request. Fields hold JSON-decoded values (string, json.Number, float64, bool,
// nil); Object names the object of a create, ID the record of the others.
type Op struct {
	Kind   OpKind
	Object string
	ID     string
	Fields map[string]any
}

// Error is a failed operation's error, as REST and SOAP report it.
type Error struct {
	StatusCode string
	Message    string
	Fields     []string
}

func (e *Error) Error() string { return e.StatusCode + ": " + e.Message }

// OpResult is one operation's outcome, in request order.
type OpResult struct {
	ID      string
	Success bool
	Errors  []*Error
}

// ChangeType is what a change did; it names the change event.
type ChangeType string

// Change types of record changes.
const (
	Created   ChangeType = "CREATE"
	Updated   ChangeType = "UPDATE"
	Deleted   ChangeType = "DELETE"
	Undeleted ChangeType = "UNDELETE"
)

// Change is one record change of a transaction.
type Change struct {
	Type   ChangeType
	Object *Object
	ID     string
	// Changed lists the positions of the fields an UPDATE changed, in field order, LastModifiedDate included.
	Changed []int
	Before  []string // the values before an UPDATE, DELETE or UNDELETE
	After   []string // the values after the change
}

// Transaction is the changes of one request, committed together.
type Transaction struct {
	Key    string // transactionKey of its change events
	Origin string // changeOrigin: com/salesforce/api/rest/66.0;client=...
	// Tag is the caller's label (ApplyTagged), telling the surfaces how to report the changes.
	Tag     string
	Commit  time.Time
	Number  int64 // commitNumber
	Changes []Change
}

// Drain takes the transactions committed since the last Drain, oldest first. A surface that changes records
// drains after each request, so change events leave in commit order whoever commits.
func (o *Org) Drain() []*Transaction {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.committed
	o.committed = nil
	return out
}

// Apply performs a request's operations as one transaction. With allOrNone, one failure fails every operation
// (the others with ALL_OR_NONE_OPERATION_ROLLED_BACK) and nothing changes. It returns the results in order and
// the committed transaction (nil when nothing changed).
func (o *Org) Apply(origin string, allOrNone bool, ops ...Op) ([]OpResult, *Transaction) {
	return o.ApplyTagged(origin, "", allOrNone, ops...)
}

// ApplyTagged is Apply with a tag on the transaction (for instance, changes that are to be reported as gap
// events).
func (o *Org) ApplyTagged(origin, tag string, allOrNone bool, ops ...Op) ([]OpResult, *Transaction) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.cfg.Now()
	results := make([]OpResult, len(ops))
	changes := make([]Change, 0, len(ops))
	staged := map[string]*record{} // records created or changed earlier in this request
	failed := false
	for i, op := range ops {
		ch, err := o.stageLocked(op, now, staged)
		if err != nil {
			results[i].Errors = []*Error{err}
			failed = true
			continue
		}
		results[i] = OpResult{ID: ch.ID, Success: true}
		changes = append(changes, ch)
	}
	if allOrNone && failed {
		for i := range results {
			if results[i].Success {
				results[i] = OpResult{Errors: []*Error{{StatusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
					Message: "Record rolled back because not all records were valid and the request was using AllOrNone header"}}}
			}
		}
		return results, nil
	}
	if len(changes) == 0 {
		return results, nil
	}
	return results, o.commitLocked(origin, tag, now, changes)
}

// commitLocked writes staged changes and appends the transaction to the change log.
func (o *Org) commitLocked(origin, tag string, now time.Time, changes []Change) *Transaction {
	for _, ch := range changes {
		r, ok := o.byID[ch.ID]
		if !ok {
			o.insert(&record{obj: ch.Object, vals: ch.After})
			continue
		}
		t := o.tables[r.obj]
		switch ch.Type {
		case Deleted:
			t.live--
			t.toBin(r)
		case Undeleted:
			t.live++
			t.fromBin(r)
		}
		if f, i, ok := r.obj.Field("Name"); ok && f.Unique {
			delete(t.unique, strings.ToLower(r.vals[i]))
			if ch.Type != Deleted {
				t.unique[strings.ToLower(ch.After[i])] = r
			}
		}
		r.vals = ch.After
	}
	o.commits++
	tx := &Transaction{Key: TransactionKey(o.rng), Origin: origin, Tag: tag, Commit: now, Number: CommitNumberBase + o.commits, Changes: changes}
	o.committed = append(o.committed, tx)
	return tx
}

// CommitNumberBase gives commit numbers the 14 digits of real ones (11640258965714): the org's transactions and
// the event store's generated change events number from it.
const CommitNumberBase = 11_640_000_000_000

// TransactionKey draws a transaction key shaped like real ones (0001284f-bf79-b4c7-c7d8-de9e3018d47b): 32
// lowercase hex digits in 8-4-4-4-12 groups, without a UUID's version and variant bits, leading zeros first. The
// caller owns rng (and its lock).
func TransactionKey(rng *rand.Rand) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			out = append(out, '-')
		}
		d := hex[rng.IntN(16)]
		if i < 3 {
			d = '0'
		}
		out = append(out, d)
	}
	return string(out)
}

func (o *Org) lookupLocked(id string, staged map[string]*record) (*record, *Error) {
	full, ok := NormalizeID(id)
	if !ok {
		return nil, &Error{StatusCode: "MALFORMED_ID", Message: "malformed id " + id, Fields: []string{}}
	}
	if r, ok := staged[full]; ok {
		return r, nil
	}
	r, ok := o.byID[full]
	if !ok {
		return nil, &Error{StatusCode: "NOT_FOUND", Message: "The requested resource does not exist", Fields: []string{}}
	}
	return r, nil
}

func (o *Org) stageLocked(op Op, now time.Time, staged map[string]*record) (Change, *Error) {
	stamp := o.stampLocked(now)
	switch op.Kind {
	case OpCreate:
		obj, ok := o.Object(op.Object)
		if !ok {
			return Change{}, &Error{StatusCode: "NOT_FOUND", Message: "The requested resource does not exist", Fields: []string{}}
		}
		vals := make([]string, len(obj.Fields))
		for i, f := range obj.Fields {
			vals[i] = f.Default
		}
		if f, i, ok := obj.Field("OwnerId"); ok && f.ReferTo == "User" {
			vals[i] = o.cfg.UserID
		}
		if err := o.setFieldsLocked(obj, vals, op.Fields, true); err != nil {
			return Change{}, err
		}
		fillPersonName(obj, vals)
		var missing []string
		for i, f := range obj.Fields {
			if f.Required && vals[i] == "" {
				missing = append(missing, f.Name)
			}
			if f.AutoNumber {
				o.serial[obj.Name+"."+f.Name]++
				vals[i] = fmt.Sprintf("%08d", 1000+o.serial[obj.Name+"."+f.Name])
			}
		}
		if len(missing) > 0 {
			return Change{}, &Error{StatusCode: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [" + strings.Join(missing, ", ") + "]", Fields: missing}
		}
		if err := o.checkLocked(obj, vals, nil); err != nil {
			return Change{}, err
		}
		o.setSystem(vals, o.newIDLocked(obj), now)
		r := &record{obj: obj, vals: vals}
		staged[r.id()] = r
		return Change{Type: Created, Object: obj, ID: r.id(), After: vals}, nil
	case OpUpdate, OpDelete, OpUndelete:
		r, err := o.lookupLocked(op.ID, staged)
		if err != nil {
			return Change{}, err
		}
		if op.Kind == OpUndelete {
			if !r.deleted() {
				return Change{}, &Error{StatusCode: "UNDELETE_FAILED", Message: "Entity is not in the recycle bin", Fields: []string{}}
			}
		} else if r.deleted() {
			return Change{}, &Error{StatusCode: "ENTITY_IS_DELETED", Message: "entity is deleted", Fields: []string{}}
		}
		vals := append([]string(nil), r.vals...)
		ch := Change{Object: r.obj, ID: r.id(), Before: r.vals}
		switch op.Kind {
		case OpUpdate:
			ch.Type = Updated
			if err := o.setFieldsLocked(r.obj, vals, op.Fields, false); err != nil {
				return Change{}, err
			}
			fillPersonName(r.obj, vals)
			if err := o.checkLocked(r.obj, vals, r); err != nil {
				return Change{}, err
			}
			for i := systemFieldCount; i < len(vals); i++ {
				if vals[i] != r.vals[i] {
					ch.Changed = append(ch.Changed, i)
				}
			}
			ch.Changed = append(ch.Changed, fLastModifiedDate)
		case OpDelete:
			ch.Type, vals[fIsDeleted] = Deleted, "true"
		case OpUndelete:
			ch.Type, vals[fIsDeleted] = Undeleted, "false"
		}
		vals[fLastModifiedDate], vals[fLastModifiedByID], vals[fSystemModstamp] = stamp, o.cfg.UserID, stamp
		ch.After = vals
		staged[ch.ID] = &record{obj: r.obj, vals: vals}
		return ch, nil
	}
	return Change{}, &Error{StatusCode: "INVALID_OPERATION", Message: "unknown operation", Fields: []string{}}
}

// checkLocked enforces unique names and the object's own rules (a PushTopic's query must compile).
func (o *Org) checkLocked(obj *Object, vals []string, self *record) *Error {
	if f, i, ok := obj.Field("Name"); ok && f.Unique {
		if other, dup := o.tables[obj].unique[strings.ToLower(vals[i])]; dup && other != self && !other.deleted() {
			return &Error{StatusCode: "DUPLICATE_VALUE", Message: "duplicate value found: Name duplicates value on record with id: " + other.id(), Fields: []string{}}
		}
	}
	if obj.Name == "StreamingChannel" {
		_, ni, _ := obj.Field("Name")
		if name := vals[ni]; !ValidGenericChannel(name) {
			return &Error{StatusCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "Streaming channel name must start with /u/: " + name, Fields: []string{"Name"}}
		}
	}
	if obj.Name == "PushTopic" {
		_, qi, _ := obj.Field("Query")
		if _, err := o.compile(vals[qi]); err != nil {
			return &Error{StatusCode: "INVALID_FIELD", Message: err.Error(), Fields: []string{"Query"}}
		}
	}
	return nil
}

// setFieldsLocked converts and writes the given fields into vals.
func (o *Org) setFieldsLocked(obj *Object, vals []string, fields map[string]any, create bool) *Error {
	var denied []string
	for _, name := range sortedKeys(fields) {
		if strings.EqualFold(name, "attributes") {
			continue
		}
		if strings.EqualFold(name, "Id") {
			if create {
				return &Error{StatusCode: "INVALID_FIELD", Message: "The Id field should not be specified in the sobject data.", Fields: []string{}}
			}
			continue
		}
		f, i, ok := obj.Field(name)
		if !ok {
			return &Error{StatusCode: "INVALID_FIELD", Message: fmt.Sprintf("No such column '%s' on sobject of type %s", name, obj.Name), Fields: []string{}}
		}
		if create && !f.Createable || !create && !f.Updateable {
			denied = append(denied, f.Name)
			continue
		}
		v, err := Convert(f, fields[name])
		if err != nil {
			return err
		}
		vals[i] = v
	}
	if len(denied) > 0 {
		verb := "update"
		if create {
			verb = "create"
		}
		return &Error{StatusCode: "INVALID_FIELD_FOR_INSERT_UPDATE", Message: fmt.Sprintf("Unable to %s/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", verb, strings.Join(denied, ", ")), Fields: denied}
	}
	return nil
}

// Convert turns a JSON value into a field's stored text ("" for null), or Salesforce's error for a value of the
// wrong type.
func Convert(f *Field, v any) (string, *Error) {
	bad := func() *Error {
		return &Error{StatusCode: "JSON_PARSER_ERROR", Message: fmt.Sprintf("Cannot deserialize instance of %s from %v value for field %s", f.Type, v, f.Name), Fields: []string{f.Name}}
	}
	if v == nil {
		return "", nil
	}
	var text string
	var num float64
	isNum := false
	switch x := v.(type) {
	case string:
		text = x
	case json.Number:
		text = x.String()
		n, err := x.Float64()
		num, isNum = n, err == nil
	case float64:
		text, num, isNum = strconv.FormatFloat(x, 'f', -1, 64), x, true
	case int:
		text, num, isNum = strconv.Itoa(x), float64(x), true
	case bool:
		text = strconv.FormatBool(x)
	default:
		return "", bad()
	}
	switch {
	case f.Type.Numeric():
		if !isNum {
			n, err := strconv.ParseFloat(text, 64)
			if err != nil {
				return "", bad()
			}
			num = n
		}
		if math.IsInf(num, 0) || math.IsNaN(num) {
			return "", bad()
		}
		if f.Type == TypeInt {
			if num != math.Trunc(num) {
				return "", bad()
			}
			return strconv.FormatInt(int64(num), 10), nil
		}
		return strconv.FormatFloat(num, 'f', -1, 64), nil
	case f.Type == TypeBoolean:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return "", bad()
		}
		return strconv.FormatBool(b), nil
	case f.Type == TypeDate:
		d, err := time.Parse("2006-01-02", text)
		if err != nil {
			return "", bad()
		}
		return d.Format("2006-01-02"), nil
	case f.Type == TypeDateTime:
		t, ok := parseAnyDateTime(text)
		if !ok {
			return "", bad()
		}
		return t.UTC().Format(DateTimeLayout), nil
	case f.Type == TypeReference || f.Type == TypeID:
		if text == "" {
			return "", nil
		}
		full, ok := NormalizeID(text)
		if !ok {
			return "", &Error{StatusCode: "MALFORMED_ID", Message: fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, text), Fields: []string{f.Name}}
		}
		return full, nil
	}
	if f.Length > 0 && len([]rune(text)) > f.Length {
		return "", &Error{StatusCode: "STRING_TOO_LONG", Message: fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Label, truncate(text, 40), f.Length), Fields: []string{f.Name}}
	}
	return text, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func parseAnyDateTime(s string) (time.Time, bool) {
	for _, layout := range []string{DateTimeLayout, time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ValidGenericChannel accepts /u/Name and path-like names such as Salesforce's own example
// /u/notifications/ExampleUserChannel: the one rule for generic channel names, which the event store uses too.
func ValidGenericChannel(name string) bool {
	rest, ok := strings.CutPrefix(name, "/u/")
	if !ok || rest == "" || strings.ContainsAny(rest, "?*") {
		return false
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg == "" {
			return false
		}
	}
	return true
}
