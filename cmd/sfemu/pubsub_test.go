package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// TestPubSubAddr: -pubsub-addr serves the Pub/Sub API, plaintext by default and TLS with -tls, and names its
// address on stderr; a token from the HTTP side authenticates a GetTopic.
func TestPubSubAddr(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plaintext", true: "tls"}[withTLS], func(t *testing.T) {
			args := []string{"-addr", "127.0.0.1:0", "-pubsub-addr", "127.0.0.1:0", "-preload", "/event/Order__e=0"}
			certFile := filepath.Join(t.TempDir(), "sfemu.pem")
			if withTLS {
				args = append(args, "-tls", "-tls-cert-out", certFile)
			}
			url, stderr, _ := start(t, args...)
			m := regexp.MustCompile(`sfemu pubsub listening on (127\.0\.0\.1:\d+) \((plaintext|TLS) gRPC\)`).FindStringSubmatch(stderr.String())
			require.NotNil(t, m, "stderr: %s", stderr.String())

			hc := http.DefaultClient
			creds := insecure.NewCredentials()
			if withTLS {
				pemBytes, err := os.ReadFile(certFile)
				require.NoError(t, err)
				pool := x509.NewCertPool()
				require.True(t, pool.AppendCertsFromPEM(pemBytes))
				hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
				creds = credentials.NewTLS(&tls.Config{RootCAs: pool})
			}
			resp, err := hc.Post(url+"/services/oauth2/token", "application/x-www-form-urlencoded",
				strings.NewReader("grant_type=client_credentials&client_id=sfemu-client-id&client_secret=sfemu-client-secret"))
			require.NoError(t, err)
			var tok map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
			resp.Body.Close()

			conn, err := grpc.NewClient(m[1], grpc.WithTransportCredentials(creds))
			require.NoError(t, err)
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ctx = metadata.AppendToOutgoingContext(ctx, "accesstoken", tok["access_token"], "instanceurl", url, "tenantid", sfemu.DefaultOrgID)
			info, err := eventbusv1.NewPubSubClient(conn).GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: "/event/Order__e"})
			require.NoError(t, err)
			assert.Equal(t, sfemu.DefaultOrgID, info.GetTenantGuid())
			assert.NotEmpty(t, info.GetSchemaId())
			// A platform event type nothing defined does not exist.
			_, err = eventbusv1.NewPubSubClient(conn).GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: "/event/Undefined__e"})
			assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
		})
	}
}
