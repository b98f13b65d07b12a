package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// tlsProxy terminates TLS on a loopback port and forwards each connection's bytes to a plaintext address: the npm
// Pub/Sub client speaks only TLS, the emulator's Pub/Sub port in the benchmark is plaintext. It offers ALPN h2, as
// gRPC clients require, and passes the HTTP/2 stream through unchanged (the emulator's gRPC server takes HTTP/2
// without TLS). Its CPU is spent in sfbench, counted to no client.
type tlsProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// startTLSProxy listens on a free loopback port with a self-signed certificate written to dir.
func startTLSProxy(dir, target string) (*tlsProxy, error) {
	files, err := harness.WriteSelfSignedCert(dir)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the proxy's certificate: %w", err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"},
		MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, fmt.Errorf("starting the TLS proxy: %w", err)
	}
	p := &tlsProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *tlsProxy) Addr() string { return p.ln.Addr().String() }

func (p *tlsProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track registers c for Close; false once the proxy is closed.
func (p *tlsProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tlsProxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	if !p.track(server) {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// One direction ended: end the other, so that both copies return.
		client.Close()
		server.Close()
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	<-done
}

// Close stops accepting, closes every open connection and waits for the proxy's goroutines. Idempotent.
func (p *tlsProxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
