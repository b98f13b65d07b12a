package security

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// Passwords held in URL fields, each found nowhere else.
const (
	natsURLPassword  = "NatsUrlPw7Qx3Lk"
	proxyURLPassword = "ProxyUrlPw9Zt2Hm"
	redisURLPassword = "RedisUrlPw4Wn8Jc"
	dsnPassword      = "SqlDsnPw6Rb1Vy"
)

// urlFieldsResources are resources whose URL fields hold passwords: a NATS
// output (its urls, one entry with two servers), a redis cache and a SQL
// output (its dsn). Nothing listens on their ports: they are there to be
// shown, and must be shown scrubbed.
func urlFieldsResources(t *testing.T) string {
	return toYAML(t, map[string]any{
		"output_resources": []any{
			map[string]any{"label": "nats_out", "nats_jetstream": map[string]any{
				"urls":    []string{"nats://user:" + natsURLPassword + "@127.0.0.1:1", "nats://127.0.0.1:2,nats://u2:" + natsURLPassword + "@127.0.0.1:3"},
				"subject": "x",
			}},
			map[string]any{"label": "sql_out", "sql_insert": map[string]any{
				"driver": "postgres", "dsn": "postgres://user:" + dsnPassword + "@127.0.0.1:1/db?sslmode=disable",
				"table": "t", "columns": []string{"a"}, "args_mapping": "root = [ this ]",
			}},
		},
		"cache_resources": []any{
			map[string]any{"label": "replay_ids", "memory": map[string]any{}},
			map[string]any{"label": "redis_cache", "redis": map[string]any{"url": "redis://user:" + redisURLPassword + "@127.0.0.1:1/0"}},
		},
	})
}

// TestURLFieldPasswordsScrubbed: a password in proxy_url, in a nats_jetstream
// urls entry, in a redis url or in a sql_insert dsn shows in no answer of
// the HTTP API (/debug/config included) of a normal run, in no answer of the
// streams API (GET /streams/{id}), and not in `benthos echo`.
func TestURLFieldPasswordsScrubbed(t *testing.T) {
	requireBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	sf := newFakeSalesforce(t, false, tokenIssue, cometdWorking)
	secrets := append(allSecrets(), natsURLPassword, proxyURLPassword, redisURLPassword, dsnPassword)
	proxy := "http://proxyuser:" + proxyURLPassword + "@127.0.0.1:1"
	input := inputConfig(sf.srv.URL, "", proxy, "${SEC_SF_PASSWORD}")
	env := []string{"SEC_SF_PASSWORD=" + envPassword}

	t.Run("normal run", func(t *testing.T) {
		addr, err := harness.FreeAddr()
		require.NoError(t, err)
		dir := t.TempDir()
		proc, err := harness.StartBenthos(harness.BenthosConfig{
			Dir: dir, Name: "urls", Pipeline: toYAML(t, pipeline(addr, input, filepath.Join(dir, "out.jsonl"))),
			Resources: []string{urlFieldsResources(t)}, Env: env,
		})
		require.NoError(t, err)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("bin/benthos output:\n%s", proc.Tail(logTailLines))
			}
			_ = proc.Close()
		})
		s := newScanner(t, secrets...)
		require.Eventually(t, func() bool {
			resp, err := http.Get("http://" + addr + "/ping")
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, scenarioTimeout/2, 100*time.Millisecond, "the HTTP API is up")
		answers := s.scanAPI(ctx, addr, apiPaths...)
		assert.Contains(t, answers["/debug/config/json"], "!!!SECRET_SCRUBBED!!!", "the debug config shows the URL fields scrubbed")
		assert.Contains(t, answers["/debug/config/json"], "nats_jetstream", "the debug config shows the rest")
		_ = proc.Stop(stopTimeout)
		s.scan("stdout", proc.Stdout())
		s.scan("stderr", proc.Stderr())
		res, err := harness.RunBenthos(ctx, dir, env, "-r", filepath.Join(dir, "urls.resources-1.yaml"), "-c", filepath.Join(dir, "urls.pipeline.yaml"), "echo")
		require.NoError(t, err)
		require.Zero(t, res.ExitCode, res.String())
		assert.Contains(t, res.Stdout, "!!!SECRET_SCRUBBED!!!")
		assert.Contains(t, res.Stdout, "proxy_url", "echo shows the field, scrubbed")
		s.scan("benthos echo", res.Output())
	})

	t.Run("streams API", func(t *testing.T) {
		addr, err := harness.FreeAddr()
		require.NoError(t, err)
		dir := t.TempDir()
		stream := map[string]any{"input": input, "output": map[string]any{"resource": "nats_out"}}
		proc, err := harness.StartBenthos(harness.BenthosConfig{
			Dir: dir, Name: "streams",
			Observability: toYAML(t, observability(addr)),
			Resources:     []string{urlFieldsResources(t)},
			Streams:       map[string]string{"fromfile": toYAML(t, stream)},
			Env:           env,
		})
		require.NoError(t, err)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("bin/benthos output:\n%s", proc.Tail(logTailLines))
			}
			_ = proc.Close()
		})
		api := harness.NewStreamsAPI(addr)
		readyCtx, readyCancel := context.WithTimeout(ctx, 20*time.Second)
		defer readyCancel()
		require.NoError(t, api.WaitReady(readyCtx))
		s := newScanner(t, secrets...)
		posted := map[string]any{"input": input, "output": map[string]any{"nats_jetstream": map[string]any{
			"urls": []string{"nats://user:" + natsURLPassword + "@127.0.0.1:1"}, "subject": "y",
		}}}
		status, answer := httpDo(ctx, t, http.MethodPost, "http://"+addr+"/streams/posted", toYAML(t, posted))
		s.scan("POST /streams/posted", answer)
		require.Equal(t, http.StatusOK, status, answer)
		for _, id := range []string{"fromfile", "posted"} {
			status, answer := httpDo(ctx, t, http.MethodGet, "http://"+addr+"/streams/"+id, "")
			s.scan("GET /streams/"+id, answer)
			require.Equal(t, http.StatusOK, status, answer)
			assert.Contains(t, answer, "!!!SECRET_SCRUBBED!!!")
			assert.Contains(t, answer, "proxy_url", "the field is shown, scrubbed")
		}
		s.scanAPI(ctx, addr, append(apiPaths, "/streams")...)
		// The NATS output retrying a server that is not there can outlast a
		// graceful stop; the logs are scanned either way.
		_ = proc.Stop(stopTimeout)
		s.scan("stdout", proc.Stdout())
		s.scan("stderr", proc.Stderr())
	})
}
