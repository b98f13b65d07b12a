package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testSecret   = `cs"sec&ret é`
	testPassword = `pw\pass%20word`
)

func testMarshaller() *service.StreamConfigMarshaller {
	return service.GlobalEnvironment().FullConfigSchema("", "").NewStreamConfigMarshaller().SetScrubSecrets(true)
}

func streamAnswer(t *testing.T, password string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"active": true,
		"config": map[string]any{
			"input": map[string]any{"salesforce_streaming": map[string]any{
				"org_url":          "https://example.my.salesforce.com",
				"channels":         []any{"/topic/X"},
				"checkpoint_cache": "cp",
				"auth": map[string]any{"grant_type": "password", "client_id": "cid", "client_secret": testSecret,
					"username": "u", "password": password},
			}},
			"output": map[string]any{"drop": map[string]any{}},
		},
	})
	require.NoError(t, err)
	return b
}

func TestScrubStreamAnswer(t *testing.T) {
	out, secrets := scrubStreamAnswer(streamAnswer(t, testPassword), testMarshaller())
	assert.ElementsMatch(t, []string{testSecret, testPassword}, secrets)
	s := string(out)
	for _, leak := range []string{"sec&ret", `sec\u0026ret`, "pass%20word", `pw\\pass`} {
		assert.NotContains(t, s, leak)
	}
	assert.Contains(t, s, scrubbedMark)
	assert.Contains(t, s, `"client_id":"cid"`, "non-secret fields stay")
	assert.NotContains(t, s, `"http"`, "defaults are not filled in")
}

// An ${ENV} reference is kept, as by `benthos echo`: it is no secret.
func TestScrubKeepsEnvReference(t *testing.T) {
	out, secrets := scrubStreamAnswer(streamAnswer(t, "${SF_PASSWORD}"), testMarshaller())
	assert.Contains(t, string(out), "${SF_PASSWORD}")
	assert.Equal(t, []string{testSecret}, secrets)
}

func TestScrubWithholdsWhatItCannotParse(t *testing.T) {
	body := []byte(`{"active":true,"config":{"input":{"no_such_input":{"password":"p4ss-word"}}}}`)
	out, secrets := scrubStreamAnswer(body, testMarshaller())
	assert.NotContains(t, string(out), "p4ss-word")
	assert.Contains(t, string(out), "CONFIG_WITHHELD")
	assert.Contains(t, secrets, "p4ss-word")
}

func TestScrubLeavesOtherAnswers(t *testing.T) {
	for _, body := range []string{"Stream not found\n", `{"s1":{"active":true}}`} {
		out, secrets := scrubStreamAnswer([]byte(body), testMarshaller())
		assert.Equal(t, body, string(out))
		assert.Empty(t, secrets)
	}
}

func TestRequestSecretsInterpolatesAndKeepsTheBody(t *testing.T) {
	t.Setenv("TEST_SF_PASSWORD", testPassword)
	conf := strings.Join([]string{
		"input:",
		"  salesforce_streaming:",
		"    org_url: https://example.my.salesforce.com",
		"    channels: [ /topic/X ]",
		"    checkpoint_cache: cp",
		"    auth: { grant_type: password, client_id: cid, client_secret: 'lit-secret', username: u, password: '${TEST_SF_PASSWORD}' }",
		"output: { drop: {} }",
	}, "\n")
	tests := []struct {
		name string
		body string
		many bool
	}{
		{"one stream", conf, false},
		{"streams by id", "s1:\n" + indent(conf), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/streams/s1", strings.NewReader(tt.body))
			got := requestSecrets(r, testMarshaller(), tt.many)
			assert.ElementsMatch(t, []string{"lit-secret", testPassword}, got)
			rest, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.body, string(rest), "the stream manager still gets the body")
		})
	}
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

func TestGateAnswersBeforeStartAndWithoutAPI(t *testing.T) {
	g := &streamsGate{}
	w := httptest.NewRecorder()
	g.serveStream(w, httptest.NewRequest(http.MethodGet, "/streams/x", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	g.state = gateOff
	w = httptest.NewRecorder()
	g.serveStream(w, httptest.NewRequest(http.MethodGet, "/streams/x", nil))
	assert.Equal(t, http.StatusNotFound, w.Code)
}
