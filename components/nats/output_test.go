package nats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure" // the stream's defaults (tracer none, ...)
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

const (
	testStream  = "SALESFORCE"
	testSubject = "salesforce.events"
)

// startServer starts a real nats-server with JetStream, or skips naming why.
func startServer(t *testing.T, args ...string) *harness.NATS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	srv, err := harness.StartNATS(ctx, dir, args...)
	if errors.Is(err, harness.ErrNATSNotInstalled) {
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nats-server:\n%s", srv.Proc.Tail(20))
		}
		_ = srv.Close()
	})
	return srv
}

// jetStream connects a client of the test's own and creates the stream
// capturing salesforce.>.
func jetStream(t *testing.T, url string, opts ...nats.Option) jetstream.Stream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: testStream, Subjects: []string{"salesforce.>"}})
	require.NoError(t, err)
	return s
}

// stored returns every message of the stream, in order.
func stored(t *testing.T, s jetstream.Stream) []jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := s.Info(ctx)
	require.NoError(t, err)
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		out = append(out, *m)
	}
	return out
}

func newOutput(t *testing.T, yaml string) (*output, error) {
	t.Helper()
	parsed, err := spec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	c, err := parseConfig(parsed, "test")
	if err != nil {
		return nil, err
	}
	o := &output{conf: c, log: service.MockResources().Logger()}
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o, o.Connect(context.Background())
}

func message(content string, meta map[string]string) *service.Message {
	m := service.NewMessage([]byte(content))
	for k, v := range meta {
		m.MetaSetMut(k, v)
	}
	return m
}

func write(t *testing.T, o *output, batch service.MessageBatch) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return o.WriteBatch(ctx, batch)
}

func TestPublishesWithSubjectAndHeaders(t *testing.T) {
	srv := startServer(t)
	s := jetStream(t, srv.URL)
	o, err := newOutput(t, fmt.Sprintf(`
urls: [ %q ]
subject: salesforce.${! @kind }
headers:
  Content-Type: application/json
  Nats-Msg-Id: ${! @salesforce_replay_id }
metadata:
  include_prefixes: [ salesforce_ ]
`, srv.URL))
	require.NoError(t, err)
	require.NoError(t, write(t, o, service.MessageBatch{
		message(`{"n":1}`, map[string]string{"kind": "order", "salesforce_replay_id": "11", "secretish": "x"}),
		message(`{"n":2}`, map[string]string{"kind": "shipment", "salesforce_replay_id": "12"}),
	}))
	msgs := stored(t, s)
	require.Len(t, msgs, 2)
	assert.Equal(t, "salesforce.order", msgs[0].Subject)
	assert.Equal(t, "salesforce.shipment", msgs[1].Subject)
	for i, m := range msgs {
		assert.Equal(t, fmt.Sprintf(`{"n":%d}`, i+1), string(m.Data))
		assert.Equal(t, "application/json", m.Header.Get("Content-Type"))
		assert.Equal(t, fmt.Sprint(11+i), m.Header.Get("Nats-Msg-Id"))
		assert.Equal(t, fmt.Sprint(11+i), m.Header.Get("salesforce_replay_id"), "metadata selected by include_prefixes")
		assert.Empty(t, m.Header.Get("secretish"), "metadata not selected stays out")
	}
}

// TestFailedMessagesAreNamed: a message whose subject no stream captures gets
// no PubAck; the batch error names it and only it.
func TestFailedMessagesAreNamed(t *testing.T) {
	srv := startServer(t)
	s := jetStream(t, srv.URL)
	o, err := newOutput(t, fmt.Sprintf("urls: [ %q ]\nsubject: ${! @subject }\n", srv.URL))
	require.NoError(t, err)
	batch := service.MessageBatch{
		message("a", map[string]string{"subject": testSubject}),
		message("b", map[string]string{"subject": "nowhere.else"}),
		message("c", map[string]string{"subject": testSubject}),
		message("d", map[string]string{"subject": ""}),
	}
	idx := batch.Index() // before the write: it tags the messages the error names
	err = write(t, o, batch)
	var batchErr *service.BatchError
	require.ErrorAs(t, err, &batchErr)
	var failed []int
	batchErr.WalkMessagesIndexedBy(idx, func(i int, _ *service.Message, err error) bool {
		if err != nil {
			failed = append(failed, i)
		}
		return true
	})
	assert.Equal(t, []int{1, 3}, failed)
	var data []string
	for _, m := range stored(t, s) {
		data = append(data, string(m.Data))
	}
	assert.Equal(t, []string{"a", "c"}, data)
}

