package main

// Benthos' streams mode answers GET /streams/{id} with the stream's config as
// read, after ${ENV} interpolation: every client secret, password, refresh
// token and private key in clear. Benthos v4.77 has no hook to scrub it, so
// this file puts a gate in front of the streams API: routes registered before
// the stream manager's own (the HTTP router takes the first match), which
// call the stream manager's handlers and scrub what they answer the way
// `benthos echo` scrubs a config. It also makes the HTTP API listen on
// loopback unless configured otherwise.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"sync"
	"unsafe"

	"github.com/redpanda-data/benthos/v4/public/service"
	"gopkg.in/yaml.v3"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
)

// defaultHTTPAddress is our default of http.address: Benthos' is 0.0.0.0,
// which offers the API (and in streams mode the streams' CRUD) to the network.
const defaultHTTPAddress = "127.0.0.1:4195"

// scrubbedMark is what Benthos puts in place of a secret field's value.
const scrubbedMark = "!!!SECRET_SCRUBBED!!!"

// withheldMark replaces a config that could not be scrubbed.
const withheldMark = "!!!CONFIG_WITHHELD: it could not be checked for secrets!!!"

// secureAPIOptions are the CLI options of our distribution that concern the
// HTTP API: the loopback default address, and the streams API gate.
func secureAPIOptions() []service.CLIOptFunc {
	g := &streamsGate{}
	return []service.CLIOptFunc{
		service.CLIOptSetMainSchemaFrom(func() *service.ConfigSchema {
			s := service.GlobalEnvironment().FullConfigSchema(Version, DateBuilt)
			s.SetFieldDefault(defaultHTTPAddress, "http", "address")
			return s
		}),
		service.CLIOptOnConfigParse(g.onConfigParse),
		service.CLIOptOnStreamStart(g.onStreamStart),
	}
}

// gateState says what the gate does with a request.
type gateState int

const (
	gateStarting gateState = iota // streams mode is starting: 503
	gateOpen                      // the stream manager's API is on: scrubbed answers
	gateOff                       // streams mode with --no-api: 404, as without the gate
)

// streamsCRUD is the part of Benthos' stream manager the gate calls.
type streamsCRUD interface {
	HandleStreamsCRUD(w http.ResponseWriter, r *http.Request)
	HandleStreamCRUD(w http.ResponseWriter, r *http.Request)
	HandleResourceCRUD(w http.ResponseWriter, r *http.Request)
}

// endpointRegistrar is the part of Benthos' resource manager that adds
// routes to the HTTP API.
type endpointRegistrar interface {
	RegisterEndpoint(path, desc string, h http.HandlerFunc)
}

// streamsGate fronts the streams API of one process.
type streamsGate struct {
	mu         sync.RWMutex
	registered bool // streams mode: the gate's routes exist
	state      gateState
	crud       streamsCRUD
	marshaller *service.StreamConfigMarshaller
}

// Gate routes. Their path strings differ from the stream manager's
// ("/streams/{id}", ...) so that Benthos keeps both routes, and they match
// the same requests; being registered first, they win.
const (
	gatePathStreams   = "/{streams:streams}"
	gatePathStream    = "/streams/{id:[^/]+}"
	gatePathResources = "/resources/{type:[^/]+}/{id:[^/]+}"
)

// onConfigParse runs after the HTTP API exists and before streams mode
// creates its stream manager: the moment to add the gate's routes.
func (g *streamsGate) onConfigParse(p *service.ParsedConfig) error {
	// The root config of streams mode has no input section; a normal run's
	// has one (stdin by default). Only streams mode gets the gate, so a
	// pipeline's own http_server paths are never shadowed.
	if p.Contains("input") {
		return nil
	}
	reg, err := registrarOf(p.Resources())
	if err != nil {
		return fmt.Errorf("securing the streams API: %w; run streams mode with --no-api", err)
	}
	g.mu.Lock()
	g.registered = true
	g.marshaller = service.GlobalEnvironment().FullConfigSchema(Version, DateBuilt).
		NewStreamConfigMarshaller().SetScrubSecrets(true)
	g.mu.Unlock()
	reg.RegisterEndpoint(gatePathStreams, "GET: list the streams; POST: replace them all (answers are scrubbed of secrets).", g.serveStreams)
	reg.RegisterEndpoint(gatePathStream, "CRUD on one stream; GET shows its config with secrets scrubbed.", g.serveStream)
	reg.RegisterEndpoint(gatePathResources, "POST: create or replace a resource (answers are scrubbed of secrets).", g.serveResource)
	return nil
}

// onStreamStart hands the gate the stream manager once streams mode runs.
func (g *streamsGate) onStreamStart(s *service.RunningStreamSummary) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.registered {
		return nil
	}
	crud, apiEnabled, err := streamManagerOf(s)
	if err != nil {
		return fmt.Errorf("securing the streams API: %w; run streams mode with --no-api", err)
	}
	g.crud = crud
	g.state = gateOff
	if apiEnabled {
		g.state = gateOpen
	}
	return nil
}

