// Package sfhttp holds the HTTP conventions every emulated Salesforce surface shares: JSON and REST error
// answers, bounded body reads, the Authorization header, the base URL a client reached, and the API versions.
// It knows nothing of the org or of any surface, so each surface package can use it without reaching another.
package sfhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// API versions the emulator lists: 20.0 (Winter '11, the first entry of Salesforce's documented Versions answer)
// to LatestAPIMajor.
const (
	LatestAPIVersion = "66.0"
	OldestAPIMajor   = 20
	LatestAPIMajor   = 66
)

// ErrTooLarge is ReadLimited's error for a body above its limit.
var ErrTooLarge = errors.New("request body above the limit")

// ReadLimited reads at most limit bytes; a longer body is ErrTooLarge.
func ReadLimited(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}

// AuthToken reads the Authorization header: "Bearer t", "OAuth t" (any case) or a bare token. present is false
// when no header (or a scheme with an empty token) was sent.
func AuthToken(r *http.Request) (token string, present bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return "", false
	}
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok {
		if l := strings.ToLower(h); l == "bearer" || l == "oauth" {
			return "", false // a scheme with an empty token
		}
		return h, true
	}
	switch strings.ToLower(scheme) {
	case "bearer", "oauth":
		rest = strings.TrimSpace(rest)
		return rest, rest != ""
	}
	return "", true // an unknown scheme: present but never valid
}

// BaseURL is scheme://host as the client reached the emulator, or instanceURL when one is configured.
func BaseURL(instanceURL string, r *http.Request) string {
	if instanceURL != "" {
		return instanceURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// WriteJSON answers v as JSON, with HTML characters unescaped as Salesforce sends them.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := MarshalNoEscape(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding answer"}`)
	}
	WriteRaw(w, status, b)
}

// WriteJSONError answers {"error": msg}, the emulator's own error shape outside Salesforce's APIs.
func WriteJSONError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// WriteRaw answers an already encoded JSON body.
func WriteRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// MarshalNoEscape is json.Marshal without HTML escaping.
func MarshalNoEscape(v any) ([]byte, error) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(sb.String(), "\n")), nil
}

// RESTError is one entry of Salesforce's REST error array.
type RESTError struct {
	Message   string `json:"message"`
	ErrorCode string `json:"errorCode"`
}

// WriteRESTError answers Salesforce's REST error array with one entry.
func WriteRESTError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, []RESTError{{Message: msg, ErrorCode: code}})
}

// NotFound is Salesforce's REST answer for a resource that does not exist.
func NotFound(w http.ResponseWriter) {
	WriteRESTError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
}

// MethodNotAllowed is Salesforce's REST answer for a method the resource does not take, with the Allow header.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	WriteRESTError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED",
		"HTTP Method '"+r.Method+"' not allowed. Allowed are "+strings.Join(allowed, ","))
}

// ReadJSONObject reads a REST request body that must be a JSON object, or answers Salesforce's parser error.
func ReadJSONObject(w http.ResponseWriter, r *http.Request, limit int, v any) ([]byte, bool) {
	body, err := ReadLimited(r.Body, limit)
	if err != nil {
		WriteRESTError(w, http.StatusRequestEntityTooLarge, "JSON_PARSER_ERROR", fmt.Sprintf("request body above %d bytes", limit))
		return nil, false
	}
	if err := json.Unmarshal(body, v); err != nil || len(body) == 0 || strings.TrimSpace(string(body))[0] != '{' {
		WriteRESTError(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body must be a JSON object")
		return nil, false
	}
	return body, true
}
