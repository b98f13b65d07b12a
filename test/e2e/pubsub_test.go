package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The scenarios of api: pubsub: bin/benthos against bin/sfemu's Pub/Sub API
// (plaintext gRPC on loopback), the same guarantees as over CometD.

// pubsubRecordMapping turns a message into a Record. The input hands on the
// replay id as base64 text of opaque bytes; the emulator's ids are its
// CometD replay ids as 8 bytes big-endian (an emulator detail the input never
// relies on), so a Record keeps comparing with the ledger.
const pubsubRecordMapping = `root = {"channel": @salesforce_channel, "replay_id": ("0x" + @salesforce_replay_id.decode("base64").encode("hex")).int64()}`

// pubsubEnv starts bin/sfemu with its Pub/Sub API on a free loopback port
// and returns the env and that address.
func pubsubEnv(t *testing.T, cfg harness.EmulatorConfig) (*env, string) {
	t.Helper()
	requireBinaries(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	cfg.Args = append(cfg.Args, "-pubsub-addr", addr)
	e := newEnv(t, cfg)
	return e, addr
}

// pubsubPipeline is recordPipeline over api: pubsub.
func (e *env) pubsubPipeline(addr string, o inputOpts, output map[string]any, processors ...any) map[string]any {
	in := e.input(o)
	conf := in["salesforce_streaming"].(map[string]any)
	conf["api"] = "pubsub"
	conf["pubsub_endpoint"] = addr
	p := recordPipeline(in, output, nil)
	p["pipeline"].(map[string]any)["processors"] = append(append([]any{}, processors...), map[string]any{"mapping": pubsubRecordMapping})
	return p
}

// pubsubCheckpoint reads a channel's stored Pub/Sub position from the file
// cache as the emulator's replay id; ok is false when none reads, and for a
// start marker, which names the first event handed out, not one acknowledged.
func (e *env) pubsubCheckpoint(prefix, channel string) (int64, bool) {
	e.t.Helper()
	pos, ok := e.pubsubPosition(prefix, channel)
	if !ok || pos.Start || len(pos.ReplayID) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(pos.ReplayID)), true
}

// pubsubPosition reads a channel's stored Pub/Sub position from the file cache.
func (e *env) pubsubPosition(prefix, channel string) (checkpointfmt.Position, bool) {
	e.t.Helper()
	get := func(_ context.Context, key string) ([]byte, bool, error) {
		v, ok := e.fileCacheValue(key)
		return []byte(v), ok, nil
	}
	pos, ok, err := checkpointfmt.ReadPosition(context.Background(), get, checkpointfmt.PubSub, prefix, channel)
	return pos, ok && err == nil
}

