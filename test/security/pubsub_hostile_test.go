package security

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
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
	"github.com/salesforce-streaming/salesforce_streaming/test/hostilepubsub"
)

// The bounds every hostile mode is held to, over hostileWindow with the default backoff.
const (
	hostileWindow     = 12 * time.Second
	maxSubscribes     = 30
	maxTokenGrants    = 30
	maxRSS            = 150 << 20
	hostileCheckpoint = "hostile"
)

// completes are the modes whose events all arrive within the window: the server misbehaves but delivers.
var completes = map[hostilepubsub.Mode]bool{
	hostilepubsub.Flood: true, hostilepubsub.KeepaliveAhead: true, hostilepubsub.LyingPending: true,
	hostilepubsub.Duplicates: true,
}

// TestHostilePubSub runs bin/benthos against the hostile Pub/Sub server in each mode, in parallel: at most 30
// subscribes and 30 token grants in 12 s with the default backoff, no secret or token in any log, error, API
// answer (/ready included) or output, RSS below 150 MB, and never a checkpoint past an event not yet in the
// output.
func TestHostilePubSub(t *testing.T) {
	requireBinary(t)
	for _, mode := range hostilepubsub.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			srv, err := hostilepubsub.Start(hostilepubsub.Config{Mode: mode})
			require.NoError(t, err)
			t.Cleanup(srv.Close)
			sf := newFakeSalesforce(t, false, tokenIssue, cometdWorking)
			cacheDir := filepath.Join(t.TempDir(), "replay_ids")
			require.NoError(t, os.MkdirAll(cacheDir, 0o755))
			resources := toYAML(t, map[string]any{
				"cache_resources": []any{map[string]any{"label": "replay_ids", "file": map[string]any{"directory": cacheDir}}},
			})
			input := map[string]any{"salesforce_streaming": map[string]any{
				"org_url": sf.srv.URL, "api": "pubsub", "pubsub_endpoint": srv.Addr(),
				"channels": []any{srv.Topic()}, "replay_preset": "earliest",
				"checkpoint_cache": "replay_ids", "checkpoint_cache_key": hostileCheckpoint, "checkpoint_limit": 50,
				"auth": map[string]any{
					"grant_type": "password", "client_id": clientID, "client_secret": clientSecret,
					"username": username, "password": password,
				},
			}}
			r := startRunWith(t, input, resources)

			deadline := time.Now().Add(hostileWindow)
			checks := 0
			for time.Now().Before(deadline) && !t.Failed() {
				checkpointBehindOutput(t, cacheDir, srv.Topic(), r.out)
				checks++
				time.Sleep(200 * time.Millisecond)
			}
			st := srv.Stats()
			stat, err := harness.ReadProcStat(r.proc.PID())
			require.NoError(t, err)
			t.Logf("%s: %d subscribes, %d token grants, %d GetSchema, peak RSS %d MB, sent through %d, %d checkpoint checks",
				mode, st.Subscribes, sf.tokens.Load(), st.GetSchemas, stat.PeakRSS>>20, st.SentThrough, checks)
			assert.LessOrEqual(t, st.Subscribes, maxSubscribes, "subscribes in %s", hostileWindow)
			assert.LessOrEqual(t, int(sf.tokens.Load()), maxTokenGrants, "token grants in %s", hostileWindow)
			assert.Less(t, stat.PeakRSS, int64(maxRSS), "peak RSS")
			got := outputSeqs(t, r.out)
			slices.Sort(got) // the pipeline's threads may reorder
			assert.Equal(t, oneTo(len(got)), got, "the output is the topic's events from the first, once each, no gap")
			if completes[mode] {
				assert.Len(t, got, 200, "every event delivered despite the misbehaviour")
			}
			checkpointBehindOutput(t, cacheDir, srv.Topic(), r.out)

			secrets := allSecrets()
			for n := 1; n <= int(sf.tokens.Load()); n++ {
				secrets = append(secrets, tokenFor(n))
			}
			r.finish(newScanner(t, secrets...))
			logs := r.proc.Output()
			assert.Contains(t, logs, "pubsub "+srv.Topic(), "the scanned logs hold the client's lines")
			if mode == hostilepubsub.TokenEcho {
				assert.Contains(t, logs, "upstream refused the request", "the echo reached the logs, redacted")
			}
		})
	}
}

// checkpointBehindOutput asserts that the stored checkpoint, when there is one, names an event that is in the
// output with every event before it. A start marker acknowledges nothing (it names the first event handed out,
// stored before that event reaches the output), so it is not checked.
func checkpointBehindOutput(t *testing.T, cacheDir, topic, out string) {
	t.Helper()
	get := func(_ context.Context, key string) ([]byte, bool, error) {
		b, err := os.ReadFile(filepath.Join(cacheDir, key))
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, nil
		}
		return []byte(strings.TrimSpace(string(b))), err == nil, err
	}
	pos, ok, err := checkpointfmt.ReadPosition(context.Background(), get, checkpointfmt.PubSub, hostileCheckpoint, topic)
	if err != nil || !ok || pos.Start { // none yet, caught mid-write, or only the start marker
		return
	}
	cp, valid := hostilepubsub.Seq(pos.ReplayID)
	require.True(t, valid, "the checkpoint %x is an id the server made", pos.ReplayID)
	got := outputSeqs(t, out) // read after the checkpoint: the output only grows
	seen := map[int64]bool{}
	for _, n := range got {
		seen[n] = true
	}
	for n := int64(1); n <= cp; n++ {
		if !seen[n] {
			t.Errorf("checkpoint at event %d while event %d is not in the output", cp, n)
			return
		}
	}
}

// outputSeqs reads the event numbers of the output lines, from their replay id metadata.
func outputSeqs(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return []int64{}
	}
	require.NoError(t, err)
	defer f.Close()
	out := []int64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Meta map[string]any `json:"meta"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue // a line being written
		}
		s, _ := line.Meta["salesforce_replay_id"].(string)
		b, err := base64.StdEncoding.DecodeString(s)
		require.NoError(t, err)
		n, ok := hostilepubsub.Seq(b)
		require.True(t, ok, "replay id %q", s)
		out = append(out, n)
	}
	return out
}

func oneTo(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}
