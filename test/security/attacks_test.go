package security

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allSecrets are the configured secrets and the first tokens the fake issues
// (a run that refreshes gets the next ones).
func allSecrets() []string {
	s := []string{clientSecret, password, envPassword}
	for n := 1; n <= 5; n++ {
		s = append(s, tokenFor(n))
	}
	return s
}

// The token endpoint echoes the request body (the form with the client
// secret and the password), raw and decoded, in its error.
func TestTokenEndpointEchoingTheRequest(t *testing.T) {
	sf := newFakeSalesforce(t, false, tokenEchoError, cometdWorking)
	r := startRun(t, inputConfig(sf.srv.URL, "", "", password))
	r.waitLog("invalid_request")
	require.Eventually(t, func() bool { return sf.tokens.Load() >= 5 }, scenarioTimeout/2, 50e6, "the input retried through every echo")
	r.finish(newScanner(t, allSecrets()...))
}

// The CometD server answers 500 with the Authorization header in the body,
// then (second case) refuses the handshake with it in the Bayeux error text.
func TestCometDEchoingAuthorization(t *testing.T) {
	for name, mode := range map[string]cometdMode{"500 body": cometdEcho500, "error text": cometdEchoError} {
		t.Run(name, func(t *testing.T) {
			sf := newFakeSalesforce(t, false, tokenIssue, mode)
			r := startRun(t, inputConfig(sf.srv.URL, "", "", password))
			require.Eventually(t, func() bool { return sf.cometds.Load() >= 3 }, scenarioTimeout/2, 50e6, "the input retried")
			r.finish(newScanner(t, allSecrets()...))
		})
	}
}

// An https org_url whose token answer names an http instance_url: the input
// refuses with an error naming both URLs, and nothing is sent over http.
func TestHTTPSOrgWithHTTPInstance(t *testing.T) {
	sf := newFakeSalesforce(t, true, tokenIssue, cometdWorking)
	sf.instance = sf.trap.URL
	r := startRun(t, inputConfig(sf.srv.URL, sf.caFile, "", password))
	line := r.waitLog("refusing to downgrade")
	assert.Contains(t, line, sf.srv.URL, "the error names org_url")
	assert.Contains(t, line, sf.trap.URL, "the error names instance_url")
	r.finish(newScanner(t, allSecrets()...))
	assert.Zero(t, sf.trapHits.Load(), "a request went over http")
}

// The CometD endpoint (https) redirects to http: the redirect is not
// followed, so the bearer token never travels in clear text.
func TestCometDRedirectToHTTP(t *testing.T) {
	sf := newFakeSalesforce(t, true, tokenIssue, cometdRedirectHTTP)
	r := startRun(t, inputConfig(sf.srv.URL, sf.caFile, "", password))
	r.waitLog("not followed")
	r.finish(newScanner(t, allSecrets()...))
	assert.Zero(t, sf.trapHits.Load(), "the redirect to http was followed")
}

// A working session over TLS through a recording proxy, with the password
// from the environment: the event reaches the output with all its metadata,
// and neither the proxy nor any text of the process holds a secret.
func TestWorkingSessionThroughRecordingProxy(t *testing.T) {
	sf := newFakeSalesforce(t, true, tokenIssue, cometdWorking)
	proxy := newRecordingProxy(t)
	r := startRun(t, inputConfig(sf.srv.URL, sf.caFile, proxy.srv.URL, "${SEC_SF_PASSWORD}"), "SEC_SF_PASSWORD="+envPassword)
	r.waitLog("session started")
	require.Eventually(t, func() bool {
		_, body := httpDo(r.ctx, t, http.MethodGet, "http://"+r.addr+"/ping", "")
		return body == "pong" && fileHas(r.out, "001000000000001")
	}, scenarioTimeout/2, 100e6, "the event reached the output")
	s := newScanner(t, allSecrets()...)
	r.finish(s)
	seen, connects := proxy.recorded()
	assert.Positive(t, connects, "the input went through the proxy")
	s.scan("bytes seen by the proxy", seen)
	assert.True(t, fileHas(r.out, `"meta"`), "metadata was written")
	assert.Zero(t, sf.trapHits.Load())
	assert.NotContains(t, seen, "Authorization", "the proxy saw only TLS")
	assert.False(t, strings.Contains(seen, "grant_type"), "the proxy saw only TLS")
}