// TestOutageFailsThenRecovers: while the server is down a write fails (no
// PubAck, no ack); after the restart on the same address and store, writes
// succeed and the earlier messages are still there.
func TestOutageFailsThenRecovers(t *testing.T) {
	srv := startServer(t)
	jetStream(t, srv.URL)
	o, err := newOutput(t, fmt.Sprintf("urls: [ %q ]\nsubject: %s\n", srv.URL, testSubject))
	require.NoError(t, err)
	require.NoError(t, write(t, o, service.MessageBatch{message("before", nil)}))

	require.NoError(t, srv.Close())
	require.Error(t, write(t, o, service.MessageBatch{message("during", nil)}), "no server, no PubAck")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err = harness.StartNATSAt(ctx, filepath.Dir(srv.StoreDir), srv.Addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	var werr error
	for range 50 { // the client reconnects on its own; bounded wait
		if werr = write(t, o, service.MessageBatch{message("after", nil)}); werr == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.NoError(t, werr)
	nc, err := nats.Connect(srv.URL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx, testStream)
	require.NoError(t, err)
	var data []string
	for _, m := range stored(t, s) {
		data = append(data, string(m.Data))
	}
	assert.Equal(t, []string{"before", "after"}, data, "the stored message survived the restart; the failed one was not stored")
}

func TestAuth(t *testing.T) {
	const (
		user     = "sf"
		password = "s3cret-Passw0rd"
		token    = "t0ken-Secret"
	)
	kp, err := nkeys.CreateUser()
	require.NoError(t, err)
	seed, err := kp.Seed()
	require.NoError(t, err)
	pub, err := kp.PublicKey()
	require.NoError(t, err)
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	require.NoError(t, os.WriteFile(seedFile, seed, 0o600))
	nkeyConf := filepath.Join(t.TempDir(), "nkey.conf")
	require.NoError(t, os.WriteFile(nkeyConf, []byte(fmt.Sprintf("authorization { users = [ { nkey: %s } ] }\n", pub)), 0o600))

	tests := []struct {
		name       string
		serverArgs []string
		client     nats.Option // the test's own client
		auth       string      // the output's auth section
		ok         bool
		secret     string // must not appear in errors
	}{
		{"user and password", []string{"--user", user, "--pass", password}, nats.UserInfo(user, password),
			fmt.Sprintf("user: %s\npassword: %s", user, password), true, password},
		{"wrong password", []string{"--user", user, "--pass", password}, nats.UserInfo(user, password),
			fmt.Sprintf("user: %s\npassword: wrong-%s", user, password), false, password},
		{"token", []string{"--auth", token}, nats.Token(token), "token: " + token, true, token},
		{"nkey seed file", []string{"-c", nkeyConf}, nkeyOpt(t, seedFile), "nkey_file: " + seedFile, true, string(seed)},
		{"nkey seed", []string{"-c", nkeyConf}, nkeyOpt(t, seedFile), "nkey: " + string(seed), true, string(seed)},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			srv := startServer(t, test.serverArgs...)
			s := jetStream(t, srv.URL, test.client)
			o, err := newOutput(t, fmt.Sprintf("urls: [ %q ]\nsubject: %s\nauth:\n%s\n", srv.URL, testSubject, indent(test.auth)))
			if !test.ok {
				require.Error(t, err)
				assert.NotContains(t, err.Error(), test.secret, "the error holds no secret")
				return
			}
			require.NoError(t, err)
			require.NoError(t, write(t, o, service.MessageBatch{message("authenticated", nil)}))
			assert.Len(t, stored(t, s), 1)
		})
	}
}

func nkeyOpt(t *testing.T, seedFile string) nats.Option {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(seedFile)
	require.NoError(t, err)
	return opt
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"a field Connect does not have is a lint error", "urls: [ x ]\nsubject: s\nreconnect_wait: 3s\n", "reconnect_wait"},
		{"tls first without tls", "urls: [ x ]\nsubject: s\ntls_handshake_first: true\n", "tls_handshake_first"},
		{"an unknown auth field is a lint error", "urls: [ x ]\nsubject: s\nauth: { nkey_seed_file: x }\n", "nkey_seed_file"},
		{"user without password", "urls: [ x ]\nsubject: s\nauth: { user: u }\n", "password"},
		{"jwt without seed", "urls: [ x ]\nsubject: s\nauth: { user_jwt: j }\n", "user_nkey_seed"},
		{"two methods", "urls: [ x ]\nsubject: s\nauth: { token: t, user: u, password: p }\n", "one authentication method"},
		{"a bad nkey seed, not echoed", "urls: [ x ]\nsubject: s\nauth: { nkey: SUNOTASEED }\n", "not a valid NKey seed"},
		{"no urls", "urls: [ '' ]\nsubject: s\n", "urls"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			err := service.NewStreamBuilder().AddOutputYAML("nats_jetstream:\n" + indent(test.yaml) + "\n")
			if err == nil {
				parsed, perr := spec().ParseYAML(test.yaml, nil)
				require.NoError(t, perr)
				_, err = parseConfig(parsed, "test")
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), test.want)
			assert.NotContains(t, err.Error(), "SUNOTASEED")
		})
	}
}

