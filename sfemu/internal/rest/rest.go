// Package rest is the emulator's REST surface under /services/data: the routing, sessions and API-request
// counting every REST call shares, and the streaming resources (platform-event publish, generic-channel push).
// The data API (package dataapi) and the Tooling API answer the routes they own.
package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/dataapi"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/tokens"
)

// Ops are what the REST surface asks of the layers below it and of the surfaces it routes to: the event store
// (publish, streaming channels), the org's limits and the Tooling API.
type Ops struct {
	// PublishEvent stores one platform event and returns its replay id and EventUuid.
	PublishEvent func(channel string, payload json.RawMessage) (replayID int64, uuid string, err error)
	// StreamingChannel names the generic channel of a StreamingChannel id and whether anyone subscribes to it.
	StreamingChannel func(id string) (name string, online bool)
	// Push publishes generic events on a channel.
	Push func(channel string, payloads []json.RawMessage) error
	// AdmitAPIRequest counts a REST call against DailyApiRequests; ok false: the limit is used up.
	AdmitAPIRequest func() (used, limit int64, ok bool)
	// Limits is the limits resource.
	Limits func() []byte
	// InstanceName is the instance the org lives on now.
	InstanceName func() string
	// Tooling answers /tooling/... (parts after "tooling").
	Tooling func(w http.ResponseWriter, r *http.Request, version string, parts []string)
}

// Handler answers /services/data: the Versions resource, a version's resources, limits, platform-event publish,
// generic-channel push and the instance-name query; the Tooling API and the data API (sObjects, SOQL, Bulk
// API 2.0) behind the routes they own.
type Handler struct {
	tokens *tokens.Store
	data   *dataapi.API
	orgID  string
	userID string
	ops    Ops
}

// New returns the REST surface. It checks sessions against store and hands the data API's routes to data.
func New(store *tokens.Store, data *dataapi.API, orgID, userID string, ops Ops) *Handler {
	return &Handler{tokens: store, data: data, orgID: orgID, userID: userID, ops: ops}
}

// Salesforce's REST API, as far as a streaming client uses it: the Versions resource (which clients read to pick
// the newest API version before they handshake), the resources of a version, limits, the platform-event publish
// path and the generic-channel push path.

// API versions the emulator lists. The CometD endpoint serves 37.0 and later (checkCometDPath).
const (
	oldestAPIVersion = sfhttp.OldestAPIMajor
	latestAPIMajor   = sfhttp.LatestAPIMajor
)

// apiVersionLabel names the release of a major API version: three releases a year, Winter '11 being 20.0.
func apiVersionLabel(major int) string {
	i := major - oldestAPIVersion
	season := [...]string{"Winter", "Spring", "Summer"}[i%3]
	return fmt.Sprintf("%s '%02d", season, 11+i/3)
}

// versionsJSON is the Versions resource: every version from 20.0 to the latest, oldest first, with the key order
// of Salesforce's documented answer.
func versionsJSON() []byte {
	b := []byte{'['}
	for v := oldestAPIVersion; v <= latestAPIMajor; v++ {
		if v > oldestAPIVersion {
			b = append(b, ',')
		}
		version := strconv.Itoa(v) + ".0"
		b = jsonw.NewChain(b).Str("version", version).Str("url", "/services/data/v"+version).Str("label", apiVersionLabel(v)).Done()
	}
	return append(b, ']')
}

