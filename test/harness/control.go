package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// The emulator's control API (docs/emulator.md), typed. The
// types mirror the JSON, not package sfemu, so that the harness tests the
// wire contract the way any other client of a running sfemu sees it.

// controlTimeout bounds one control request when the caller's context has no
// earlier deadline.
const controlTimeout = 30 * time.Second

// PublishRequest is the body of POST /emulator/publish: Count generated
// events, or one event per payload. Gap > 0 makes consecutive replay ids step
// by exactly Gap, so that the ids of a counted publish are known.
type PublishRequest struct {
	Channel  string            `json:"channel"`
	Count    int               `json:"count,omitempty"`
	Payloads []json.RawMessage `json:"payloads,omitempty"`
	Gap      int               `json:"gap,omitempty"`
}

// PublishResponse is the answer of POST /emulator/publish.
type PublishResponse struct {
	Channel       string `json:"channel"`
	FirstReplayID int64  `json:"first_replay_id"`
	LastReplayID  int64  `json:"last_replay_id"`
}

// FaultRequest is the body of POST /emulator/faults.
type FaultRequest struct {
	Fault  string `json:"fault"`
	Count  int    `json:"count,omitempty"`
	Status int    `json:"status,omitempty"`
	Delay  string `json:"delay,omitempty"` // Go duration, e.g. "2s"
}

// PurgeResponse is the answer of POST /emulator/purge.
type PurgeResponse struct {
	Channel       string `json:"channel"`
	Purged        int    `json:"purged"`
	FirstReplayID int64  `json:"first_replay_id"`
	LastReplayID  int64  `json:"last_replay_id"`
	Retained      int    `json:"retained"`
}

// State is the answer of GET /emulator/state.
type State struct {
	Now      time.Time               `json:"now"`
	Clients  []ClientState           `json:"clients"`
	Channels map[string]ChannelState `json:"channels"`
	Counters map[string]int64        `json:"counters"`
}

// ClientState is one CometD client of the emulator.
type ClientState struct {
	ClientID       string           `json:"client_id"`
	Subscriptions  []string         `json:"subscriptions"`
	ReplayCursors  map[string]int64 `json:"replay_cursors"`
	Connected      bool             `json:"connected"`
	ConnectPending bool             `json:"connect_pending"`
	EventsSent     int64            `json:"events_sent"`
}

// ChannelState is one channel of the emulator.
type ChannelState struct {
	Kind          string `json:"kind"`
	FirstReplayID int64  `json:"first_replay_id"`
	LastReplayID  int64  `json:"last_replay_id"`
	Retained      int    `json:"retained"`
	Published     int64  `json:"published"`
	Subscribers   int    `json:"subscribers"`
	Retention     string `json:"retention"` // a Go duration
	// StreamingChannelID is the StreamingChannel record id of a generic
	// (/u/) channel, which the REST push resource takes.
	StreamingChannelID string `json:"streaming_channel_id,omitempty"`
}

// Subscribed reports whether some client holds a subscription to channel
// (compared without a PushTopic ?filter) and has a long poll pending, i.e. it
// is ready to receive what is published next.
func (s State) Subscribed(channel string) bool {
	return s.subscriber(channel, true)
}

// HasSubscription reports whether some client holds a subscription to
// channel, polling or not.
func (s State) HasSubscription(channel string) bool {
	return s.subscriber(channel, false)
}

func (s State) subscriber(channel string, polling bool) bool {
	want := stream.ChannelKey(channel)
	for _, c := range s.Clients {
		if polling && !c.ConnectPending {
			continue
		}
		for _, sub := range c.Subscriptions {
			if stream.ChannelKey(sub) == want {
				return true
			}
		}
	}
	return false
}

// Client calls the control API of an emulator.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:7357
	HTTP    *http.Client
}

// NewClient returns a client of the emulator at baseURL.
func NewClient(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: controlTimeout}}
}

// Publish publishes events as requested.
func (c *Client) Publish(ctx context.Context, req PublishRequest) (PublishResponse, error) {
	var resp PublishResponse
	if err := c.do(ctx, http.MethodPost, "/emulator/publish", req, &resp); err != nil {
		return resp, fmt.Errorf("publishing to %s: %w", req.Channel, err)
	}
	return resp, nil
}

// PublishIDs publishes n generated events to channel with replay ids stepping
// by gap (>= 1) and returns their replay ids in order.
func (c *Client) PublishIDs(ctx context.Context, channel string, n, gap int) ([]int64, error) {
	if n < 1 || gap < 1 {
		return nil, fmt.Errorf("publishing to %s: want n >= 1 and gap >= 1, got n=%d gap=%d", channel, n, gap)
	}
	resp, err := c.Publish(ctx, PublishRequest{Channel: channel, Count: n, Gap: gap})
	if err != nil {
		return nil, err
	}
	if want := resp.FirstReplayID + int64(n-1)*int64(gap); resp.LastReplayID != want {
		return nil, fmt.Errorf("publishing %d events to %s with gap %d: ids %d..%d do not step by the gap (want last %d)",
			n, channel, gap, resp.FirstReplayID, resp.LastReplayID, want)
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = resp.FirstReplayID + int64(i)*int64(gap)
	}
	return ids, nil
}

