// Package dataapi is the REST data API of sfemu's org: sObject create, retrieve, update, delete and describe,
// sObject Collections, SOQL query and queryAll with nextRecordsUrl paging, and Bulk API 2.0 query jobs, with
// Salesforce's answer shapes and errors. It sits on the org package and receives only what it uses: the org, and
// hooks to the surfaces that turn committed changes into events and count API usage. Authentication happens
// before a request reaches it.
package dataapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org/soql"
)

// Hooks connect the API to the rest of the emulator.
type Hooks struct {
	// Committed runs after every request that changed records, so their change events go out.
	Committed func()
	// BulkQueryJob counts a created Bulk API 2.0 query job against its allocation.
	BulkQueryJob func()
}

// API serves the data resources of one org.
type API struct {
	org   *org.Org
	hooks Hooks

	mu         sync.Mutex
	cursors    map[string]*cursor // query locator -> remaining rows
	order      []string           // locators, oldest first, for eviction
	cursorRows int                // rows the kept cursors hold
	serial     uint64
}

// New builds the API.
func New(o *org.Org, hooks Hooks) *API {
	if hooks.Committed == nil {
		hooks.Committed = func() {}
	}
	if hooks.BulkQueryJob == nil {
		hooks.BulkQueryJob = func() {}
	}
	return &API{org: o, hooks: hooks, cursors: map[string]*cursor{}}
}

// Limits of the data API, Salesforce's.
const (
	maxCollection      = 200       // records in one collections create, update or delete
	maxRetrieveIDs     = 2000      // ids in one collections retrieve
	defaultBatchSize   = 2000      // rows in a query page
	minBatchSize       = 200       // Sforce-Query-Options batchSize floor
	maxCursors         = 10_000    // query locators kept; the oldest go first
	maxCursorRows      = 5_000_000 // rows the kept locators hold between them (about 120 MB of row references)
	maxBodyBytes       = 8 << 20   // request body
	defaultAPIVersion  = "66.0"
	errResourceMissing = "The requested resource does not exist"
)

// Serve answers resource (the path after /services/data/vXX.X/, without a trailing slash) and reports whether it
// was a data resource; version is "NN.0".
func (a *API) Serve(w http.ResponseWriter, r *http.Request, version, resource string) bool {
	parts := strings.Split(resource, "/")
	switch {
	case resource == "sobjects":
		a.globalDescribe(w, r, version)
	case parts[0] == "sobjects" && len(parts) >= 2:
		obj, ok := a.org.Object(parts[1])
		if !ok {
			return false // platform events and others, or NOT_FOUND from the caller
		}
		switch {
		case len(parts) == 2:
			a.objectRoot(w, r, version, obj)
		case len(parts) == 3 && parts[2] == "describe":
			if !allow(w, r, http.MethodGet) {
				return true
			}
			writeJSON(w, http.StatusOK, describe(obj, version))
		case len(parts) == 3:
			a.record(w, r, version, obj, parts[2])
		default:
			return false
		}
	case resource == "query" || resource == "queryAll":
		a.query(w, r, version, resource == "queryAll")
	case (parts[0] == "query" || parts[0] == "queryAll") && len(parts) == 2:
		a.queryMore(w, r, version, parts[1])
	case parts[0] == "composite" && len(parts) >= 2 && parts[1] == "sobjects":
		a.collections(w, r, version, parts[2:])
	case parts[0] == "jobs" && len(parts) >= 2 && parts[1] == "query":
		a.bulk(w, r, version, parts[2:])
	default:
		return false
	}
	return true
}

// restError is one entry of an error answer: Salesforce's key order is message, errorCode, fields.
type restError struct {
	Message   string    `json:"message"`
	ErrorCode string    `json:"errorCode"`
	Fields    *[]string `json:"fields,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []restError{{Message: msg, ErrorCode: code}})
}

func writeOpError(w http.ResponseWriter, status int, e *org.Error) {
	fields := e.Fields
	if fields == nil {
		fields = []string{}
	}
	writeJSON(w, status, []restError{{Message: e.Message, ErrorCode: e.StatusCode, Fields: &fields}})
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "NOT_FOUND", errResourceMissing)
}

// writeQueryError answers a SOQL error: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE and the like, with 400.
func writeQueryError(w http.ResponseWriter, err error) {
	var qe *soql.Error
	if errors.As(err, &qe) {
		writeError(w, http.StatusBadRequest, qe.Code, qe.Error())
		return
	}
	writeError(w, http.StatusBadRequest, "MALFORMED_QUERY", err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := sfhttp.MarshalNoEscape(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`[{"message":"encoding answer","errorCode":"UNKNOWN_EXCEPTION"}]`)
	}
	sfhttp.WriteRaw(w, status, b)
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '"+r.Method+"' not allowed. Allowed are "+strings.Join(methods, ","))
	return false
}

// readBody decodes a JSON body (numbers kept as json.Number) or answers Salesforce's parser error.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil || len(body) > maxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "JSON_PARSER_ERROR", fmt.Sprintf("request body above %d bytes", maxBodyBytes))
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "Unexpected character or end of input in the request body: "+err.Error())
		return false
	}
	return true
}

// recordURL is a record's REST URL, as attributes.url carries it.
func recordURL(version, object, id string) string {
	return "/services/data/v" + version + "/sobjects/" + object + "/" + id
}

// appendRecord renders a record with attributes first, then the fields at positions cols (all when nil).
func appendRecord(b []byte, version string, obj *org.Object, vals []string, cols []int) []byte {
	b = append(b, `{"attributes":{"type":`...)
	b = appendString(b, obj.Name)
	b = append(b, `,"url":`...)
	b = appendString(b, recordURL(version, obj.Name, vals[0]))
	b = append(b, '}')
	emit := func(i int) {
		f := obj.Fields[i]
		b = append(b, ',')
		b = appendString(b, f.Name)
		b = append(b, ':')
		b = appendValue(b, f, vals[i])
	}
	if cols == nil {
		for i := range obj.Fields {
			emit(i)
		}
	} else {
		for _, i := range cols {
			emit(i)
		}
	}
	return append(b, '}')
}

// appendValue writes a stored value as JSON: numbers and booleans bare, null for empty, text quoted.
func appendValue(b []byte, f *org.Field, v string) []byte {
	switch {
	case v == "":
		return append(b, "null"...)
	case f.Type.Numeric() || f.Type == org.TypeBoolean:
		return append(b, v...)
	}
	return appendString(b, v)
}

func appendString(b []byte, s string) []byte { return jsonw.AppendString(b, s) }

// fieldColumns resolves a fields= list; Id is always included, as Salesforce's answer shows it.
func fieldColumns(obj *org.Object, list string) ([]int, string, bool) {
	cols := []int{0}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		_, i, ok := obj.Field(name)
		if !ok {
			return nil, name, false
		}
		if i != 0 && !contains(cols, i) {
			cols = append(cols, i)
		}
	}
	return cols, "", true
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
