package sfemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Salesforce's own publish path for platform events: POST /services/data/vXX.X/sobjects/Name__e/.

var sobjectPath = regexp.MustCompile(`^/services/data/v(\d+\.\d+)/sobjects/([A-Za-z][A-Za-z0-9_]*__e)/?$`)

type restError struct {
	Message   string `json:"message"`
	ErrorCode string `json:"errorCode"`
}

func writeRESTError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []restError{{Message: msg, ErrorCode: code}})
}

func (s *Server) servePublishAPI(w http.ResponseWriter, r *http.Request) {
	m := sobjectPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeRESTError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeRESTError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '"+r.Method+"' not allowed. Allowed are POST")
		return
	}
	token, _ := authToken(r)
	s.mu.Lock()
	_, ok := s.tokens[token]
	s.mu.Unlock()
	if !ok || token == "" {
		writeRESTError(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	body, err := readLimited(r.Body, 1<<20) // platform events are at most 1 MB
	if err != nil {
		writeRESTError(w, http.StatusRequestEntityTooLarge, "JSON_PARSER_ERROR", "request body above 1 MB")
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		writeRESTError(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body must be a JSON object of event fields")
		return
	}
	channel := "/event/" + m[2]
	_, last, err := s.publish(channel, 0, []json.RawMessage{body}, 0)
	if err != nil {
		writeRESTError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error())
		return
	}
	id := fmt.Sprintf("e00%s", strings.ToUpper(fmt.Sprintf("%012x", last)))
	id = id[:15] + "AAA"
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "success": true, "errors": []any{}})
}
