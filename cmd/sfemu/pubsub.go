package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// servePubSub serves the Pub/Sub API on -pubsub-addr (nothing without it): plaintext gRPC, or TLS with the
// emulator's certificate under -tls. It writes the address to stderr, keeping stdout's single ready line. The
// returned stop ends the server; call it after emu.Close, which ends the open subscriptions.
func servePubSub(emu *sfemu.Server, o options, cert tls.Certificate, stderr io.Writer) (stop func(), err error) {
	if o.pubsubAddr == "" {
		return func() {}, nil
	}
	lis, err := net.Listen("tcp", o.pubsubAddr)
	if err != nil {
		return nil, fmt.Errorf("listening on -pubsub-addr %s: %w", o.pubsubAddr, err)
	}
	var opts []grpc.ServerOption
	mode := "plaintext"
	if o.tls {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
		mode = "TLS"
	}
	g := emu.NewPubSubServer(opts...)
	go func() { _ = g.Serve(lis) }()
	fmt.Fprintf(stderr, "sfemu pubsub listening on %s (%s gRPC)\n", lis.Addr(), mode)
	return g.Stop, nil
}