// TestStreamAcksAfterPubAck runs the output inside a Benthos stream: the
// producer's call returns nil only once the message is in the stream.
func TestStreamAcksAfterPubAck(t *testing.T) {
	srv := startServer(t)
	s := jetStream(t, srv.URL)
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: off"))
	produce, err := b.AddProducerFunc()
	require.NoError(t, err)
	require.NoError(t, b.AddOutputYAML(fmt.Sprintf("nats_jetstream:\n  urls: [ %q ]\n  subject: %s\n", srv.URL, testSubject)))
	stream, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- stream.Run(ctx) }()
	for i := range 5 {
		require.NoError(t, produce(ctx, message(fmt.Sprintf("m%d", i), nil)))
		assert.Len(t, stored(t, s), i+1, "acknowledged message %d is stored", i)
	}
	require.NoError(t, stream.Stop(ctx))
	<-runErr
}

// TestTLS: a server that requires TLS is reached with `tls` and the
// certificate's CA, and not without them.
func TestTLS(t *testing.T) {
	files, err := harness.WriteSelfSignedCert(t.TempDir())
	require.NoError(t, err)
	srv := startServer(t, "--tls", "--tlscert", files.CertFile, "--tlskey", files.KeyFile)
	s := jetStream(t, srv.URL, nats.RootCAs(files.CertFile))

	_, err = newOutput(t, fmt.Sprintf("urls: [ %q ]\nsubject: %s\n", srv.URL, testSubject))
	require.Error(t, err, "no TLS to a server that requires it")

	o, err := newOutput(t, fmt.Sprintf("urls: [ %q ]\nsubject: %s\ntls:\n  enabled: true\n  root_cas_file: %s\n", srv.URL, testSubject, files.CertFile))
	require.NoError(t, err)
	require.NoError(t, write(t, o, service.MessageBatch{message("over tls", nil)}))
	msgs := stored(t, s)
	require.Len(t, msgs, 1)
	assert.Equal(t, "over tls", string(msgs[0].Data))
}

// TestTLSHandshakeFirst: with tls_handshake_first the client opens with a
// TLS ClientHello before the server said anything; without it, it waits for
// the server's INFO. (The installed nats-server predates handshake_first, so
// a loopback listener looks at the first bytes instead.)
func TestTLSHandshakeFirst(t *testing.T) {
	for _, first := range []bool{true, false} {
		t.Run(fmt.Sprintf("handshake_first=%v", first), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = ln.Close() })
			firstByte := make(chan int, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					firstByte <- -1
					return
				}
				defer conn.Close()
				_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
				b := make([]byte, 1)
				if _, err := io.ReadFull(conn, b); err != nil {
					firstByte <- -1 // silent: the client waits for INFO
					return
				}
				firstByte <- int(b[0])
			}()
			yaml := fmt.Sprintf("urls: [ nats://%s ]\nsubject: s\nmax_reconnects: 0\ntls:\n  enabled: true\ntls_handshake_first: %v\n", ln.Addr(), first)
			parsed, err := spec().ParseYAML(yaml, nil)
			require.NoError(t, err)
			c, err := parseConfig(parsed, "test")
			require.NoError(t, err)
			o := &output{conf: c, log: service.MockResources().Logger()}
			t.Cleanup(func() { _ = o.Close(context.Background()) })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			go func() { _ = o.Connect(ctx) }()
			select {
			case b := <-firstByte:
				if first {
					assert.Equal(t, 0x16, b, "a TLS handshake record first")
				} else {
					assert.Equal(t, -1, b, "nothing before the server's INFO")
				}
			case <-time.After(20 * time.Second):
				require.FailNow(t, "the client never connected")
			}
		})
	}
}

