package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// StreamsAPI calls the REST API of `benthos streams` (/streams/{id}).
type StreamsAPI struct {
	BaseURL string // e.g. http://127.0.0.1:4195
	HTTP    *http.Client
}

// NewStreamsAPI returns a client of the streams API at addr (HOST:PORT).
func NewStreamsAPI(addr string) *StreamsAPI {
	return &StreamsAPI{BaseURL: "http://" + addr, HTTP: &http.Client{Timeout: controlTimeout}}
}

// Create adds a stream from its YAML config (POST /streams/{id}).
func (a *StreamsAPI) Create(ctx context.Context, id, config string) error {
	return a.call(ctx, http.MethodPost, id, config)
}

// Update replaces a stream's config (PUT /streams/{id}).
func (a *StreamsAPI) Update(ctx context.Context, id, config string) error {
	return a.call(ctx, http.MethodPut, id, config)
}

// Delete stops and removes a stream (DELETE /streams/{id}).
func (a *StreamsAPI) Delete(ctx context.Context, id string) error {
	return a.call(ctx, http.MethodDelete, id, "")
}

// List returns the raw JSON of GET /streams.
func (a *StreamsAPI) List(ctx context.Context) (string, error) {
	return a.get(ctx, "/streams")
}

// WaitReady waits until the API answers GET /streams.
func (a *StreamsAPI) WaitReady(ctx context.Context) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		_, err := a.List(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the streams API at %s: %w (last error: %v)", a.BaseURL, ctx.Err(), err)
		case <-ticker.C:
		}
	}
}

func (a *StreamsAPI) call(ctx context.Context, method, id, body string) error {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.BaseURL+"/streams/"+id, r)
	if err != nil {
		return fmt.Errorf("building %s /streams/%s: %w", method, id, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/yaml")
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("calling %s /streams/%s: %w", method, id, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("calling %s /streams/%s: HTTP %d: %s", method, id, resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	return nil
}

func (a *StreamsAPI) get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.BaseURL+path, nil)
	if err != nil {
		return "", fmt.Errorf("building GET %s: %w", path, err)
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("calling GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("reading GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("calling GET %s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	return string(answer), nil
}

// FreeAddr returns a loopback HOST:PORT that was free a moment ago, for
// programs that take a fixed listen address (benthos' http.address,
// redis-server --port). Another process may take it before the caller binds
// it; callers that can retry should.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free loopback port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("releasing the free loopback port: %w", err)
	}
	return addr, nil
}