// Fault injects a fault.
func (c *Client) Fault(ctx context.Context, req FaultRequest) error {
	if err := c.do(ctx, http.MethodPost, "/emulator/faults", req, nil); err != nil {
		return fmt.Errorf("injecting fault %s: %w", req.Fault, err)
	}
	return nil
}

// Purge drops the retained events of channel up to and including through
// (all of them when through is nil).
func (c *Client) Purge(ctx context.Context, channel string, through *int64) (PurgeResponse, error) {
	body := struct {
		Channel string `json:"channel"`
		Through *int64 `json:"through_replay_id,omitempty"`
	}{channel, through}
	var resp PurgeResponse
	if err := c.do(ctx, http.MethodPost, "/emulator/purge", body, &resp); err != nil {
		return resp, fmt.Errorf("purging %s: %w", channel, err)
	}
	return resp, nil
}

// State returns the emulator's state.
func (c *Client) State(ctx context.Context) (State, error) {
	var st State
	if err := c.do(ctx, http.MethodGet, "/emulator/state", nil, &st); err != nil {
		return st, fmt.Errorf("reading the emulator state: %w", err)
	}
	return st, nil
}

// WaitState polls the state until cond holds and returns that state; it fails
// when ctx ends first (the error shows the last state seen).
func (c *Client) WaitState(ctx context.Context, what string, cond func(State) bool) (State, error) {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var last State
	var lastErr error
	for {
		st, err := c.State(ctx)
		if err == nil && cond(st) {
			return st, nil
		}
		last, lastErr = st, err
		select {
		case <-ctx.Done():
			shown, _ := json.Marshal(struct {
				Clients  []ClientState    `json:"clients"`
				Counters map[string]int64 `json:"counters"`
			}{last.Clients, last.Counters})
			return last, fmt.Errorf("waiting for %s: %w (last state %s, last error %v)", what, ctx.Err(), shown, lastErr)
		case <-ticker.C:
		}
	}
}

// WaitSubscribed waits until every channel has a subscribed, polling client.
func (c *Client) WaitSubscribed(ctx context.Context, channels ...string) (State, error) {
	return c.WaitState(ctx, fmt.Sprintf("subscriptions to %v", channels), func(st State) bool {
		for _, ch := range channels {
			if !st.Subscribed(ch) {
				return false
			}
		}
		return true
	})
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, controlTimeout)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, e.Error)
		}
		return fmt.Errorf("%s %s: HTTP %d: %.200s", method, path, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// Rounds is a steady publishing plan: every Interval, PerRound events to each
// channel (replay ids stepping by the channel's gap), Rounds times. Rounds 0
// publishes until ctx ends.
type Rounds struct {
	Channels []string
	Gaps     map[string]int // per channel; missing or < 1 means 1
	PerRound int
	Interval time.Duration
	Rounds   int
}

// PublishRounds publishes as planned and records every id in ledger. It
// returns nil when the plan completes or ctx ends (a soak program's normal
// end), and the first publish error otherwise. A publish cut short by ctx may
// have happened without being recorded, so checks against the ledger want
// plans that run to completion (Rounds > 0).
func (c *Client) PublishRounds(ctx context.Context, ledger *Ledger, plan Rounds) error {
	if plan.PerRound < 1 || len(plan.Channels) == 0 {
		return fmt.Errorf("publishing rounds: want channels and PerRound >= 1, got %d channels, PerRound %d", len(plan.Channels), plan.PerRound)
	}
	ticker := time.NewTicker(max(plan.Interval, time.Millisecond))
	defer ticker.Stop()
	for round := 0; plan.Rounds == 0 || round < plan.Rounds; round++ {
		if round > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-ticker.C:
			}
		}
		for _, ch := range plan.Channels {
			gap := max(plan.Gaps[ch], 1)
			ids, err := c.PublishIDs(ctx, ch, plan.PerRound, gap)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("publishing round %d: %w", round, err)
			}
			ledger.Add(ch, ids...)
		}
	}
	return nil
}

// MutateResponse is the answer of POST /emulator/mutate.
type MutateResponse struct {
	Object    string         `json:"object"`
	Events    string         `json:"events"`
	Changes   map[string]int `json:"changes"`
	RecordIDs []string       `json:"record_ids"`
}

// Mutate makes count random changes to records of object; events is "" (change events), "gap" or "overflow".
func (c *Client) Mutate(ctx context.Context, object string, count int, events string) (MutateResponse, error) {
	body := struct {
		Object string `json:"object"`
		Count  int    `json:"count"`
		Events string `json:"events,omitempty"`
	}{object, count, events}
	var resp MutateResponse
	if err := c.do(ctx, http.MethodPost, "/emulator/mutate", body, &resp); err != nil {
		return resp, fmt.Errorf("mutating %d %s records: %w", count, object, err)
	}
	return resp, nil
}
