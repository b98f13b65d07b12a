package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// Pub/Sub peers: other clients draining the same backlog over the Pub/Sub API.
const (
	peerPubSubGo   = "pubsub-go"   // Salesforce's Go example client, bench/peers/pubsub-go (bin/sfbench-pubsub-go)
	peerPubSubNode = "pubsub-node" // the npm salesforce-pubsub-api-client, bench/peers/pubsub-node
)

// drainPubSubPeers drains the backlog over the emulator's Pub/Sub API (plaintext at endpoint) with the Go example
// client, then with the npm client through a TLS-terminating proxy (it speaks only TLS).
func (b backlogBench) drainPubSubPeers(ctx context.Context, emu *harness.Emulator, endpoint string, last int64, logf func(string, ...any)) ([]drainResult, error) {
	o := b.opts
	token, err := fetchToken(ctx, emu.URL)
	if err != nil {
		return nil, err
	}
	events := strconv.Itoa(o.events)
	var out []drainResult

	r, err := b.drainGoProgram(ctx, emu, last, peerPubSubGo, "sfbench-pubsub-go",
		"cd bench/peers/pubsub-go && go build -o ../../../bin/sfbench-pubsub-go .", endpoint, logf)
	if err != nil {
		return nil, err
	}
	out = append(out, r)

	peerDir := filepath.Join(b.root, "bench", "peers", peerPubSubNode)
	if err := ensurePeer(ctx, peerDir, logf); err != nil {
		return nil, err
	}
	proxy, err := startTLSProxy(filepath.Join(b.dir, "backlog"), endpoint)
	if err != nil {
		return nil, err
	}
	defer proxy.Close()
	logf("draining over Pub/Sub with the %s peer (TLS proxy %s)", peerPubSubNode, proxy.Addr())
	r, err = b.drainExternal(ctx, emu, token, peerPubSubNode, "node",
		[]string{filepath.Join(peerDir, "drain.js"), emu.URL, proxy.Addr(), o.channel, events}, last)
	if err != nil {
		return nil, err
	}
	r.command = fmt.Sprintf("node bench/peers/pubsub-node/drain.js $SFEMU_URL $TLS_PROXY_ADDR %s %d", o.channel, o.events)
	logf("%s: %.0f events/s", r.name, r.rate())
	out = append(out, r)
	return out, proxy.Close()
}