// registrarOf reaches the resource manager behind res: Benthos exposes it
// only through XUnwrapper, whose Unwrap returns an internal type.
func registrarOf(res *service.Resources) (endpointRegistrar, error) {
	unwrap := reflect.ValueOf(res.XUnwrapper()).MethodByName("Unwrap")
	if !unwrap.IsValid() || unwrap.Type().NumIn() != 0 || unwrap.Type().NumOut() != 1 {
		return nil, errors.New("this Benthos version offers no way to reach its HTTP API")
	}
	reg, ok := unwrap.Call(nil)[0].Interface().(endpointRegistrar)
	if !ok {
		return nil, errors.New("this Benthos version's manager cannot register HTTP endpoints")
	}
	return reg, nil
}

// streamManagerOf finds Benthos' stream manager inside s, which holds it in
// an unexported field, and whether its CRUD API is on (--no-api turns it
// off). A summary of a normal run holds something else: nil, false, nil.
// The layout is that of Benthos v4.77; any other shape is an error, so that
// the process refuses to start rather than serve unscrubbed configs.
func streamManagerOf(s *service.RunningStreamSummary) (streamsCRUD, bool, error) {
	field := reflect.ValueOf(s).Elem().FieldByName("c")
	if !field.IsValid() || field.Kind() != reflect.Interface {
		return nil, false, errors.New("this Benthos version's running stream summary has an unknown layout")
	}
	// The field is unexported: reflect only reads it through an alias.
	inner := reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem().Interface()
	crud, ok := inner.(streamsCRUD)
	if !ok {
		return nil, false, errors.New("streams mode runs without Benthos' stream manager")
	}
	v := reflect.ValueOf(inner)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	enabled := v.FieldByName("apiEnabled")
	if !enabled.IsValid() || enabled.Kind() != reflect.Bool {
		return nil, false, errors.New("this Benthos version's stream manager has an unknown layout")
	}
	return crud, enabled.Bool(), nil
}

// current returns what the gate does now.
func (g *streamsGate) current() (gateState, streamsCRUD, *service.StreamConfigMarshaller) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.state, g.crud, g.marshaller
}

// admit answers a request the gate cannot pass on yet; false when it did.
func (g *streamsGate) admit(w http.ResponseWriter) (streamsCRUD, *service.StreamConfigMarshaller, bool) {
	state, crud, m := g.current()
	switch state {
	case gateStarting:
		http.Error(w, "streams mode is starting", http.StatusServiceUnavailable)
		return nil, nil, false
	case gateOff:
		http.NotFound(w, nil)
		return nil, nil, false
	}
	return crud, m, true
}

func (g *streamsGate) serveStreams(w http.ResponseWriter, r *http.Request) {
	crud, m, ok := g.admit(w)
	if !ok {
		return
	}
	red := redact.New(requestSecrets(r, m, true)...)
	rec := newBufferedResponse()
	crud.HandleStreamsCRUD(rec, r)
	rec.flush(w, red.Known(rec.body.String()))
}

func (g *streamsGate) serveResource(w http.ResponseWriter, r *http.Request) {
	crud, m, ok := g.admit(w)
	if !ok {
		return
	}
	red := redact.New(requestSecrets(r, m, false)...)
	rec := newBufferedResponse()
	crud.HandleResourceCRUD(rec, r)
	rec.flush(w, red.Known(rec.body.String()))
}

// serveStream passes the request to the stream manager and scrubs the
// answer: a GET's config structurally, and every answer of the secrets of
// the stream as it stood before the request and of the config posted.
func (g *streamsGate) serveStream(w http.ResponseWriter, r *http.Request) {
	crud, m, ok := g.admit(w)
	if !ok {
		return
	}
	// The stream's current config, scrubbed, and the secrets it holds.
	get := r.Clone(r.Context())
	get.Method, get.Body, get.ContentLength = http.MethodGet, http.NoBody, 0
	cur := newBufferedResponse()
	crud.HandleStreamCRUD(cur, get)
	scrubbedBody, secrets := scrubStreamAnswer(cur.body.Bytes(), m)
	red := redact.New(append(secrets, requestSecrets(r, m, false)...)...)
	if r.Method == http.MethodGet {
		cur.flush(w, red.Known(string(scrubbedBody)))
		return
	}
	rec := newBufferedResponse()
	crud.HandleStreamCRUD(rec, r)
	rec.flush(w, red.Known(rec.body.String()))
}

// scrubStreamAnswer replaces the config of a GET /streams/{id} answer by its
// scrubbed form and returns the secrets that were removed. An answer that is
// not such a document (404, an error) comes back unchanged.
func scrubStreamAnswer(body []byte, m *service.StreamConfigMarshaller) ([]byte, []string) {
	var doc map[string]any
	if json.Unmarshal(body, &doc) != nil {
		return body, nil
	}
	raw, ok := doc["config"]
	if !ok {
		return body, nil
	}
	scrubbed, secrets, err := scrubConfig(raw, m)
	if err != nil {
		doc["config"] = withheldMark
		// Every string of an unscrubbable config counts as secret.
		secrets = allStrings(raw, nil)
	} else {
		doc["config"] = scrubbed
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return []byte(`{"error":"stream answer withheld"}`), secrets
	}
	return out, secrets
}

