package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Streams mode in-process, with this Benthos version: the gate finds the
// stream manager (a Benthos upgrade that moves its internals fails here), and
// GET /streams/{id} answers the config scrubbed.
func TestStreamsModeGateInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts streams mode on a loopback port; skipped in -short mode")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	// shutdown_timeout is long because Benthos arms an os.Exit for after it
	// once the run context ends; the test process ends long before.
	root := write("root.yaml", "http: { address: "+addr+" }\nlogger: { level: none }\nshutdown_timeout: 24h\n")
	res := write("res.yaml", "cache_resources: [ { label: cp, memory: {} } ]\n")
	stream := write("s1.yaml", strings.Join([]string{
		"input:",
		"  salesforce_streaming:",
		"    org_url: http://127.0.0.1:1",
		"    channels: [ /topic/X ]",
		"    checkpoint_cache: cp",
		"    auth: { grant_type: client_credentials, client_id: cid, client_secret: 'in-process-secret&1' }",
		"output: { drop: {} }",
	}, "\n"))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		opts := append([]service.CLIOptFunc{service.CLIOptSetArgs("benthos", "streams", "-o", root, "-r", res, stream)}, secureAPIOptions()...)
		code, _ := service.RunCLIToCode(ctx, opts...)
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("streams mode did not stop")
		}
	})

	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/streams/s1")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond, "the streams API answers")
	assert.Contains(t, body, scrubbedMark)
	assert.NotContains(t, body, "in-process-secret")
	assert.Contains(t, body, `"client_id":"cid"`)
}