// TestPubSubResumeAfterKill: kill -9 while two channels drain over the
// Pub/Sub API, restart: every event delivered, in order within each run,
// duplicates only the killed run's events after the stored checkpoint.
func TestPubSubResumeAfterKill(t *testing.T) {
	e, addr := pubsubEnv(t, harness.EmulatorConfig{})
	const key = "psresume"
	gaps := map[string]int{"/event/PsResume__e": 1, "/data/PsResumeChangeEvent": 2}
	channels := []string{"/event/PsResume__e", "/data/PsResumeChangeEvent"}
	ledger := harness.NewLedger()
	for ch, gap := range gaps {
		ids, err := e.emu.PublishIDs(e.ctx, ch, 1500, gap)
		require.NoError(t, err)
		ledger.Add(ch, ids...)
	}
	resources := e.fileCache()
	pipeline := func(out string) map[string]any {
		return e.pubsubPipeline(addr, inputOpts{channels: channels, preset: "earliest", key: key, checkpointLimit: 200}, fileOutput(out))
	}
	run1Path, run2Path := e.path("run1.jsonl"), e.path("run2.jsonl")
	run1 := e.startBenthos("run1", pipeline(run1Path), resources)
	published := make(chan error, 1)
	go func() {
		published <- e.emu.PublishRounds(e.ctx, ledger, harness.Rounds{
			Channels: channels, Gaps: gaps, PerRound: 25, Rounds: 20, Interval: 40 * time.Millisecond,
		})
	}()
	killCtx, cancel := context.WithTimeout(e.ctx, deliverWait)
	_, err := harness.WaitRecords(killCtx, run1Path, func(recs []harness.Record) bool { return len(recs) >= 1200 })
	cancel()
	require.NoError(t, err)
	require.NoError(t, run1.Kill())
	first, err := harness.ReadRecords(run1Path)
	require.NoError(t, err)
	atKill := map[string]int64{}
	for _, ch := range channels {
		if id, ok := e.pubsubCheckpoint(key, ch); ok {
			atKill[ch] = id
		}
	}

	run2 := e.startBenthos("run2", pipeline(run2Path), resources)
	require.NoError(t, <-published)
	want := ledger.Published()
	require.False(t, harness.Check(want, first).Complete(), "the kill must land mid-stream")
	waitComplete(e.ctx, t, want, [][]harness.Record{first}, run2Path, run2)
	e.stop(run2)
	second, err := harness.ReadRecords(run2Path)
	require.NoError(t, err)
	report := harness.Check(want, first, second)
	t.Logf("killed after %d records; %s", len(first), report)
	assert.Empty(t, report.Missing, "every event is delivered")
	assert.Empty(t, report.Unexpected)
	assert.Empty(t, report.Order)
	assert.Empty(t, report.DuplicatesWithinRun)
	for _, ch := range channels {
		cp, stored := atKill[ch]
		inFlight := 0
		for _, r := range first {
			if r.Channel == ch && (!stored || r.ReplayID > cp) {
				inFlight++
			}
		}
		assert.Equal(t, inFlight, report.Duplicates[ch], "%s: duplicates are the killed run's events after its checkpoint %d", ch, cp)
		last, _ := ledger.Last(ch)
		id, ok := e.pubsubCheckpoint(key, ch)
		assert.True(t, ok, "%s: a Pub/Sub checkpoint is stored", ch)
		assert.Equal(t, last, id, "%s: after a graceful stop the checkpoint is the last event", ch)
		_, cometd := e.fileCacheValue(checkpointfmt.CheckpointKey(key, ch))
		assert.False(t, cometd, "%s: nothing is written under the CometD key", ch)
	}
}

// TestPubSubInvalidReplayIDPolicies: the stored checkpoint is purged while
// the pipeline is down; earliest delivers what is retained and new, latest
// only what is new, fail nothing (and logs the channel as an error).
func TestPubSubInvalidReplayIDPolicies(t *testing.T) {
	const channel = "/event/PsPurged__e"
	for _, test := range invalidReplayPolicies {
		t.Run(test.policy, func(t *testing.T) {
			t.Parallel()
			e, addr := pubsubEnv(t, harness.EmulatorConfig{})
			key := "pspurge_" + test.policy
			resources := e.fileCache()
			pipeline := func(out string) map[string]any {
				return e.pubsubPipeline(addr, inputOpts{channels: []string{channel}, preset: "earliest", onInvalid: test.policy, key: key}, fileOutput(out))
			}
			consumed, err := e.emu.PublishIDs(e.ctx, channel, 20, 2)
			require.NoError(t, err)
			run1Path := e.path("run1.jsonl")
			run1 := e.startBenthos("run1", pipeline(run1Path), resources)
			waitComplete(e.ctx, t, harness.Published{channel: consumed}, nil, run1Path, run1)
			e.stop(run1)
			checkpoint := consumed[len(consumed)-1]
			stored, ok := e.pubsubCheckpoint(key, channel)
			require.True(t, ok)
			require.Equal(t, checkpoint, stored)

			unconsumed, err := e.emu.PublishIDs(e.ctx, channel, 10, 2)
			require.NoError(t, err)
			_, err = e.emu.Purge(e.ctx, channel, &checkpoint)
			require.NoError(t, err)
			later, err := e.emu.PublishIDs(e.ctx, channel, 10, 2)
			require.NoError(t, err)
			retained := append(append([]int64{}, unconsumed...), later...)

			run2Path := e.path("run2.jsonl")
			run2 := e.startBenthos("run2", pipeline(run2Path), resources)
			logCtx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
			defer cancel()
			_, err = run2.WaitOutput(logCtx, func(line string) bool { return len(logLines(line, "error", channel)) > 0 })
			require.NoError(t, err, "an error log names %s", channel)
			var live []int64 // latest: probes published once the resubscription from latest is live
			if test.policy == "latest" {
				// Nothing says when the subscription from latest reached the
				// server: publish probes until one arrives; every later one
				// must arrive too, the earlier ones may not.
				var probes []int64
				first := -1
				for first < 0 && e.ctx.Err() == nil {
					ids, err := e.emu.PublishIDs(e.ctx, channel, 1, 2)
					require.NoError(t, err)
					probes = append(probes, ids...)
					time.Sleep(100 * time.Millisecond)
					recs, err := harness.ReadRecords(run2Path)
					require.NoError(t, err)
					if len(recs) > 0 {
						first = slices.Index(probes, recs[0].ReplayID)
						require.GreaterOrEqual(t, first, 0, "the first record after the fallback to latest is a probe: %v", recs[0])
					}
				}
				live = probes[first:]
			}
			after, err := e.emu.PublishIDs(e.ctx, channel, 10, 2)
			require.NoError(t, err)
			want := harness.Published{channel: test.expected(retained, append(live, after...))}
			recs := waitDue(e.ctx, t, want, run2Path, run2)
			report := harness.Check(want, recs)
			t.Logf("checkpoint %d purged; %s", checkpoint, report)
			assert.Empty(t, report.Missing)
			assert.Empty(t, report.Unexpected)
			assert.Empty(t, report.Order)
			e.stop(run2) // flushes the last acknowledged position
			pos, _ := e.pubsubPosition(key, channel)
			if test.policy != "fail" {
				assert.Equal(t, int64(1), pos.Epoch, "the fallback started checkpoint epoch 1")
				id, _ := e.pubsubCheckpoint(key, channel)
				assert.Equal(t, want[channel][len(want[channel])-1], id, "the checkpoint is the last event delivered")
			}
			if test.policy == "fail" {
				assert.Equal(t, int64(0), pos.Epoch)
				id, _ := e.pubsubCheckpoint(key, channel)
				assert.Equal(t, checkpoint, id, "fail keeps the stored checkpoint")
				_, statErr := os.Stat(run2Path)
				assert.True(t, os.IsNotExist(statErr) || len(recs) == 0, "fail delivers nothing")
			}
		})
	}
}

