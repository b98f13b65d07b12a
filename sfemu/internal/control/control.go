// Package control is the emulator's control surface, /emulator/*: it publishes events, mutates records, selects
// Change Data Capture entities, injects faults, purges, sets retention, migrates the org and shows the state, for
// tests and demos (docs/emulator.md). It owns no state: it decodes strictly, calls the operations it is given
// and answers.
package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/faults"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
)

// Ops are the operations the control surface drives, each owned below it (the event store, the org, the fault
// set, the CometD sessions) and wired by the emulator.
type Ops struct {
	State          func() State
	Publish        func(PublishRequest) (PublishResponse, error)
	Mutate         func(MutateRequest) (MutateResponse, error)
	SelectEntities func(entities ...string) error
	InjectFault    func(faults.Request) error
	Faults         func() faults.State
	SetRetention   func(channel string, d time.Duration) ([]string, error)
	MigrateOrg     func() map[string]MigratedChannel
	Purge          func(channel string, through *int64) (int, error)
}

// Handler answers /emulator/*.
type Handler struct{ ops Ops }

// New returns the control surface over ops; every field must be set.
func New(ops Ops) *Handler { return &Handler{ops: ops} }

// ServeHTTP answers /emulator/*.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := map[string]string{
		"/emulator/publish":     http.MethodPost,
		"/emulator/faults":      http.MethodPost,
		"/emulator/purge":       http.MethodPost,
		"/emulator/retention":   http.MethodPost,
		"/emulator/migrate_org": http.MethodPost,
		"/emulator/state":       http.MethodGet,
		"/emulator/mutate":      http.MethodPost,
		"/emulator/cdc":         http.MethodPost,
	}
	method, ok := route[r.URL.Path]
	if !ok {
		sfhttp.WriteJSONError(w, http.StatusNotFound, "unknown control endpoint "+r.URL.Path+"; use /emulator/publish, /emulator/mutate, /emulator/cdc, /emulator/faults, /emulator/purge, /emulator/retention, /emulator/migrate_org or /emulator/state")
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		sfhttp.WriteJSONError(w, http.StatusMethodNotAllowed, r.URL.Path+" takes "+method)
		return
	}
	switch r.URL.Path {
	case "/emulator/state":
		sfhttp.WriteJSON(w, http.StatusOK, h.ops.State())
	case "/emulator/publish":
		var req PublishRequest
		if !decodeControl(w, r, &req) {
			return
		}
		if req.Count < 0 {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, "count must not be negative")
			return
		}
		resp, err := h.ops.Publish(req)
		if err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		sfhttp.WriteJSON(w, http.StatusOK, resp)
	case "/emulator/mutate":
		var req MutateRequest
		if !decodeControl(w, r, &req) {
			return
		}
		resp, err := h.ops.Mutate(req)
		if err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		sfhttp.WriteJSON(w, http.StatusOK, resp)
	case "/emulator/cdc":
		var req SelectRequest
		if !decodeControl(w, r, &req) {
			return
		}
		if err := h.ops.SelectEntities(req.Entities...); err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		sfhttp.WriteJSON(w, http.StatusOK, req)
	case "/emulator/faults":
		var req faults.Request
		if !decodeControl(w, r, &req) {
			return
		}
		if err := h.ops.InjectFault(req); err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, fmt.Sprintf("injecting fault: %v", err))
			return
		}
		f := h.ops.Faults()
		sfhttp.WriteJSON(w, http.StatusOK, map[string]any{"fault": req.Fault, "pending": f})
	case "/emulator/retention":
		var req RetentionRequest
		if !decodeControl(w, r, &req) {
			return
		}
		d, err := faults.ParseDelay(req.Retention)
		if err == nil && len(req.Retention) == 0 {
			err = fmt.Errorf("retention not given")
		}
		if err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, "setting retention: "+err.Error())
			return
		}
		changed, err := h.ops.SetRetention(req.Channel, d)
		if err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		st := h.ops.State()
		out := RetentionResponse{Channel: req.Channel, Retention: d.String(), Channels: map[string]ChannelState{}}
		for _, name := range changed {
			out.Channels[name] = st.Channels[name]
		}
		sfhttp.WriteJSON(w, http.StatusOK, out)
	case "/emulator/migrate_org":
		var req struct{}
		if !decodeControl(w, r, &req) {
			return
		}
		sfhttp.WriteJSON(w, http.StatusOK, MigrateResponse{Channels: h.ops.MigrateOrg()})
	case "/emulator/purge":
		var req PurgeRequest
		if !decodeControl(w, r, &req) {
			return
		}
		n, err := h.ops.Purge(req.Channel, req.ThroughReplayID)
		if err != nil {
			sfhttp.WriteJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		st := h.ops.State().Channels[req.Channel]
		sfhttp.WriteJSON(w, http.StatusOK, map[string]any{"channel": req.Channel, "purged": n, "first_replay_id": st.FirstReplayID,
			"last_replay_id": st.LastReplayID, "retained": st.Retained})
	}
}

// decodeControl reads a strict JSON body (unknown fields are typos, so they are errors) or answers 400.
func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := sfhttp.ReadLimited(r.Body, 64<<20)
	if err != nil {
		sfhttp.WriteJSONError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		sfhttp.WriteJSONError(w, http.StatusBadRequest, "decoding JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		sfhttp.WriteJSONError(w, http.StatusBadRequest, "decoding JSON body: trailing data after the object")
		return false
	}
	return true
}
