package input

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// startPubSubEmulator serves an sfemu over HTTP (tokens) and its Pub/Sub
// API over plaintext gRPC on a free loopback port.
func startPubSubEmulator(t *testing.T, cfg sfemu.Config) (emu *sfemu.Server, url, addr string) {
	t.Helper()
	emu = newTestEmulator(cfg)
	ts := httptest.NewServer(emu)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := emu.NewPubSubServer()
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(func() {
		g.Stop()
		ts.Close()
		emu.Close()
	})
	return emu, ts.URL, lis.Addr().String()
}

// sfemuReplayID is the emulator's Pub/Sub replay id of CometD replay id id:
// 8 bytes, big-endian (an emulator detail; the input treats ids as opaque).
func sfemuReplayID(id int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(id))
}

// pubsubIDs returns the replay ids of the collected messages, decoded from
// their base64 salesforce_replay_id.
func pubsubIDs(t *testing.T, c *collector) []int64 {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]int64, 0, len(c.metas))
	for _, m := range c.metas {
		text, ok := m[metaReplayID].(string)
		require.True(t, ok, "salesforce_replay_id is base64 text: %#v", m[metaReplayID])
		raw, err := base64.StdEncoding.DecodeString(text)
		require.NoError(t, err)
		require.Len(t, raw, 8)
		ids = append(ids, int64(binary.BigEndian.Uint64(raw)))
	}
	return ids
}

// storedPubSub reads a channel's Pub/Sub checkpoint from the file cache dir.
func storedPubSub(t *testing.T, dir, channel string) (checkpointfmt.Position, bool) {
	t.Helper()
	get := func(_ context.Context, key string) ([]byte, bool, error) {
		raw, err := os.ReadFile(filepath.Join(dir, key))
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, nil
		}
		return raw, err == nil, err
	}
	pos, ok, err := checkpointfmt.ReadPosition(t.Context(), get, checkpointfmt.PubSub, "salesforce_streaming", channel)
	require.NoError(t, err)
	return pos, ok
}

func pubsubFields(addr, extra string) string {
	return fmt.Sprintf("  api: pubsub\n  pubsub_endpoint: %s\n%s", addr, extra)
}

// TestPubSubStreamResumesFromAcked consumes a backlog of two channels over
// the Pub/Sub API, stops, publishes more and restarts: the second run starts
// right after the last acked event of each channel. Checkpoints are stored
// under the Pub/Sub keys only, as base64; messages carry CometD's metadata
// keys plus the event and schema ids, and the decoded payload as body.
func TestPubSubStreamResumesFromAcked(t *testing.T) {
	emu, url, addr := startPubSubEmulator(t, sfemu.Config{})
	counts := map[string]int{"/event/Order__e": 30, "/data/AccountChangeEvent": 20}
	last := map[string]int64{}
	for ch, n := range counts {
		_, l, err := emu.PublishN(ch, n)
		require.NoError(t, err)
		last[ch] = l
	}
	dir := t.TempDir()
	fields := pubsubFields(addr, "  channels: [ /event/Order__e, /data/AccountChangeEvent ]\n  replay_preset: earliest\n")
	c1 := newCollector()
	rs := startStream(t, url, dir, fields, c1)
	c1.waitFor(t, 50)
	rs.stop(t)

	require.Len(t, pubsubIDs(t, c1), 50, "no duplicates in one clean run")
	for ch, l := range last {
		pos, ok := storedPubSub(t, dir, ch)
		require.True(t, ok, ch)
		assert.Equal(t, sfemuReplayID(l), pos.ReplayID, ch)
		_, err := os.Stat(filepath.Join(dir, checkpointfmt.CheckpointKey("salesforce_streaming", ch)))
		assert.True(t, errors.Is(err, os.ErrNotExist), "no CometD checkpoint of %s is written", ch)
	}
	c1.mu.Lock()
	for k, m := range c1.metas {
		assert.NotEmpty(t, m[metaEventID], "event id")
		assert.NotEmpty(t, m[metaSchemaID], "schema id")
		assert.Equal(t, m[metaSchemaID], m[metaSchema])
		assert.Contains(t, []any{"/event/Order__e", "/data/AccountChangeEvent"}, m[metaChannel])
		assert.NotEmpty(t, m[metaCreatedDate])
		var body map[string]any
		require.NoError(t, json.Unmarshal(c1.bodies[k], &body), "the body is the decoded JSON")
		if m[metaChannel] == "/data/AccountChangeEvent" {
			assert.Equal(t, "Account", m[metaEntityName])
			assert.NotEmpty(t, m[metaChangeType])
			assert.Contains(t, body, "ChangeEventHeader")
		} else {
			assert.Equal(t, m[metaEventID], m[metaEventUUID], "a platform event's uuid is its Pub/Sub event id")
			assert.Contains(t, body, "CreatedDate")
		}
	}
	c1.mu.Unlock()

	firstNew := map[string]int64{}
	for ch := range counts {
		f, _, err := emu.PublishN(ch, 12)
		require.NoError(t, err)
		firstNew[ch] = f
	}
	c2 := newCollector()
	rs = startStream(t, url, dir, fields, c2)
	c2.waitFor(t, 24)
	rs.stop(t)
	ids := pubsubIDs(t, c2)
	require.Len(t, ids, 24, "the second run gets exactly the new events")
	c2.mu.Lock()
	defer c2.mu.Unlock()
	for k, id := range ids {
		ch := c2.metas[k][metaChannel].(string)
		assert.GreaterOrEqual(t, id, firstNew[ch], "%s: only events after the checkpoint", ch)
	}
}