// TestPubSubSurvivesFaults: token revocation and stream resets (an
// UNAVAILABLE drop and a clean server end) while events flow lose nothing.
func TestPubSubSurvivesFaults(t *testing.T) {
	for _, fault := range []string{"revoke_tokens", "drop_connection", "server_disconnect"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			e, addr := pubsubEnv(t, harness.EmulatorConfig{})
			const channel = "/event/PsFault__e"
			ledger := harness.NewLedger()
			ids, err := e.emu.PublishIDs(e.ctx, channel, 200, 1)
			require.NoError(t, err)
			ledger.Add(channel, ids...)
			out := e.path("out.jsonl")
			run := e.startBenthos("run", e.pubsubPipeline(addr, inputOpts{channels: []string{channel}, preset: "earliest", key: "psfault"}, fileOutput(out)), e.fileCache())
			wctx, cancel := context.WithTimeout(e.ctx, deliverWait)
			_, err = harness.WaitRecords(wctx, out, func(recs []harness.Record) bool { return len(recs) >= 200 })
			cancel()
			require.NoError(t, err)

			req := harness.FaultRequest{Fault: fault}
			if fault != "revoke_tokens" {
				req.Count = 1
			}
			require.NoError(t, e.emu.Fault(e.ctx, req))
			for range 5 {
				ids, err := e.emu.PublishIDs(e.ctx, channel, 40, 1)
				require.NoError(t, err)
				ledger.Add(channel, ids...)
				time.Sleep(200 * time.Millisecond)
			}
			recs, report := waitComplete(e.ctx, t, ledger.Published(), nil, out, run)
			e.stop(run)
			t.Logf("%s: %d records; %s", fault, len(recs), report)
			assert.Empty(t, report.Missing, "nothing lost across %s", fault)
			assert.Empty(t, report.Unexpected)
			// The fault reached the stream: the client logged its reaction.
			reaction := map[string]string{"revoke_tokens": "token refused", "drop_connection": "stream ended", "server_disconnect": "stream ended"}[fault]
			assert.NotEmpty(t, logLines(run.Output(), "warn", channel, reaction), "a warning says the %s stream reacted to %s", channel, fault)
			if fault == "revoke_tokens" {
				st, err := e.emu.State(e.ctx)
				require.NoError(t, err)
				assert.GreaterOrEqual(t, st.Counters["token_grants"], int64(2), "a new token was obtained after the revocation")
			}
		})
	}
}

