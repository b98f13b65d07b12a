package security

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// streamConfig is a stream of `benthos streams`: the input against org with
// pw as its password, a drop output.
func streamConfig(org, pw string) map[string]any {
	return map[string]any{"input": inputConfig(org, "", "", pw), "output": map[string]any{"drop": map[string]any{}}}
}

// The streams API answers configs as read: a stream from a file (literal
// client secret, password from the environment) and streams posted, patched
// and refused through the API. No answer of the API holds a secret.
func TestStreamsAPI(t *testing.T) {
	requireBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	sf := newFakeSalesforce(t, false, tokenEchoError, cometdWorking)
	addr, err := harness.FreeAddr()
	require.NoError(t, err)
	dir := t.TempDir()
	proc, err := harness.StartBenthos(harness.BenthosConfig{
		Dir: dir, Name: "streams",
		Observability: toYAML(t, observability(addr)),
		Resources:     []string{memoryCache},
		Streams:       map[string]string{"fromfile": toYAML(t, streamConfig(sf.srv.URL, "${SEC_SF_PASSWORD}"))},
		Env:           []string{"SEC_SF_PASSWORD=" + envPassword},
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

	s := newScanner(t, allSecrets()...)
	base := "http://" + addr
	do := func(method, path, body string) (int, string) {
		t.Helper()
		status, answer := httpDo(ctx, t, method, base+path, body)
		s.scan(method+" "+path, answer)
		return status, answer
	}

	status, _ := do(http.MethodPost, "/streams/posted", toYAML(t, streamConfig(sf.srv.URL, password)))
	require.Equal(t, http.StatusOK, status)
	status, _ = do(http.MethodPatch, "/streams/posted", `{"input":{"salesforce_streaming":{"auth":{"password":"`+jsonBody(envPassword)+`"}}}}`)
	require.Equal(t, http.StatusOK, status)
	// A config the linter refuses, quoting it back is what must not happen.
	refused := streamConfig(sf.srv.URL, password)
	refused["input"].(map[string]any)["salesforce_streaming"].(map[string]any)["no_such_field"] = password
	status, _ = do(http.MethodPost, "/streams/refused", toYAML(t, refused))
	assert.Equal(t, http.StatusBadRequest, status)
	require.Eventually(t, func() bool { return sf.tokens.Load() >= 4 }, scenarioTimeout/2, 50e6, "the streams tried to log in")

	for _, id := range []string{"fromfile", "posted"} {
		for _, prefix := range []string{"", "/benthos"} {
			status, answer := do(http.MethodGet, prefix+"/streams/"+id, "")
			require.Equal(t, http.StatusOK, status, answer)
			assert.Contains(t, answer, "!!!SECRET_SCRUBBED!!!", "secrets are shown scrubbed")
			assert.Contains(t, answer, clientID, "the rest of the config is shown")
		}
		do(http.MethodGet, "/streams/"+id+"/stats", "")
		do(http.MethodGet, "/"+id+"/ready", "")
	}
	s.scanAPI(ctx, addr, append(apiPaths, "/streams", "/benthos/streams")...)
	// Replacing every stream answers too; then the logs.
	status, _ = do(http.MethodPost, "/streams", toYAML(t, map[string]any{"replaced": streamConfig(sf.srv.URL, password)}))
	assert.Equal(t, http.StatusOK, status)
	do(http.MethodGet, "/streams/replaced", "")

	require.NoError(t, proc.Stop(stopTimeout))
	s.scan("stdout", proc.Stdout())
	s.scan("stderr", proc.Stderr())
	res, err := harness.RunBenthos(ctx, dir, []string{"SEC_SF_PASSWORD=" + envPassword},
		"-r", filepath.Join(dir, "streams.resources-1.yaml"), "-c", filepath.Join(dir, "streams.streams", "fromfile.yaml"), "echo")
	require.NoError(t, err)
	require.Zero(t, res.ExitCode, res.String())
	assert.Contains(t, res.Stdout, "!!!SECRET_SCRUBBED!!!", "echo scrubs the interpolated password")
	s.scan("benthos echo", res.Output())
}

// jsonBody is s as the inside of a JSON string.
func jsonBody(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
