package redis

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key into
// dir and returns their paths and the certificate's PEM.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, certPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "redis.crt"), filepath.Join(dir, "redis.key")
	require.NoError(t, os.WriteFile(certFile, certPEM, 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile, certPEM
}

// startTLSRedis starts redis-server serving only TLS on a loopback port (no
// client certificates asked) and waits until it answers PING over TLS.
func startTLSRedis(t *testing.T) (addr string, certPEM []byte) {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip(harness.ErrRedisNotInstalled.Error())
	}
	dir := t.TempDir()
	certFile, keyFile, certPEM := selfSigned(t, dir)
	addr, err = harness.FreeAddr()
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	proc, err := harness.StartProcess(harness.ProcessConfig{
		Name: "redis-tls",
		Path: path,
		Args: []string{
			"--port", "0", "--tls-port", port, "--bind", "127.0.0.1",
			"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", certFile,
			"--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", dir,
		},
		Dir: dir,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis-server:\n%s", proc.Tail(20))
		}
		_ = proc.Stop(10 * time.Second)
		_ = proc.Close()
	})

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	probe := goredis.NewClient(&goredis.Options{Addr: addr, TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxRetries: -1})
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for {
		if probe.Ping(ctx).Err() == nil {
			return addr, certPEM
		}
		if proc.Exited() {
			if strings.Contains(proc.Output(), "TLS") {
				t.Skip("this redis-server was built without TLS")
			}
			require.FailNow(t, "redis-server exited", proc.Tail(20))
		}
		select {
		case <-ctx.Done():
			require.FailNow(t, "redis-server with TLS not ready", proc.Tail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// The tls toggle: on with the server's CA, the cache works; off, or on
// without trusting the certificate, it does not.
func TestTLSToggle(t *testing.T) {
	addr, certPEM := startTLSRedis(t)
	tests := []struct {
		name    string
		tls     map[string]any // nil: no tls section
		wantErr bool
	}{
		{name: "tls on with the server's CA", tls: map[string]any{"enabled": true, "root_cas": string(certPEM)}},
		{name: "tls off against a TLS server", tls: map[string]any{"enabled": false}, wantErr: true},
		{name: "no tls section against a TLS server", wantErr: true},
		{name: "tls on without trusting the certificate", tls: map[string]any{"enabled": true}, wantErr: true},
		{name: "tls on skipping verification", tls: map[string]any{"enabled": true, "skip_cert_verify": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := map[string]any{"url": "redis://" + addr, "retries": map[string]any{"max_elapsed_time": "200ms"}}
			if tt.tls != nil {
				conf["tls"] = tt.tls
			}
			c := newTestCache(t, conf)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := c.Set(ctx, "k", []byte("v"), nil)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			got, err := c.Get(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, "v", string(got))
		})
	}
}