// TestPubSubSlowOutputBounded: 20,000 retained events and an output slowed
// by a sleep for 20 s. Flow control holds the events Salesforce sent but the
// pipeline has not acknowledged to checkpoint_limit: the emulator's delivery
// count (its daily allocation used) never exceeds the records written plus
// checkpoint_limit.
func TestPubSubSlowOutputBounded(t *testing.T) {
	const (
		channel = "/event/PsSlow__e"
		limit   = 50
	)
	e, addr := pubsubEnv(t, harness.EmulatorConfig{Preload: map[string]int{channel: 20000}})
	out := e.path("out.jsonl")
	slow := map[string]any{"sleep": map[string]any{"duration": "20ms"}}
	run := e.startBenthos("run", e.pubsubPipeline(addr, inputOpts{channels: []string{channel}, preset: "earliest", key: "psslow", checkpointLimit: limit}, fileOutput(out), slow), e.fileCache())
	token := emulatorToken(t, e)
	samples := 0
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		delivered := deliveredEvents(t, e, token)
		recs, err := harness.ReadRecords(out)
		require.NoError(t, err)
		require.LessOrEqual(t, delivered, int64(len(recs)+limit),
			"the emulator delivered %d events, the output wrote %d: more than checkpoint_limit %d in flight", delivered, len(recs), limit)
		samples++
		time.Sleep(500 * time.Millisecond)
	}
	recs, err := harness.ReadRecords(out)
	require.NoError(t, err)
	t.Logf("%d samples; %d records written in 20 s of a slowed output", samples, len(recs))
	assert.Greater(t, len(recs), 0, "the slowed pipeline makes progress")
	assert.Less(t, len(recs), 20000, "the output was slow enough to leave a backlog")
	require.False(t, run.Exited())
	if st, err := harness.ReadProcStat(run.PID()); err == nil {
		t.Logf("bin/benthos peak RSS %d MB (logged, not asserted: the in-flight bound above is what keeps it flat)", st.PeakRSS>>20)
	}
	e.stop(run)
}

// emulatorToken obtains an access token from the emulator with its default
// client credentials.
func emulatorToken(t *testing.T, e *env) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {harness.EmulatorClientID}, "client_secret": {harness.EmulatorClientSecret}}
	resp, err := http.Post(e.emu.URL+"/services/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok.AccessToken
}

// deliveredEvents is the emulator's platform and change events delivered so
// far, from its limits resource.
func deliveredEvents(t *testing.T, e *env, token string) int64 {
	t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, e.emu.URL+"/services/data/v64.0/limits", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "limits")
	var limits struct {
		DailyDeliveredPlatformEvents struct{ Max, Remaining int64 }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&limits))
	return limits.DailyDeliveredPlatformEvents.Max - limits.DailyDeliveredPlatformEvents.Remaining
}

// TestPubSubOverTLS: sfemu -tls serves HTTPS and the Pub/Sub API over TLS
// with its self-signed certificate; the input, trusting it through tls, gets
// every event.
func TestPubSubOverTLS(t *testing.T) {
	certFile := filepath.Join(t.TempDir(), "sfemu.crt")
	e, addr := pubsubEnv(t, harness.EmulatorConfig{Args: []string{"-tls", "-tls-cert-out", certFile}})
	require.True(t, strings.HasPrefix(e.emu.URL, "https://"), e.emu.URL)
	pemBytes, err := os.ReadFile(certFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemBytes))
	e.emu.HTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}

	const channel = "/event/PsTls__e"
	ids, err := e.emu.PublishIDs(e.ctx, channel, 50, 1)
	require.NoError(t, err)
	out := e.path("out.jsonl")
	p := e.pubsubPipeline(addr, inputOpts{channels: []string{channel}, preset: "earliest", key: "pstls"}, fileOutput(out))
	p["input"].(map[string]any)["salesforce_streaming"].(map[string]any)["tls"] = map[string]any{"enabled": true, "root_cas_file": certFile}
	run := e.startBenthos("run", p, e.fileCache())
	recs, report := waitComplete(e.ctx, t, harness.Published{channel: ids}, nil, out, run)
	e.stop(run)
	t.Logf("%d records; %s", len(recs), report)
	assert.Empty(t, report.Missing)
}