// scrubConfig scrubs a stream config as `benthos echo` does and returns the
// values it removed.
func scrubConfig(raw any, m *service.StreamConfigMarshaller) (any, []string, error) {
	if m == nil {
		return nil, nil, errors.New("no marshaller")
	}
	// The marshaller fills defaults into the value it parses: give it a copy.
	y, err := m.AnyToYAML(deepCopy(raw))
	if err != nil {
		return nil, nil, err
	}
	var scrubbed any
	if err := yaml.Unmarshal([]byte(y), &scrubbed); err != nil {
		return nil, nil, err
	}
	return project(raw, scrubbed), removedSecrets(raw, scrubbed, nil), nil
}

// project keeps of scrubbed only the fields raw has: the marshaller fills in
// every default, and the API answers the config as it was given. A field the
// marshaller dropped stays dropped.
func project(raw, scrubbed any) any {
	switch s := scrubbed.(type) {
	case map[string]any:
		r, ok := raw.(map[string]any)
		if !ok {
			return s
		}
		out := make(map[string]any, len(r))
		for k, rv := range r {
			if sv, ok := s[k]; ok {
				out[k] = project(rv, sv)
			}
		}
		return out
	case []any:
		r, ok := raw.([]any)
		if !ok {
			return s
		}
		out := make([]any, len(s))
		for i := range s {
			if i < len(r) {
				out[i] = project(r[i], s[i])
			} else {
				out[i] = s[i]
			}
		}
		return out
	}
	return scrubbed
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}

// removedSecrets walks a config and its scrubbed form side by side and
// collects the values scrubbing replaced.
func removedSecrets(raw, scrubbed any, acc []string) []string {
	switch s := scrubbed.(type) {
	case string:
		if r, ok := raw.(string); ok && s == scrubbedMark && r != scrubbedMark {
			acc = append(acc, r)
		}
	case map[string]any:
		if r, ok := raw.(map[string]any); ok {
			for k, v := range s {
				acc = removedSecrets(r[k], v, acc)
			}
		}
	case []any:
		if r, ok := raw.([]any); ok {
			for i := range min(len(r), len(s)) {
				acc = removedSecrets(r[i], s[i], acc)
			}
		}
	}
	return acc
}

func allStrings(v any, acc []string) []string {
	switch t := v.(type) {
	case string:
		acc = append(acc, t)
	case map[string]any:
		for _, x := range t {
			acc = allStrings(x, acc)
		}
	case []any:
		for _, x := range t {
			acc = allStrings(x, acc)
		}
	}
	return acc
}

// envRef is Benthos' ${VAR} and ${VAR:default} interpolation.
var envRef = regexp.MustCompile(`\$\{([0-9A-Za-z_.]+)(?::([^}]*))?\}`)

// requestSecrets reads the config a request carries (leaving the body for the
// stream manager) and returns the secrets it holds once interpolated, so that
// an error quoting the posted config cannot echo them. many is true for
// POST /streams, whose body maps stream ids to configs.
func requestSecrets(r *http.Request, m *service.StreamConfigMarshaller, many bool) []string {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil || len(body) == 0 {
		return nil
	}
	body = envRef.ReplaceAllFunc(body, func(ref []byte) []byte {
		sub := envRef.FindSubmatch(ref)
		if v, ok := os.LookupEnv(string(sub[1])); ok {
			return []byte(v)
		}
		return sub[2]
	})
	var doc any
	if yaml.Unmarshal(body, &doc) != nil {
		return nil
	}
	configs := []any{doc}
	if byID, ok := doc.(map[string]any); ok && many {
		configs = configs[:0]
		for _, c := range byID {
			configs = append(configs, c)
		}
	}
	var secrets []string
	for _, c := range configs {
		if _, s, err := scrubConfig(c, m); err == nil {
			secrets = append(secrets, s...)
		}
	}
	return secrets
}

// bufferedResponse holds a handler's answer so the gate can scrub it.
type bufferedResponse struct {
	header  http.Header
	status  int
	written bool // WriteHeader was called: later calls are ignored, as by net/http
	body    bytes.Buffer
}

func newBufferedResponse() *bufferedResponse {
	return &bufferedResponse{header: http.Header{}, status: http.StatusOK}
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) { b.written = true; return b.body.Write(p) }

func (b *bufferedResponse) WriteHeader(status int) {
	if !b.written {
		b.status, b.written = status, true
	}
}

// flush writes the held answer with body in place of the original.
func (b *bufferedResponse) flush(w http.ResponseWriter, body string) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(b.status)
	_, _ = io.WriteString(w, body)
}
