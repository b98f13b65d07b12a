package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// holdServer is a stalled output's far end: an HTTP server that takes every request and answers none of them
// until released, the way a sink that stops responding looks to bin/benthos' http_client output.
type holdServer struct {
	url      string
	srv      *http.Server
	served   chan struct{} // closed when Serve returns
	first    chan struct{} // closed when the first request arrives
	release  chan struct{} // closed by Release: held requests are answered 200, new ones at once
	once     sync.Once     // closes first
	released sync.Once     // closes release
	requests atomic.Int64  // requests received
}

// startHoldServer listens on a free loopback port and serves until Close.
func startHoldServer() (*holdServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the stalled output: %w", err)
	}
	h := &holdServer{url: "http://" + ln.Addr().String() + "/", served: make(chan struct{}),
		first: make(chan struct{}), release: make(chan struct{})}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(h.served)
		_ = h.srv.Serve(ln) // ends with ErrServerClosed at Close
	}()
	return h, nil
}

func (h *holdServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h.requests.Add(1)
	h.once.Do(func() { close(h.first) })
	select {
	case <-h.release:
		w.WriteHeader(http.StatusOK)
	case <-r.Context().Done():
	}
}

// First is closed when the first request arrives: the output has stalled.
func (h *holdServer) First() <-chan struct{} { return h.first }

// Release answers the held requests and every later one; idempotent.
func (h *holdServer) Release() { h.released.Do(func() { close(h.release) }) }

// Close releases the held requests and stops the server; idempotent.
func (h *holdServer) Close() error {
	h.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := h.srv.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	<-h.served
	return err
}