// TestPubSubKeepaliveMovesIdleCheckpoint: a channel that receives nothing
// gets its checkpoint from the keepalive's latest_replay_id.
func TestPubSubKeepaliveMovesIdleCheckpoint(t *testing.T) {
	clock := sfemu.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	emu, url, addr := startPubSubEmulator(t, sfemu.Config{Clock: clock})
	_, last, err := emu.PublishN("/event/Order__e", 5)
	require.NoError(t, err)
	dir := t.TempDir()
	c := newCollector()
	rs := startStream(t, url, dir, pubsubFields(addr, "  channels: [ /event/Order__e ]\n  replay_preset: latest\n"), c)

	found := false
	for range 40 { // the server re-arms its keepalive timer after each send: advance until one lands
		clock.Advance(sfemu.PubSubKeepalive)
		time.Sleep(250 * time.Millisecond)
		if pos, ok := storedPubSub(t, dir, "/event/Order__e"); ok {
			assert.Equal(t, sfemuReplayID(last), pos.ReplayID)
			found = true
			break
		}
	}
	rs.stop(t)
	assert.True(t, found, "a keepalive stored the idle channel's position")
	assert.Zero(t, c.count(), "latest: nothing delivered")
}

// TestPubSubFlowControlFollowsAcks drives the input directly with nothing
// acknowledged: it hands out checkpoint_limit events and no more, and the
// server delivers no more either (its delivery allocation counts them); acks
// let the rest through.
func TestPubSubFlowControlFollowsAcks(t *testing.T) {
	emu, url, addr := startPubSubEmulator(t, sfemu.Config{})
	// Three events first, the rest once they are read: the first batch is
	// smaller than checkpoint_limit, so acknowledging it leaves events in
	// flight and what the client then asks for shows.
	_, _, err := emu.PublishN("/event/Order__e", 3)
	require.NoError(t, err)
	pConf, err := spec().ParseYAML(fmt.Sprintf(`org_url: %s
api: pubsub
pubsub_endpoint: %s
auth: { grant_type: client_credentials, client_id: sfemu-client-id, client_secret: sfemu-client-secret }
channels: [ /event/Order__e ]
replay_preset: earliest
checkpoint_cache: replay_ids
checkpoint_limit: 10
`, url, addr), nil)
	require.NoError(t, err)
	in, err := newInput(pConf, service.MockResources(service.MockResourcesOptAddCache("replay_ids")))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, in.Connect(ctx))
	defer in.Close(context.Background())

	var acks []service.AckFunc
	var sizes []int
	held := 0
	for held < 10 { // checkpoint_limit arrives, whatever the machine's speed
		batch, ack, err := in.ReadBatch(ctx)
		require.NoError(t, err)
		if held == 0 {
			_, _, err := emu.PublishN("/event/Order__e", 47)
			require.NoError(t, err)
		}
		held += len(batch)
		acks = append(acks, ack)
		sizes = append(sizes, len(batch))
		require.LessOrEqual(t, held, 10, "never more than checkpoint_limit unacknowledged")
	}
	require.Less(t, sizes[0], 10, "the first batch leaves room for a partial acknowledgement")
	// With nothing acknowledged no more comes (ReadBatch waits until its
	// context ends), and the server sent no more.
	rctx, rcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, _, err = in.ReadBatch(rctx)
	rcancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.LessOrEqual(t, deliveredPlatformEvents(t, url), int64(10), "the server sent no more than checkpoint_limit")

	// Acknowledging n events hands exactly n back to the client: the server
	// is asked for n more, not more, so what it sent stays within
	// checkpoint_limit plus what was acknowledged.
	require.NoError(t, acks[0](ctx, nil))
	acked, next := sizes[0], 1
	for {
		rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		batch, ack, err := in.ReadBatch(rctx)
		rcancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break // checkpoint_limit in flight again
		}
		require.NoError(t, err)
		held += len(batch)
		acks = append(acks, ack)
	}
	assert.LessOrEqual(t, deliveredPlatformEvents(t, url), int64(10+acked), "the server sent checkpoint_limit plus what was acknowledged (%d), no more", acked)

	for _, ack := range acks[next:] {
		require.NoError(t, ack(ctx, nil))
	}
	total := held
	for total < 50 {
		batch, ack, err := in.ReadBatch(ctx)
		require.NoError(t, err)
		total += len(batch)
		require.NoError(t, ack(ctx, nil))
	}
	assert.Equal(t, 50, total)
}