// ServeHTTP routes /services/data and everything under it.
func (s *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/services/data")
	if p == "" || p == "/" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			sfhttp.MethodNotAllowed(w, r, http.MethodGet, http.MethodHead)
			return
		}
		sfhttp.WriteRaw(w, http.StatusOK, versionsJSON()) // no authentication, as Salesforce
		return
	}
	rest := strings.TrimPrefix(p, "/v")
	versionText, resource, _ := strings.Cut(rest, "/")
	major, ok := parseAPIVersion(versionText)
	if !ok || len(rest) == len(p) {
		sfhttp.NotFound(w)
		return
	}
	version := strconv.Itoa(major) + ".0"
	if !s.restAuthorized(r) {
		sfhttp.WriteRESTError(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	used, limit, ok := s.ops.AdmitAPIRequest()
	if !ok {
		sfhttp.WriteRESTError(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		return
	}
	w.Header().Set("Sforce-Limit-Info", "api-usage="+strconv.FormatInt(used, 10)+"/"+strconv.FormatInt(limit, 10))
	resource = strings.TrimSuffix(resource, "/")
	parts := strings.Split(resource, "/")
	switch {
	case resource == "":
		if r.Method != http.MethodGet {
			sfhttp.MethodNotAllowed(w, r, http.MethodGet, http.MethodHead)
			return
		}
		base := "/services/data/v" + version + "/"
		sfhttp.WriteRaw(w, http.StatusOK, jsonw.NewChain(nil).Str("limits", base+"limits").Str("sobjects", base+"sobjects").
			Str("query", base+"query").Str("queryAll", base+"queryAll").Str("composite", base+"composite").
			Str("jobs", base+"jobs").Done())
	case resource == "limits":
		if r.Method != http.MethodGet {
			sfhttp.MethodNotAllowed(w, r, http.MethodGet, http.MethodHead)
			return
		}
		sfhttp.WriteRaw(w, http.StatusOK, s.ops.Limits())
	case len(parts) == 4 && parts[0] == "sobjects" && parts[1] == "StreamingChannel" && parts[3] == "push":
		s.servePush(w, r, parts[2])
	case len(parts) == 2 && parts[0] == "sobjects" && isEventName(parts[1]):
		s.publishPlatformEvent(w, r, parts[1])
	case len(parts) >= 2 && parts[0] == "tooling":
		s.ops.Tooling(w, r, version, parts[1:])
	case resource == "query" && isInstanceNameQuery(r.URL.Query().Get("q")):
		s.serveInstanceName(w, r, version)
	default:
		if !s.data.Serve(w, r, version, resource) {
			sfhttp.NotFound(w)
		}
	}
}

// parseAPIVersion accepts "NN.0" for a listed version.
func parseAPIVersion(v string) (int, bool) {
	major, minor, ok := strings.Cut(v, ".")
	if !ok || minor != "0" {
		return 0, false
	}
	n, err := strconv.Atoi(major)
	if err != nil || n < oldestAPIVersion || n > latestAPIMajor {
		return 0, false
	}
	return n, true
}

func isEventName(name string) bool {
	if !strings.HasSuffix(name, "__e") || len(name) <= 3 {
		return false
	}
	for i, c := range name {
		ok := c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !ok || (i == 0 && (c == '_' || c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

func (s *Handler) restAuthorized(r *http.Request) bool {
	token, _ := sfhttp.AuthToken(r)
	return s.tokens.Valid(token)
}

// publishPlatformEvent is POST /services/data/vXX.X/sobjects/Name__e/. The answer is the one Salesforce gives
// since high-volume publishing: the event is enqueued, and the error-like entry carries its EventUuid, the
// same uuid that subscribers receive in data.event.EventUuid.
func (s *Handler) publishPlatformEvent(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodPost {
		sfhttp.MethodNotAllowed(w, r, http.MethodPost)
		return
	}
	var fields map[string]json.RawMessage
	body, ok := sfhttp.ReadJSONObject(w, r, 1<<20, &fields) // platform events are at most 1 MB
	if !ok {
		return
	}
	last, uuid, err := s.ops.PublishEvent("/event/"+name, body)
	if err != nil {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error())
		return
	}
	id := "e01" + strings.ToUpper(fmt.Sprintf("%012x", last))
	id = id[:15] + "AAA"
	enqueued := jsonw.NewChain(nil).Str("statusCode", "OPERATION_ENQUEUED").Str("message", uuid).Raw("fields", []byte(`[]`)).Done()
	sfhttp.WriteRaw(w, http.StatusCreated, jsonw.NewChain(nil).Str("id", id).Bool("success", true).Raw("errors", append(append([]byte{'['}, enqueued...), ']')).Done())
}

// pushRequest is the body of POST .../sobjects/StreamingChannel/{id}/push.
type pushRequest struct {
	PushEvents []struct {
		Payload *string  `json:"payload"`
		UserIDs []string `json:"userIds"`
	} `json:"pushEvents"`
}

// MaxPushPayload is Salesforce's bound on a pushed payload: 3,000 single-byte characters.
const MaxPushPayload = 3000

// servePush is the Streaming Channel Push resource: GET shows the channel and its online users, POST publishes
// one generic event per push event and answers one push result per event (fanoutCount -1: broadcast to every
// subscriber; 0: nobody listening; else the named users online).
func (s *Handler) servePush(w http.ResponseWriter, r *http.Request, id string) {
	name, online := s.ops.StreamingChannel(id)
	if name == "" {
		sfhttp.NotFound(w)
		return
	}
	userIDs := []byte(`[]`)
	if online {
		userIDs = append(jsonw.AppendString([]byte{'['}, s.userID), ']')
	}
	switch r.Method {
	case http.MethodGet:
		sfhttp.WriteRaw(w, http.StatusOK, jsonw.NewChain(nil).Raw("OnlineUserIds", userIDs).Str("ChannelName", name).Done())
		return
	case http.MethodPost:
	default:
		sfhttp.MethodNotAllowed(w, r, http.MethodGet, http.MethodPost)
		return
	}
	var req pushRequest
	if _, ok := sfhttp.ReadJSONObject(w, r, 1<<20, &req); !ok {
		return
	}
	if len(req.PushEvents) == 0 {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_INPUT", "pushEvents must contain at least one push event")
		return
	}
	payloads := make([]json.RawMessage, 0, len(req.PushEvents))
	results := []byte{'['}
	for i, ev := range req.PushEvents {
		if ev.Payload == nil || len(*ev.Payload) > MaxPushPayload {
			sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_INPUT", fmt.Sprintf("push event %d: payload missing or above %d characters", i, MaxPushPayload))
			return
		}
		status := jsonw.NewChain(nil)
		fanout := int64(-1)
		switch {
		case !online:
			fanout = 0
			for _, u := range ev.UserIDs {
				status.Bool(u, false)
			}
		case len(ev.UserIDs) > 0:
			fanout = 0
			for _, u := range ev.UserIDs {
				here := u == s.userID || (len(u) == 15 && strings.HasPrefix(s.userID, u))
				status.Bool(u, here)
				if here {
					fanout++
				}
			}
		}
		// The emulator's org has one user: a push naming only other users reaches nobody here.
		if len(ev.UserIDs) == 0 || fanout > 0 {
			payloads = append(payloads, jsonw.AppendString(nil, *ev.Payload))
		}
		if i > 0 {
			results = append(results, ',')
		}
		results = jsonw.NewChain(results).Int("fanoutCount", fanout).Raw("userOnlineStatus", status.Done()).Done()
	}
	if len(payloads) == 0 {
		sfhttp.WriteRaw(w, http.StatusOK, append(results, ']'))
		return
	}
	if err := s.ops.Push(name, payloads); err != nil {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_INPUT", err.Error())
		return
	}
	sfhttp.WriteRaw(w, http.StatusOK, append(results, ']'))
}

// isInstanceNameQuery reports whether q is the one SOQL query this file
// answers, compared without case and extra spaces.
func isInstanceNameQuery(q string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(q), " "), "SELECT InstanceName FROM Organization")
}

// serveInstanceName answers GET /services/data/vXX.X/query?q=SELECT InstanceName FROM Organization with
// Salesforce's query result shape: one Organization record.
func (s *Handler) serveInstanceName(w http.ResponseWriter, r *http.Request, version string) {
	if r.Method != http.MethodGet {
		sfhttp.MethodNotAllowed(w, r, http.MethodGet, http.MethodHead)
		return
	}
	attrs := jsonw.NewChain(nil).Str("type", "Organization").
		Str("url", "/services/data/v"+version+"/sobjects/Organization/"+s.orgID).Done()
	record := jsonw.NewChain(nil).Raw("attributes", attrs).Str("InstanceName", s.ops.InstanceName()).Done()
	body := jsonw.NewChain(nil).Int("totalSize", 1).Bool("done", true).
		Raw("records", append(append([]byte{'['}, record...), ']')).Done()
	sfhttp.WriteRaw(w, http.StatusOK, body)
}
