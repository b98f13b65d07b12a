package sfemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
)

// restHandler answers the REST API: platform events, streaming channels, pushes and limits.
// It shares the Server's state and lock through the embedded pointer.
type restHandler struct{ *Server }

// Salesforce's REST API, as far as a streaming client uses it: the Versions resource (which clients read to pick
// the newest API version before they handshake), the resources of a version, limits, the platform-event publish
// path and the generic-channel push path.

// API versions the emulator lists. The CometD endpoint serves 37.0 and later (checkCometDPath).
const (
	LatestAPIVersion = sfhttp.LatestAPIVersion
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
		b = newObj(b).str("version", version).str("url", "/services/data/v"+version).str("label", apiVersionLabel(v)).done()
	}
	return append(b, ']')
}

// serveREST routes /services/data and everything under it.
func (s *restHandler) serveREST(w http.ResponseWriter, r *http.Request) {
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
	used, limit, ok := s.admitAPIRequest()
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
		sfhttp.WriteRaw(w, http.StatusOK, newObj(nil).str("limits", base+"limits").str("sobjects", base+"sobjects").
			str("query", base+"query").str("queryAll", base+"queryAll").str("composite", base+"composite").
			str("jobs", base+"jobs").done())
	case resource == "limits":
		if r.Method != http.MethodGet {
			sfhttp.MethodNotAllowed(w, r, http.MethodGet, http.MethodHead)
			return
		}
		sfhttp.WriteRaw(w, http.StatusOK, s.limitsJSON())
	case len(parts) == 4 && parts[0] == "sobjects" && parts[1] == "StreamingChannel" && parts[3] == "push":
		s.servePush(w, r, parts[2])
	case len(parts) == 2 && parts[0] == "sobjects" && isEventName(parts[1]):
		s.publishPlatformEvent(w, r, parts[1])
	case len(parts) >= 2 && parts[0] == "tooling":
		s.serveTooling(w, r, version, parts[1:])
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

func (s *restHandler) restAuthorized(r *http.Request) bool {
	token, _ := sfhttp.AuthToken(r)
	return s.tokens.Valid(token)
}

// readJSONObject reads a REST request body that must be a JSON object, or answers Salesforce's parser error.
func readJSONObject(w http.ResponseWriter, r *http.Request, limit int, v any) ([]byte, bool) {
	body, err := sfhttp.ReadLimited(r.Body, limit)
	if err != nil {
		sfhttp.WriteRESTError(w, http.StatusRequestEntityTooLarge, "JSON_PARSER_ERROR", fmt.Sprintf("request body above %d bytes", limit))
		return nil, false
	}
	if err := json.Unmarshal(body, v); err != nil || len(body) == 0 || strings.TrimSpace(string(body))[0] != '{' {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body must be a JSON object")
		return nil, false
	}
	return body, true
}

// publishPlatformEvent is POST /services/data/vXX.X/sobjects/Name__e/. The answer is the one Salesforce gives
// since high-volume publishing: the event is enqueued, and the error-like entry carries its EventUuid, the
// same uuid that subscribers receive in data.event.EventUuid.
func (s *restHandler) publishPlatformEvent(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodPost {
		sfhttp.MethodNotAllowed(w, r, http.MethodPost)
		return
	}
	var fields map[string]json.RawMessage
	body, ok := readJSONObject(w, r, 1<<20, &fields) // platform events are at most 1 MB
	if !ok {
		return
	}
	s.mu.Lock()
	_, last, err := s.publishLocked(publishSpec{channel: "/event/" + name, payloads: []json.RawMessage{body}})
	uuid := s.lastEventUUID
	s.mu.Unlock()
	if err != nil {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error())
		return
	}
	s.countPublished(1)
	id := "e01" + strings.ToUpper(fmt.Sprintf("%012x", last))
	id = id[:15] + "AAA"
	enqueued := newObj(nil).str("statusCode", "OPERATION_ENQUEUED").str("message", uuid).raw("fields", []byte(`[]`)).done()
	sfhttp.WriteRaw(w, http.StatusCreated, newObj(nil).str("id", id).bool("success", true).raw("errors", append(append([]byte{'['}, enqueued...), ']')).done())
}

// pushRequest is the body of POST .../sobjects/StreamingChannel/{id}/push.
type pushRequest struct {
	PushEvents []struct {
		Payload *string  `json:"payload"`
		UserIDs []string `json:"userIds"`
	} `json:"pushEvents"`
}

// maxPushPayload is Salesforce's bound on a pushed payload: 3,000 single-byte characters.
const maxPushPayload = 3000

// servePush is the Streaming Channel Push resource: GET shows the channel and its online users, POST publishes
// one generic event per push event and answers one push result per event (fanoutCount -1: broadcast to every
// subscriber; 0: nobody listening; else the named users online).
func (s *restHandler) servePush(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	name := s.streamingChannels[id]
	var online bool
	if ch := s.channels[name]; ch != nil {
		online = len(ch.subs) > 0
	}
	s.mu.Unlock()
	if name == "" {
		sfhttp.NotFound(w)
		return
	}
	userIDs := []byte(`[]`)
	if online {
		userIDs = append(appendJSONString([]byte{'['}, s.cfg.UserID), ']')
	}
	switch r.Method {
	case http.MethodGet:
		sfhttp.WriteRaw(w, http.StatusOK, newObj(nil).raw("OnlineUserIds", userIDs).str("ChannelName", name).done())
		return
	case http.MethodPost:
	default:
		sfhttp.MethodNotAllowed(w, r, http.MethodGet, http.MethodPost)
		return
	}
	var req pushRequest
	if _, ok := readJSONObject(w, r, 1<<20, &req); !ok {
		return
	}
	if len(req.PushEvents) == 0 {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_INPUT", "pushEvents must contain at least one push event")
		return
	}
	payloads := make([]json.RawMessage, 0, len(req.PushEvents))
	results := []byte{'['}
	for i, ev := range req.PushEvents {
		if ev.Payload == nil || len(*ev.Payload) > maxPushPayload {
			sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_INPUT", fmt.Sprintf("push event %d: payload missing or above %d characters", i, maxPushPayload))
			return
		}
		status := newObj(nil)
		fanout := int64(-1)
		switch {
		case !online:
			fanout = 0
			for _, u := range ev.UserIDs {
				status.bool(u, false)
			}
		case len(ev.UserIDs) > 0:
			fanout = 0
			for _, u := range ev.UserIDs {
				here := u == s.cfg.UserID || (len(u) == 15 && strings.HasPrefix(s.cfg.UserID, u))
				status.bool(u, here)
				if here {
					fanout++
				}
			}
		}
		// The emulator's org has one user: a push naming only other users reaches nobody here.
		if len(ev.UserIDs) == 0 || fanout > 0 {
			payloads = append(payloads, appendJSONString(nil, *ev.Payload))
		}
		if i > 0 {
			results = append(results, ',')
		}
		results = newObj(results).int("fanoutCount", fanout).raw("userOnlineStatus", status.done()).done()
	}
	if len(payloads) == 0 {
		sfhttp.WriteRaw(w, http.StatusOK, append(results, ']'))
		return
	}
	if _, _, err := s.publish(publishSpec{channel: name, payloads: payloads}); err != nil {
		sfhttp.WriteRESTError(w, http.StatusBadRequest, "INVALID_INPUT", err.Error())
		return
	}
	sfhttp.WriteRaw(w, http.StatusOK, append(results, ']'))
}