// deliveredPlatformEvents is the emulator's count of delivered platform and
// change events (its daily delivery allocation used).
func deliveredPlatformEvents(t *testing.T, url string) int64 {
	t.Helper()
	var limits struct {
		DailyDeliveredPlatformEvents struct{ Max, Remaining int64 }
	}
	src, err := sfauth.NewSource(sfauth.Config{OrgURL: url, GrantType: sfauth.GrantClientCredentials,
		ClientID: sfemu.DefaultClientID, ClientSecret: sfemu.DefaultClientSecret})
	require.NoError(t, err)
	tok, err := src.Token(t.Context())
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/services/data/v64.0/limits", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&limits))
	return limits.DailyDeliveredPlatformEvents.Max - limits.DailyDeliveredPlatformEvents.Remaining
}

// TestPubSubRedeliveryAndMetrics: a nacked Pub/Sub batch comes again whole,
// with the same replay ids; events and reconnects are counted as over CometD.
func TestPubSubRedeliveryAndMetrics(t *testing.T) {
	emu, url, addr := startPubSubEmulator(t, sfemu.Config{})
	_, _, err := emu.PublishN("/event/Order__e", 10)
	require.NoError(t, err)
	h := newHarness(t, t.TempDir(), url, "api: pubsub\npubsub_endpoint: "+addr+"\nchannels: [ /event/Order__e ]\nreplay_preset: earliest\n")
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, h.in.Connect(ctx))

	replayIDs := func(batch service.MessageBatch) []string {
		var ids []string
		for _, msg := range batch {
			v, ok := msg.MetaGetMut(metaReplayID)
			require.True(t, ok)
			ids = append(ids, v.(string))
		}
		return ids
	}
	batch, ack, err := h.in.ReadBatch(ctx)
	require.NoError(t, err)
	first := replayIDs(batch)
	require.NoError(t, ack(ctx, errors.New("rejected by the test")))
	again, ack, err := h.in.ReadBatch(ctx)
	require.NoError(t, err)
	assert.Equal(t, first, replayIDs(again), "the nacked batch comes again whole")
	require.NoError(t, ack(ctx, nil))
	got := len(first)
	for got < 10 {
		batch, ack, err := h.in.ReadBatch(ctx)
		require.NoError(t, err)
		got += len(batch)
		require.NoError(t, ack(ctx, nil))
	}
	assert.Equal(t, 10, got)
	assert.Equal(t, int64(10), h.metrics.get(metricEventsReceived, "/event/Order__e"))

	require.NoError(t, emu.InjectFault(sfemu.FaultRequest{Fault: sfemu.FaultDropConnection, Count: 1}))
	_, _, err = emu.PublishN("/event/Order__e", 5)
	require.NoError(t, err)
	for got < 15 {
		batch, ack, err := h.in.ReadBatch(ctx)
		require.NoError(t, err)
		got += len(batch)
		require.NoError(t, ack(ctx, nil))
	}
	assert.Equal(t, 15, got, "nothing lost or repeated across the dropped stream")
	assert.GreaterOrEqual(t, h.metrics.get(metricReconnects, "connection_error"), int64(1), "the dropped stream is counted")
}

