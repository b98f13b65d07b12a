package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The emulator's org-level control endpoints (retention, org migration) and
// the Salesforce REST resources it serves besides streaming (versions,
// limits, generic-channel push), typed like the rest of the control API.

// RetentionResponse is the answer of POST /emulator/retention: the channels
// changed, after the events older than the new retention were dropped.
type RetentionResponse struct {
	Channel   string                  `json:"channel,omitempty"`
	Retention string                  `json:"retention"`
	Channels  map[string]ChannelState `json:"channels"`
}

// SetRetention sets how long channel keeps its events; an empty channel sets
// every channel and the default of channels created later. Events older than
// the new retention are dropped at once.
func (c *Client) SetRetention(ctx context.Context, channel string, retention time.Duration) (RetentionResponse, error) {
	body := struct {
		Channel   string `json:"channel,omitempty"`
		Retention string `json:"retention"`
	}{channel, retention.String()}
	var resp RetentionResponse
	if err := c.do(ctx, http.MethodPost, "/emulator/retention", body, &resp); err != nil {
		return resp, fmt.Errorf("setting the retention of %q to %s: %w", channel, retention, err)
	}
	return resp, nil
}

// MigratedChannel is one channel in the answer of POST /emulator/migrate_org.
type MigratedChannel struct {
	OldFirstReplayID int64 `json:"old_first_replay_id"`
	OldLastReplayID  int64 `json:"old_last_replay_id"`
	NextReplayIDFrom int64 `json:"next_replay_id_from"`
	Dropped          int   `json:"dropped"`
}

// MigrateOrg emulates an org migration: retained events are gone, replay ids
// of every channel restart below the old ones (an old id is refused as
// invalid), and every CometD session ends.
func (c *Client) MigrateOrg(ctx context.Context) (map[string]MigratedChannel, error) {
	var resp struct {
		Channels map[string]MigratedChannel `json:"channels"`
	}
	if err := c.do(ctx, http.MethodPost, "/emulator/migrate_org", struct{}{}, &resp); err != nil {
		return nil, fmt.Errorf("migrating the org: %w", err)
	}
	return resp.Channels, nil
}

// APIVersion is one entry of the REST Versions resource.
type APIVersion struct {
	Label   string `json:"label"`
	URL     string `json:"url"`
	Version string `json:"version"`
}

// Versions reads GET /services/data/ (no authentication), oldest first.
func (c *Client) Versions(ctx context.Context) ([]APIVersion, error) {
	var v []APIVersion
	if err := c.rest(ctx, http.MethodGet, "/services/data/", "", nil, &v); err != nil {
		return nil, fmt.Errorf("reading the API versions: %w", err)
	}
	return v, nil
}

// Limit is one entry of the REST limits resource.
type Limit struct {
	Max       int64 `json:"Max"`
	Remaining int64 `json:"Remaining"`
}

// Limits reads GET /services/data/v<version>/limits with a token of the
// emulator's default connected app.
func (c *Client) Limits(ctx context.Context, version string) (map[string]Limit, error) {
	token, err := c.Token(ctx)
	if err != nil {
		return nil, err
	}
	var l map[string]Limit
	if err := c.rest(ctx, http.MethodGet, "/services/data/v"+version+"/limits", token, nil, &l); err != nil {
		return nil, fmt.Errorf("reading the limits: %w", err)
	}
	return l, nil
}

// PushResult is one entry of the answer of the generic-channel push resource.
type PushResult struct {
	FanoutCount      int             `json:"fanoutCount"`
	UserOnlineStatus map[string]bool `json:"userOnlineStatus"`
}

// Push sends payloads to every subscriber of a generic channel through
// POST /services/data/v<version>/sobjects/StreamingChannel/{id}/push, the
// channel's id read from the emulator's state (the channel must exist: a
// subscription or a publish creates it).
func (c *Client) Push(ctx context.Context, version, channel string, payloads ...string) ([]PushResult, error) {
	st, err := c.State(ctx)
	if err != nil {
		return nil, err
	}
	id := st.Channels[channel].StreamingChannelID
	if id == "" {
		return nil, fmt.Errorf("pushing to %s: the emulator has no StreamingChannel of that name", channel)
	}
	token, err := c.Token(ctx)
	if err != nil {
		return nil, err
	}
	type pushEvent struct {
		Payload string   `json:"payload"`
		UserIDs []string `json:"userIds"`
	}
	body := struct {
		PushEvents []pushEvent `json:"pushEvents"`
	}{}
	for _, p := range payloads {
		body.PushEvents = append(body.PushEvents, pushEvent{Payload: p, UserIDs: []string{}})
	}
	var results []PushResult
	path := "/services/data/v" + version + "/sobjects/StreamingChannel/" + id + "/push"
	if err := c.rest(ctx, http.MethodPost, path, token, body, &results); err != nil {
		return nil, fmt.Errorf("pushing to %s: %w", channel, err)
	}
	return results, nil
}

// Token returns an access token of the emulator's default connected app
// (client_credentials grant).
func (c *Client) Token(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {EmulatorClientID}, "client_secret": {EmulatorClientSecret}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.send(ctx, http.MethodPost, "/services/oauth2/token", "", "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()), &tok); err != nil {
		return "", fmt.Errorf("getting a token: %w", err)
	}
	return tok.AccessToken, nil
}

// rest calls a REST resource with an optional bearer token and JSON body.
func (c *Client) rest(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	return c.send(ctx, method, path, token, "application/json", body, out)
}

func (c *Client) send(ctx context.Context, method, path, token, contentType string, body io.Reader, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, controlTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %.300s", method, path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding the answer of %s %s: %w", method, path, err)
	}
	return nil
}
