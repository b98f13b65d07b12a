package dataapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// collections is /composite/sobjects[/{Object}]: retrieve (GET or POST with an object), create (POST), update
// (PATCH) and delete (DELETE).
func (a *API) collections(w http.ResponseWriter, r *http.Request, version string, rest []string) {
	if len(rest) == 1 {
		obj, ok := a.org.Object(rest[0])
		if !ok {
			notFound(w)
			return
		}
		a.retrieveMany(w, r, version, obj)
		return
	}
	if len(rest) != 0 || !allow(w, r, http.MethodPost, http.MethodPatch, http.MethodDelete) {
		if len(rest) != 0 {
			notFound(w)
		}
		return
	}
	var ops []org.Op
	allOrNone := false
	if r.Method == http.MethodDelete {
		allOrNone = r.URL.Query().Get("allOrNone") == "true"
		for _, id := range splitList(r.URL.Query().Get("ids")) {
			ops = append(ops, org.Op{Kind: org.OpDelete, ID: id})
		}
	} else {
		var body struct {
			AllOrNone bool             `json:"allOrNone"`
			Records   []map[string]any `json:"records"`
		}
		if !readBody(w, r, &body) {
			return
		}
		allOrNone = body.AllOrNone
		for _, rec := range body.Records {
			op := org.Op{Kind: org.OpCreate, Fields: rec}
			if attrs, ok := rec["attributes"].(map[string]any); ok {
				op.Object, _ = attrs["type"].(string)
			}
			if r.Method == http.MethodPatch {
				op.Kind = org.OpUpdate
				op.ID, _ = firstString(rec, "id", "Id")
				delete(rec, "id")
			}
			ops = append(ops, op)
		}
	}
	if len(ops) == 0 {
		writeError(w, http.StatusBadRequest, "INVALID_FIELD", "No records to process")
		return
	}
	if len(ops) > maxCollection {
		writeError(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", fmt.Sprintf("record limit reached. cannot submit more than %d records into this call", maxCollection))
		return
	}
	for i, op := range ops {
		if op.Kind == org.OpCreate && op.Object == "" {
			writeError(w, http.StatusBadRequest, "INVALID_TYPE", fmt.Sprintf("Must send a concrete entity type. (record %d has no attributes.type)", i))
			return
		}
	}
	results, tx := a.org.Apply(origin(version, r), allOrNone, ops...)
	if tx != nil {
		a.hooks.Committed()
	}
	out := make([]map[string]any, len(results))
	for i, res := range results {
		item := map[string]any{"success": res.Success, "errors": []any{}}
		if res.Success {
			item["id"] = res.ID
		} else {
			var errs []any
			for _, e := range res.Errors {
				fields := e.Fields
				if fields == nil {
					fields = []string{}
				}
				errs = append(errs, map[string]any{"statusCode": e.StatusCode, "message": e.Message, "fields": fields})
			}
			item["errors"] = errs
			if ops[i].Kind != org.OpCreate {
				item["id"] = ops[i].ID
			}
		}
		out[i] = item
	}
	writeJSON(w, http.StatusOK, out)
}

func firstString(m map[string]any, keys ...string) (string, bool) {
	for _, k := range keys {
		if v, ok := m[k].(string); ok {
			return v, true
		}
	}
	return "", false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// retrieveMany is GET /composite/sobjects/{Object}?ids=&fields= or POST with {"ids":[...],"fields":[...]}: the
// records in request order, null for an id that is not a live record of the object.
func (a *API) retrieveMany(w http.ResponseWriter, r *http.Request, version string, obj *org.Object) {
	if !allow(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	var ids, fields []string
	if r.Method == http.MethodPost {
		var body struct {
			IDs    []string `json:"ids"`
			Fields []string `json:"fields"`
		}
		if !readBody(w, r, &body) {
			return
		}
		ids, fields = body.IDs, body.Fields
	} else {
		ids, fields = splitList(r.URL.Query().Get("ids")), splitList(r.URL.Query().Get("fields"))
	}
	if len(fields) == 0 {
		writeError(w, http.StatusBadRequest, "MISSING_ARGUMENT", "fields: At least one field must be specified")
		return
	}
	if len(ids) == 0 || len(ids) > maxRetrieveIDs {
		writeError(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", fmt.Sprintf("ids: between 1 and %d ids must be given", maxRetrieveIDs))
		return
	}
	cols, bad, ok := fieldColumns(obj, strings.Join(fields, ","))
	if !ok {
		writeError(w, http.StatusBadRequest, "INVALID_FIELD", "No such column '"+bad+"' on sobject of type "+obj.Name)
		return
	}
	b := []byte{'['}
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		rec, ok := a.org.Get(id)
		if !ok || rec.Object != obj || rec.Deleted() {
			b = append(b, "null"...)
			continue
		}
		b = appendRecord(b, version, obj, rec.Values, cols)
	}
	sfhttp.WriteRaw(w, http.StatusOK, append(b, ']'))
}