// TestPubSubTLS: with tls enabled the input speaks TLS to a loopback
// endpoint too, trusting the configured root CA, and refuses a server its
// roots do not vouch for.
func TestPubSubTLS(t *testing.T) {
	emu := newTestEmulator(sfemu.Config{})
	ts := httptest.NewServer(emu)
	certFile, cert := selfSignedLoopbackCert(t)
	creds := credentials.NewServerTLSFromCert(&cert)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := emu.NewPubSubServer(grpc.Creds(creds))
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(func() {
		g.Stop()
		ts.Close()
		emu.Close()
	})
	_, _, err = emu.PublishN("/event/Order__e", 3)
	require.NoError(t, err)

	connect := func(tlsFields string) (*ssiInput, error) {
		h := newHarness(t, t.TempDir(), ts.URL, "api: pubsub\npubsub_endpoint: "+lis.Addr().String()+
			"\nchannels: [ /event/Order__e ]\nreplay_preset: earliest\n"+tlsFields)
		require.False(t, h.in.conf.PubSubPlaintext, "tls enabled: no plaintext, loopback or not")
		ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		defer cancel()
		return h.in, h.in.Connect(ctx)
	}

	in, err := connect("tls: { enabled: true, root_cas_file: " + certFile + " }\n")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	batch, ack, err := in.ReadBatch(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, batch)
	require.NoError(t, ack(ctx, nil))

	_, err = connect("tls: { enabled: true }\n")
	require.Error(t, err, "the system roots do not trust the test certificate")
	assert.Contains(t, err.Error(), "certificate")
}

// selfSignedLoopbackCert makes a certificate for 127.0.0.1 and writes it,
// PEM, to a file to trust as root_cas_file.
func selfSignedLoopbackCert(t *testing.T) (string, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "server.crt")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	return path, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestPubSubEveryGrant: each of the four grants obtains a token whose
// identity URL gives the tenant id the Pub/Sub API needs; no secret reaches
// a message.
func TestPubSubEveryGrant(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	grants := map[string]string{
		"client_credentials": fmt.Sprintf("{ grant_type: client_credentials, client_id: %s, client_secret: %s }",
			sfemu.DefaultClientID, sfemu.DefaultClientSecret),
		"password": fmt.Sprintf("{ grant_type: password, client_id: %s, client_secret: %s, username: %s, password: %s }",
			sfemu.DefaultClientID, sfemu.DefaultClientSecret, sfemu.DefaultUsername, sfemu.DefaultPassword),
		"refresh_token": fmt.Sprintf("{ grant_type: refresh_token, client_id: %s, client_secret: %s, refresh_token: %s }",
			sfemu.DefaultClientID, sfemu.DefaultClientSecret, sfemu.DefaultRefreshToken),
		"jwt_bearer": fmt.Sprintf("{ grant_type: jwt_bearer, client_id: %s, username: %s, private_key: %s }",
			sfemu.DefaultClientID, sfemu.DefaultUsername, strconv.Quote(keyPEM)),
	}
	for grant, auth := range grants {
		t.Run(grant, func(t *testing.T) {
			emu, url, addr := startPubSubEmulator(t, sfemu.Config{JWTPublicKey: &key.PublicKey})
			_, _, err := emu.PublishN("/event/Order__e", 3)
			require.NoError(t, err)
			c := newCollector()
			rs := startStreamWith(t, url, pubsubFields(addr, "  channels: [ /event/Order__e ]\n  replay_preset: earliest\n"), c,
				streamOpts{auth: auth, cacheYAML: "label: replay_ids\nmemory: {}\n"})
			c.waitFor(t, 3)
			rs.stop(t)
			c.mu.Lock()
			defer c.mu.Unlock()
			for k, m := range c.metas {
				all := fmt.Sprint(m) + string(c.bodies[k])
				for _, secret := range []string{sfemu.DefaultClientSecret, sfemu.DefaultPassword, sfemu.DefaultRefreshToken} {
					assert.NotContains(t, all, secret)
				}
			}
		})
	}
}