// operatorMode writes what a nats-server in operator (decentralized JWT)
// mode needs: an operator, one account with JetStream allowed and one user
// of it. It returns the server's config file, the user's JWT and seed, and a
// credentials file holding both.
func operatorMode(t *testing.T) (serverConf, userJWT string, userSeed []byte, credsFile string) {
	t.Helper()
	dir := t.TempDir()
	op, err := nkeys.CreateOperator()
	require.NoError(t, err)
	opPub, err := op.PublicKey()
	require.NoError(t, err)
	opJWT, err := jwt.NewOperatorClaims(opPub).Encode(op)
	require.NoError(t, err)

	acc, err := nkeys.CreateAccount()
	require.NoError(t, err)
	accPub, err := acc.PublicKey()
	require.NoError(t, err)
	accClaims := jwt.NewAccountClaims(accPub)
	accClaims.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	accJWT, err := accClaims.Encode(op)
	require.NoError(t, err)

	// JetStream needs a system account in operator mode.
	sys, err := nkeys.CreateAccount()
	require.NoError(t, err)
	sysPub, err := sys.PublicKey()
	require.NoError(t, err)
	sysJWT, err := jwt.NewAccountClaims(sysPub).Encode(op)
	require.NoError(t, err)

	user, err := nkeys.CreateUser()
	require.NoError(t, err)
	userPub, err := user.PublicKey()
	require.NoError(t, err)
	userJWT, err = jwt.NewUserClaims(userPub).Encode(acc)
	require.NoError(t, err)
	userSeed, err = user.Seed()
	require.NoError(t, err)
	creds, err := jwt.FormatUserConfig(userJWT, userSeed)
	require.NoError(t, err)

	opFile := filepath.Join(dir, "operator.jwt")
	require.NoError(t, os.WriteFile(opFile, []byte(opJWT), 0o600))
	credsFile = filepath.Join(dir, "user.creds")
	require.NoError(t, os.WriteFile(credsFile, creds, 0o600))
	serverConf = filepath.Join(dir, "operator.conf")
	require.NoError(t, os.WriteFile(serverConf, []byte(fmt.Sprintf(
		"operator: %q\nsystem_account: %s\nresolver: MEMORY\nresolver_preload: {\n  %s: %q\n  %s: %q\n}\n",
		opFile, sysPub, sysPub, sysJWT, accPub, accJWT)), 0o600))
	return serverConf, userJWT, userSeed, credsFile
}

// TestJWTAuth: a server in operator mode accepts the output with a
// credentials file, or with the user JWT and seed given inline.
func TestJWTAuth(t *testing.T) {
	serverConf, userJWT, userSeed, credsFile := operatorMode(t)
	tests := []struct {
		name, auth string
	}{
		{"credentials file", "user_credentials_file: " + credsFile},
		{"user jwt and seed", fmt.Sprintf("user_jwt: %s\nuser_nkey_seed: %s", userJWT, userSeed)},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			srv := startServer(t, "-c", serverConf)
			s := jetStream(t, srv.URL, nats.UserCredentials(credsFile))

			_, err := newOutput(t, fmt.Sprintf("urls: [ %q ]\nsubject: %s\n", srv.URL, testSubject))
			require.Error(t, err, "no credentials, no connection")

			o, err := newOutput(t, fmt.Sprintf("urls: [ %q ]\nsubject: %s\nauth:\n%s\n", srv.URL, testSubject, indent(test.auth)))
			require.NoError(t, err)
			require.NoError(t, write(t, o, service.MessageBatch{message("authenticated", nil)}))
			assert.Len(t, stored(t, s), 1)
		})
	}
}

// TestPubAckTimeoutFails: a subject answered by a plain subscriber that never
// replies (so NATS reports no "no responders") leaves the PubAck to time out.
// A timeout is no PubAck: the message is named failed, never acknowledged.
func TestPubAckTimeoutFails(t *testing.T) {
	srv := startServer(t)
	jetStream(t, srv.URL) // the stream of testSubject; silent.x is outside it
	nc, err := nats.Connect(srv.URL)
	require.NoError(t, err)
	defer nc.Close()
	sub, err := nc.SubscribeSync("silent.x") // receives, never replies
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	require.NoError(t, nc.Flush())

	o, err := newOutput(t, fmt.Sprintf("urls: [ %q ]\nsubject: ${! @subject }\n", srv.URL))
	require.NoError(t, err)
	batch := service.MessageBatch{
		message("stored", map[string]string{"subject": testSubject}),
		message("unanswered", map[string]string{"subject": "silent.x"}),
	}
	idx := batch.Index()
	err = write(t, o, batch)
	var batchErr *service.BatchError
	require.ErrorAs(t, err, &batchErr, "a PubAck that timed out fails the batch")
	var failed []int
	batchErr.WalkMessagesIndexedBy(idx, func(i int, _ *service.Message, err error) bool {
		if err != nil {
			failed = append(failed, i)
			assert.ErrorIs(t, err, jetstream.ErrAsyncPublishTimeout)
		}
		return true
	})
	assert.Equal(t, []int{1}, failed, "only the unanswered message failed")
	msg, err := sub.NextMsg(10 * time.Second)
	require.NoError(t, err, "the message did reach the subject: only its PubAck is missing")
	assert.Equal(t, "unanswered", string(msg.Data))
}
