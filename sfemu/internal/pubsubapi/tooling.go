package pubsubapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org/soql"
)

// The Tooling API as far as managed event subscriptions use it: ManagedEventSubscription records created, read,
// updated and deleted under /services/data/vXX.X/tooling/sobjects/ManagedEventSubscription, and queried with
// /services/data/vXX.X/tooling/query?q=SELECT ... FROM ManagedEventSubscription (docs/emulator.md, "Managed
// subscriptions").

const managedObject = "ManagedEventSubscription"

var developerNameRE = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9]|_[A-Za-z0-9])*$`)

// managedMetadata is the Metadata of a ManagedEventSubscription record.
type managedMetadata struct {
	Label               *string `json:"label"`
	TopicName           *string `json:"topicName"`
	DefaultReplay       *string `json:"defaultReplay"`
	ErrorRecoveryReplay *string `json:"errorRecoveryReplay"`
	State               *string `json:"state"`
}

type managedBody struct {
	FullName string           `json:"FullName"`
	Metadata *managedMetadata `json:"Metadata"`
}

// ServeTooling routes /services/data/vXX.X/tooling/...; parts start after "tooling".
func (s *Handler) ServeTooling(w http.ResponseWriter, r *http.Request, version string, parts []string) {
	switch {
	case len(parts) == 1 && parts[0] == "query":
		if r.Method != http.MethodGet {
			sfhttp.MethodNotAllowed(w, r, http.MethodGet)
			return
		}
		s.toolingQuery(w, r, version)
	case len(parts) == 2 && parts[0] == "sobjects" && parts[1] == managedObject:
		if r.Method != http.MethodPost {
			sfhttp.MethodNotAllowed(w, r, http.MethodPost)
			return
		}
		s.createManaged(w, r)
	case len(parts) == 3 && parts[0] == "sobjects" && parts[1] == managedObject:
		s.serveManagedRecord(w, r, version, parts[2])
	default:
		sfhttp.NotFound(w)
	}
}

func (s *Handler) createManaged(w http.ResponseWriter, r *http.Request) {
	var body managedBody
	if _, ok := sfhttp.ReadJSONObject(w, r, 1<<20, &body); !ok {
		return
	}
	if !developerNameRE.MatchString(body.FullName) || len(body.FullName) > 80 {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_INPUT", fmt.Sprintf("FullName %q is not a valid developer name: letters, digits and single underscores, starting with a letter.", body.FullName))
		return
	}
	if body.Metadata == nil || body.Metadata.TopicName == nil {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "REQUIRED_FIELD_MISSING", "Required fields are missing: [topicName]")
		return
	}
	m := &managedSubscription{name: body.FullName, label: body.FullName, defaultReplay: replayLatest, recoveryReplay: replayLatest, state: managedRun}
	if code, msg := applyManagedMetadata(m, body.Metadata, true); code != "" {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, code, msg)
		return
	}
	s.deps.Store.Lock()
	if s.pubsub.managed.byNameLocked(m.name) != nil {
		s.deps.Store.Unlock()
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "DUPLICATE_DEVELOPER_NAME", fmt.Sprintf("A ManagedEventSubscription named %s already exists.", m.name))
		return
	}
	s.pubsub.managed.seq++
	m.id = org.MakeID(ManagedKeyPrefix, s.pubsub.managed.seq)
	m.created = s.deps.Clock.Now()
	s.pubsub.managed.byID[m.id] = m
	s.deps.Store.Unlock()
	s.deps.Logf("tooling: created %s %s (%s, %s)", managedObject, m.name, m.topic, m.state)
	sfhttp.WriteRaw(w, http.StatusCreated, []byte(`{"id":"`+m.id+`","success":true,"errors":[],"warnings":[],"infos":[]}`))
}

// applyManagedMetadata validates and applies the fields present in md; create requires topicName.
func applyManagedMetadata(m *managedSubscription, md *managedMetadata, create bool) (code, msg string) {
	oneOf := func(field string, v *string, allowed ...string) (string, string) {
		for _, a := range allowed {
			if *v == a {
				return "", ""
			}
		}
		return "INVALID_INPUT", fmt.Sprintf("%s: %q is not one of %s.", field, *v, strings.Join(allowed, ", "))
	}
	if md.TopicName != nil {
		if !create && *md.TopicName != m.topic {
			return "FIELD_INTEGRITY_EXCEPTION", "topicName cannot be changed."
		}
		if _, ok := pubsubTopic(*md.TopicName); !ok {
			return "INVALID_INPUT", fmt.Sprintf("topicName: %q is not a platform event, change event or custom channel topic.", *md.TopicName)
		}
	}
	for _, f := range []struct {
		name    string
		v       *string
		allowed []string
	}{
		{"defaultReplay", md.DefaultReplay, []string{replayLatest, replayEarliest}},
		{"errorRecoveryReplay", md.ErrorRecoveryReplay, []string{replayLatest, replayEarliest}},
		{"state", md.State, []string{managedRun, managedStop}}, // PAUSE is reserved and refused
	} {
		if f.v != nil {
			if code, msg := oneOf(f.name, f.v, f.allowed...); code != "" {
				return code, msg
			}
		}
	}
	if md.TopicName != nil {
		m.topic = *md.TopicName
	}
	if md.Label != nil {
		m.label = *md.Label
	}
	if md.DefaultReplay != nil {
		m.defaultReplay = *md.DefaultReplay
	}
	if md.ErrorRecoveryReplay != nil {
		m.recoveryReplay = *md.ErrorRecoveryReplay
	}
	if md.State != nil {
		if m.state == managedRun && *md.State == managedStop {
			// Stopping disconnects the client and forgets the committed replay id: the next run starts at
			// defaultReplay.
			m.endLocked()
			m.committed = 0
		}
		m.state = *md.State
	}
	return "", ""
}

func (s *Handler) serveManagedRecord(w http.ResponseWriter, r *http.Request, version, id string) {
	full, ok := org.NormalizeID(id)
	s.deps.Store.Lock()
	m := s.pubsub.managed.byID[full]
	s.deps.Store.Unlock()
	if !ok || m == nil {
		sfhttp.NotFound(w)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.deps.Store.Lock()
		rec := managedRecord(m, version, nil)
		s.deps.Store.Unlock()
		sfhttp.WriteRaw(w, http.StatusOK, rec)
	case http.MethodPatch:
		var body managedBody
		if _, ok := sfhttp.ReadJSONObject(w, r, 1<<20, &body); !ok {
			return
		}
		if body.Metadata == nil {
			sfhttp.WriteRESTError(w, http.StatusBadRequest, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Metadata]")
			return
		}
		s.deps.Store.Lock()
		code, msg := applyManagedMetadata(m, body.Metadata, false)
		s.deps.Store.Unlock()
		if code != "" {
			sfhttp.WriteRESTError(w, http.StatusBadRequest, code, msg)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		s.deps.Store.Lock()
		m.endLocked()
		delete(s.pubsub.managed.byID, m.id)
		s.deps.Store.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		sfhttp.MethodNotAllowed(w, r, http.MethodGet, http.MethodPatch, http.MethodDelete)
	}
}

// managedRecord is the record as the Tooling API answers it; fields nil: every field.
func managedRecord(m *managedSubscription, version string, fields []string) []byte {
	md := jsonw.NewChain(nil).Str("defaultReplay", m.defaultReplay).Str("errorRecoveryReplay", m.recoveryReplay).
		Str("label", m.label).Str("state", m.state).Str("topicName", m.topic).Done()
	o := jsonw.NewChain(nil).Raw("attributes", jsonw.NewChain(nil).Str("type", managedObject).
		Str("url", "/services/data/v"+version+"/tooling/sobjects/"+managedObject+"/"+m.id).Done())
	all := fields == nil
	if all {
		fields = []string{"Id", "DeveloperName", "MasterLabel", "FullName", "CreatedDate", "Metadata"}
	}
	for _, f := range fields {
		switch strings.ToLower(f) {
		case "id":
			o.Str("Id", m.id)
		case "developername":
			o.Str("DeveloperName", m.name)
		case "masterlabel":
			o.Str("MasterLabel", m.label)
		case "fullname":
			o.Str("FullName", m.name)
		case "createddate":
			o.Str("CreatedDate", m.created.UTC().Format(restTime))
		case "metadata":
			o.Raw("Metadata", md)
		}
	}
	return o.Done()
}

// restTime is the datetime layout of REST answers: milliseconds and an offset without a colon.
const restTime = "2006-01-02T15:04:05.000-0700"

var managedFields = map[string]bool{"id": true, "developername": true, "masterlabel": true, "fullname": true, "createddate": true, "metadata": true}

// toolingQuery answers SELECT ... FROM ManagedEventSubscription [WHERE ...] [LIMIT n] with Tooling's query shape.
func (s *Handler) toolingQuery(w http.ResponseWriter, r *http.Request, version string) {
	q, err := soql.Parse(r.URL.Query().Get("q"))
	if err != nil {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "MALFORMED_QUERY", err.Error())
		return
	}
	if !strings.EqualFold(q.Object, managedObject) {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported.", q.Object))
		return
	}
	var fields []string
	for _, f := range q.Fields {
		if !managedFields[strings.ToLower(f.Name)] || f.Aggregate != "" {
			sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'.", f.Name, managedObject))
			return
		}
		fields = append(fields, f.Name)
	}
	s.deps.Store.Lock()
	var matched []*managedSubscription
	for _, m := range s.pubsub.managed.byID {
		ok, err := managedMatches(m, q.Where)
		if err != nil {
			s.deps.Store.Unlock()
			sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error())
			return
		}
		if ok {
			matched = append(matched, m)
		}
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].id < matched[j].id })
	if q.Limit >= 0 && len(matched) > q.Limit {
		matched = matched[:q.Limit]
	}
	records := []json.RawMessage{}
	if !q.Count {
		for _, m := range matched {
			records = append(records, managedRecord(m, version, fields))
		}
	}
	s.deps.Store.Unlock()
	recs, _ := json.Marshal(records)
	sfhttp.WriteRaw(w, http.StatusOK, jsonw.NewChain(nil).Int("size", int64(len(matched))).Int("totalSize", int64(len(matched))).Bool("done", true).
		Raw("queryLocator", []byte("null")).Str("entityTypeName", managedObject).Raw("records", recs).Done())
}

// managedMatches evaluates a WHERE clause on the text fields of a record (= != IN, AND OR NOT).
func managedMatches(m *managedSubscription, e soql.Expr) (bool, error) {
	value := func(field string) (string, error) {
		switch strings.ToLower(field) {
		case "id":
			return m.id, nil
		case "developername", "fullname":
			return m.name, nil
		case "masterlabel":
			return m.label, nil
		}
		return "", unfilterableField(field)
	}
	eq := func(field, v string) bool {
		if strings.EqualFold(field, "id") {
			a, ok1 := org.NormalizeID(v)
			return ok1 && a == m.id
		}
		have, _ := value(field)
		return strings.EqualFold(v, have)
	}
	switch x := e.(type) {
	case nil:
		return true, nil
	case *soql.And:
		l, err := managedMatches(m, x.L)
		if err != nil || !l {
			return false, err
		}
		return managedMatches(m, x.R)
	case *soql.Or:
		l, err := managedMatches(m, x.L)
		if err != nil || l {
			return l, err
		}
		return managedMatches(m, x.R)
	case *soql.Not:
		v, err := managedMatches(m, x.X)
		return !v, err
	case *soql.Compare:
		if _, err := value(x.Field); err != nil {
			return false, err
		}
		switch x.Op {
		case "=":
			return eq(x.Field, x.Value.Text), nil
		case "!=", "<>":
			return !eq(x.Field, x.Value.Text), nil
		}
		return false, fmt.Errorf("the operator %s is not supported on %s", x.Op, x.Field)
	case *soql.In:
		if _, err := value(x.Field); err != nil {
			return false, err
		}
		in := false
		for _, v := range x.Values {
			in = in || eq(x.Field, v.Text)
		}
		return in != x.Negate, nil
	}
	return false, fmt.Errorf("unsupported condition")
}

// unfilterableField is an error whose text is the REST error message.
type unfilterableField string

func (f unfilterableField) Error() string {
	return fmt.Sprintf("No such column '%s' on entity '%s' that can be filtered.", string(f), managedObject)
}
