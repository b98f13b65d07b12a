package main

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The proxy terminates TLS (offering h2) and passes bytes both ways to a plaintext server; Close ends open
// connections and is idempotent.
func TestTLSProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte("echo " + line)); err != nil {
						return
					}
				}
			}()
		}
	}()

	p, err := startTLSProxy(t.TempDir(), ln.Addr().String())
	require.NoError(t, err)
	defer p.Close()
	conn, err := tls.Dial("tcp", p.Addr(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) //nolint:gosec // a self-signed test certificate
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, "h2", conn.ConnectionState().NegotiatedProtocol)
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	r := bufio.NewReader(conn)
	for _, msg := range []string{"one\n", "two\n"} {
		_, err := conn.Write([]byte(msg))
		require.NoError(t, err)
		got, err := r.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "echo "+msg, got)
	}

	require.NoError(t, p.Close())
	_, err = r.ReadString('\n')
	assert.Error(t, err, "Close ends the open connection")
	assert.NoError(t, p.Close(), "Close is idempotent")
}