// TestPubSubMessagesMatchCometD: the same events read over both APIs give the
// same metadata (but the replay id's form and the Pub/Sub-only keys), and the
// Pub/Sub body is the CometD body's payload.
func TestPubSubMessagesMatchCometD(t *testing.T) {
	emu, url, addr := startPubSubEmulator(t, sfemu.Config{})
	channels := []string{"/event/Order__e", "/data/AccountChangeEvent"}
	for _, ch := range channels {
		_, _, err := emu.PublishN(ch, 5)
		require.NoError(t, err)
	}
	read := func(fields string) *collector {
		c := newCollector()
		rs := startStreamWith(t, url, fields+"  channels: [ /event/Order__e, /data/AccountChangeEvent ]\n  replay_preset: earliest\n", c,
			streamOpts{cacheYAML: "label: replay_ids\nmemory: {}\n"})
		c.waitFor(t, 10)
		rs.stop(t)
		return c
	}
	cometd := read("")
	ps := read(pubsubFields(addr, ""))

	// Pair the messages by channel and order (each API delivers a channel in order).
	byChannel := func(c *collector) map[string][]int {
		out := map[string][]int{}
		for k, m := range c.metas {
			ch := m[metaChannel].(string)
			out[ch] = append(out[ch], k)
		}
		return out
	}
	cIdx, pIdx := byChannel(cometd), byChannel(ps)
	for _, ch := range channels {
		require.Len(t, cIdx[ch], 5, ch)
		require.Len(t, pIdx[ch], 5, ch)
		for n := range 5 {
			cm, pm := cometd.metas[cIdx[ch][n]], ps.metas[pIdx[ch][n]]
			for _, k := range []string{metaReplayID, metaEventID, metaSchemaID, metaSchema} {
				delete(cm, k)
				delete(pm, k)
			}
			assert.Equal(t, cm, pm, "%s event %d: the same metadata", ch, n)
			var cBody struct {
				Payload json.RawMessage `json:"payload"`
			}
			require.NoError(t, json.Unmarshal(cometd.bodies[cIdx[ch][n]], &cBody))
			var cPayload, pBody map[string]any
			require.NoError(t, json.Unmarshal(cBody.Payload, &cPayload))
			require.NoError(t, json.Unmarshal(ps.bodies[pIdx[ch][n]], &pBody))
			if h, ok := pBody["ChangeEventHeader"].(map[string]any); ok {
				// Pub/Sub carries nulledFields and diffFields, which CometD
				// does not (docs/pubsub.md): decoded to field names.
				for _, k := range []string{"nulledFields", "diffFields"} {
					assert.IsType(t, []any{}, h[k], "%s decoded to a list of names", k)
					delete(h, k)
				}
				// A bitmap lists fields in schema order, CometD in its own.
				ch := cPayload["ChangeEventHeader"].(map[string]any)
				assert.ElementsMatch(t, ch["changedFields"], h["changedFields"], "changedFields")
				delete(h, "changedFields")
				delete(ch, "changedFields")
			}
			assert.Equal(t, cPayload, pBody, "%s event %d: the Pub/Sub body is CometD's payload", ch, n)
		}
	}
}
